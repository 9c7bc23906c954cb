"""Validating spec data against the spec format (schema.py) with pydantic-core alone.

``validate(name, data)`` checks a spec (``SpecFile``), a setting (``SettingDecl``), a
structural entry (``entry_block``, ``entry_repeat``...) or an op's entry (``op_conv2d``) and
returns records.py's objects, raising pydantic's ``ValidationError`` (the same errors as the
models). The validators are built from the generated schemas of ``_core_schemas.py`` while
they are current (schema.py's checksum, the op's fields and the installed pydantic-core as
when generated), else from the models themselves (coregen.core_schema: pydantic imported,
slower, the same answers).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic_core import SchemaValidator, ValidationError  # noqa: F401  (re-exported)


@lru_cache(maxsize=1)
def _generated():
    """The generated module when it still describes schema.py and this pydantic-core."""
    try:
        import pydantic_core
        from costmodel.spec import _core_schemas as gen
        from costmodel.spec.coregen import schema_crc
        if gen.PYDANTIC_CORE != pydantic_core.__version__ or gen.SCHEMA_CRC != schema_crc():
            return None
    except (ImportError, OSError, AttributeError):
        return None
    return gen


def _current(gen, name: str) -> bool:
    if gen is None or name not in gen.SCHEMAS:
        return False
    if name.startswith("op_"):
        from costmodel.ops import OPS
        from costmodel.spec.coregen import op_signature
        op = OPS.get(name[3:])
        return op is not None and gen.OP_SIGNATURES.get(op.name) == op_signature(op)
    return True


def generated(name: str) -> bool:
    """Whether ``name`` validates with the generated schema (the fast path)."""
    return _current(_generated(), name)


def _hook(node: dict) -> Any:
    if len(node) == 1:
        if "$records" in node:
            from costmodel.spec import records
            return getattr(records, node["$records"])
        if "$builtin" in node:
            return {"dict": dict, "list": list}[node["$builtin"]]
    return node


def loads(text: str) -> dict:
    """A generated schema (JSON with coregen's markers) as a core schema."""
    import json
    return json.loads(text, object_hook=_hook)


@lru_cache(maxsize=None)
def validator(name: str) -> SchemaValidator:
    gen = _generated()
    if _current(gen, name):
        return SchemaValidator(loads(gen.SCHEMAS[name]))
    from costmodel.spec.coregen import core_schema
    return SchemaValidator(core_schema(name))


def validate(name: str, data: Any) -> Any:
    return validator(name).validate_python(data)


@lru_cache(maxsize=None)
def fields(name: str) -> tuple[str, ...]:
    """The model's field names, as ``Model.model_fields`` lists them."""
    gen = _generated()
    if _current(gen, name):
        return gen.FIELDS[name]
    from costmodel.spec import coregen, schema
    if name.startswith("op_"):
        return coregen.fields(schema.op_model(name[3:]))
    return coregen.fields(coregen.models()[name]) if name in ("SpecFile", "SettingDecl") else \
        coregen.fields(schema.STRUCTURAL[name.removeprefix("entry_")])
