"""Start-up (issue 16): what the analytic commands import, the generated validators, typer's
values converted without pydantic, the version read without importlib.metadata. The timings
themselves are in benchmarks/bench_startup.py."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SPECS

HEAVY = ("rich", "torch", "fvcore", "numpy", "matplotlib", "onnx", "pydantic.main",
         "importlib.metadata")


def _modules_after(*argv: str) -> tuple[list[str], str]:
    """The modules a whole `costmodel ARGV` process imported, and what it printed."""
    code = ("import sys, json\n"
            "from costmodel.cli.app import main\n"
            f"sys.argv = ['costmodel', *{list(argv)!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(sys.modules)) + '\\n')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    mods = json.loads(r.stderr.rsplit("MODULES=", 1)[1])
    return mods, r.stdout


def _loaded(mods: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in mods)


def test_profile_json_imports_no_rich_torch_or_pydantic_models():
    mods, out = _modules_after("profile", str(SPECS / "mobilenet_v2.yaml"), "--format", "json")
    assert json.loads(out)["totals"]["mult_adds"] == 300_774_272      # MobileNetV2's 300 M
    assert [m for m in HEAVY if _loaded(mods, m)] == []


def test_profile_table_into_a_pipe_imports_no_rich_or_torch():
    mods, out = _modules_after("profile", str(SPECS / "mobilenet_v2.yaml"))
    assert "300,774,272" in out and "┏━" in out
    assert [m for m in HEAVY if _loaded(mods, m)] == []


def test_generated_core_schemas_are_current():
    from costmodel.spec import coregen
    assert coregen.TARGET.read_text() == coregen.generate(), \
        "costmodel/spec/_core_schemas.py is stale: run python -m costmodel.spec.coregen"


def test_every_model_validates_with_its_generated_schema():
    from costmodel.ops import OPS
    from costmodel.spec import validate
    names = ["SpecFile", "SettingDecl", *(f"entry_{k}" for k in
                                           ("block", "seq", "repeat", "parallel", "residual")),
             *(f"op_{n}" for n, op in OPS.items() if op.kind == "layer")]
    assert [n for n in names if not validate.generated(n)] == []


def test_generated_and_model_validators_agree(tmp_path):
    """The same inputs through the pydantic model and the generated schema: the same fields,
    the same errors (type, location, message)."""
    from pydantic import ValidationError
    from costmodel.spec import schema, validate
    cases = [
        ("SpecFile", {"name": "n", "input": [3, 8, 8], "layers": ["relu"],
                      "settings": {"w": {"default": 1, "choices": [1, 2]}, "r": 3}}),
        ("SpecFile", {"name": "n", "input": [3, 8], "layers": []}),
        ("SpecFile", {"name": "n", "input": [3, 8, 8], "layers": [], "bogus": 1}),
        ("SpecFile", {"name": "n", "input": [3, 8, 8], "layers": [], "defaults": {"kernal": 3}}),
        ("SpecFile", {"name": "n", "input": [3, 8, 8], "layers": [],
                      "settings": {"w": {"default": "a"}}}),
        ("SpecFile", {"name": "n", "input": [3, 8, 8], "layers": [],
                      "blocks": {"b": {"args": ["in_h"], "body": []}}}),
        ("SettingDecl", {"default": 1, "expr": "2"}),
        ("op_conv2d", {"op": "conv2d", "out": 8, "kernel": [3, 3, 3]}),
        ("op_conv2d", {"op": "conv2d", "out": True, "kernel": 3}),
        ("entry_repeat", {"repeat": 2, "as": "in_w", "body": []}),
        ("entry_parallel", {"parallel": [[]], "merge": "max"}),
    ]
    models = {"SpecFile": schema.SpecFile, "SettingDecl": schema.SettingDecl,
              "op_conv2d": schema.op_model("conv2d"), "entry_repeat": schema.RepeatEntry,
              "entry_parallel": schema.ParallelEntry}
    for name, data in cases:
        try:
            want = models[name].model_validate(data)
            want_err = None
        except ValidationError as exc:
            want, want_err = None, [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]
        try:
            got = validate.validate(name, data)
            got_err = None
        except ValidationError as exc:
            got, got_err = None, [(e["type"], e["loc"], e["msg"]) for e in exc.errors()]
        assert got_err == want_err, (name, data)
        if want is not None:
            assert set(vars(got)) == set(type(want).model_fields), name
            assert validate.fields(name) == tuple(type(want).model_fields)
    spec = validate.validate("SpecFile", cases[0][1])
    assert spec.settings["w"].choices == [1, 2] and spec.settings["r"] == 3


def test_stale_generated_schema_falls_back_to_the_models(monkeypatch):
    """An op whose fields changed since generation is validated by its model, not the stale
    generated schema."""
    from costmodel.spec import _core_schemas as gen
    from costmodel.spec import validate
    monkeypatch.setitem(gen.OP_SIGNATURES, "relu", ("relu", (), (("x", "int", None, True),)))
    validate.validator.cache_clear()
    try:
        assert not validate.generated("op_relu")
        assert validate.validate("op_relu", {"op": "relu"}) is not None
    finally:
        validate.validator.cache_clear()


def test_version_is_the_installed_metadata():
    from costmodel.version import __version__
    assert __version__ == importlib.metadata.version("costmodel")


# -- typer's values converted without pydantic: the same as typer's own adapters -------------

def _commands():
    import typer.main
    from costmodel.cli import app as app_mod
    app_mod._register_commands([])
    group = typer.main.get_command(app_mod.app)
    return group.commands


def _samples(param) -> list:
    import enum
    desc = param.type_descriptor
    ann, info = desc.annotation, desc.parameter_info
    out: list = []
    if param.default is not None and not callable(param.default):
        out.append(param.default)
    inner = ann.__args__[0] if getattr(ann, "__origin__", None) is list else ann
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        vals = [m.value for m in inner] + [m.value.upper() for m in inner] + ["nope", ""]
    elif inner is int:
        vals = ["1", "7", "0", "-3", "abc", "1.5", " 2", "10000000", 5, True]
    elif inner is str:
        vals = ["abc", "", "a b"]
    elif inner is bool:
        vals = [True, False, "true", "no"]
    elif inner is Path:
        vals = ["x.yaml", str(SPECS / "mobilenet_v1.yaml"), "", Path("y")]
    else:
        vals = ["abc"]
    if inner is not ann:
        out += [[v] for v in vals[:3]] + [vals[:2]]
    else:
        out += vals
    return out


def _outcome(runtime, value, param):
    from typer._click.exceptions import BadParameter
    try:
        return ("ok", runtime._coerce_value(value, param=param, ctx=None))
    except BadParameter as exc:
        return ("error", exc.format_message())
    except Exception as exc:     # noqa: BLE001  (the same failure either way)
        return ("raised", type(exc).__name__, str(exc))


def test_plain_conversion_equals_typers_adapters():
    import typer
    from typer import core
    from costmodel.cli.coercion import CHECKED_TYPER
    import costmodel.cli.app  # noqa: F401  (installs the conversion)
    assert getattr(core, "_costmodel_fast", False) == typer.__version__.startswith(CHECKED_TYPER)
    if not typer.__version__.startswith(CHECKED_TYPER):
        return          # an unchecked typer converts every value itself: nothing to compare
    original = core._costmodel_original
    checked = 0
    for name, cmd in _commands().items():
        for param in cmd.params:
            desc = getattr(param, "type_descriptor", None)
            if desc is None:
                continue
            fast, slow = core.build_runtime_param(desc), original(desc)
            for value in _samples(param):
                assert _outcome(fast, value, param) == _outcome(slow, value, param), \
                    (name, param.name, value)
                checked += 1
    assert checked > 300
