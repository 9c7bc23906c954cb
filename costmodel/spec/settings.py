"""Settings: declared defaults, and overrides from ``--set k=v`` or keyword arguments."""
from __future__ import annotations

import difflib
import math
import re
from typing import Any, Mapping

from costmodel.errors import SpecError, excerpt
from costmodel.spec import expr
from costmodel.spec import validate
from costmodel.spec.records import SettingDecl, SpecFile


MAX_NUMBER_CHARS = 40
_INT_RE = re.compile(r"^[+-]?[0-9]+$", re.ASCII)
_FLOAT_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$", re.ASCII)


def declared(spec: SpecFile) -> dict[str, SettingDecl]:
    return {k: v if isinstance(v, SettingDecl) else validate.validate("SettingDecl", {"default": v})
            for k, v in spec.settings.items()}


def _type_name(v: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(
        type(v), type(v).__name__)


def _same(a: Any, b: Any) -> bool:
    if expr.is_num(a) and expr.is_num(b):
        return a == b
    return type(a) is type(b) and a == b


def coerce_setting(name: str, decl: SettingDecl, value: Any, default: Any = None) -> Any:
    """Convert an override (a CLI string or a Python value) to the default's type."""
    default = decl.default if default is None else default
    bad = SpecError(f"setting {name!r} expects {_type_name(default)}, got {excerpt(value)}")
    if isinstance(value, str) and not isinstance(default, str):
        text = value.strip()
        if not text.isascii():
            raise bad
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise bad
            value = text.lower() in ("true", "1", "yes")
        else:
            # ASCII digits only, as written in a spec: Python's int() and float() also take
            # full-width digits ("１６０"), underscores ("1_0"), "nan" and "inf".
            if len(text) > MAX_NUMBER_CHARS:
                raise bad
            if _INT_RE.match(text):
                value = int(text)
            elif _FLOAT_RE.match(text):
                value = float(text)
                if not math.isfinite(value):
                    raise bad
            else:
                raise bad
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if isinstance(value, float):
            if not value.is_integer():
                raise bad
            value = int(value)
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
    elif isinstance(default, str) and not isinstance(value, str):
        raise bad
    try:
        expr.bounded(value)
    except Exception as exc:  # noqa: BLE001 - the evaluator's own bound error
        raise SpecError(f"setting {name!r}: {exc}") from None
    if decl.choices is not None and not any(_same(value, c) for c in decl.choices):
        raise SpecError(f"setting {name!r} must be one of {', '.join(map(str, decl.choices))}; "
                        f"got {value!r}")
    return value


def _check_typed(name: str, decl: SettingDecl, value: Any) -> Any:
    if isinstance(value, str) and decl.choices is None:
        raise SpecError(f"setting {name!r} computes the string {value!r}: a string setting "
                        "needs choices")
    if not isinstance(value, (bool, int, float, str)):
        raise SpecError(f"setting {name!r} must be a number, true/false or a name, got "
                        f"{expr.type_name(value)}")
    if decl.choices is not None and not any(_same(value, c) for c in decl.choices):
        raise SpecError(f"setting {name!r} must be one of {', '.join(map(str, decl.choices))}; "
                        f"got {excerpt(value)}")
    return value


def resolve(spec: SpecFile, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Declared defaults updated by overrides; unknown names are errors, not ignored.
    Settings are resolved in declaration order, so ``expr``/``derived`` settings see the
    settings declared before them (with their overrides)."""
    decls = declared(spec)
    overrides = dict(overrides or {})
    for key in overrides:
        if key not in decls:
            close = difflib.get_close_matches(key, list(decls), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(decls) or "none"
            raise SpecError(f"unknown setting {key!r}{hint}; {spec.name} declares: {known}")
        if decls[key].derived is not None:
            raise SpecError(f"setting {key!r} is derived ({decls[key].derived!r}) and cannot be "
                            "set; set the settings it is computed from")
    values: dict[str, Any] = {}
    for key, decl in decls.items():
        source = decl.expr if decl.expr is not None else decl.derived
        if source is None:
            default = decl.default
            try:
                expr.bounded(default)
            except Exception as exc:  # noqa: BLE001 - the evaluator's own bound error
                raise SpecError(f"setting {key!r}: {exc}") from None
        else:
            try:
                default = expr.evaluate(source, values)
            except SpecError as exc:
                raise SpecError(f"setting {key!r}: {exc.message}") from None
            if key not in overrides:
                _check_typed(key, decl, default)
        if key in overrides:
            values[key] = coerce_setting(key, decl, overrides[key], default)
        else:
            values[key] = default
    return values


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``["width=0.5", "resolution=160"]`` -> ``{"width": "0.5", "resolution": "160"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set expects NAME=VALUE, got {excerpt(item)}")
        if not value.strip().isascii() and not value.strip().isprintable():
            raise SpecError(f"--set {key.strip()}: the value has control characters: "
                            f"{excerpt(value)}")
        out[key.strip()] = value.strip()
    return out
