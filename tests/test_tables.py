"""Paper tables: reported vs. computed, footnotes, the registry's bad input, atomic writes, and
the committed reports/ being exactly what `costmodel tables --out reports/` generates.

Expected numbers are derived by hand from the papers (formulas in the comments), never from
this program's output."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import write_registry

from costmodel.papers import tables as paper_tables

from costmodel.papers import registry
from costmodel.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "reports"


def mobilenet_v1_by_hand(alpha: float, res: int, classes: int = 1000) -> tuple[int, int]:
    """(mult-adds, weights) of MobileNet v1 from the paper's Table 1 and its cost formula
    D_K*D_K*aM*(rD_F)^2 + aM*aN*(rD_F)^2 (Sec. 3.3); channels int(a*N) (at least 8), a
    stride-2 3x3 conv with padding 1 maps D to ceil(D/2)."""
    c = lambda n: max(int(n * alpha), 8)  # noqa: E731
    h = math.ceil(res / 2)
    macs, weights, cin = 3 * 3 * 3 * c(32) * h * h, 3 * 3 * 3 * c(32), c(32)
    body = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 \
        + [(1024, 2), (1024, 1)]
    for out, s in body:
        h = math.ceil(h / s)
        macs += 9 * cin * h * h + cin * c(out) * h * h
        weights += 9 * cin + cin * c(out)
        cin = c(out)
    return macs + cin * classes, weights + cin * classes


@pytest.fixture(scope="module")
def reg():
    return registry.load()


def build(reg, name, **kw):
    return paper_tables.build(reg.get(name), registry.Resolver(**kw))


def row(table, model):
    return next(r for r in table.records if r["model"] == model)


# --- numbers against the papers ------------------------------------------------------------------

def test_hand_formula_reproduces_the_papers_printed_mult_adds():
    # Sanity of the hand model itself against Table 6/7's printed numbers (569, 325, 149, 41;
    # 418, 186): the paper's own numbers, to their rounding.
    for (a, r), printed in {(1.0, 224): 569, (0.75, 224): 325, (0.5, 224): 149,
                            (0.25, 224): 41, (1.0, 192): 418, (1.0, 128): 186}.items():
        assert round(mobilenet_v1_by_hand(a, r)[0] / 1e6) == printed


def test_mobilenet_table6_computed_against_hand_and_paper(reg):
    t = build(reg, "mobilenet_v1-table6")
    for model, alpha, printed_ma, printed_p in [("1.0 MobileNet-224", 1.0, 569, 4.2),
                                               ("0.75 MobileNet-224", 0.75, 325, 2.6),
                                               ("0.5 MobileNet-224", 0.5, 149, 1.3),
                                               ("0.25 MobileNet-224", 0.25, 41, 0.5)]:
        r = row(t, model)
        macs, weights = mobilenet_v1_by_hand(alpha, 224)
        assert r["mult_adds_computed"] == macs
        assert r["params_computed"] == weights          # weights only: the paper's convention
        assert r["params_count"] == "weights"
        assert r["mult_adds_reported"] == printed_ma and r["params_reported"] == printed_p
        assert r["mult_adds_within_rounding"] is True
    # 1.0-224 exactly: 568,740,352 (Table 1 summed by hand: conv1 10,838,016 + ...)
    assert row(t, "1.0 MobileNet-224")["mult_adds_computed"] == 568_740_352
    # the header says which parameters are counted; no footnote in a table without gaps
    md = t.to_markdown()
    assert "Params (M, weights only), computed" in md
    assert "[1]" not in md


def test_table9_counts_weights_not_batch_norm(reg):
    # 0.50 MobileNet-160 prints 1.32 M: weights only. By hand: 1,319,648 weights; batch norm
    # adds 2 per channel of the 27 conv outputs and the fc bias 1000: 1,331,592 -> 1.33 M.
    r = row(build(reg, "mobilenet_v1-table9"), "0.50 MobileNet-160")
    macs, weights = mobilenet_v1_by_hand(0.5, 160)
    assert weights == 1_319_648
    assert r["params_computed"] == weights and r["params_within_rounding"] is True
    assert round(weights / 1e6, 2) == 1.32
    # its mult-adds, 76,524,800, round to 77: a gap beyond the printed 76, with its footnote
    assert r["mult_adds_computed"] == macs == 76_524_800
    assert r["mult_adds_within_rounding"] is False


def test_footnote_where_the_gap_exceeds_the_printed_rounding(reg):
    t = build(reg, "mobilenet_v1-table7")
    # 1.0-160: 290,675,200 by hand (rounds to 291, printed 290): footnoted as truncation
    r = row(t, "1.0 MobileNet-160")
    assert r["mult_adds_computed"] == mobilenet_v1_by_hand(1.0, 160)[0] == 290_675_200
    assert r["mult_adds_within_rounding"] is False
    md = t.to_markdown()
    assert md.count("[1]") == 2                     # the mark in the row and the footnote
    assert "[1] 1.0 MobileNet-160: the exact count is 290.68 M" in md
    assert "[2]" not in md                          # 192 and 128 are within rounding


def test_mobilenet_table2_shares_and_the_transposed_digits(reg):
    t = build(reg, "mobilenet_v1-table2")
    recs = {r["type"]: r for r in t.records}
    # By hand: conv1 = 112*112*27*32 = 10,838,016 of 568,740,352 -> 1.9056 %, printed 1.19
    assert recs["Conv 3x3"]["mult_adds_pct_computed"] == pytest.approx(
        100 * 10_838_016 / 568_740_352, abs=1e-4)
    assert recs["Conv 3x3"]["mult_adds_within_rounding"] is False
    # fc: 1,024,000 weights of 4,209,088 -> 24.33 % (printed 24.33)
    assert recs["Fully Connected"]["params_pct_computed"] == pytest.approx(
        100 * 1_024_000 / 4_209_088, abs=1e-4)
    for typ in ("Conv 1x1", "Conv DW 3x3", "Fully Connected"):
        assert recs[typ]["mult_adds_within_rounding"] is True
        assert recs[typ]["params_within_rounding"] is True
    assert "digits transposed" in t.to_markdown()


def test_mobilenet_table1_flags_the_stride_typo_only(reg):
    t = build(reg, "mobilenet_v1-table1")
    layer_rows = [r for r in t.records if r["layer"] is not None]
    assert len(layer_rows) == 1 + 13 * 2 + 2          # conv1, 13 separable blocks, pool, fc
    mismatched = [r for r in layer_rows if not r["matches"]]
    assert [(r["type"], r["input"]) for r in mismatched] == [("Conv dw / s2", "7x7x1024")]
    # per-layer mult-adds by hand: the first pointwise conv 112*112*32*64 = 25,690,112
    assert layer_rows[2]["mult_adds"] == 25_690_112
    assert sum(r["mult_adds"] for r in layer_rows) == 568_740_352
    assert "known typo" in t.to_markdown()


def test_shufflenet_table5_rows_and_footnotes(reg):
    t = build(reg, "shufflenet_v1-table5")
    assert [r["model"] for r in t.records][:2] == ["1.0 MobileNet-224", "ShuffleNet 2x (g=3)"]
    # the MobileNet rows are the same networks as MobileNet's Table 6 (hand formula)
    assert row(t, "0.5 MobileNet-224")["mult_adds_computed"] == mobilenet_v1_by_hand(0.5, 224)[0]
    assert row(t, "1.0 MobileNet-224")["err_reported"] == 29.4
    # the paper's 524 / 292 / 40 (arch2) are reproduced to their rounding ...
    for m in ("ShuffleNet 2x (g=3)", "ShuffleNet 1.5x (g=3)", "ShuffleNet 0.5x (arch2, g=8)"):
        assert row(t, m)["mult_adds_within_rounding"] is True, m
    # ... the 1x (g=3) 140 and the shallow 40 are not, and both are explained
    md = t.to_markdown()
    assert row(t, "ShuffleNet 1x (g=3)")["mult_adds_within_rounding"] is False
    assert "nominal budget" in md and "does not give the widths of its shallow model" in md
    assert paper_tables.UNEXPLAINED not in md


def test_shufflenet_table1_counts_the_convolutions_alone(reg):
    t = build(reg, "shufflenet_v1-table1")
    for g, printed in zip((1, 2, 3, 4, 8), (143, 140, 137, 133, 137)):
        r = row(t, f"ShuffleNet 1x (g={g})")
        assert r["mult_adds_reported"] == printed
        assert r["mult_adds_within_rounding"] is True, g
    # the classifier left out: 1000 x (stage-4 width): 1000*240*4 = 960,000 at g=3 (Table 1)
    assert "fc (960,000 mult-adds)" in t.to_markdown()


def test_ghost_vgg16_tables_against_the_paper(reg):
    t3 = build(reg, "ghostnet-table3")
    vgg = row(t3, "VGG-16")
    # VGG-16's 13 convs on CIFAR by hand (32, 16, 8, 4, 2 pixel stages):
    conv = (3 * 64 + 64 * 64) * 9 * 32 * 32 + (64 * 128 + 128 * 128) * 9 * 16 * 16 \
        + (128 * 256 + 2 * 256 * 256) * 9 * 8 * 8 + (256 * 512 + 2 * 512 * 512) * 9 * 4 * 4 \
        + 3 * 512 * 512 * 9 * 2 * 2
    assert vgg["mult_adds_computed"] == conv == 313_196_544      # printed 313
    assert all(r["mult_adds_within_rounding"] and r["params_within_rounding"]
               for r in t3.records)
    t4 = build(reg, "ghostnet-table4")
    assert all(r["mult_adds_within_rounding"] and r["params_within_rounding"]
               for r in t4.records)
    assert row(t4, "Ghost-VGG-16 (s=2)")["acc_reported"] == 93.7   # the seed's typo 9.7 fixed


def test_rows_without_a_spec_by_design_keep_their_reported_numbers(reg):
    t = build(reg, "ghostnet-table6")
    thinet = row(t, "Thinet-ResNet-50")
    assert thinet["spec"] is None and thinet["mult_adds_computed"] is None
    assert thinet["params_reported"] == 16.9 and thinet["top1_reported"] == 72.1
    md = t.to_markdown()
    assert "| Thinet-ResNet-50 | - | 72.1 | 90.3 | 2.6 | no spec [" in md
    # ResNet-50: torchvision's 25,557,032 params -> 25.6 M as printed
    assert row(t, "ResNet-50")["params_computed"] == 25_557_032


def test_every_table_builds_and_every_gap_is_explained(reg):
    tables = paper_tables.build_all(reg, registry.Resolver())
    assert len(tables) == len(reg.tables) >= 16
    unexplained = [t.id for t in tables if paper_tables.UNEXPLAINED in t.footnotes]
    assert unexplained == []


def test_rounding_rule():
    # half a unit of the last printed digit
    assert paper_tables.tolerance(569) == 0.5 and paper_tables.tolerance(1.32) == pytest.approx(0.005)
    assert not paper_tables.beyond_rounding(568.74, 569)
    assert paper_tables.beyond_rounding(290.68, 290)
    assert paper_tables.beyond_rounding(1.3316, 1.32) and not paper_tables.beyond_rounding(1.3196, 1.32)


# --- the CLI --------------------------------------------------------------------------------

def test_table_list_and_formats(cli):
    r = cli("table", "--list")
    assert r.code == 0
    for name in ("mobilenet_v1-table6", "shufflenet_v1-table5", "ghostnet-table7",
                 "mobilenet_v2-table2", "shufflenet_v2-table5"):
        assert name in r.out
    r = cli("table", "mobilenet_v1-table6", "--format", "json")
    data = json.loads(r.out)
    assert data["rows"][0]["mult_adds_computed"] == 568_740_352
    r = cli("table", "mobilenet_v1-table6", "--format", "csv")
    assert r.out.splitlines()[0].startswith("table,model,spec,settings,top1_reported")
    assert "mobilenet_v1-table6,1.0 MobileNet-224,mobilenet_v1,width=1.0 resolution=224" in r.out
    r = cli("table", "mobilenet_v1-table6", "--format", "latex")
    assert r.out.startswith("\\begin{tabular}") and "568.7" in r.out
    r = cli("table", "shufflenet_v1-table5", "--format", "markdown")
    assert "| ShuffleNet 2x (g=3) | shufflenet_v1 scale=2.0 groups=3 | 29.1 | 524 | 524.0 |" in r.out


def test_unknown_table_lists_the_known_ones(cli):
    r = cli("table", "mobilenet_v1-table66")
    assert r.code == 2
    assert "unknown table 'mobilenet_v1-table66'" in r.err
    assert "mobilenet_v1-table6" in r.err and "ghostnet-table7" in r.err
    assert "Traceback" not in r.err


GOOD_HEAD = """
paper: p
citation: someone
tables:
  t1:
    title: a table
    source: here
    accuracy: [top1]
    rows:
      - {model: ok, spec: mobilenet_v1, settings: {width: 0.5}, top1: 60.0, mult_adds: 149}
"""


def test_row_with_a_missing_spec_fails_at_its_line(cli, tmp_path):
    folder = write_registry(tmp_path, GOOD_HEAD + "      - {model: bad, spec: no_such_net, top1: 1.0}\n")
    r = cli("table", "p-t1", "--registry", folder)
    assert r.code == 2
    assert f"{folder / 'paper.yaml'}:10:" in r.err        # the bad row's line
    assert "spec 'no_such_net' not found" in r.err and "Traceback" not in r.err
    # --allow-missing renders it with a blank computed cell instead
    r = cli("table", "p-t1", "--registry", folder, "--allow-missing", "--format", "markdown")
    assert r.code == 0 and "the spec 'no_such_net' does not exist yet" in r.out
    # and `tables` fails before writing anything
    out = tmp_path / "out"
    r = cli("tables", "--out", out, "--registry", folder)
    assert r.code == 2 and not out.exists()


def test_row_with_an_unknown_setting_fails_at_its_line(cli, tmp_path):
    folder = write_registry(tmp_path, GOOD_HEAD +
                       "      - {model: bad, spec: mobilenet_v1,\n"
                       "         settings: {widht: 0.5}, top1: 1.0}\n")
    r = cli("table", "p-t1", "--registry", folder)
    assert r.code == 2
    assert f"{folder / 'paper.yaml'}:10: row 'bad': unknown setting 'widht'" in r.err
    assert "did you mean 'width'" in r.err


def test_row_with_a_bad_value_or_field_fails_at_its_line(cli, tmp_path):
    folder = write_registry(tmp_path, GOOD_HEAD +
                       "      - {model: bad, spec: mobilenet_v1, settings: {resolution: big}}\n")
    r = cli("table", "p-t1", "--registry", folder)
    assert r.code == 2 and ":10: row 'bad': setting 'resolution' expects an integer" in r.err
    folder2 = write_registry(tmp_path / "x", GOOD_HEAD.replace("top1: 60.0", "top_1: 60.0"))
    r = cli("table", "--list", "--registry", folder2)
    assert r.code == 2 and ":9: table 't1', row 1: unknown field 'top_1'" in r.err
    folder3 = write_registry(tmp_path / "y", GOOD_HEAD + "      - {model: nospec, top1: 1.0}\n")
    r = cli("table", "--list", "--registry", folder3)
    assert r.code == 2 and ":10: table 't1', row 2: missing field 'spec'" in r.err


def test_unwritable_output_leaves_existing_reports_intact(cli, tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    old = out / "mobilenet_v1-table6.md"
    old.write_text("previous report\n")
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    r = cli("tables", "--out", out)
    assert r.code == 2
    assert "cannot write to the folder: Permission denied" in r.err
    assert "left as they were" in r.err and "Traceback" not in r.err
    assert old.read_text() == "previous report\n"
    assert sorted(p.name for p in out.iterdir()) == ["mobilenet_v1-table6.md"]


def test_output_path_that_is_a_file(cli, tmp_path):
    f = tmp_path / "reports"
    f.write_text("x")
    r = cli("tables", "--out", f)
    assert r.code == 2 and "not a folder" in r.err and f.read_text() == "x"


def test_atomic_write_keeps_the_old_file_when_replace_fails(tmp_path, monkeypatch):
    import os

    from costmodel.output.atomic import write_atomic
    target = tmp_path / "a.md"
    target.write_text("old")

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(SpecError, match="No space left on device"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]     # no temp file left behind


# --- the committed reports are exactly what the command generates ------------------------------

def test_committed_reports_are_up_to_date(cli, tmp_path):
    """`costmodel tables --out reports/` regenerates every committed file: tables and SVGs
    byte for byte, PNGs pixel for pixel."""
    import matplotlib.image as mpimg
    import numpy as np
    out = tmp_path / "reports"
    r = cli("tables", "--out", out)
    assert r.code == 0, r.err
    new = sorted(p.name for p in out.iterdir())
    # (reports/ also holds other commands' files, e.g. baseline.json: only ours are compared;
    # measured reports, `*.measured.*`, depend on the machine: only their machine-independent
    # columns are compared, below)
    ours = {".md", ".csv", ".png", ".svg"}
    committed = sorted(p.name for p in REPORTS.iterdir() if p.suffix in ours
                       and ".measured." not in p.name) if REPORTS.is_dir() else []
    assert new == committed, "reports/ is stale: run `costmodel tables --out reports/`"
    stale = []
    for name in new:
        a, b = out / name, REPORTS / name
        if name.endswith(".png"):
            same = np.array_equal(mpimg.imread(a), mpimg.imread(b))
        else:
            same = a.read_bytes() == b.read_bytes()
        if not same:
            stale.append(name)
    assert stale == [], f"stale reports (run `costmodel tables --out reports/`): {stale}"
    for m in sorted(REPORTS.glob("*.measured.csv")) if REPORTS.is_dir() else []:
        plain = out / m.name.replace(".measured.", ".")
        assert _machine_independent(m.read_text()) == _machine_independent(plain.read_text()), \
            f"{m.name}: its machine-independent columns are stale (rerun with --measure)"


def _machine_independent(csv_text: str) -> list[dict]:
    import csv
    import io
    return [{k: v for k, v in row.items() if not k.startswith("measured")}
            for row in csv.DictReader(io.StringIO(csv_text))]


def test_generation_is_deterministic(tmp_path):
    from costmodel.papers import reports as paper_reports
    reg = registry.load()
    a = paper_reports.render(reg, registry.Resolver())
    b = paper_reports.render(reg, registry.Resolver())
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    svg = a["accuracy_vs_mult_adds.svg"].decode()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert {"accuracy_vs_mult_adds.png", "accuracy_vs_mult_adds.svg",
            "mobilenet_v1_grid.png", "mobilenet_v1_grid.svg"} <= a.keys()


def test_plot_points_and_pareto_front(reg):
    from costmodel.papers import plots
    tables = [build(reg, n) for n in ("mobilenet_v1-table6", "shufflenet_v1-table5")]
    pts = plots.points_from_tables(tables)
    by_label = {p.label: p for p in pts}
    # 1.0 MobileNet-224 appears in both tables: one point; ShuffleNet's error becomes top-1
    assert sum(1 for p in pts if p.label == "1.0 MobileNet-224") == 1
    assert by_label["ShuffleNet 2x (g=3)"].top1 == pytest.approx(100 - 29.1)
    front = [p.label for p in plots.pareto(pts)]
    # fewer mult-adds and higher top-1: 0.5x shallow (21.6 M, 54.8) < arch2 (40.0 M, 57.3) <
    # 1x g=3 (65.9) < 1.5x (69.0) < 2x (70.9) ... 1.0 MobileNet-224 (568.7 M, 70.6) is beaten
    # by ShuffleNet 2x (524.0 M, 70.9)
    assert front[-1] == "ShuffleNet 2x (g=3)"
    assert "1.0 MobileNet-224" not in front and "0.25 MobileNet-224" not in front
