"""Outputs a reader trusts (issue 16): depth roll-ups, --hide-zero, --top, tables that never
cut a digit in a narrow terminal, memory at a batch and a dtype, model size with buffers,
clean CSV, and JSON with versions, op fields and a JSON Schema it validates against."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, SPECS

MNV1 = SPECS / "mobilenet_v1.yaml"
SCHEMA = json.loads((ROOT / "costmodel" / "count" / "profile.schema.json").read_text())

# MobileNet v1 by hand (Howard et al. 2017, Table 1): block 1 is a 3x3 depthwise conv on
# 112x112x32 and a 1x1 conv 32 -> 64 on 112x112.
DW1 = 3 * 3 * 32 * 112 * 112            # 3,612,672
PW1 = 32 * 64 * 112 * 112               # 25,690,112
PW_14 = 512 * 512 * 14 * 14             # 51,380,224, the costliest layers (five of them)
PW_7 = 1024 * 1024 * 7 * 7              # 51,380,224 as well


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_depth_rolls_layers_up_to_their_block(cli):
    r = cli("profile", MNV1, "--depth", "2", "--format", "csv")
    assert r.code == 0, r
    rows = {row["name"]: row for row in csv_rows(r.out)}
    block = rows["features.0"]
    assert int(block["paper"]) == DW1 + PW1
    # dw (288) + bn (64) + pw (2,048) + bn (128): Table 1's first block
    assert int(block["params"]) == 3 * 3 * 32 + 2 * 32 + 32 * 64 + 2 * 64
    assert int(block["layers"]) == 6
    assert block["input_shape"] == "32x112x112" and block["output_shape"] == "64x112x112"
    assert "conv1.relu" not in rows          # no cost: hidden by default at a depth
    assert sum(int(x["paper"]) for x in rows.values()) == 568_740_352   # Table 6: 569 M
    shown = csv_rows(cli("profile", MNV1, "-d", "2", "--show-zero", "-f", "csv").out)
    assert "conv1.relu" in {x["name"] for x in shown}
    one = csv_rows(cli("profile", MNV1, "--depth", "1", "--format", "csv").out)
    assert [x["name"] for x in one] == ["conv1", "features", "fc"]   # pool, flatten: no cost
    assert int(one[0]["paper"]) == 3 * 3 * 3 * 32 * 112 * 112 and one[0]["layers"] == "3"


def test_depth_table_says_what_it_rolled_up(cli):
    r = cli("profile", MNV1, "--depth", "2")
    assert r.code == 0, r
    assert "Rolled up to depth 2" in r.out and f"{DW1 + PW1:,}" in r.out
    assert "features.0 " in r.out and "features.0.dw" not in r.out


def test_hide_zero_on_a_flat_table(cli):
    every = csv_rows(cli("profile", MNV1, "--format", "csv").out)
    costly = csv_rows(cli("profile", MNV1, "--hide-zero", "--format", "csv").out)
    assert len(costly) < len(every)
    assert all(int(x["paper"]) or int(x["params"]) for x in costly)
    assert {x["name"] for x in every if int(x["paper"]) or int(x["params"])} == \
        {x["name"] for x in costly}


def test_top_lists_the_costliest_first(cli):
    rows = csv_rows(cli("profile", MNV1, "--top", "3", "--format", "csv").out)
    assert [int(x["paper"]) for x in rows] == [PW_14] * 3
    r = cli("profile", MNV1, "--top", "6")
    assert "The 6 costliest of" in r.out and "568,740,352" in r.out   # totals: the model's
    assert r.out.count(f"{PW_14:,}") == 6


def test_top_with_depth_ranks_blocks(cli):
    rows = csv_rows(cli("profile", MNV1, "--depth", "2", "--top", "1", "--format", "csv").out)
    # every stride-1 block has a 51,380,224 pointwise conv; the 56x56x128 one has the
    # costliest depthwise conv (3x3x128 at 56x56)
    assert len(rows) == 1 and int(rows[0]["paper"]) == 3 * 3 * 128 * 56 * 56 + PW_14
    assert rows[0]["input_shape"] == "128x56x56" and rows[0]["output_shape"] == "128x56x56"


@pytest.mark.parametrize("width", [60, 80, 100])
def test_narrow_terminal_keeps_every_digit(cli, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    spec = SPECS / "mobilenet_v2.yaml"
    r = cli("profile", spec)
    assert r.code == 0, r
    table = [line for line in r.out.splitlines() if line.startswith(("│", "┃", "┏", "└"))]
    assert table and max(len(line) for line in table) <= width
    for row in csv_rows(cli("profile", spec, "--format", "csv").out):
        assert f"{int(row['paper']):,}" in r.out       # every count, whole
    assert "300,774,272" in r.out and "3,504,872" in r.out
    assert "Columns left out to fit" in r.out
    for line in table:
        for cell in line.split("│")[2:]:
            assert "…" not in cell                    # only names are shortened


def test_wide_terminal_drops_nothing(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    r = cli("profile", MNV1)
    assert "Filter Shape" in r.out and "Columns left out" not in r.out and "…" not in r.out


def test_memory_at_batch_and_dtype(cli):
    base = json.loads(cli("profile", MNV1, "--format", "json").out)
    half = json.loads(cli("profile", MNV1, "--format", "json", "--batch", "8", "--dtype",
                          "fp16").out)
    # MobileNet v1's peak: input and output of the batch norm on the 112x112x64 map
    assert base["memory"]["peak_activation_bytes"] == 4 * (64 + 64) * 112 * 112
    assert half["memory"]["peak_activation_bytes"] == base["memory"]["peak_activation_bytes"] // 4 * 2 * 8
    assert half["memory"]["batch"] == 8 and half["memory"]["dtype"] == "fp16"
    assert half["memory"]["bytes_per_element"] == 2
    assert half["totals"]["mult_adds"] == base["totals"]["mult_adds"]   # counts: per sample
    r = cli("profile", MNV1, "--batch", "8", "--dtype", "fp16")
    assert "Memory at batch 8, fp16" in r.out
    assert cli("profile", MNV1, "--dtype", "fp64").code == 2
    assert cli("profile", MNV1, "--batch", "0").code == 2


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "ghostnet", "shufflenet_v2"])
def test_model_size_is_the_state_dict(name):
    """Model bytes = what torch's state_dict holds: params and batch-norm buffers (running
    mean/var at the model's dtype, num_batches_tracked as int64)."""
    torch = pytest.importorskip("torch")
    import costmodel
    from costmodel.torch.builder import build
    p = costmodel.profile(name)
    net = build(p.root)
    sd = net.state_dict()
    assert p.params + p.buffers == sum(t.numel() for t in sd.values())
    assert p.memory()["model_bytes"] == sum(t.numel() * t.element_size() for t in sd.values())
    half = net.half().state_dict()
    assert p.memory(dtype="fp16")["model_bytes"] == sum(t.numel() * t.element_size()
                                                        for t in half.values())
    assert torch is not None


def test_type_csv_is_plain_unique_and_has_no_total(cli):
    r = cli("profile", MNV1, "--by", "type", "--format", "csv")
    assert r.code == 0, r
    header = r.out.splitlines()[0].split(",")
    assert len(header) == len(set(header)) and "%" not in header
    rows = csv_rows(r.out)
    assert all(row["type"] != "Total" for row in rows)
    assert all("," not in row["mult_adds"] and row["mult_adds"].isdigit() for row in rows)
    # MobileNet Table 2: the 1x1 convs are 94.86% of the mult-adds
    pw = next(row for row in rows if row["type"] == "Conv 1x1")
    assert pw["mult_adds_pct"] == "94.86"
    with_total = csv_rows(cli("profile", MNV1, "--by", "type", "-f", "csv", "--total").out)
    assert with_total[-1]["type"] == "Total" and with_total[-1]["mult_adds"] == "568740352"


def test_layer_csv_total_only_when_asked(cli):
    rows = csv_rows(cli("profile", MNV1, "--format", "csv").out)
    assert rows[-1]["name"] != "Total"
    rows = csv_rows(cli("profile", MNV1, "--format", "csv", "--total").out)
    assert rows[-1]["name"] == "Total" and rows[-1]["paper"] == "568740352"


def test_json_has_versions_and_op_fields(cli):
    from costmodel.version import __version__
    d = json.loads(cli("profile", MNV1, "--format", "json").out)
    assert d["format_version"] == 2 and d["tool"] == "costmodel"
    assert d["tool_version"] == __version__
    dw = next(l for l in d["layers"] if l["name"] == "features.0.dw")
    assert dw["attrs"]["kernel"] == [3, 3] and dw["attrs"]["stride"] == [1, 1]
    assert dw["attrs"]["padding"] == [1, 1] and dw["attrs"]["groups"] == 32
    assert dw["mult_adds"] == DW1 and dw["count"] == DW1
    s2 = next(l for l in d["layers"] if l["name"] == "features.1.dw")
    assert s2["attrs"]["stride"] == [2, 2] and s2["output_shape"] == [64, 56, 56]


def test_json_count_follows_the_convention(cli):
    d = json.loads(cli("profile", MNV1, "-f", "json", "-c", "flop_counter").out)
    assert d["convention"] == "flop_counter"
    assert d["totals"]["count"] == 2 * 568_740_352
    assert d["layers"][0]["count"] == 2 * 3 * 3 * 3 * 32 * 112 * 112


@pytest.mark.parametrize("args", [
    ["mobilenet_v1"], ["mobilenet_v2", "--batch", "4", "--dtype", "bf16"], ["ghostnet"],
    ["shufflenet_v1", "-c", "fvcore"], ["googlenet", "-c", "full"], ["resnet50"],
    ["mobilenet_v3_small", "--dtype", "int8"], ["squeezenet"], ["alexnet"],
])
def test_profile_json_validates_against_its_schema(cli, args):
    r = cli("profile", *args, "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(d, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_a_document_missing_its_version(cli):
    d = json.loads(cli("profile", MNV1, "--format", "json").out)
    del d["format_version"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, SCHEMA, cls=jsonschema.Draft202012Validator)
    d = json.loads(cli("profile", MNV1, "--format", "json").out)
    d["layers"][0]["mult_adds"] = "10,838,016"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_every_json_document_names_its_format_and_tool(cli):
    for args in (["zoo"], ["check"], ["table", "mobilenet_v1-table6"],
                 ["sweep", "mobilenet_v1", "--grid", "width=0.5"]):
        d = json.loads(cli(*args, "--format", "json").out)
        assert d["format_version"] == 2 and d["tool"] == "costmodel", args
    schema = json.loads(cli("schema").out)
    assert "format_version" not in schema          # the spec JSON Schema stays a schema


@pytest.mark.parametrize("width", [60, 80])
def test_paper_tables_keep_every_digit_in_a_narrow_terminal(cli, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    r = cli("table", "mobilenet_v1-table6")
    assert r.code == 0, r
    lines = [l for l in r.out.splitlines() if l[:1] in "┏┃│└"]
    assert max(len(l) for l in lines) <= width
    assert all(l[-1] in "┓┃│┘" for l in lines)           # the right border: nothing cropped
    for value in ("568.7", "325.4", "149.5", "41.0", "70.6", "50.6"):
        assert value in r.out
