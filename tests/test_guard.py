"""`costmodel lock` / `costmodel check`: the FLOP regression guard.

Mutation tests copy specs/ into a temporary folder, lock it, change one thing in one spec
(a channel count, a stride, a kernel size, a repeat count, `groups`) by a targeted text
replacement, and check: the mutation must be caught (exit 1) and the report must name the
right model and the first layer that differs, with that layer's counts before and after as
derived by hand below (mult-adds of a conv = out * in/groups * kh * kw * Ho * Wo).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from costmodel.cli.app import main
from costmodel import guard
from costmodel.spec import variants as variants_mod
from costmodel.guard.baseline import FORMAT_VERSION
from costmodel.count.profile import Spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "costmodel" / "zoo"


# --- helpers -------------------------------------------------------------------------------
def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out = capsys.readouterr()
    code = exc.value.code
    return (0 if code is None else code), out.out, out.err


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> Path:
    """specs/ copied and locked once (through the API; the CLI's lock is tested below)."""
    root = tmp_path_factory.mktemp("locked")
    shutil.copytree(SPECS, root / "specs")
    guard.lock(root / "specs", root / "baseline.json")
    return root


@pytest.fixture
def tree(locked: Path, tmp_path: Path) -> Path:
    """A fresh copy of the locked tree: tmp/specs and tmp/baseline.json."""
    shutil.copytree(locked / "specs", tmp_path / "specs")
    shutil.copy(locked / "baseline.json", tmp_path / "baseline.json")
    return tmp_path


def mutate(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert text.count(old) == count, f"{path.name}: expected {count} x {old!r} (spec edited?)"
    path.write_text(text.replace(old, new, 1))


def check_json(capsys, root: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = run(capsys, "check", root / "specs", "--baseline", root / "baseline.json",
                         "--format", "json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out)


def dependents(specs: Path, file: str) -> set[str]:
    """The spec files that build on ``file`` through ``extends:`` (transitively): a change
    to ``file`` changes them too."""
    bases = {}
    for p in specs.glob("*.yaml"):
        data = yaml.safe_load(p.read_text())
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            bases[p.name] = Path(data["extends"]).name
    found: set[str] = set()
    frontier = {file}
    while frontier:
        frontier = {child for child, base in bases.items() if base in frontier} - found
        found |= frontier
    return found


def record(text: str) -> dict:
    name, op, inp, out, attrs, macs, params = text.split("|")
    return {"name": name, "op": op, "input": inp, "output": out, "attrs": attrs,
            "mult_adds": int(macs), "params": int(params)}


# --- mutations -----------------------------------------------------------------------------
# (file, old text, new text, model, first differing layer, words in "how",
#  that layer's mult-adds before and after: None when the baseline has no record for it)
MUTATIONS = [
    pytest.param(
        # Table 1 row 3 (Conv 1x1x128x128 at 56x56) gets 256 outputs: features.2.pw.
        # 128 * 128 * 56 * 56 = 51,380,224 -> 128 * 256 * 56 * 56 = 102,760,448.
        "mobilenet_v1.yaml", "- [128, 1]", "- [256, 1]", "mobilenet_v1", "features.2.pw",
        ["out 128 -> 256", "output channels 128 -> 256"], 51_380_224, 102_760_448, id="v1-channels"),
    pytest.param(
        # The second depthwise conv (64 channels at 112x112) loses its stride 2:
        # 64 * 9 * 56 * 56 = 1,806,336 -> 64 * 9 * 112 * 112 = 7,225,344.
        "mobilenet_v1.yaml", "- [128, 2]", "- [128, 1]", "mobilenet_v1", "features.1.dw",
        ["stride 2x2 -> 1x1", "output size 56x56 -> 112x112"], 1_806_336, 7_225_344,
        id="v1-stride"),
    pytest.param(
        # Every depthwise kernel 3x3 -> 5x5; the first is features.0.dw (32 ch at 112x112):
        # 32 * 9 * 112 * 112 = 3,612,672 -> 32 * 25 * 112 * 112 = 10,035,200.
        "mobilenet_v1.yaml", "{op: depthwise, name: dw, kernel: 3,",
        "{op: depthwise, name: dw, kernel: 5,", "mobilenet_v1", "features.0.dw",
        ["kernel 3x3 -> 5x5"], 3_612_672, 10_035_200, id="v1-kernel"),
    pytest.param(
        # "5x" becomes 4x: blocks 6-9 repeat, so block 10 is now Table 1's stride-2
        # 1024-block: features.10.dw is 512 ch at 14x14, stride 1 -> 2 (output 7x7):
        # 512 * 9 * 14 * 14 = 903,168 -> 512 * 9 * 7 * 7 = 225,792.
        # 3 (conv1) + 13 blocks x 6 + 3 (pool, flatten, fc) = 84 layers -> 84 - 6 = 78.
        "mobilenet_v1.yaml", "{repeat: 5, row: [512, 1]}", "{repeat: 4, row: [512, 1]}",
        "mobilenet_v1", "features.10.dw", ["stride 1x1 -> 2x2", "layer count 84 -> 78"],
        903_168, 225_792, id="v1-repeat"),
    pytest.param(
        # Every pointwise conv in 2 groups; the first is features.0.pw (32 -> 64 at 112x112):
        # 64 * 32 * 112 * 112 = 25,690,112 -> 64 * 16 * 112 * 112 = 12,845,056.
        "mobilenet_v1.yaml", "{op: pointwise, name: pw, out:",
        "{op: pointwise, name: pw, groups: 2, out:", "mobilenet_v1", "features.0.pw",
        ["groups 1 -> 2", "params 2,048 -> 1,024"], 25_690_112, 12_845_056, id="v1-groups"),
    pytest.param(
        # Table 2 row 2 (t=6, c=24, n=2, s=2) with c=32: the first bottleneck's projection
        # 96 -> 24 at 56x56 becomes 96 -> 32: 96 * 24 * 3136 = 7,225,344 -> 96 * 32 * 3136
        # = 9,633,792.
        "mobilenet_v2.yaml", "[6, 24, 2, 2]", "[6, 32, 2, 2]", "mobilenet_v2",
        "features.2.conv.2", ["out 24 -> 32"], 7_225_344, 9_633_792,
        id="v2-channels"),
    pytest.param(
        # The first bneck (16 ch, stride 2, 112 -> 56) gets a 5x5 depthwise kernel:
        # 16 * 9 * 56 * 56 = 451,584 -> 16 * 25 * 56 * 56 = 1,254,400.
        "mobilenet_v3_small.yaml", "[3, 16, 16, true, RE, 2]", "[5, 16, 16, true, RE, 2]",
        "mobilenet_v3_small", "features.0.body.dw", ["kernel 3x3 -> 5x5"], 451_584, 1_254_400,
        id="v3s-kernel"),
    pytest.param(
        # ResNet-50 conv1 7x7 -> 5x5 (the default padding follows: 3 -> 2, output stays 112):
        # 64 * 3 * 49 * 112 * 112 = 118,013,952 -> 64 * 3 * 25 * 112 * 112 = 60,211,200.
        "resnet50.yaml", "{op: conv2d, name: conv1, out: 64, kernel: 7,",
        "{op: conv2d, name: conv1, out: 64, kernel: 5,", "resnet50", "conv1",
        ["kernel 7x7 -> 5x5", "padding 3x3 -> 2x2"], 118_013_952, 60_211_200, id="r50-kernel"),
    pytest.param(
        # conv3_1 without its stride: the 3x3 conv of layer2.0 stays at 56x56:
        # 128 * 128 * 9 * 28 * 28 = 115,605,504 -> x4 = 462,422,016.
        "resnet50.yaml", "- [128, 2]", "- [128, 1]", "resnet50", "layer2.0.conv2",
        ["stride 2x2 -> 1x1"], 115_605_504, 462_422_016, id="r50-stride"),
    pytest.param(
        # conv4_x with 5 blocks instead of 6: the sixth block's first layer is gone.
        "resnet50.yaml", "{repeat: 5, row: [256, 1]}", "{repeat: 4, row: [256, 1]}", "resnet50",
        "layer3.5.conv1", ["removed"], None, None, id="r50-repeat"),
]


@pytest.mark.parametrize("file, old, new, model, layer, how, macs_before, macs_after", MUTATIONS)
def test_mutation_is_caught(tree, capsys, file, old, new, model, layer, how, macs_before,
                            macs_after):
    mutate(tree / "specs" / file, old, new)
    code, rep = check_json(capsys, tree)
    assert code == 1 and rep["status"] == "changed"
    # Only the mutated spec is reported, and the specs that extend it.
    assert {c["file"] for c in rep["changes"]} == {file} | dependents(tree / "specs", file)
    assert model in {c["model"] for c in rep["changes"]}
    assert not rep["new_specs"] and not rep["removed_specs"]
    assert not rep["new_variants"] and not rep["removed_variants"]
    [first] = [d for d in rep["first_layer_changes"] if d["file"] == file]
    assert first["model"] == model and first["layer"] == layer
    text = "; ".join(first["how"])
    for words in how:
        assert words in text, text
    if macs_before is not None:
        assert record(first["before"])["mult_adds"] == macs_before
        assert record(first["after"])["mult_adds"] == macs_after
        assert record(first["after"])["name"] == layer
    # The table names the model and the layer too.
    code, out, _ = run(capsys, "check", tree / "specs", "--baseline", tree / "baseline.json")
    assert code == 1
    assert model in out and layer in out and "CHANGED" in out


def _default(rep: dict, model: str, metric: str) -> dict:
    [c] = [c for c in rep["changes"] if c["model"] == model and c["metric"] == metric
           and c["variant"] == "resolution=224,width=1.0"]
    return c


# The 13 depthwise layers of MobileNet v1 (Table 1) have C*Ho*Wo output elements:
# 32*112^2 + 64*56^2 + 128*56^2 + 128*28^2 + 256*28^2 + 256*14^2 + 5*512*14^2 + 512*7^2
# + 1024*7^2 = 1,931,776, and C = 32+64+128+128+256+256+5*512+512+1024 = 4,960 channels.
DW_ELEMENTS = 1_931_776
DW_CHANNELS = 4_960
# Table 2: pointwise mult-adds 539,492,352 (5 x 25,690,112 + 8 x 51,380,224), depthwise
# 9 * DW_ELEMENTS = 17,385,984, conv1 3*32*9*112^2 = 10,838,016, fc 1024*1000 = 1,024,000.
V1_MULT_ADDS = 539_492_352 + 9 * DW_ELEMENTS + 10_838_016 + 1_024_000    # 568,740,352


def test_kernel_mutation_totals(tree, capsys):
    """3x3 -> 5x5 depthwise adds 16 mult-adds per depthwise output element and 16 weights
    per depthwise channel."""
    mutate(tree / "specs" / "mobilenet_v1.yaml", "{op: depthwise, name: dw, kernel: 3,",
           "{op: depthwise, name: dw, kernel: 5,")
    _, rep = check_json(capsys, tree)
    macs = _default(rep, "mobilenet_v1", "mult_adds")
    assert macs["before"] == V1_MULT_ADDS
    assert macs["delta"] == 16 * DW_ELEMENTS == 30_908_416
    assert _default(rep, "mobilenet_v1", "params")["delta"] == 16 * DW_CHANNELS
    # Padding follows the kernel ((k-1)//2), so no shape and no activation changes.
    assert not [c for c in rep["changes"] if c["metric"] == "activations"]
    # All 16 variants of the grid changed.
    assert rep["variants_changed"] == 16


def test_repeat_mutation_totals(tree, capsys):
    """One fewer 512-block at 14x14: dw 512*9*196 + pw 512*512*196 = 52,283,392 fewer
    mult-adds, 6 fewer layers."""
    mutate(tree / "specs" / "mobilenet_v1.yaml", "{repeat: 5, row: [512, 1]}",
           "{repeat: 4, row: [512, 1]}")
    _, rep = check_json(capsys, tree)
    assert _default(rep, "mobilenet_v1", "mult_adds")["delta"] == -52_283_392
    layers = _default(rep, "mobilenet_v1", "layers")
    assert (layers["before"], layers["after"]) == (84, 78)


def test_groups_mutation_halves_pointwise(tree, capsys):
    """groups: 2 on every pointwise conv halves the pointwise mult-adds (539,492,352)."""
    mutate(tree / "specs" / "mobilenet_v1.yaml", "{op: pointwise, name: pw, out:",
           "{op: pointwise, name: pw, groups: 2, out:")
    _, rep = check_json(capsys, tree)
    assert _default(rep, "mobilenet_v1", "mult_adds")["delta"] == -539_492_352 // 2


def test_zero_cost_groups_change_is_caught_by_the_digest(tree, capsys):
    """A channel shuffle costs nothing in every convention, so shuffling 4 groups instead of
    2 moves no total: the per-layer digest catches it (exact mode), and a tolerance lets it
    pass (the totals decide)."""
    mutate(tree / "specs" / "shufflenet_v2.yaml", "{op: channel_shuffle, name: shuffle, groups: 2}",
           "{op: channel_shuffle, name: shuffle, groups: 4}")
    code, rep = check_json(capsys, tree)
    assert code == 1
    assert {c["metric"] for c in rep["changes"]} == {"layers"}
    assert {c["model"] for c in rep["changes"]} == {"shufflenet_v2"}
    [first] = rep["first_layer_changes"]
    # Stage 2's first unit (stages.0, its repeat 0, unit 0) ends with the first shuffle.
    assert first["layer"] == "stages.0.0.0.shuffle"
    assert "groups 2 -> 4" in "; ".join(first["how"])
    code, rep = check_json(capsys, tree, "--tolerance", "0.01")
    assert code == 0 and rep["status"] == "unchanged"
    assert all(c["within_tolerance"] for c in rep["changes"])


def test_change_in_non_default_variants_only(tree, capsys):
    """conv1's floor of 8 channels becomes 16: only width 0.25 (32 * 0.25 = 8 < 16) changes,
    at each of its 4 resolutions. The baseline has no per-layer records for those variants,
    yet the layer hashes still locate conv1.conv."""
    mutate(tree / "specs" / "mobilenet_v1.yaml",
           'out: "max(int(out * width), 8)", kernel: kernel',
           'out: "max(int(out * width), 16)", kernel: kernel')
    code, rep = check_json(capsys, tree)
    assert code == 1
    changed = {c["variant"] for c in rep["changes"] if not c["within_tolerance"]}
    assert changed == {f"resolution={r},width=0.25" for r in (128, 160, 192, 224)}
    [first] = rep["first_layer_changes"]
    assert first["layer"] == "conv1.conv" and first["variant"] == "resolution=128,width=0.25"
    # Now 16 outputs: 16 * 3 * 9 * 64 * 64 at 128x128 input (stride 2).
    assert record(first["after"])["mult_adds"] == 16 * 27 * 64 * 64


def test_unchanged_tree_passes_with_one_line(tree, capsys):
    code, out, err = run(capsys, "check", tree / "specs", "--baseline", tree / "baseline.json")
    assert code == 0, err
    assert out.strip().count("\n") == 0 and out.startswith("ok:")
    n_variants = sum(len(variants_mod.spec_variants(Spec.load(p)))
                     for p in sorted((tree / "specs").rglob("*.yaml")))
    assert f"{n_variants} variants" in out
    code, rep = check_json(capsys, tree)
    assert code == 0 and rep["status"] == "unchanged" and rep["changes"] == []
    assert rep["variants_checked"] == n_variants


def test_lock_twice_is_byte_identical(tree, capsys, tmp_path):
    first = (tree / "baseline.json").read_bytes()
    code, out, _ = run(capsys, "lock", tree / "specs", "--out", tree / "baseline.json")
    assert code == 0 and "unchanged" in out
    assert (tree / "baseline.json").read_bytes() == first
    # A copy of the folder elsewhere locks to the same bytes (no paths, no timestamps).
    shutil.copytree(tree / "specs", tmp_path / "elsewhere")
    code, _, _ = run(capsys, "lock", tmp_path / "elsewhere", "--out", tmp_path / "other" / "b.json")
    assert code == 0 and (tmp_path / "other" / "b.json").read_bytes() == first
    # Atomic write: no temporary file is left behind.
    assert sorted(os.listdir(tmp_path / "other")) == ["b.json"]


def test_baseline_content(tree):
    data = json.loads((tree / "baseline.json").read_text())
    assert data["format_version"] == FORMAT_VERSION and data["tool"] == "costmodel"
    v1 = data["specs"]["mobilenet_v1.yaml"]
    assert v1["model"] == "mobilenet_v1" and v1["default_variant"] == "resolution=224,width=1.0"
    # The 4 x 4 grid of Figures 4 and 5; the defaults are one of its points.
    assert len(v1["variants"]) == 16
    default = v1["variants"]["resolution=224,width=1.0"]
    assert default["totals"]["mult_adds"] == V1_MULT_ADDS
    # conv1: 3 * 32 * 9 weights, no bias (a batch norm follows).
    assert default["layers"][0] == ("conv1.conv|conv2d|3x224x224|32x112x112|bias=false,"
                                    "dilation=1x1,groups=1,in_channels=3,kernel=3x3,out=32,"
                                    "padding=1x1,stride=2x2|10838016|864")
    assert len(default["layers"]) == 84
    # Other variants keep a 6-digit hash per layer, not the records.
    other = v1["variants"]["resolution=128,width=0.25"]
    assert "layers" not in other and len(other["layer_hashes"]) == 6 * 84


# --- new and removed specs and variants ----------------------------------------------------
def test_new_and_removed_specs(tree, capsys):
    specs = tree / "specs"
    text = (specs / "mobilenet_v1.yaml").read_text().replace("name: mobilenet_v1", "name: mine", 1)
    (specs / "mine.yaml").write_text(text)
    assert not dependents(specs, "mobilenet_v2.yaml")      # nothing extends it: removable
    (specs / "mobilenet_v2.yaml").unlink()
    code, rep = check_json(capsys, tree)
    assert code == 1 and rep["changes"] == []
    assert rep["new_specs"] == [{"file": "mine.yaml", "model": "mine"}]
    assert rep["removed_specs"] == [{"file": "mobilenet_v2.yaml", "model": "mobilenet_v2"}]
    code, out, _ = run(capsys, "check", specs, "--baseline", tree / "baseline.json")
    assert code == 1 and "new spec" in out and "removed spec" in out


def test_new_and_removed_variants(tree, capsys):
    # Width 0.25 leaves the grid (4 variants, one per resolution), 96 joins it (4 new).
    mutate(tree / "specs" / "mobilenet_v1.yaml", "resolution: [224, 192, 160, 128]",
           "resolution: [224, 192, 160, 96]")
    code, rep = check_json(capsys, tree)
    assert code == 1 and rep["changes"] == []
    assert sorted(i["variant"] for i in rep["removed_variants"]) == \
        [f"resolution=128,width={w}" for w in ("0.25", "0.5", "0.75", "1.0")]
    assert sorted(i["variant"] for i in rep["new_variants"]) == \
        [f"resolution=96,width={w}" for w in ("0.25", "0.5", "0.75", "1.0")]


# --- tolerance ------------------------------------------------------------------------------
@pytest.fixture
def kernel_mutated(tmp_path, capsys):
    """MobileNet v1 alone at its defaults (the grid cut to one point: relative changes differ
    from variant to variant), locked, then with 5x5 depthwise kernels: mult-adds +30,908,416
    of 568,740,352 (+5.43%), params +79,360 of 4,231,976 (+1.88%), where 4,231,976 =
    4,209,088 conv/fc weights + 1,000 fc bias + 2 x 10,944 batch-norm channels (32 + 4,960
    depthwise + 5,952 pointwise). weights +79,360 of 4,209,088 (+1.89%); fvcore and full
    FLOPs move by the same 30,908,416 over larger totals (< 5.43%); activations do not move."""
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(SPECS / "mobilenet_v1.yaml", specs)
    mutate(specs / "mobilenet_v1.yaml", "width: [1.0, 0.75, 0.5, 0.25]", "width: [1.0]")
    mutate(specs / "mobilenet_v1.yaml", "resolution: [224, 192, 160, 128]", "resolution: [224]")
    code, _, err = run(capsys, "lock", specs, "--out", tmp_path / "baseline.json")
    assert code == 0, err
    mutate(specs / "mobilenet_v1.yaml", "{op: depthwise, name: dw, kernel: 3,",
           "{op: depthwise, name: dw, kernel: 5,")
    return tmp_path


def test_tolerance_for_every_metric(kernel_mutated, capsys):
    code, rep = check_json(capsys, kernel_mutated, "--tolerance", "0.06")
    assert code == 0 and rep["changes"] and all(c["within_tolerance"] for c in rep["changes"])
    code, out, _ = run(capsys, "check", kernel_mutated / "specs", "--baseline",
                       kernel_mutated / "baseline.json", "--tolerance", "6%")
    assert code == 0 and "within tolerance" in out and out.strip().count("\n") == 0
    code, rep = check_json(capsys, kernel_mutated, "--tolerance", "0.05")
    assert code == 1


def test_tolerance_per_metric(kernel_mutated, capsys):
    code, rep = check_json(capsys, kernel_mutated, "--tolerance", "0.06",
                           "--tolerance", "mult_adds=0.05")
    failing = {c["metric"] for c in rep["changes"] if not c["within_tolerance"]}
    assert code == 1 and failing == {"mult_adds"}
    # Only mult-adds loosened: the others stay exact.
    code, rep = check_json(capsys, kernel_mutated, "--tolerance", "mult_adds=0.06")
    failing = {c["metric"] for c in rep["changes"] if not c["within_tolerance"]}
    # every FLOP convention counts the depthwise conv's MACs (the derived ones are not stored)
    from costmodel.count.conventions import CONVENTIONS
    from costmodel.guard.snapshot import DERIVED
    flops = {c.key for c in CONVENTIONS.values() if c.key.startswith("flops_")} - DERIVED
    assert {"flops_fvcore", "flops_full", "flops_thop", "flops_training"} <= flops
    assert code == 1 and failing == {"params", "weights"} | flops
    assert rep["tolerance"] == {"default": 0.0, "mult_adds": 0.06}


@pytest.mark.parametrize("value, words", [("flops=0.1", "unknown metric 'flops'"),
                                          ("lots", "--tolerance expects"),
                                          ("-0.5", "non-negative")])
def test_bad_tolerance(tree, capsys, value, words):
    code, out, err = run(capsys, "check", tree / "specs", "--baseline", tree / "baseline.json",
                         "--tolerance", value)
    assert code == 2 and words in err and out == ""


# --- bad input: exit 2, never "all changed" --------------------------------------------------
def _check_bad(capsys, tree: Path, baseline: Path) -> str:
    code, out, err = run(capsys, "check", tree / "specs", "--baseline", baseline)
    assert code == 2 and "CHANGED" not in out and out == ""
    assert str(baseline) in err and err.count("\n") == 1 and "Traceback" not in err
    return err


def test_missing_baseline(tree, capsys):
    err = _check_bad(capsys, tree, tree / "nope.json")
    assert "no baseline" in err and "costmodel lock" in err


def test_truncated_baseline(tree, capsys):
    text = (tree / "baseline.json").read_text()
    bad = tree / "truncated.json"
    bad.write_text(text[: len(text) // 2])
    assert "not valid JSON" in _check_bad(capsys, tree, bad)
    bad.write_text("")
    assert "empty" in _check_bad(capsys, tree, bad)


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["specs"]["mobilenet_v1.yaml"]["variants"]["resolution=224,width=1.0"]["totals"]
     .update(params="4.2M"), "totals.params"),
    (lambda d: d["specs"]["mobilenet_v1.yaml"]["variants"]["resolution=224,width=1.0"]
     .pop("digest"), "digest"),
    (lambda d: d["specs"]["mobilenet_v1.yaml"].update(default_variant="width=2"),
     "default_variant"),
    (lambda d: d["specs"]["mobilenet_v1.yaml"]["variants"]["resolution=224,width=1.0"]["layers"]
     .pop(), "layer records"),
    (lambda d: d.update(format_version="one"), "format_version"),
    (lambda d: d.update(tool="flopsmeter"), "tool"),
    (lambda d: d.pop("format_version"), "not a costmodel baseline"),
])
def test_invalid_baseline(tree, capsys, edit, words):
    data = json.loads((tree / "baseline.json").read_text())
    edit(data)
    bad = tree / "edited.json"
    bad.write_text(json.dumps(data))
    err = _check_bad(capsys, tree, bad)
    assert words in err
    assert "not a costmodel" in err or "invalid baseline" in err


def test_newer_format_version(tree, capsys):
    data = json.loads((tree / "baseline.json").read_text())
    data["format_version"] = FORMAT_VERSION + 1
    data["something_new"] = {}
    bad = tree / "newer.json"
    bad.write_text(json.dumps(data))
    err = _check_bad(capsys, tree, bad)
    assert f"format version {FORMAT_VERSION + 1}" in err and "newer costmodel" in err


def test_spec_that_fails_to_load(tree, capsys):
    spec = tree / "specs" / "mobilenet_v1.yaml"
    mutate(spec, "{op: linear, name: fc, out: num_classes}", "{op: linear, name: fc, out: [}")
    code, out, err = run(capsys, "check", tree / "specs", "--baseline", tree / "baseline.json")
    assert code == 2 and out == "" and "mobilenet_v1.yaml" in err and "YAML" in err


def test_variant_with_unknown_setting(tree, capsys):
    mutate(tree / "specs" / "mobilenet_v1.yaml", "    width: [1.0, 0.75, 0.5, 0.25]",
           "    widht: [1.0, 0.75, 0.5, 0.25]")
    code, out, err = run(capsys, "check", tree / "specs", "--baseline", tree / "baseline.json")
    assert code == 2 and "variant" in err and "unknown setting 'widht'" in err


def test_failed_lock_keeps_the_old_baseline(tree, capsys):
    before = (tree / "baseline.json").read_bytes()
    mutate(tree / "specs" / "mobilenet_v1.yaml", "- [128, 2]", "- [128, two]")
    code, _, err = run(capsys, "lock", tree / "specs", "--out", tree / "baseline.json")
    assert code == 2 and "mobilenet_v1.yaml" in err
    assert (tree / "baseline.json").read_bytes() == before
    assert sorted(os.listdir(tree)) == ["baseline.json", "specs"]


def test_lock_empty_or_missing_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "lock", tmp_path / "empty", "--out", tmp_path / "b.json")
    assert code == 2 and "nothing to lock" in err and not (tmp_path / "b.json").exists()
    code, _, err = run(capsys, "check", tmp_path / "nowhere", "--baseline", tmp_path / "b.json")
    assert code == 2


# --- variants ------------------------------------------------------------------------------
def _spec(**extra) -> Spec:
    return Spec.load({"name": "tiny", "input": [3, "resolution", "resolution"],
                      "settings": {"width": 1.0, "resolution": 32,
                                   "act": {"default": "relu", "choices": ["relu", "relu6"]}},
                      "layers": [{"op": "conv2d", "out": "int(16 * width)", "kernel": 3}],
                      **extra})


def test_variant_keys():
    keys = [k for k, _ in variants_mod.spec_variants(_spec())]
    assert keys == ["default"]
    # A list: keys over every setting any variant sets; `width: 1` is the default (coerced
    # to 1.0) and collapses into it.
    got = variants_mod.spec_variants(_spec(variants=[{"width": 1}, {"width": 0.5},
                                                     {"resolution": 64, "width": 0.5}]))
    assert [k for k, _ in got] == ["resolution=32,width=1.0", "resolution=32,width=0.5",
                                   "resolution=64,width=0.5"]
    assert got[2][1] == {"width": 0.5, "resolution": 64, "act": "relu"}
    grid = variants_mod.spec_variants(_spec(variants={"grid": {"width": [1.0, 0.5],
                                                               "act": ["relu", "relu6"]}}))
    assert [k for k, _ in grid] == ["act=relu,width=1.0", "act=relu6,width=1.0",
                                    "act=relu,width=0.5", "act=relu6,width=0.5"]


# --- the analytic path, and the real process ------------------------------------------------
def test_check_imports_no_torch_and_exits_through_a_process(tree):
    code = ("import sys\nfrom costmodel.cli.app import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    print('torch' in sys.modules, 'fvcore' in sys.modules, e.code)\n")
    out = subprocess.run([sys.executable, "-c", code, "check", str(tree / "specs"),
                          "--baseline", str(tree / "baseline.json")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "False False 0"
    mutate(tree / "specs" / "mobilenet_v1.yaml", "- [128, 1]", "- [256, 1]")
    proc = subprocess.run([sys.executable, "-m", "costmodel.cli", "check", str(tree / "specs"), "-b",
                           str(tree / "baseline.json"), "-f", "markdown"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1 and "| mobilenet_v1 |" in proc.stdout
    assert "features.2.pw" in proc.stdout

