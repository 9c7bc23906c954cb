"""What makes `verify --all` fast must not change what it reports: traces without source
locations give fvcore the same counts, a network built without initialisation has the same
modules, shapes and parameter counts, the costliest runs go first while the results keep
their order, and every worker runs the backend's preparation before its first item."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import costmodel  # noqa: E402
from costmodel.sweep import backends  # noqa: E402
from costmodel.torch import batch  # noqa: E402
from costmodel.torch.builder import build  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_traces_without_source_locations_count_the_same():
    # In a fresh process: the change is process-wide by design (costmodel.torch.tracing).
    code = textwrap.dedent("""
        import json, torch
        from fvcore.nn import FlopCountAnalysis
        from costmodel.torch.tracing import drop_source_locations
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, groups=8),
                                torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(8, 5)).eval()
        x = torch.randn(1, 3, 10, 10)
        def counts():
            with torch.no_grad():
                fa = FlopCountAnalysis(m, x)
                fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
                g, _ = torch.jit._get_trace_graph(m, x)
                return dict(fa.by_module()), [n.sourceRange() for n in g.nodes()]
        before, where_before = counts()
        took = drop_source_locations()
        after, where_after = counts()
        print(json.dumps([before, after, took, drop_source_locations(),
                          sum(bool(s) for s in where_before), sum(bool(s) for s in where_after)]))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert r.returncode == 0, r.stderr
    import json
    before, after, took, again, located_before, located_after = json.loads(r.stdout)
    assert took is True and again is True            # the pinned torch exports the setter
    assert located_before > 0 and located_after == 0  # it took effect
    # by hand: conv 8 filters x 27 x 100 positions; depthwise 8 x 9 x 64; linear 8 x 5
    assert after == before
    assert before["0"] == 8 * 27 * 100 and before["3"] == 8 * 9 * 64 and before["6"] == 40


def test_a_network_built_without_initialisation_has_the_same_modules():
    p = costmodel.Spec.load(ROOT / "costmodel" / "zoo" / "shufflenet_v2.yaml").profile()
    a, b = build(p.root), build(p.root, init=False)
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(sa[k].shape == sb[k].shape and sa[k].dtype == sb[k].dtype for k in sa)
    assert all(not t.any() for t in sb.values())                  # zeros, never garbage
    assert [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
    assert all(t.device.type == "cpu" for t in sb.values())
    assert not b.training
    assert sum(t.numel() for t in b.parameters()) == p.params == 2_278_604   # torchvision's
    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        assert b(x).shape == a(x).shape == (1, 1000)


class _Recording:
    """A backend that records the order of the runs it is given."""
    name = "local"
    workers = 1

    def __init__(self):
        self.order = []

    def map(self, fn, items):
        for item in items:
            self.order.append(dict(item.settings))
            yield fn(item)


def test_the_costliest_runs_go_first_and_results_keep_their_order(tmp_path):
    import yaml
    from costmodel.cli.verify_cmd import _jobs
    spec = {"name": "grow", "input": [3, "size", "size"], "settings": {"size": 8},
            "variants": [{"size": 16}, {"size": 12}],
            "layers": [{"op": "conv2d", "out": 4, "kernel": 3}, "gap", "flatten"]}
    (tmp_path / "grow.yaml").write_text(yaml.safe_dump(spec))
    jobs = _jobs([tmp_path / "grow.yaml"], True)
    rec = _Recording()
    got = batch.verify_many(jobs, rec)
    assert rec.order == [{"size": 16}, {"size": 12}, {}]      # largest input first
    assert [s for _, s, _, _ in got] == [{}, {"size": 16}, {"size": 12}]
    # each result is its own run's: 4 filters x 27 x size^2 positions (padding 1)
    assert [r.analytic_totals["paper"] for _, _, r, _ in got] == [4 * 27 * n * n for n in (8, 16, 12)]


def _mark():
    os.environ["COSTMODEL_TEST_PREPARED"] = str(os.getpid())


def _prepared(_item):
    return os.environ.get("COSTMODEL_TEST_PREPARED") == str(os.getpid())


def test_every_worker_is_prepared_before_its_first_item():
    pool = backends.backend("local", 2, prepare=_mark)
    try:
        assert list(pool.map(_prepared, range(6))) == [True] * 6
    finally:
        pool.close()
    assert "COSTMODEL_TEST_PREPARED" not in os.environ       # never this process
