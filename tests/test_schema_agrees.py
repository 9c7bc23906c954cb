"""`costmodel schema` agrees with the loader: a real JSON Schema validator (jsonschema) accepts
every shipped spec, `extends:` children included, and rejects what the loader rejects where
JSON Schema can say so."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

import costmodel
from costmodel.errors import SpecError
from pathlib import Path

SPECS = Path(__file__).resolve().parent.parent / "costmodel" / "zoo"


@pytest.fixture(scope="module")
def validator():
    import contextlib
    import io
    from costmodel.cli.app import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["schema"])
        except SystemExit as exc:
            assert not exc.code
    schema = json.loads(out.getvalue())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_validates(validator, path):
    data = yaml.safe_load(path.read_text())
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(data)]
    assert not errors, errors


GOOD = {"name": "t", "input": [3, 8, 8], "layers": [{"op": "conv2d", "out": 4, "kernel": 3}]}


def with_(**kw):
    return {**GOOD, **kw}


BAD = {
    "negative channels": with_(layers=[{"op": "conv2d", "out": -4, "kernel": 3}]),
    "float channels": with_(layers=[{"op": "conv2d", "out": 3.5, "kernel": 3}]),
    "zero kernel": with_(layers=[{"op": "conv2d", "out": 4, "kernel": 0}]),
    "negative input": with_(input=[3, -8, 8]),
    "unknown gate": with_(layers=[{"op": "se", "squeeze": 2, "gate": "sigmod"}]),
    "unknown activation": with_(layers=[{"op": "activation", "fn": "rleu"}]),
    "unknown op": with_(layers=[{"op": "conv3d", "out": 4}]),
    "misspelled field": with_(layers=[{"op": "conv2d", "out": 4, "kernle": 3}]),
    "misspelled block key": with_(blocks={"b": {"args": ["c"], "body": ["relu"]}},
                                  layers=[{"block": "b", "c": 1, "wehn": True}]),
    "string setting without choices": with_(settings={"big": "depth >= 50"}),
    "setting with two sources": with_(settings={"w": {"default": 1, "expr": "2"}}),
    "string default without choices": with_(settings={"m": {"default": "a"}}),
    "reserved setting": with_(settings={"in_channels": 3}),
    "reserved let": with_(let={"in_h": 3}),
    "reserved argument": with_(blocks={"b": {"args": ["in_w"], "body": ["relu"]}}),
    "reserved loop variable": with_(layers=[{"repeat": 2, "as": "in_channels", "body": ["relu"]}]),
    "negative repeat": with_(layers=[{"repeat": -1, "body": ["relu"]}]),
    "unknown merge": with_(layers=[{"parallel": [["relu"], ["relu"]], "merge": "sub"}]),
    "unknown default field": with_(defaults={"paddnig": 0}),
    "no layers": {"name": "t", "input": [3, 8, 8]},
    "bad patch": {"name": "t", "extends": "mobilenet_v1", "patch": [{"remove": "fc"}]},
    "negative eps": with_(layers=[{"op": "layer_norm", "eps": -1.0}]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_specs_are_rejected_by_both(validator, case):
    data = BAD[case]
    assert list(validator.iter_errors(data)), f"the schema accepts {case}"
    with pytest.raises(SpecError):
        costmodel.profile(data)


def test_good_variants_are_accepted_by_both(validator):
    ok = [
        GOOD,
        with_(settings={"w": {"expr": "1.0"}, "v": {"default": "a", "choices": ["a", "b"]}},
              let={"ws": [8, 16]}, defaults={"padding": 0}),
        with_(blocks={"b": {"args": {"k": {"optional": True}, "g": "sigmoid"},
                            "body": [{"op": "se", "squeeze": 2, "gate": "g"}]}},
              layers=[{"block": "b"}]),
    ]
    for data in ok:
        assert not list(validator.iter_errors(data)), data
        costmodel.profile(data)
