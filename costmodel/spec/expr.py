"""A small, safe evaluator for the arithmetic allowed in spec fields.

Spec values may be plain numbers or strings such as ``"make_divisible(32 * width, 8)"``.
The string is parsed with :mod:`ast` and walked node by node; only the constructs listed
here are accepted (numbers, names bound by the spec, arithmetic, comparisons, ``and``/``or``/
``not``, ``a if cond else b`` and a fixed table of functions). Nothing is ever passed to
``eval``: attribute access, subscripts, lambdas, comprehensions and unknown names are errors.
"""
from __future__ import annotations

import ast
import difflib
import math
import operator
from functools import lru_cache
from typing import Any, Callable, Mapping

from costmodel.errors import SpecError

MAX_EXPR_LEN = 500
MAX_POWER = 64  # bound ``a ** b`` so an expression cannot build a huge integer


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None,
                   round_limit: float = 0.9) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never going below
    ``round_limit`` of it (the rule of torchvision's and the TF MobileNet code)."""
    if divisor <= 0:
        raise ValueError("make_divisible: divisor must be positive")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, math.trunc(value + divisor / 2) // divisor * divisor)
    if new_v < value * round_limit:
        new_v += divisor
    return new_v


def _int(x: Any) -> int:
    # math.trunc is int() for numbers, and lets the sweep's traced numbers stay traced
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    return math.trunc(x) if isinstance(x, float) else int(x)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "make_divisible": make_divisible,
    "int": _int,
    "float": float,
    "round": round,          # Python's round (banker's rounding), as torchvision uses it
    "min": min,
    "max": max,
    "abs": abs,
    "ceil": math.ceil,
    "floor": math.floor,
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
# Python gives a subclass's reflected method the first word only when it subclasses the left
# operand's type; the sweep's traced ints (costmodel.sweep.trace) must also win over a plain
# float on the left, which would otherwise read their value and drop the formula.
_REFLECTED = {ast.Add: "__radd__", ast.Sub: "__rsub__", ast.Mult: "__rmul__",
              ast.Div: "__rtruediv__", ast.FloorDiv: "__rfloordiv__", ast.Mod: "__rmod__",
              ast.Pow: "__rpow__"}
_SWAPPED = {ast.Eq: "__eq__", ast.NotEq: "__ne__", ast.Lt: "__gt__", ast.LtE: "__ge__",
            ast.Gt: "__lt__", ast.GtE: "__le__"}
_PLAIN = (int, float, bool)


def _binop(op: type, left: Any, right: Any) -> Any:
    if type(right) not in _PLAIN and type(left) in _PLAIN and isinstance(right, (int, float)):
        result = getattr(type(right), _REFLECTED[op])(right, left)
        if result is not NotImplemented:
            return result
    return _BINOPS[op](left, right)


def _cmpop(op: type, left: Any, right: Any) -> bool:
    if type(right) not in _PLAIN and type(left) in _PLAIN and isinstance(right, (int, float)):
        result = getattr(type(right), _SWAPPED[op])(right, left)
        if result is not NotImplemented:
            return result
    return _CMPOPS[op](left, right)


_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.expr:
    if len(text) > MAX_EXPR_LEN:
        raise SpecError(f"expression longer than {MAX_EXPR_LEN} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse expression {text!r}: {exc.msg}") from None
    _check(tree.body, text)
    return tree.body


def parse(text: str) -> ast.expr:
    """The checked syntax tree of an expression (a SpecError for anything outside the language)."""
    return _parse(text)


def _check(node: ast.AST, text: str) -> None:
    """Reject any construct outside the small language before evaluating anything."""
    allowed = (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp,
               ast.IfExp, ast.Call, ast.Load, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)
    for sub in ast.walk(node):
        if not isinstance(sub, allowed):
            raise SpecError(f"expression {text!r}: {type(sub).__name__} is not allowed "
                            "(only numbers, settings, arithmetic, comparisons and "
                            f"the functions {', '.join(sorted(FUNCTIONS))})")
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and type(sub.op) not in _BINOPS:
            raise SpecError(f"expression {text!r}: operator {type(sub.op).__name__} is not allowed")
        if isinstance(sub, ast.Call):
            if not isinstance(sub.func, ast.Name) or sub.func.id not in FUNCTIONS:
                fname = sub.func.id if isinstance(sub.func, ast.Name) else "?"
                raise SpecError(f"expression {text!r}: unknown function {fname!r}"
                                + _suggest(fname, FUNCTIONS))
        if isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float, str, bool)):
            raise SpecError(f"expression {text!r}: constant {sub.value!r} is not allowed")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def evaluate(value: Any, env: Mapping[str, Any]) -> Any:
    """Evaluate a spec value: numbers and booleans pass through, strings are expressions."""
    if isinstance(value, str):
        return _eval(_parse(value), env, value)
    if isinstance(value, list):
        return [evaluate(v, env) for v in value]
    return value


def _eval(node: ast.expr, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        raise SpecError(f"expression {text!r}: unknown name {node.id!r}"
                        + _suggest(node.id, env) + f"; known: {', '.join(sorted(env)) or 'none'}")
    try:
        if isinstance(node, ast.BinOp):
            left, right = _eval(node.left, env, text), _eval(node.right, env, text)
            if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SpecError(f"expression {text!r}: exponent {right} too large")
            return _binop(type(node.op), left, right)
        if isinstance(node, ast.UnaryOp):
            val = _eval(node.operand, env, text)
            if isinstance(node.op, ast.USub):
                return -val
            if isinstance(node.op, ast.UAdd):
                return +val
            if isinstance(node.op, ast.Not):
                return not val
            raise SpecError(f"expression {text!r}: operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.Compare):
            left = _eval(node.left, env, text)
            for op, comp in zip(node.ops, node.comparators):
                right = _eval(comp, env, text)
                if op.__class__ not in _CMPOPS:
                    raise SpecError(f"expression {text!r}: comparison {type(op).__name__} is not allowed")
                if not _cmpop(type(op), left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = _eval(v, env, text)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = _eval(v, env, text)
                if result:
                    return result
            return result
        if isinstance(node, ast.IfExp):
            return _eval(node.body if _eval(node.test, env, text) else node.orelse, env, text)
        if isinstance(node, ast.Call):
            args = [_eval(a, env, text) for a in node.args]
            for a in args:      # the sweep's traced numbers record the call as one formula
                hook = getattr(type(a), "__expr_call__", None)
                if hook is not None:
                    return hook(node.func.id, args)  # type: ignore[union-attr]
            return FUNCTIONS[node.func.id](*args)  # type: ignore[union-attr]
    except SpecError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise SpecError(f"expression {text!r}: {exc}") from None
    raise SpecError(f"expression {text!r}: {type(node).__name__} is not allowed")
