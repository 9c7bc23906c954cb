"""Sweeps: a grid of settings -> exact mult-adds and params, checked against the paper's cost
formula by hand; bad grids exit 2; --out writes atomically."""
from __future__ import annotations

import csv
import io
import json

import pytest

from costmodel.sweep import grid as sweep
from costmodel.errors import SpecError

from test_tables import ROOT, mobilenet_v1_by_hand

SPEC = ROOT / "costmodel" / "zoo" / "mobilenet_v1.yaml"
WIDTHS = [1.0, 0.75, 0.5, 0.25]
RESOLUTIONS = [224, 192, 160, 128]


def test_grid_matches_the_hand_formula_at_all_16_points():
    s = sweep.run(SPEC, {"width": WIDTHS, "resolution": RESOLUTIONS})
    assert [(p.settings["width"], p.settings["resolution"]) for p in s.points] == \
        [(w, r) for w in WIDTHS for r in RESOLUTIONS]          # first axis slowest
    for p in s.points:
        macs, weights = mobilenet_v1_by_hand(p.settings["width"], p.settings["resolution"])
        assert (p.mult_adds, p.weights) == (macs, weights)
    # params add batch norm (2 per conv output channel) and the fc bias: at 1.0, the channels
    # of conv1 + 13 (dw + pw) layers: 32 + 2*(32+64+128+128+256+256+512*6+1024) + ... by hand
    chans = [32] + [c for cin, cout in zip([32, 64, 128, 128, 256, 256] + [512] * 6 + [1024],
                                          [64, 128, 128, 256, 256, 512] + [512] * 5 + [1024, 1024])
                    for c in (cin, cout)]
    first = s.points[0]
    assert first.params == first.weights + 2 * sum(chans) + 1000


def test_an_off_grid_point_what_does_0_6x_176_cost(cli):
    # the tool answers for any setting, not only the paper's rows: width 0.6 at 176 pixels
    macs, weights = mobilenet_v1_by_hand(0.6, 176)
    r = cli("sweep", SPEC, "--grid", "width=0.6", "--grid", "resolution=176", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["grid"] == {"width": [0.6], "resolution": [176]}
    point = data["points"][0]
    assert {k: point[k] for k in ("width", "resolution", "mult_adds", "weights")} == \
        {"width": 0.6, "resolution": 176, "mult_adds": macs, "weights": weights}


def test_one_parsed_spec_is_profiled_per_point(monkeypatch):
    import sys
    profile_mod = sys.modules["costmodel.count.profile"]   # (costmodel.count.profile is also a function)
    calls = []
    real = profile_mod.read_spec_file
    monkeypatch.setattr(profile_mod, "read_spec_file", lambda f: calls.append(f) or real(f))
    s = sweep.run(SPEC, {"width": WIDTHS, "resolution": RESOLUTIONS})
    assert len(s.points) == 16 and len(calls) == 1


def test_two_axes_also_print_a_matrix(cli):
    r = cli("sweep", SPEC, "--grid", "width=1.0,0.5", "--grid", "resolution=224,160",
            "--format", "markdown")
    assert r.code == 0
    # the mult-adds matrix, millions with 2 decimals: 568.74 / 290.68 / 149.50 / 76.52 by hand
    assert "| width \\ resolution | 224 | 160 |" in r.out
    assert "| 1.0 | 568.74 | 290.68 |" in r.out and "| 0.5 | 149.50 | 76.52 |" in r.out
    r = cli("sweep", SPEC, "--grid", "width=1.0,0.5", "--grid", "resolution=224,160")
    assert r.code == 0 and "width \\ resolution" in r.out and "568,740,352" in r.out


def test_fixed_settings_and_csv(cli):
    r = cli("sweep", SPEC, "--grid", "width=0.5", "--set", "resolution=160", "--format", "csv")
    assert r.code == 0
    rows = list(csv.DictReader(io.StringIO(r.out)))
    # plain integers (76,524,800 = 0.5-160 by hand), snake_case unique columns, no derived
    # (M) columns, no total row
    assert rows[0]["width"] == "0.5" and rows[0]["mult_adds"] == "76524800"
    assert int(rows[0]["mult_adds"]) == mobilenet_v1_by_hand(0.5, 160)[0]
    assert list(rows[0]) == ["width", "mult_adds", "params", "weights", "activations",
                             "flops_fvcore", "flops_full"] and len(rows) == 1


@pytest.mark.parametrize("args, message", [
    (["--grid", "width"], "--grid expects NAME=V1,V2"),
    (["--grid", "width=1.0,,0.5"], "--grid expects NAME=V1,V2"),
    (["--grid", "width=1.0", "--grid", "width=0.5"], "given twice"),
    (["--grid", "widht=1.0"], "unknown setting 'widht' (did you mean 'width'?)"),
    (["--grid", "resolution=big"], "setting 'resolution' expects an integer"),
    (["--grid", "width=0.5", "--set", "width=1.0"], "both fixed (--set) and swept (--grid)"),
    ([], "give at least one --grid"),
])
def test_bad_grids_exit_2(cli, args, message):
    r = cli("sweep", SPEC, *args)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_out_writes_the_format_of_its_suffix(cli, tmp_path):
    out = tmp_path / "grid.json"
    r = cli("sweep", SPEC, "--grid", "width=1.0,0.25", "--out", out)
    assert r.code == 0 and r.out == ""
    data = json.loads(out.read_text())
    assert [p["mult_adds"] for p in data["points"]] == [mobilenet_v1_by_hand(1.0, 224)[0],
                                                        mobilenet_v1_by_hand(0.25, 224)[0]]
    md = tmp_path / "grid.md"
    assert cli("sweep", SPEC, "--grid", "width=1.0", "--out", md).code == 0
    assert md.read_text().startswith("### mobilenet_v1: sweep over width")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.json", "grid.md"]


def test_parse_grid_and_point_limit():
    assert sweep.parse_grid(["width=1.0, 0.5", "resolution=224"]) == {
        "width": ["1.0", "0.5"], "resolution": ["224"]}
    with pytest.raises(SpecError, match="limit"):
        sweep.run(SPEC, {"resolution": list(range(32, 32 + 101)), "width": [0.1 * i for i in range(1, 101)]})
