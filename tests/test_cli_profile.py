"""`costmodel profile` and `costmodel schema` output formats, and the no-torch promise."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

from conftest import ROOT, SPECS

MNV1 = SPECS / "mobilenet_v1.yaml"


def test_json_output(cli):
    r = cli("profile", MNV1, "--set", "width=0.5", "--set", "resolution=160", "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["model"] == "mobilenet_v1"
    assert d["settings"] == {"width": 0.5, "resolution": 160, "num_classes": 1000}
    assert d["input_shape"] == [3, 160, 160]
    assert set(d["totals"]) >= {"mult_adds", "params", "activations"}
    assert 76e6 <= d["totals"]["mult_adds"] < 77e6
    first = d["layers"][0]
    assert first["name"] == "conv1.conv" and first["op"] == "conv2d"
    # 0.5 width: 16 filters of 3x3x3 at 80x80: 16 * 27 * 6,400 = 2,764,800
    assert first["output_shape"] == [16, 80, 80] and first["mult_adds"] == 2_764_800
    assert sum(l["mult_adds"] for l in d["layers"]) == d["totals"]["mult_adds"]


def test_csv_output(cli):
    r = cli("profile", MNV1, "--format", "csv")
    assert r.code == 0, r
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert rows[0]["name"] == "conv1.conv" and rows[0]["paper"] == str(3 * 3 * 3 * 32 * 112 * 112)
    assert any(row["name"] == "features.3.pw" for row in rows)


def test_markdown_and_table_output(cli):
    md = cli("profile", MNV1, "--format", "markdown")
    assert md.code == 0 and md.out.count("\n| features.") == 13 * 6
    assert "| Total |" in md.out
    table = cli("profile", MNV1)
    assert table.code == 0 and "568,740,352" in table.out and "features.12.pw" in table.out


def test_convention_option(cli):
    r = cli("profile", MNV1, "--convention", "flop_counter", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert rows[0]["flop_counter"] == str(2 * 3 * 3 * 3 * 32 * 112 * 112)


def test_schema_is_json_schema_for_the_spec_format(cli):
    r = cli("schema")
    assert r.code == 0
    s = json.loads(r.out)
    assert s["$schema"].startswith("https://json-schema.org/")
    # name always; input and layers unless the spec extends another
    assert s["required"] == ["name"]
    assert {"required": ["input", "layers"]} in s["anyOf"] and {"required": ["extends"]} in s["anyOf"]
    conv = s["$defs"]["op_conv2d"]
    assert set(conv["properties"]) >= {"out", "kernel", "stride", "padding", "groups", "bias"}
    assert conv["additionalProperties"] is False
    assert {"$ref": "#/$defs/op_ghost"} in s["$defs"]["Entry"]["anyOf"]


def test_help_teaches(cli):
    r = cli("profile", "--help")
    assert r.code == 0 and "--set" in r.out and "Examples" in r.out


def test_analytic_path_imports_neither_torch_nor_fvcore():
    code = (
        "import sys, costmodel\n"
        "p = costmodel.profile(sys.argv[1], width=0.5)\n"
        "from costmodel.cli.app import main\n"
        "try:\n    main(['profile', sys.argv[1], '--format', 'json'])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "bad = [m for m in ('torch', 'fvcore', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('clean', p.mult_adds)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(MNV1)], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    word, count = out.stdout.strip().splitlines()[-1].split()
    assert word == "clean" and round(int(count) / 1e6) == 149   # Table 6: 0.5 MobileNet-224
