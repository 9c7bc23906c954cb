"""Values of a spec's fields: expressions evaluated in an environment, checked against the
field's kind (integer, pair, number, boolean, choice), and the reserved names of a layer's input.
"""
from __future__ import annotations

import math
import re
from typing import Any

from costmodel.errors import SpecError, excerpt
from costmodel.ops.base import F, Shape
from costmodel.spec import expr
from costmodel.spec.messages import suggest

NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
LETS = "\x00lets"      # the environment's key for the let values a block passes to its callees


def input_env(x: Shape) -> dict[str, int]:
    return {"in_channels": x[0], "in_h": x[1] if len(x) == 3 else 1,
            "in_w": x[2] if len(x) == 3 else 1}


def to_int(value: Any, env: dict, what: str, minimum: int | None = None) -> int:
    v = expr.evaluate(value, env)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SpecError(f"{what} must be an integer, got {expr.type_name(v)} {_short(v)}")
    if isinstance(v, float):
        if not v.is_integer():
            raise SpecError(f"{what} must be an integer, got {v!r} from {value!r} "
                            "(use int(...), round(...) or make_divisible(...))")
        v = int(v)
    if minimum is not None and v < minimum:
        raise SpecError(f"{what} must be at least {minimum}, got {v}"
                        + (f" from {value!r}" if isinstance(value, str) else ""))
    return v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


def _plain_int(value: Any, f: F) -> bool:
    return type(value) is int and (f.minimum is None or value >= f.minimum) \
        and value <= expr.MAX_MAGNITUDE


def field_value(f: F, fname: str, value: Any, env: dict) -> Any:
    if value is None:
        return None
    if f.kind == "int":
        if _plain_int(value, f):
            return value
        return to_int(value, env, f"field {fname!r}", f.minimum)
    if f.kind == "pair":
        if _plain_int(value, f):
            return value
        if isinstance(value, list):
            if len(value) != 2:
                raise SpecError(f"field {fname!r} must be an integer or [h, w], got a list of "
                                f"{len(value)}")
            return [to_int(v, env, f"field {fname!r}", f.minimum) for v in value]
        v = expr.evaluate(value, env)
        if isinstance(v, list):
            if len(v) != 2:
                raise SpecError(f"field {fname!r} must be an integer or [h, w], got a list of "
                                f"{len(v)}")
            return [to_int(x, env, f"field {fname!r}", f.minimum) for x in v]
        return to_int(v, env, f"field {fname!r}", f.minimum)
    if f.kind == "float":
        v = expr.evaluate(value, env)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SpecError(f"field {fname!r} must be a number, got {excerpt(v)}")
        try:
            v = float(v)
        except OverflowError:
            v = math.inf
        if not math.isfinite(v) or (f.positive and v <= 0) or \
                (f.minimum is not None and v < f.minimum) or (f.maximum is not None and v > f.maximum):
            raise SpecError(f"field {fname!r} must be {f.range_text()} (the range torch accepts), got {v!r}")
        return v
    if f.kind == "bool":
        if type(value) is bool:
            return value
        v = expr.evaluate(value, env)
        if not isinstance(v, bool):
            raise SpecError(f"field {fname!r} must be true or false, got {expr.type_name(v)} "
                            f"{_short(v)}")
        return v
    if f.kind == "choice":
        v = value if isinstance(value, str) and value in f.choices else expr.evaluate(value, env)
        if not isinstance(v, str) or v not in f.choices:
            raise SpecError(f"field {fname!r} must be one of {', '.join(f.choices)}; got "
                            f"{_short(v)}" + suggest(str(v)[:60], f.choices))
        return v
    raise AssertionError(f.kind)


def block_arg(value: Any, env: dict) -> Any:
    """A block argument: an expression, or a bare word (``HS``) taken as a symbol."""
    if isinstance(value, str) and NAME_RE.match(value) and not value[0].isdigit() \
            and value not in env and value not in expr.FUNCTIONS:
        return value
    return expr.evaluate(value, env)
