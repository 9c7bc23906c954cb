"""Issue 14 (speed in the paper tables) and issue 13 part 7 (ShuffleNet V2's guideline
experiments): the registry's speed fields and their errors, the rank-correlation helper, a speed
table rendered from a hand-written measurement file (tests/data/measured_hand.json) in every
format, the speed-up footnotes, and the guideline specs' equal FLOPs.

Expected numbers are derived by hand in the comments (the paper's printed values, hand
arithmetic); no test asserts a timing."""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from conftest import write_registry

from costmodel.count.profile import Spec
from costmodel.papers import measured, registry
from costmodel.papers import tables as paper_tables
from costmodel.papers.rank import ranks, spearman
from costmodel.papers.speed import SpeedContext

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
HAND_DEVICE = DATA / "device_hand.yaml"
HAND_MEASURED = DATA / "measured_hand.json"
GUIDE = ROOT / "costmodel" / "zoo" / "shufflenet_v2_guidelines"
HW = 56 * 56          # every guideline network runs on 56 x 56 (Tables 1-3 captions)


# --- the rank-correlation helper, against hand-computed values ---------------------------------

def test_fractional_ranks_average_the_ties():
    assert ranks([10, 30, 20, 20]) == [1.0, 4.0, 2.5, 2.5]
    assert ranks([5, 5, 5]) == [2.0, 2.0, 2.0]


def test_spearman_by_hand():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [9, 7, 5, 1]) == pytest.approx(-1.0)
    # ties on one side: ranks y = [1, 2, 3.5, 5, 3.5]; deviations x [-2,-1,0,1,2],
    # y [-2,-1,.5,2,.5]: sum xy = 8, sum x^2 = 10, sum y^2 = 9.5 -> 8 / sqrt(95)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95))
    # ties on both sides: ranks [1.5,1.5,3,4] and [2,2,2,4]; sum xy = 3, x^2 = 4.5, y^2 = 3
    assert spearman([1, 1, 2, 3], [2, 2, 2, 5]) == pytest.approx(3 / math.sqrt(13.5))
    # no distinct d^2 shortcut when there are ties: 1 - 6*sum d^2 / (n(n^2-1)) would give
    # 1 - 6*1.5/60 = 0.85 for the first tied case, not 0.8208
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) != pytest.approx(0.85)


def test_spearman_undefined_cases():
    assert spearman([], []) is None and spearman([1.0], [2.0]) is None
    assert spearman([1, 2, 3], [4, 4, 4]) is None          # one side all tied
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])


# --- speed fields: parsing and validation -------------------------------------------------------

SPEED_HEAD = """
paper: p
citation: someone
tables:
  s1:
    title: a speed table
    kind: speed
    source: here
    speeds:
      - {key: arm, device: "some phone", unit: ms, batch: 1, source: "a paper"}
    rows:
      - {model: a, spec: mobilenet_v1, settings: {width: 0.5}, speed: {arm: 20.0}}
      - {model: b, spec: mobilenet_v1, settings: {width: 1.0}, speed: {arm: 50.0}}
"""


def test_speed_fields_parse(tmp_path):
    folder = write_registry(tmp_path, SPEED_HEAD)
    t = registry.load(folder).get("p-s1")
    col = t.definition.speeds[0]
    assert (col.key, col.device, col.unit, col.batch, col.source) == ("arm", "some phone", "ms", 1, "a paper")
    assert [r.data.speed for r in t.rows] == [{"arm": 20.0}, {"arm": 50.0}]


def test_bad_unit_fails_with_file_and_line(cli, tmp_path):
    folder = write_registry(tmp_path, SPEED_HEAD.replace("unit: ms", "unit: fps"))
    r = cli("table", "p-s1", "--registry", folder)
    assert r.code == 2 and "Traceback" not in r.err
    assert f"{folder / 'paper.yaml'}:9:" in r.err and "speeds.0.unit" in r.err   # the speeds entry


def test_missing_source_fails_with_file_and_line(cli, tmp_path):
    folder = write_registry(tmp_path, SPEED_HEAD.replace(', source: "a paper"', ""))
    r = cli("table", "--list", "--registry", folder)
    assert r.code == 2
    assert f"{folder / 'paper.yaml'}:9:" in r.err and "missing field 'speeds.0.source'" in r.err


def test_undeclared_speed_column_and_bad_claim_fail_at_their_line(cli, tmp_path):
    folder = write_registry(tmp_path, SPEED_HEAD.replace("speed: {arm: 50.0}", "speed: {gpu: 50.0}"))
    r = cli("table", "p-s1", "--registry", folder)
    assert r.code == 2 and f"{folder / 'paper.yaml'}:12:" in r.err
    assert "speed 'gpu' is not a declared speed column (declared: arm)" in r.err
    claim = SPEED_HEAD.replace("    rows:\n", "    claims:\n      - {text: x, column: arm, "
                               "faster: a, slower: zz}\n    rows:\n")
    r = cli("table", "p-s1", "--registry", write_registry(tmp_path / "c", claim))
    assert r.code == 2 and ":11:" in r.err and "names model 'zz'" in r.err
    nospeeds = SPEED_HEAD.replace('      - {key: arm, device: "some phone", unit: ms, batch: 1, '
                                  'source: "a paper"}\n', "").replace("    speeds:\n", "")
    r = cli("table", "p-s1", "--registry", write_registry(tmp_path / "n", nospeeds))
    assert r.code == 2 and "needs 'speeds'" in r.err


def test_bad_measurement_file_fails_cleanly(cli, tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"format": 1, "kind": "measured", "machine": {"cpu": "x", "torch": "y", '
                   '"threads": 1}, "measurements": [{"spec": "alexnet", "time_s": -1}]}')
    r = cli("table", "shufflenet_v1-table8", "--measurements", bad)
    assert r.code == 2 and str(bad) in r.err and "time_s" in r.err and "Traceback" not in r.err
    bad.write_text('{"format": 1, "kind": "measured", "machine": {"cpu": "x", "torch": "y", '
                   '"threads": 1}, "measurements": [{"spec": "alexnet", "settings": '
                   '{"versoin": "original"}, "time_s": 0.1}]}')
    r = cli("table", "shufflenet_v1-table8", "--measurements", bad)
    assert r.code == 2 and "unknown setting 'versoin'" in r.err
    r = cli("table", "shufflenet_v1-table8", "--measurements", HAND_MEASURED, "--measure")
    assert r.code == 2 and "not both" in r.err


# --- a speed table from the hand-written measurement file, in every format ---------------------

def _t8(device=HAND_DEVICE, measurements=HAND_MEASURED):
    from costmodel.latency import devices
    t = registry.load().get("shufflenet_v1-table8")
    resolver = registry.Resolver()
    m = measured.load(measurements).resolve(resolver) if measurements else None
    return paper_tables.build(t, resolver, SpeedContext(devices.resolve(device), m)), resolver


def _predicted_ms(resolver, spec, settings):
    from costmodel.latency import devices
    from costmodel.latency.predict import predict
    p = resolver.profile(spec, settings, "<test>", None, "test")
    return predict(p, devices.resolve(HAND_DEVICE)).time_s * 1e3


def test_speed_table_records_from_the_hand_measurements():
    built, resolver = _t8()
    rows = {r["model"]: r for r in built.records}
    # the paper's Table 8, 224 x 224 column, as printed (ms)
    assert [rows[m]["arm224_reported"] for m in rows] == [15.2, 37.8, 108.8, 184.0, 110.0]
    # measured: exactly the hand file's seconds, in ms
    assert [rows[m]["measured_ms"] for m in rows] == [10.0, 20.0, 50.0, 60.0, 40.0]
    # predicted: labelled with the device profile, equal to the latency API's own prediction
    a = rows["AlexNet"]
    assert a["predicted_device"] == "hand"
    assert a["predicted_ms"] == pytest.approx(_predicted_ms(resolver, "alexnet",
                                                           {"version": "original", "resolution": 227}))
    assert built.extra["machine"]["torch"] == "9.9.9+test"
    assert built.extra["device"]["name"] == "hand"


def test_rank_correlations_of_the_speed_table():
    built, _ = _t8()
    rho = {c["column"]: c for c in built.extra["rank_correlations"]}
    assert set(rho) == {"arm224"}          # the 480x640 and 720x1280 columns are printed only
    c = rho["arm224"]
    # paper ms 15.2, 37.8, 108.8, 184.0, 110.0 -> ranks 1 2 3 5 4; measured 10 20 50 60 40 ->
    # ranks 1 2 4 5 3: d^2 = 0+0+1+0+1 = 2, rho = 1 - 6*2/(5*24) = 0.9
    assert c["n"] == 5 and c["measured"] == pytest.approx(0.9)
    # mult-adds (paper: 38, 140, 524, 720, 569 M) rank exactly as the paper's times
    assert c["mult_adds"] == pytest.approx(1.0)


def test_speedup_footnote_by_hand():
    built, resolver = _t8()
    claim = built.extra["claims"][0]
    # paper: AlexNet 184.0 ms / ShuffleNet 0.5x 15.2 ms = 12.105...; the text says "~13x"
    assert claim["paper"] == pytest.approx(184.0 / 15.2)
    # measured here (hand file): 0.060 s / 0.010 s = 6
    assert claim["measured"] == pytest.approx(6.0)
    pred = _predicted_ms(resolver, "alexnet", {"version": "original", "resolution": 227}) / \
        _predicted_ms(resolver, "shufflenet_v1", {"scale": 0.5, "groups": 3})
    assert claim["predicted"] == pytest.approx(pred)
    text = next(f for f in built.footnotes if "13x" in f)
    assert "paper 184.0 / 15.2 ms = 12.11x" in text and "measured here 6.00x" in text
    assert f"predicted {pred:.2f}x" in text


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv", "json", "latex"])
def test_speed_table_in_every_format(cli, fmt):
    r = cli("table", "shufflenet_v1-table8", "--device", HAND_DEVICE, "--measurements",
            HAND_MEASURED, "--format", fmt)
    assert r.code == 0, r.err
    out = r.out
    if fmt == "json":
        doc = json.loads(out)
        assert doc["kind"] == "speed" and doc["machine"]["cpu"] == "Hand-written test CPU"
        assert [row["measured_ms"] for row in doc["rows"]] == [10.0, 20.0, 50.0, 60.0, 40.0]
        assert doc["claims"][0]["measured"] == pytest.approx(6.0)
        return
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert [float(x["measured_ms"]) for x in rows] == [10.0, 20.0, 50.0, 60.0, 40.0]
        assert {x["predicted_device"] for x in rows} == {"hand"}
        assert rows[3]["arm224_reported"] == "184.0"
        return
    assert "Predicted (ms), hand" in out.replace("\n", " ") or "hand" in out
    assert "MEASURED on Hand-written test CPU with torch 9.9.9+test" in " ".join(out.split())
    assert "60.00" in out and "184.0" in out
    assert "PREDICTED, not measured" in " ".join(out.split())


def test_measured_column_only_on_request(cli):
    r = cli("table", "shufflenet_v1-table8", "--device", HAND_DEVICE, "--format", "csv")
    assert r.code == 0 and "measured" not in r.out.splitlines()[0]
    r = cli("table", "shufflenet_v1-table8", "--device", HAND_DEVICE, "--format", "markdown")
    assert "Measured: not included" in r.out


# --- reports: measured files apart, the committed ones machine-independent ------------------------

def machine_independent(csv_text: str) -> list[dict]:
    """The CSV's rows without its machine-dependent (measured) columns."""
    return [{k: v for k, v in row.items() if not k.startswith("measured")}
            for row in csv.DictReader(io.StringIO(csv_text))]


def test_machine_independent_columns_helper():
    text = "model,predicted_ms,measured_ms\na,1.5,9.0\n"
    assert machine_independent(text) == [{"model": "a", "predicted_ms": "1.5"}]


def test_tables_with_measurements_writes_measured_files_apart(cli, tmp_path):
    out = tmp_path / "r"
    r = cli("tables", "--out", out, "--measurements", HAND_MEASURED, "--device", HAND_DEVICE)
    assert r.code == 0, r.err
    names = {p.name for p in out.iterdir()}
    assert {"shufflenet_v1-table8.measured.md", "shufflenet_v1-table8.measured.csv",
            "accuracy_vs_latency.measured.png", "accuracy_vs_latency.measured.svg",
            "measurements.measured.json", "README.measured.md"} <= names
    readme = (out / "README.measured.md").read_text()
    assert "Hand-written test CPU" in readme and "9.9.9+test" in readme
    # the plain files are the same as without measurements; the measured CSV adds only
    # measured columns to them
    plain = tmp_path / "p"
    assert cli("tables", "--out", plain, "--device", HAND_DEVICE).code == 0
    for name in sorted(n for n in names if ".measured." not in n and not n.endswith(".png")):
        assert (out / name).read_bytes() == (plain / name).read_bytes(), name
    m = (out / "shufflenet_v1-table8.measured.csv").read_text()
    assert machine_independent(m) == machine_independent((plain / "shufflenet_v1-table8.csv").read_text())
    assert "measured_ms" in m.splitlines()[0]


GUIDE_REG = """
paper: p
citation: someone
tables:
  g:
    title: tiny guideline experiment
    kind: guidelines
    source: here
    speeds:
      - {key: gpu, device: "a GPU", unit: batches/s, source: "a paper"}
    rows:
      - experiment: G1
        title: two ratios
        spec: shufflenet_v2_guidelines/g1_pointwise_ratio
        rows:
          - {label: "1:1", settings: {c1: 4, c2: 4, resolution: 4}, speed: {gpu: 100}}
          - {label: "1:4", settings: {c1: 2, c2: 8, resolution: 4}, speed: {gpu: 80}}
"""


def test_measure_runs_bench_on_tiny_shapes(cli, tmp_path, one_torch_thread):
    folder = write_registry(tmp_path, GUIDE_REG)
    r = cli("table", "p-g", "--registry", folder, "--measure", "--repeat", "2", "--device",
            HAND_DEVICE, "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["machine"]["threads"] == 1 and doc["machine"]["torch"]
    first, second = doc["rows"]
    assert first["measured_images_per_s"] > 0 and first["measured_ratio"] == 1.0
    assert second["gpu_ratio"] == pytest.approx(0.8)          # 80 / 100, as printed
    assert second["measured_ratio"] > 0                       # a ratio, whatever its value




# --- ShuffleNet V2's guideline specs: equal FLOPs within an experiment -----------------------------

def _ma(name: str, **settings) -> int:
    return Spec.load(GUIDE / f"{name}.yaml").profile(**settings).mult_adds


@pytest.mark.parametrize("c", [64, 128, 256, 512])
def test_g3_fragments_at_equal_flops(c):
    one = _ma("g3_fragmentation", structure="1-fragment", channels=c)
    assert one == 10 * HW * c * c                 # 10 blocks of one c -> c 1x1 conv
    # 4 in series at c/2: 4 (c/2)^2 = c^2 exactly
    assert _ma("g3_fragmentation", structure="4-fragment-series", channels=c // 2) == one
    # k in parallel, c -> c/k each, concatenated: k * c * c/k = c^2 exactly
    assert _ma("g3_fragmentation", structure="2-fragment-parallel", channels=c) == one
    assert _ma("g3_fragmentation", structure="4-fragment-parallel", channels=c) == one
    # 2 in series at c' = round(c / sqrt 2): 2 c'^2, within 1.2% of c^2
    c2 = round(c / math.sqrt(2))
    two = _ma("g3_fragmentation", structure="2-fragment-series", channels=c2)
    assert two == 10 * HW * 2 * c2 * c2 and abs(two / one - 1) < 0.012


@pytest.mark.parametrize("c", [32, 64, 128])
def test_g4_relu_and_shortcut_change_no_flops(c):
    # bottleneck [1x1, c; 3x3, c; 1x1, 4c] on 4c channels: 4c*c + 9c^2 + c*4c = 17 c^2 per pixel
    want = 10 * HW * 17 * c * c
    got = {(relu, sc): _ma("g4_elementwise", relu=relu, shortcut=sc, channels=c)
           for relu in (True, False) for sc in (True, False)}
    assert set(got.values()) == {want}


def test_g4_removing_relu_and_shortcut_removes_their_layers():
    def types(**s):
        p = Spec.load(GUIDE / "g4_elementwise.yaml").profile(**s)
        return sorted({l.type_key for l in p.layers})
    full, bare = types(relu=True, shortcut=True), types(relu=False, shortcut=False)
    assert set(full) - set(bare) == {t for t in full if t not in bare} and len(full) > len(bare)
    p = Spec.load(GUIDE / "g4_elementwise.yaml").profile(relu=False, shortcut=False)
    assert len(p.layers) == 30                    # 10 units x 3 convs, nothing else


def test_registry_guideline_rows_keep_each_experiments_flops():
    """Every group of the shipped guidelines table: its rows' computed FLOPs agree as the paper
    requires: G1 within the paper's own sizes (GPU c1*c2 = 16384 ... 15552, ARM 32*32 = 1024
    ... 22*44 = 968), G2 within 16384 vs 180^2/2 = 16200, G3 by the reading above, G4 exactly."""
    t = registry.load().get("shufflenet_v2-guidelines")
    res = registry.Resolver()
    bound = {"G1": 1024 / 968, "G2": 16384 / 16200, "G3": 1.012, "G4": 1.0}
    for row in t.rows:
        g = row.data
        flops = [res.profile(g.spec, r.settings, row.file, row.line, "t").mult_adds
                 for r in g.rows if r.computed]
        assert max(flops) / min(flops) <= bound[g.experiment] + 1e-9, (g.experiment, g.title)


def test_guidelines_table_ratios_by_hand():
    built = paper_tables.build(registry.load().get("shufflenet_v2-guidelines"))
    g1 = [r for r in built.records if r["group"] == "Table 1, c1:c2 at the GPU x1 sizes"]
    # Table 1, GPU x1: 1480, 1296, 876, 748 batches/s; ratios to 1:1
    assert [r["gpu_reported"] for r in g1] == [1480, 1296, 876, 748]
    assert [r["gpu_ratio"] for r in g1] == [1.0, round(1296 / 1480, 4), round(876 / 1480, 4),
                                            round(748 / 1480, 4)]
    assert all(r["predicted_device"] for r in built.records)
    g2 = [r for r in built.records if r["group"] == "Table 2, groups g at the ARM x1 sizes"]
    assert g2[-1]["mult_adds"] is None and g2[-1]["predicted_images_per_s"] is None  # 180/8
