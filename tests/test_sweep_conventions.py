"""`costmodel sweep --convention NAME --batch N`: the compiled tracer follows every
convention's rules (each op's class), so a sweep's column under a convention is the real
peer's count on the built module, at every swept point and for the batch.

The expected numbers come from the real peers (thop, ptflops, torchinfo, calflops,
torchprofile) and torch's FlopCounterMode on a backward pass, run on modules built at a few
points of each grid; the formulas are forced (no point is expanded: the expansion path is
made to fail), so what is checked is the tracer's arithmetic, not `costmodel profile`'s.
"""
from __future__ import annotations

import json

import pytest

from costmodel.count import conventions
from costmodel.count.profile import profile
from costmodel.sweep import compile as compile_mod
from costmodel.sweep import grid as sweep_mod


@pytest.fixture
def formulas_only(monkeypatch):
    """Every point from a traced structure's formulas: no spot check, no expansion."""
    monkeypatch.setattr(compile_mod, "SPOT_CHECKS", 0)

    def refuse(self, point):
        raise AssertionError(f"point {point} was expanded, not computed by the formulas")
    monkeypatch.setattr(compile_mod.Compiled, "_expand", refuse)


def rows(spec, grid, **options):
    s = sweep_mod.run(spec, grid, **options)
    return {tuple(p.settings[k] for k in s.axes): p for p in s.points}, s


def test_every_peer_column_equals_the_real_peer_at_swept_points(formulas_only):
    """MobileNetV3-Small over width x resolution (SE, h-swish, h-sigmoid, adaptive pool):
    every peer's column and its batch-of-2 count equal the real peer at two grid corners."""
    torch = pytest.importorskip("torch")
    peers = pytest.importorskip("costmodel.torch.peers")
    from costmodel.torch.builder import build
    torch.set_num_threads(1)
    grid = {"width": [0.5, 0.75, 1.0], "resolution": [64, 96]}
    swept = {name: rows("mobilenet_v3_small", grid, convention=name, batch=2)[0]
             for name in conventions.PEERS}
    assert all(len(got) == 6 for got in swept.values())
    for width, res in [(0.5, 64), (1.0, 96)]:
        p = profile("mobilenet_v3_small", width=width, resolution=res)
        model = build(p.root)
        real = {c.convention: c for c in peers.check_peers(p, batch=2, model=model)}
        for name in conventions.PEERS:
            point = swept[name][(width, res)]
            key = conventions.CONVENTIONS[name].key
            assert real[name].measured is not None, real[name].to_dict()
            assert point.value("count_at_batch") == real[name].measured, (name, width, res)
            if key != "mult_adds":
                assert point.value(key) * 2 == real[name].measured, (name, width, res)


ADAPTIVE = {"name": "adaptive", "settings": {"res": 12}, "input": [3, "res", "res"],
            "layers": [{"op": "conv2d", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
                       {"op": "adaptive_avg_pool", "size": 7}, "flatten",
                       {"op": "linear", "out": 10}]}


def test_thop_adaptive_pool_truncation_is_followed_per_point_and_batch(formulas_only):
    """An adaptive pool to 7x7 of 3x3 to 10x10 maps: thop's kernel is a float fraction
    ((H/7) x (W/7)), the batch's product truncated; the swept count at batch 3 is thop's own."""
    torch = pytest.importorskip("torch")
    peers = pytest.importorskip("costmodel.torch.peers")
    torch.set_num_threads(1)
    got, _ = rows(ADAPTIVE, {"res": [6, 10, 12, 20]}, convention="thop", batch=3)
    for res in (6, 10, 12, 20):
        p = profile({**ADAPTIVE, "settings": {"res": res}})
        (check,) = peers.check_peers(p, ["thop"], batch=3)
        assert got[(res,)].value("count_at_batch") == check.measured, res
        (check,) = peers.check_peers(p, ["thop"], batch=1)
        assert got[(res,)].value("flops_thop") == check.measured, res


def test_training_column_equals_flop_counter_forward_and_backward(formulas_only):
    """Training FLOPs (no grouped convs in SqueezeNet) for a batch of 2 at two resolutions:
    FlopCounterMode on a real forward and backward pass."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    from costmodel.torch.builder import build, example_input
    torch.set_num_threads(1)
    got, _ = rows("squeezenet", {"resolution": [64, 96, 128]}, convention="training", batch=2)
    for res in (64, 128):
        p = profile("squeezenet", resolution=res)
        model = build(p.root)
        with FlopCounterMode(display=False) as fc:
            model(example_input(p.input_shape, 2)).sum().backward()
        assert got[(res,)].value("count_at_batch") == int(fc.get_total_flops()), res
        assert got[(res,)].value("flops_training") * 2 == int(fc.get_total_flops()), res


@pytest.mark.parametrize("spec,grid", [
    ("convnext_t", {"resolution": [160, 192, 224]}),
    ("efficientnet", {"variant": ["b0", "b1"], "resolution": [128, 160]}),
    ("shufflenet_v2", {"scale": [0.5, 1.0], "implementation": ["torchvision", "megvii"]}),
    ("ghostnet", {"width": [0.5, 1.0], "resolution": [96, 160]}),
])
def test_sweep_equals_profile_under_every_convention(cli, spec, grid, formulas_only):
    """The compiled sweep's totals are `profile --convention NAME`'s, for every convention
    and a batch of 4, at every point of a few grids (the profiles were checked against the
    real peers in test_peers.py)."""
    import itertools
    keys = list(grid)
    points = list(itertools.product(*grid.values()))
    for i, name in enumerate(conventions.CONVENTIONS):
        got, _ = rows(spec, grid, convention=name, batch=4)
        assert len(got) == len(points)
        key = conventions.CONVENTIONS[name].key
        for values in [points[i % len(points)]]:        # each convention at another point
            sets = [a for k, v in zip(keys, values) for a in ("--set", f"{k}={v}")]
            r = cli("profile", spec, *sets, "-c", name, "-b", "4", "-f", "json")
            assert r.code == 0, r.err
            totals = json.loads(r.out)["totals"]
            assert got[values].value(key) == totals[key], (name, values)
            assert got[values].value("count_at_batch") == totals["count_at_batch"], (name, values)


def test_sweep_cli_convention_columns_csv_json_and_where(cli):
    r = cli("sweep", "mobilenet_v2", "--grid", "width=1.0", "--grid", "resolution=224",
            "-c", "thop", "-b", "3", "-f", "csv")
    assert r.code == 0, r.err
    head, row = r.out.strip().splitlines()
    cols = dict(zip(head.split(","), row.split(",")))
    # the table: thop 0.1.1 on torchvision-style MobileNetV2 at 224
    assert int(cols["flops_thop"]) == 327_550_720
    assert int(cols["mult_adds"]) == 300_774_272
    r = cli("sweep", "resnet50", "--grid", "resolution=224", "-c", "ptflops-aten", "-f", "json")
    doc = json.loads(r.out)
    assert doc["points"][0]["flops_ptflops_aten"] == 4_089_185_256
    assert doc["convention"] == "ptflops-aten" and "flops_ptflops_aten" in doc["metrics"]
    assert "count_at_batch" not in doc["points"][0]          # batch 1: no batch column
    r = cli("sweep", "mobilenet_v2", "--grid", "width=0.5,1.0", "--grid", "resolution=224",
            "-c", "calflops", "--where", "flops_calflops > 600e6", "-f", "csv")
    lines = r.out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("1.0,224,")
    assert lines[1].split(",")[lines[0].split(",").index("flops_calflops")] == "614967488"


def test_sweep_convention_and_batch_errors(cli):
    r = cli("sweep", "mobilenet_v2", "--grid", "width=1.0", "-c", "thopp")
    assert r.code == 2 and "thopp" in r.err
    r = cli("sweep", "mobilenet_v2", "--grid", "width=1.0", "-b", "0")
    assert r.code == 2
    r = cli("sweep", "mobilenet_v2", "--grid", "width=1.0", "--where", "flops_thop > 1")
    assert r.code == 2 and "flops_thop" in r.err          # not a column without -c thop


def test_a_convention_without_a_rule_is_an_error_in_a_sweep(cli, write_spec):
    path = write_spec("""
        name: m
        settings: {c: 8}
        input: [3, 4, 4]
        layers:
          - {op: conv2d, out: c, kernel: 1}
          - {parallel: [[{op: global_avg_pool}], [], []], merge: mul}
        """)
    r = cli("sweep", path, "--grid", "c=8,16", "-c", "torchprofile", "-f", "csv")
    assert r.code == 2 and "no rule for op 'mul (3 or more branches" in r.err
    r = cli("sweep", path, "--grid", "c=8,16", "-c", "thop", "-f", "csv")
    assert r.code == 0 and r.out.strip().splitlines()[0].endswith("flops_thop")


def test_no_compile_gives_the_same_columns(cli):
    args = ["sweep", "ghostnet", "--grid", "width=0.5,1.0", "--grid", "resolution=96,128",
            "-c", "torchinfo", "-b", "2", "-f", "csv"]
    assert cli(*args).out == cli(*args, "--no-compile").out
