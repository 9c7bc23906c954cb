"""CI guard: the committed costmodel/zoo/baseline.json matches the shipped specs.

Any change to specs/ (or to the counting code) that moves a count, a layer or the set of
specs and variants fails here until the baseline is regenerated on purpose with
`costmodel lock` (run from the repository root) and committed alongside the change.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from costmodel.cli.app import main

ROOT = Path(__file__).resolve().parents[1]


def test_committed_baseline_is_current(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", str(ROOT / "costmodel" / "zoo"), "--baseline", str(ROOT / "costmodel" / "zoo" / "baseline.json"),
              "--format", "json"])
    out = capsys.readouterr()
    assert exc.value.code == 0, (
        "the zoo no longer matches costmodel/zoo/baseline.json; if the change is intended, run "
        "`costmodel lock` and commit costmodel/zoo/baseline.json.\n" + out.out[-4000:] + out.err)
    report = json.loads(out.out)
    assert report["status"] == "unchanged" and report["changes"] == []
    # Every spec of the folder and its subfolders is guarded, with at least its default variant.
    n_specs = len(list((ROOT / "costmodel" / "zoo").rglob("*.yaml")))
    assert report["specs_checked"] == n_specs and report["variants_checked"] >= n_specs
