"""Generate ``_core_schemas.py``: the validators of schema.py's pydantic models, as the
pydantic-core schemas pydantic builds for them, so that loading a spec needs neither
``pydantic.main`` nor a model class (issue 16: start-up).

The generated schemas are the models' own (``Model.__pydantic_core_schema__``), with three
things replaced: a model class by its counterpart in records.py (an object whose attributes
are the fields), the JSON Schema metadata dropped, and the references named without the
process's ids. Validators are records.py's functions in both. So validating with the
generated schema accepts and rejects exactly what the model does, with the same errors.

    python -m costmodel.spec.coregen      # rewrite costmodel/spec/_core_schemas.py

``tests/test_startup.py`` fails when the file is not what this writes; at run time
``validate.py`` checks the file against schema.py, the ops' fields and the installed
pydantic-core, and builds any stale schema here instead (slower, same answers).
"""
from __future__ import annotations

import re
import sys
import zlib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET = HERE / "_core_schemas.py"
_DROP = ("metadata", "serialization")
_BUILTINS = {dict: "dict", list: "list"}


def schema_crc() -> int:
    """The checksum of schema.py, the file the generated schemas come from."""
    return zlib.crc32((HERE / "schema.py").read_bytes())


def op_signature(op: Any) -> tuple:
    """What an op's entry model is built from (its name, aliases and fields)."""
    from costmodel.ops.base import REQUIRED
    return (op.name, tuple(op.aliases), tuple(
        (n, f.kind, None if f.default is REQUIRED else repr(f.default), f.default is REQUIRED)
        for n, f in op.fields.items()))


def models() -> dict[str, Any]:
    """Schema name -> pydantic model: the spec, a setting, each structural entry kind and each
    layer op (``op_NAME``)."""
    from costmodel.ops import OPS
    from costmodel.spec import schema
    out: dict[str, Any] = {"SpecFile": schema.SpecFile, "SettingDecl": schema.SettingDecl}
    out.update({f"entry_{kind}": model for kind, model in schema.STRUCTURAL.items()})
    out.update({f"op_{n}": schema.op_model(n) for n, op in OPS.items() if op.kind == "layer"})
    return out


def _ref(text: str) -> str:
    return re.sub(r":\d+$", "", text).rsplit(".", 1)[-1]


def convert(node: Any) -> Any:
    """A pydantic core schema with records.py's classes, without metadata and process ids."""
    from pydantic import BaseModel
    from costmodel.spec import records
    if isinstance(node, type) and issubclass(node, records.Record):
        return node
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _DROP:
                continue
            if k in ("ref", "schema_ref") and isinstance(v, str):
                out[k] = _ref(v)
            elif k == "cls" and isinstance(v, type) and issubclass(v, BaseModel):
                out[k] = getattr(records, v.__name__, records.Entry)
            else:
                out[k] = convert(v)
        return out
    if isinstance(node, list):
        return [convert(v) for v in node]
    if isinstance(node, tuple):
        return tuple(convert(v) for v in node)
    if node in _BUILTINS and isinstance(node, type):
        return node
    if callable(node) and not isinstance(node, type):
        if getattr(node, "__module__", None) != records.__name__ or \
                getattr(records, node.__name__, None) is not node:
            raise TypeError(f"a validator of the spec models is not a function of records.py: "
                            f"{node!r}")
        return node
    if node is None or isinstance(node, (str, int, float, bool)):
        return node
    raise TypeError(f"cannot generate {node!r} ({type(node).__name__}) in a core schema")


def core_schema(name: str) -> dict:
    """The converted core schema of one model (see :func:`models`)."""
    from costmodel.spec import schema
    if name.startswith("op_"):
        model = schema.op_model(name[3:])
    else:
        model = {"SpecFile": schema.SpecFile, "SettingDecl": schema.SettingDecl,
                 **{f"entry_{k}": m for k, m in schema.STRUCTURAL.items()}}[name]
    return convert(model.__pydantic_core_schema__)


def fields(model: Any) -> tuple[str, ...]:
    return tuple(model.model_fields)


def _marker(obj: Any) -> dict:
    """JSON for what JSON has no word for: records.py's classes and functions, dict, list."""
    from costmodel.spec import records
    if isinstance(obj, type) and obj in _BUILTINS:
        return {"$builtin": _BUILTINS[obj]}
    if getattr(records, getattr(obj, "__name__", ""), None) is obj:
        return {"$records": obj.__name__}
    raise TypeError(f"cannot write {obj!r} in a generated schema")


def dumps(node: Any) -> str:
    """A converted core schema as JSON (records.py's objects as markers; loads() reads it)."""
    import json
    return json.dumps(node, default=_marker, sort_keys=False, separators=(",", ":"),
                      allow_nan=False)


def generate() -> str:
    """The text of ``_core_schemas.py``."""
    import pydantic_core
    from costmodel.ops import OPS
    ms = models()
    lines = ['"""Generated by costmodel/spec/coregen.py from schema.py: do not edit.',
             "", "The pydantic-core schemas of the spec models (see coregen.py); ``validate.py``",
             'uses them when SCHEMA_CRC, PYDANTIC_CORE and OP_SIGNATURES still hold."""',
             "# flake8: noqa", "",
             f"SCHEMA_CRC = {schema_crc()}", f"PYDANTIC_CORE = {pydantic_core.__version__!r}", "",
             "OP_SIGNATURES = {"]
    for n, op in OPS.items():
        if op.kind == "layer":
            lines.append(f"    {n!r}: {op_signature(op)!r},")
    lines += ["}", "", "FIELDS = {"]
    for name, model in ms.items():
        lines.append(f"    {name!r}: {fields(model)!r},")
    lines += ["}", ""]
    lines += ["# each schema as JSON, read by validate.loads when first needed", "SCHEMAS = {"]
    for name, model in ms.items():
        lines.append(f"    {name!r}: {dumps(convert(model.__pydantic_core_schema__))!r},")
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from costmodel.output.atomic import write_atomic
    text = generate()
    if TARGET.exists() and TARGET.read_text() == text:
        print(f"{TARGET} is current")
        return 0
    write_atomic(TARGET, text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
