"""`costmodel verify SPEC --against REF`: the shipped specs against the independent,
torchvision-structured references of tests/reference_models.py, and mutants of those
references with one number changed each (the stride moved inside ResNet-50's bottleneck,
MobileNetV2's sixth stage at stride 1, a 5x5 stem, a missing bias). Small resolutions keep
the traces fast; the mutations are caught at any resolution."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

REFS = Path(__file__).resolve().parent / "reference_models.py"


def against(cli, spec, factory, *extra, args=None, resolution=64):
    argv = ["verify", spec, "--set", f"resolution={resolution}", "--against", f"{REFS}:{factory}",
            "--format", "json", *extra]
    if args is not None:
        argv += ["--args", json.dumps(args)]
    r = cli(*argv)
    return r, (json.loads(r.out) if r.out.strip().startswith("{") else None)


@pytest.mark.parametrize("spec, factory, pairs, loads", [
    # ResNet-50: stem conv, bn, relu, maxpool; 16 bottlenecks x 9 (3 x conv, bn, relu: the
    # reference's one relu module is called three times); 4 downsample convs + bns; avgpool; fc
    ("resnet50", "resnet50", 4 + 16 * 9 + 4 * 2 + 2, True),
    # MobileNetV2: stem 3; 17 bottlenecks: 1 x (dw 3 + pw + bn) + 16 x (3 + 3 + 2); head 3;
    # dropout; classifier (the reference pools functionally: not compared)
    ("mobilenet_v2", "mobilenet_v2", 3 + 5 + 16 * 8 + 3 + 1 + 1, True),
    # ShuffleNetV2 1x: conv1 3, maxpool, 3 stride-2 units x 13, 13 stride-1 units x 8,
    # conv5 3, fc (its global pool is x.mean: not compared); the spec's names are its own
    ("shufflenet_v2", "shufflenet_v2_x1_0", 3 + 1 + 3 * 13 + 13 * 8 + 3 + 1, False),
])
def test_unchanged_reference_matches(cli, spec, factory, pairs, loads):
    r, rep = against(cli, spec, factory)
    assert r.code == 0, r
    assert rep["match"] and rep["first_divergence"] is None
    assert len(rep["pairs"]) == pairs and all(p["match"] for p in rep["pairs"])
    assert rep["state_dict"]["loads"] is loads
    t = rep["totals"]
    assert t["spec_params"] == t["reference_params"]
    if spec != "resnet50":      # pooled with a function in the reference
        assert rep["not_compared"] == {"global_pool": {"spec": 1, "reference": 0}}
    if not loads:
        assert rep["state_dict"]["unexpected"] and rep["state_dict"]["missing"]


@pytest.mark.parametrize("spec, factory, args, layer, words", [
    # the stride moved to the first 1x1 conv of the bottleneck (ResNet v1): same params,
    # fewer mult-adds; the first divergence is layer2.0.conv1's stride
    ("resnet50", "resnet50", {"stride_on_1x1": True}, "layer2.0.conv1",
     ["spec layer layer2.0.conv1: stride 1, reference layer2.0.conv1: stride 2"]),
    # MobileNetV2's sixth row (160 channels) at stride 1: its first depthwise conv is
    # features.14's (the spec says 2, the mutant 1)
    ("mobilenet_v2", "mobilenet_v2_stage6_stride1", None, "features.14.conv.1.0",
     ["spec layer features.14.conv.1.0: stride 2, reference features.14.conv.1.0: stride 1"]),
    # a 5x5 stem: kernel and padding differ, and the params (64 * 3 * 49 = 9,408 vs 4,800)
    ("resnet50", "resnet50", {"stem_kernel": 5}, "conv1",
     ["spec layer conv1: kernel 7x7, padding 3; reference conv1: kernel 5x5, padding 2"]),
    # no bias on the classifier: 1,000 parameters fewer
    ("resnet50", "resnet50", {"fc_bias": False}, "fc",
     ["spec layer fc: bias True, reference fc: bias False"]),
])
def test_mutation_is_caught_at_the_right_layer(cli, spec, factory, args, layer, words):
    r, rep = against(cli, spec, factory, args=args)
    assert r.code == 1, r
    assert not rep["match"]
    first = rep["first_divergence"]
    for w in words:
        assert w in first, first
    [bad, *_] = [p for p in rep["pairs"] if not p["match"]]
    assert bad["spec"]["name"] == bad["reference"]["name"] == layer
    if args and "stem_kernel" in args:     # the consequences are listed per pair: 64*3*49 vs 64*3*25
        assert {"what": "params", "spec": "9,408", "reference": "4,800"} in bad["problems"]
    if args and "fc_bias" in args:
        assert {"what": "params", "spec": "2,049,000", "reference": "2,048,000"} in bad["problems"]
    if args == {"stride_on_1x1": True}:
        # same params, fewer mult-adds: at 64x64 input layer1 works at 16x16, and
        # layer2.0.conv1 (256 -> 128, 1x1) at stride 2 outputs 8x8 instead of 16x16:
        # 256 * 128 * 8 * 8 = 2,097,152 vs 256 * 128 * 16 * 16 = 8,388,608
        assert bad["spec"]["params"] == bad["reference"]["params"] == 256 * 128
        assert bad["spec"]["flops_fvcore"] == 256 * 128 * 16 * 16
        assert bad["reference"]["flops_fvcore"] == 256 * 128 * 8 * 8
        t = rep["totals"]
        assert t["spec_params"] == t["reference_params"]
        assert t["reference_flops_fvcore"] < t["spec_flops_fvcore"]


def test_the_table_names_the_first_divergence(cli):
    r = cli("verify", "mobilenet_v2", "--set", "resolution=32", "--against",
            f"{REFS}:mobilenet_v2_stage6_stride1")
    text = " ".join(r.out.split())
    assert r.code == 1
    assert "differs from" in text and "features.14.conv.1.0: stride 2" in text
    assert "state_dict: the reference's state_dict loads into the spec-built module" in text


# -- bad input: one line, exit 2 -------------------------------------------------------------------
@pytest.mark.parametrize("ref, args, extra, words", [
    ("nonexistent_pkg_xyz.models:build", None, [], "does not import"),
    ("{tmp}/broken.py:build", None, [], "does not import: SyntaxError"),
    ("{tmp}/missing.py:build", None, [], "no such Python file"),
    ("{refs}:no_such_factory", None, [], "has no 'no_such_factory'"),
    ("{refs}:raises", None, [], "raised ValueError: this factory always fails"),
    ("{refs}:not_a_module", None, [], "returned a dict, not a torch.nn.Module"),
    ("{refs}:resnet50", {"no_such_kwarg": 1}, [], "raised TypeError"),
    ("{refs}:resnet50", None, ["--input", "1x32x32"], "rejects an input of shape 1x32x32"),
    ("{refs}:resnet50", None, ["--args", "[1, 2]"], "--args must be a JSON object"),
    ("{refs}:resnet50", None, ["--input", "3x64"], "--input must be CxHxW"),
    ("not a reference", None, [], "is not a reference"),
])
def test_bad_reference_is_one_line_exit_2(cli, tmp_path, ref, args, extra, words):
    (tmp_path / "broken.py").write_text("def build(:\n")
    ref = ref.format(tmp=tmp_path, refs=REFS)
    argv = ["verify", "resnet50", "--set", "resolution=64", "--against", ref, *extra]
    if args is not None:
        argv += ["--args", json.dumps(args)]
    r = cli(*argv)
    assert r.code == 2, r
    assert words in r.err, r.err
    assert "Traceback" not in r.err + r.out and len(r.err.strip().splitlines()) == 1


def test_args_and_input_need_against(cli):
    r = cli("verify", "resnet50", "--input", "3x64x64")
    assert r.code == 2 and "--against" in r.err
