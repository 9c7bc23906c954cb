"""`costmodel verify` and ``costmodel.verify``: the builder, the per-layer cross-check, the
per-convention totals, mismatch detection, the memory limit and the CLI.

Expected numbers are derived by hand from MobileNet v1's Table 1 (Howard et al. 2017) and
from fvcore's documented rules, never copied from this program's output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import costmodel
from costmodel import SpecError
from costmodel.ops import OPS
from costmodel.ops.base import numel

ROOT = Path(__file__).resolve().parents[1]
MOBILENET = ROOT / "costmodel" / "zoo" / "mobilenet_v1.yaml"

# MobileNet v1 Table 1: (in, out, depthwise stride, input size) of the 13 separable blocks.
BLOCKS = [(32, 64, 1, 112), (64, 128, 2, 112), (128, 128, 1, 56), (128, 256, 2, 56),
          (256, 256, 1, 28), (256, 512, 2, 28)] + [(512, 512, 1, 14)] * 5 + \
         [(512, 1024, 2, 14), (1024, 1024, 1, 7)]


def mobilenet_by_hand() -> dict[str, int]:
    """Table 1 at 224 x 224, counted by hand: mult-adds, batch-norm elements, params."""
    macs = 112 * 112 * 3 * 3 * 3 * 32              # conv1: 3x3x3x32, stride 2 -> 112x112
    bn = 112 * 112 * 32
    weights = 3 * 3 * 3 * 32
    bn_channels = 32
    for cin, cout, s, size in BLOCKS:
        o = size // s
        macs += o * o * 9 * cin + o * o * cin * cout      # 3x3 depthwise + 1x1 pointwise
        bn += o * o * cin + o * o * cout
        weights += 9 * cin + cin * cout
        bn_channels += cin + cout
    macs += 1024 * 1000                                   # FC 1024 x 1000
    weights += 1024 * 1000
    return {"paper": macs, "bn_elements": bn, "gap": 7 * 7 * 1024,
            "params": weights + 2 * bn_channels + 1000}   # + BN scale/shift + FC bias


@pytest.fixture(scope="module")
def mobilenet():
    return costmodel.verify(MOBILENET)


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    from costmodel.cli.app import main
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code or 0, out, err


# -- the builder ---------------------------------------------------------------------------
def test_builder_names_modules_after_layers_and_matches_shapes():
    from costmodel.torch.builder import build, example_input
    p = costmodel.profile(MOBILENET, width=0.5, resolution=128)
    model = build(p.root)
    modules = dict(model.named_modules())
    for l in p.layers:
        assert l.name in modules, l.name
    dw = modules["features.0.dw"]      # 3x3 depthwise on 16 channels (32 * 0.5)
    assert isinstance(dw, torch.nn.Conv2d) and dw.groups == 16 and dw.kernel_size == (3, 3)
    assert not model.training
    with torch.no_grad():
        y = model(example_input(p.input_shape))
    assert tuple(y.shape) == (1, 1000)
    # width 0.5: every channel count halves; by hand as in mobilenet_by_hand()
    weights = 27 * 16 + sum(9 * (a // 2) + (a // 2) * (b // 2) for a, b, _, _ in BLOCKS) + 512 * 1000
    bn = 2 * (16 + sum(a // 2 + b // 2 for a, b, _, _ in BLOCKS))
    assert sum(t.numel() for t in model.parameters()) == weights + bn + 1000


def test_builder_refuses_names_torch_modules_cannot_take():
    spec = {"name": "clash", "input": [3, 8, 8],
            "layers": [{"op": "conv2d", "name": "forward", "out": 4, "kernel": 3}]}
    with pytest.raises(SpecError, match="'forward'.*rename the layer"):
        costmodel.verify(spec)
    spec = {"name": "clash", "input": [3, 8, 8],
            "layers": [{"parallel": {"training": ["relu"], "b": []}, "merge": "add"}]}
    with pytest.raises(SpecError) as exc:
        costmodel.verify(spec)
    assert exc.value.layer == "0.training"


# -- MobileNet v1: every layer and the per-convention totals -------------------------------
def test_mobilenet_matches_fvcore_and_flop_counter(mobilenet):
    hand = mobilenet_by_hand()
    r = mobilenet
    assert r.ok and r.problems() == [] and len(r.mismatches) == 0
    assert round(hand["paper"] / 1e6) == 569                    # the paper's 569 M
    assert r.analytic_totals["paper"] == hand["paper"]
    # fvcore: the MACs + 2 per batch-norm element (eval, affine) + the global pool's inputs
    fvcore = hand["paper"] + 2 * hand["bn_elements"] + hand["gap"]
    assert r.fvcore_total == fvcore == r.analytic_totals["fvcore"]
    assert r.flop_counter_total == 2 * hand["paper"] == r.analytic_totals["flop_counter"]
    assert r.params == r.module_params == hand["params"]
    assert round(hand["params"] / 1e5) == 42                    # the paper's 4.2 M
    assert r.unsupported_ops == {}                              # relu is ignored, not unsupported
    assert r.fvcore_by_operator["adaptive_avg_pool2d"] == hand["gap"]
    assert r.fvcore_by_operator["batch_norm"] == 2 * hand["bn_elements"]


def test_mobilenet_explains_why_fvcore_is_above_the_paper(mobilenet):
    from costmodel.torch.crosscheck import why_fvcore_differs
    hand = mobilenet_by_hand()
    assert dict(why_fvcore_differs(mobilenet)) == {
        "BatchNorm": 2 * hand["bn_elements"], "Avg Pool (global)": hand["gap"]}
    rows = {r.type: r for r in mobilenet.by_type()}
    assert rows["BatchNorm"].count == 27 and rows["BatchNorm"].paper == 0
    assert rows["Conv DW 3x3"].count == 13
    # per layer: the first pointwise conv, 112x112, 32 -> 64 channels
    pw = next(c for c in mobilenet.layers if c.name == "features.0.pw")
    assert pw.fvcore == pw.analytic == 112 * 112 * 32 * 64
    assert pw.flop_counter == 2 * 112 * 112 * 32 * 64
    assert pw.module_shape == (64, 112, 112)


def test_cli_table_shows_totals_per_convention(capsys):
    code, out, err = run_cli(["verify", str(MOBILENET)], capsys)
    hand = mobilenet_by_hand()
    assert code == 0, out + err
    assert err == ""                                         # no fvcore warnings spill over
    assert "Totals per convention" in out
    assert f"{hand['paper']:,}" in out
    assert f"{hand['paper'] + 2 * hand['bn_elements'] + hand['gap']:,}" in out
    assert f"BatchNorm +{2 * hand['bn_elements']:,}" in out
    assert "every layer matches" in out and "MISMATCH" not in out


def test_cli_json(capsys):
    code, out, _ = run_cli(["verify", str(MOBILENET), "--set", "width=0.25", "--set",
                            "resolution=128", "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["match"] is True and data["model"] == "mobilenet_v1"
    t = data["totals"]
    assert set(t) >= {"analytic", "fvcore", "flop_counter", "params", "module_params"}
    from costmodel.count.conventions import CONVENTIONS
    assert set(t["analytic"]) == set(CONVENTIONS)      # every convention, the peers' included
    assert t["fvcore"] == t["analytic"]["fvcore"] and t["params"] == t["module_params"]
    # width 0.25 at 128: conv1 has 8 filters on 64x64: 64*64*27*8 mult-adds
    conv1 = next(l for l in data["layers"] if l["name"] == "conv1.conv")
    assert conv1["paper"] == 64 * 64 * 27 * 8 and conv1["fvcore"] == conv1["paper"]


# -- mismatches are never swallowed ----------------------------------------------------------
SMALL = {"name": "small", "input": [4, 8, 8], "layers": [
    {"op": "conv2d", "out": 8, "kernel": 3, "name": "conv"}, {"op": "bn", "name": "bn"},
    {"op": "hardswish", "name": "act"}, {"op": "max_pool", "kernel": 2, "name": "pool"},
    {"residual": [{"op": "dw", "name": "dw"}], "name": "res"}]}


def test_wrong_fvcore_formula_is_a_mismatch(monkeypatch, capsys, tmp_path):
    bn_cls = type(OPS["batch_norm"])
    monkeypatch.setattr(bn_cls, "fvcore", lambda self, a, x, y: numel(x))  # wrong: 1 per element
    r = costmodel.verify(SMALL)
    assert not r.ok
    assert [c.name for c in r.mismatches] == ["bn"]
    bad = r.mismatches[0]
    assert bad.fvcore == 2 * 8 * 8 * 8 and bad.delta == 8 * 8 * 8   # fvcore: 2 per element
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    code, out, _ = run_cli(["verify", str(path)], capsys)
    assert code == 1 and "MISMATCH" in out and "layer 'bn'" in out
    code, out, _ = run_cli(["verify", str(path), "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["match"] is False


def test_wrong_shape_formula_is_a_mismatch(monkeypatch):
    import costmodel.ops.conv as conv
    monkeypatch.setattr(conv, "conv_out", lambda size, k, s, p, d: size // s)  # ignores padding
    spec = {"name": "s", "input": [3, 9, 9], "layers": [
        {"op": "conv2d", "out": 4, "kernel": 3, "padding": 0}]}
    r = costmodel.verify(spec)            # analytic 9x9, torch 7x7
    assert not r.ok
    assert any("torch output shape 4x7x7 != analytic 4x9x9" in p for p in r.problems())


def test_unsupported_ops_are_listed_once(capsys, tmp_path):
    r = costmodel.verify(SMALL)
    assert r.ok
    # fvcore has no rule for these (counted 0 under the fvcore convention): one each
    assert r.unsupported_ops == {"aten::hardswish": 1, "aten::max_pool2d": 1, "aten::add": 1}
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    proc = subprocess.run([sys.executable, "-m", "costmodel.cli", "verify", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.count("aten::hardswish") == 1
    assert "Unsupported by fvcore" in proc.stdout


# -- the memory limit ------------------------------------------------------------------------
def test_too_many_params_is_refused_before_building(monkeypatch, capsys, tmp_path):
    import costmodel.torch.builder as builder
    monkeypatch.setattr(builder, "build", lambda root: pytest.fail("built an oversized model"))
    # 30000 x 30000 weights + 30000 biases = 900,030,000 params > 500 M
    spec = {"name": "huge", "input": [30000], "layers": [{"op": "linear", "out": 30000}]}
    with pytest.raises(SpecError, match="900,030,000 parameters"):
        costmodel.verify(spec)
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(spec))
    code, out, err = run_cli(["verify", str(path)], capsys)
    assert code == 2 and err.count("\n") == 1 and "refusing to build" in err


def test_too_many_activations_is_refused(monkeypatch):
    import costmodel.torch.builder as builder
    monkeypatch.setattr(builder, "build", lambda root: pytest.fail("built an oversized model"))
    # 3 x 20000 x 20000 = 1.2e9 elements per layer, two layers: 2.4e9 > 2e9
    spec = {"name": "wide", "input": [3, 20000, 20000], "layers": ["relu", "relu"]}
    with pytest.raises(SpecError, match="2,400,000,000 activation elements"):
        costmodel.verify(spec)


# -- --all ---------------------------------------------------------------------------------
TINY = {"name": "tiny", "input": [3, "size", "size"], "settings": {"width": 4, "size": 8},
        "variants": [{"width": 2}, {"width": 6, "size": 6}],
        "layers": [{"op": "conv2d", "out": "width", "kernel": 3}, "bn", "relu", "gap", "flatten",
                   {"op": "linear", "out": 3}]}


def test_all_verifies_defaults_and_variants(capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    code, out, err = run_cli(["verify", "--all", str(tmp_path), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["match"] is True
    assert [r["settings"] for r in data["results"]] == [
        {"width": 4, "size": 8}, {"width": 2, "size": 8}, {"width": 6, "size": 6}]
    # width 6 at 6x6: conv 6*6*27*6 + linear 6*3 mult-adds
    assert data["results"][2]["totals"]["analytic"]["paper"] == 6 * 6 * 27 * 6 + 18
    code, _, _ = run_cli(["verify", "--all", str(tmp_path), "--defaults-only", "--format",
                          "json"], capsys)
    assert code == 0


def test_all_fails_on_a_mismatch_and_on_a_bad_spec(monkeypatch, capsys, tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    lin = type(OPS["linear"])
    monkeypatch.setattr(lin, "params", lambda self, a, x: a["in_features"] * a["out"])  # no bias
    code, out, _ = run_cli(["verify", "--all", str(tmp_path)], capsys)
    assert code == 1 and "MISMATCH" in out
    monkeypatch.undo()
    (tmp_path / "broken.yaml").write_text("name: broken\ninput: [3, 8, 8]\nlayers: [{op: nope}]\n")
    code, out, _ = run_cli(["verify", "--all", str(tmp_path)], capsys)
    assert code == 2 and "unknown op 'nope'" in out


def test_import_costmodel_stays_torch_free_and_verify_is_lazy():
    code = ("import sys, costmodel\n"
            "assert 'torch' not in sys.modules and 'fvcore' not in sys.modules\n"
            "spec = {'name': 'x', 'input': [2, 4, 4], 'layers': [{'op': 'conv2d', 'out': 2, "
            "'kernel': 1}]}\n"
            "r = costmodel.verify(spec)\n"
            "import costmodel.torch.crosscheck\n"
            "r2 = costmodel.verify(spec)\n"    # importing the torch side leaves the function alone
            "print(r.ok, r2.ok, r.fvcore_total)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True", str(4 * 4 * 2 * 2)]   # 1x1, 2 -> 2 at 4x4
