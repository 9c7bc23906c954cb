"""Hostile suite, family "guard": mutations the guard must catch (exit 1, naming what moved),
and baselines it must refuse (exit 2).

Expected numbers are derived by hand: MobileNet v1 mult-adds at width 1.0 and resolution r
scale with the feature maps, 568,740,352 at 224 (Howard et al. 2017, Table 1 and 8: 569 M) and
418,121,728 at 192 (Table 8: 418 M): every layer's map is (r/32 * k)^2 for k the map size at
224/32 = 7, so the count at 192 is the same sum with 6 instead of 7, less the fc layer's share,
which does not scale: fc = 1024 * 1000 = 1,024,000;
(568,740,352 - 1,024,000) * 36 / 49 + 1,024,000 = 418,121,728.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import SPECS, run_cli
from costmodel import guard

V1_224 = 568_740_352
FC = 1024 * 1000
V1_192 = (V1_224 - FC) * 36 // 49 + FC


@pytest.fixture(scope="module")
def locked(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("guard")
    (root / "specs").mkdir()
    for name in ("mobilenet_v1.yaml", "shufflenet_v1.yaml"):
        shutil.copy(SPECS / name, root / "specs" / name)
    guard.lock(root / "specs", root / "baseline.json")
    return root


@pytest.fixture
def tree(locked: Path, tmp_path: Path) -> Path:
    shutil.copytree(locked / "specs", tmp_path / "specs")
    shutil.copy(locked / "baseline.json", tmp_path / "baseline.json")
    return tmp_path


def mutate(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path.name}: {old!r} (spec edited?)"
    path.write_text(text.replace(old, new))


def check(root: Path, *extra: str):
    r = run_cli("check", root / "specs", "--baseline", root / "baseline.json", "--format", "json",
                *extra)
    assert r.code in (0, 1), r
    return r.code, json.loads(r.out)


def test_hand_derived_numbers():
    assert V1_192 == 418_121_728


def test_default_moved_to_another_grid_point_is_caught(tree):
    """The defect: resolution 224 -> 192 keeps all 16 grid points as they were (192 is one of
    them), yet `profile` drops from 569 M to 418 M. It must fail, whatever the tolerance."""
    mutate(tree / "specs" / "mobilenet_v1.yaml", "  resolution: 224 ", "  resolution: 192 ")
    r = run_cli("profile", tree / "specs" / "mobilenet_v1.yaml", "--format", "json")
    assert r.code == 0 and json.loads(r.out)["totals"]["mult_adds"] == V1_192
    code, rep = check(tree)
    assert code == 1 and rep["status"] == "changed"
    assert rep["default_changes"] == [{"file": "mobilenet_v1.yaml", "model": "mobilenet_v1",
                                       "setting": "resolution", "before": 224, "after": 192}]
    [macs] = [c for c in rep["changes"] if c["metric"] == "mult_adds"]
    assert macs["variant"] == "default" and (macs["before"], macs["after"]) == (V1_224, V1_192)
    assert rep["variants_changed"] == 0          # every grid point is as it was
    code, rep = check(tree, "--tolerance", "0.5")     # a tolerance does not excuse it
    assert code == 1 and rep["default_changes"]
    r = run_cli("check", tree / "specs", "--baseline", tree / "baseline.json")
    assert r.code == 1 and "resolution 224 -> 192" in r.out and "defaults of 1 spec changed" in r.out


def test_choice_default_changed_to_another_variant(tree):
    """ShuffleNet v1's `groups` default 3 -> 8: g = 8 is itself a guarded variant."""
    mutate(tree / "specs" / "shufflenet_v1.yaml", "    default: 3\n", "    default: 8\n")
    code, rep = check(tree)
    assert code == 1
    assert [(d["setting"], d["before"], d["after"]) for d in rep["default_changes"]] == \
        [("groups", 3, 8)]


def test_removed_variant(tree):
    mutate(tree / "specs" / "shufflenet_v1.yaml", "  - {groups: 1, scale: 0.5}\n", "")
    code, rep = check(tree)
    assert code == 1 and rep["changes"] == [] and not rep["default_changes"]
    assert [i["variant"] for i in rep["removed_variants"]] == \
        ["groups=1,scale=0.5,variant=standard"]


def test_reorder_without_count_change_is_reported_as_reorder(tree):
    """bn and relu swapped in every conv_bn block: the same layers and totals, another order."""
    mutate(tree / "specs" / "mobilenet_v1.yaml",
           "      - {op: batch_norm, name: bn}\n      - {op: relu, name: relu}\n",
           "      - {op: relu, name: relu}\n      - {op: batch_norm, name: bn}\n")
    code, rep = check(tree)
    assert code == 1
    assert {c["metric"] for c in rep["changes"]} == {"layers"}
    first = next(d for d in rep["first_layer_changes"] if d["model"] == "mobilenet_v1")
    assert first["layer"] == "conv1.relu" and "layers reordered" in first["how"][0]
    # The opt-out: a tolerance lets the totals decide.
    code, rep = check(tree, "--tolerance", "0.001")
    assert code == 0


def test_rename_without_count_change_is_reported_as_rename(tree):
    mutate(tree / "specs" / "mobilenet_v1.yaml", "{op: linear, name: fc,", "{op: linear, name: head,")
    code, rep = check(tree)
    assert code == 1 and {c["metric"] for c in rep["changes"]} == {"layers"}
    first = next(d for d in rep["first_layer_changes"] if d["model"] == "mobilenet_v1")
    assert first["how"] == ["layers renamed (same layers, same counts): fc -> head"]


def test_old_format_baseline_is_refused(tree):
    data = json.loads((tree / "baseline.json").read_text())
    data["format_version"] = 1
    for e in data["specs"].values():
        del e["default"]
    (tree / "old.json").write_text(json.dumps(data))
    r = run_cli("check", tree / "specs", "--baseline", tree / "old.json")
    assert r.code == 2 and "format version 1" in r.err and "costmodel lock" in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_hand_edited_default_entry_is_refused(tree):
    data = json.loads((tree / "baseline.json").read_text())
    data["specs"]["mobilenet_v1.yaml"]["default"]["totals"]["mult_adds"] += 1
    (tree / "edited.json").write_text(json.dumps(data))
    r = run_cli("check", tree / "specs", "--baseline", tree / "edited.json")
    assert r.code == 2 and "default entry disagrees" in r.err


@pytest.mark.parametrize("value", ["9" * 5000, str(2 ** 64), "-1"])
def test_baseline_with_huge_or_negative_counts(tree, value):
    text = (tree / "baseline.json").read_text()
    data = json.loads(text)
    macs = data["specs"]["mobilenet_v1.yaml"]["default"]["totals"]["mult_adds"]
    bad = text.replace(f'"mult_adds": {macs}', f'"mult_adds": {value}')
    assert bad != text
    (tree / "edited.json").write_text(bad)
    r = run_cli("check", tree / "specs", "--baseline", tree / "edited.json")
    assert r.code == 2 and "Traceback" not in r.err and r.err.count("\n") == 1, r
    assert str(tree / "edited.json") in r.err and len(r.err) < 600
