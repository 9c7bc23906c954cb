"""`verify --all` on the sweep's backends: worker processes give the same results as one
process, identical networks are traced once (each run still reported under its own spec and
settings), the same function runs as Ray tasks, and bad backend options exit 2."""
from __future__ import annotations

import json
import sys
import types

import yaml

from costmodel.sweep import backends
from costmodel.torch import batch

from test_sweep_cli import FakeRay, _fake_backend

TINY = {"name": "tiny", "input": [3, "size", "size"], "settings": {"width": 4, "size": 8},
        "variants": [{"width": 2}, {"width": 6, "size": 6}],
        "layers": [{"op": "conv2d", "out": "width", "kernel": 3}, "bn", "relu", "gap", "flatten",
                   {"op": "linear", "out": 3}]}
# the same network as tiny's width-2 variant, under another name and settings
TWIN = {"name": "twin", "input": [3, 8, 8], "settings": {"c": 2},
        "layers": [{"op": "conv2d", "out": "c", "kernel": 3}, "bn", "relu", "gap", "flatten",
                   {"op": "linear", "out": 3}]}


def write(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(TWIN))


def test_identical_networks_are_traced_once(cli, tmp_path, monkeypatch):
    import costmodel.torch.crosscheck as crosscheck
    write(tmp_path)
    traced = []
    real = crosscheck.verify_profile
    monkeypatch.setattr(crosscheck, "verify_profile",
                        lambda p: traced.append((p.model, dict(p.settings))) or real(p))
    r = cli("verify", "--all", tmp_path, "--format", "json", "--jobs", "1")
    assert r.code == 0, r.err
    runs = json.loads(r.out)["results"]
    assert [(x["model"], x["settings"]) for x in runs] == [
        ("tiny", {"width": 4, "size": 8}), ("tiny", {"width": 2, "size": 8}),
        ("tiny", {"width": 6, "size": 6}), ("twin", {"c": 2})]
    assert len(traced) == 3 and ("twin", {"c": 2}) not in traced      # 4 runs, 3 networks
    # twin reports tiny-width-2's trace: 2 filters of 3x3x3 at 8x8 (padding 1), a 2 -> 3 linear
    assert runs[3]["totals"] == runs[1]["totals"]
    assert runs[3]["totals"]["analytic"]["paper"] == 8 * 8 * 27 * 2 + 2 * 3


def test_worker_processes_give_the_same_results(cli, tmp_path):
    write(tmp_path)
    one = cli("verify", "--all", tmp_path, "--format", "json", "--jobs", "1")
    two = cli("verify", "--all", tmp_path, "--format", "json", "--jobs", "2")
    assert one.code == two.code == 0
    assert json.loads(one.out) == json.loads(two.out)


def test_runs_map_as_ray_tasks(tmp_path):
    from costmodel.cli.verify_cmd import _jobs
    write(tmp_path)
    jobs = _jobs(sorted(tmp_path.glob("*.yaml")), True)
    fake = FakeRay()
    got = batch.verify_many(jobs, _fake_backend(fake))
    want = batch.verify_many(jobs, backends.Serial())
    assert fake.calls == 3 and len(got) == 4
    assert [(f, s, r.to_dict(), e) for f, s, r, e in got] == \
        [(f, s, r.to_dict(), e) for f, s, r, e in want]


def test_bad_backend_options_exit_2(cli, tmp_path, monkeypatch):
    write(tmp_path)
    r = cli("verify", "--all", tmp_path, "--jobs", "0")
    assert r.code == 2 and "--jobs must be at least 1" in r.err
    fake = FakeRay(fail=ConnectionError("Could not find any running Ray instance"))
    monkeypatch.setitem(sys.modules, "ray", types.SimpleNamespace(
        is_initialized=fake.is_initialized, init=fake.init))
    monkeypatch.setattr(backends.extras, "need", lambda extra, what: None)
    r = cli("verify", "--all", tmp_path, "--backend", "ray", "--address", "10.0.0.9:6379")
    assert r.code == 2 and "no Ray cluster at --address 10.0.0.9:6379" in r.err
