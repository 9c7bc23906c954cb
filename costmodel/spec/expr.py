"""A small, safe, typed evaluator for the expressions allowed in spec fields.

Spec values may be plain numbers or strings such as ``"make_divisible(32 * width, 8)"``.
The string is parsed with :mod:`ast` and walked node by node; only the constructs listed
here are accepted. Nothing is ever passed to ``eval``.

Values are typed: an integer, a number (float), a boolean, a string (a symbol such as
``relu6`` or ``'b3'``) or a list of these. Every operation checks its operands' types:

* arithmetic (``+ - * / // % **``, unary ``-``) takes numbers; ``+`` also joins two lists;
* ``< <= > >=`` compare numbers; ``==``/``!=`` compare values of the same type (an integer
  and a number are both numbers); ``x in list`` / ``not in``;
* ``a if c else b``, ``and``, ``or``, ``not`` take booleans only (as ``when:`` does);
* lists: literals ``[1, 2]``, indexing ``xs[i]`` and slicing ``xs[a:b]``, ``len``, ``sum``,
  ``min``/``max`` of a list, ``range``, ``index(xs, v)`` and one-``for`` comprehensions
  ``[f(i) for i in range(n) if c]``;
* functions: ``make_divisible``, ``int``, ``float``, ``round``, ``min``, ``max``, ``abs``,
  ``ceil``, ``floor``, ``sqrt``, ``exp``, ``log`` (natural, or ``log(x, base)``), ``log2``.

Every intermediate value is bounded (magnitude :data:`MAX_MAGNITUDE`, string length
:data:`MAX_STR`, list length :data:`MAX_LIST`) and so is the work of one evaluation
(:data:`MAX_STEPS` nodes visited): anything beyond is a :class:`SpecError`, raised at once.
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
MAX_MAGNITUDE = 10 ** 30      # |value| of any int or float inside an expression
MAX_STR = 200                 # characters of any string value
MAX_LIST = 10_000             # elements of any list value
MAX_STEPS = 100_000           # nodes visited by one evaluation (comprehensions included)
MAX_NESTING = 60              # depth of the expression's syntax tree


class _Unset:
    """The value of an optional block argument that was not given: the op's default."""
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "default"


UNSET = _Unset()


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


class _ExprError(Exception):
    """Raised inside the evaluator; turned into a SpecError naming the expression."""


def type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if v is UNSET:
        return "an argument left to the op's default"
    return type(v).__name__


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else f"{text[:40]}... ({len(text):,} characters)"


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _num(v: Any, what: str) -> int | float:
    if not is_num(v):
        raise _ExprError(f"{what} needs a number, got {type_name(v)} {_show(v)}")
    return v


def _int_arg(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise _ExprError(f"{what} needs an integer, got {type_name(v)} {_show(v)}")
    return v


def _list(v: Any, what: str) -> list:
    if not isinstance(v, list):
        raise _ExprError(f"{what} needs a list, got {type_name(v)} {_show(v)}")
    return v


def raw(v: Any) -> Any:
    """The plain value of a number, without touching a subclass's own methods (the sweep's
    traced numbers, ``costmodel.sweep.trace``, record every operation made through them)."""
    t = type(v)
    if t is int or t is float or t is bool:
        return v
    if isinstance(v, int):
        return int.__int__(v)
    if isinstance(v, float):
        return float.__float__(v)
    return v


def bounded(v: Any) -> Any:
    """Check a value against the bounds; return it."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        if -MAX_MAGNITUDE <= raw(v) <= MAX_MAGNITUDE:
            return v
        raise _ExprError(f"a value exceeds the limit of 1e30 in magnitude")
    if isinstance(v, float):
        r = raw(v)
        if math.isfinite(r) and abs(r) <= MAX_MAGNITUDE:
            return v
        raise _ExprError("a value exceeds the limit of 1e30 in magnitude"
                         if math.isfinite(v) or math.isinf(v) else "a value is not a number (nan)")
    if isinstance(v, str):
        if len(v) > MAX_STR:
            raise _ExprError(f"a string of {len(v):,} characters exceeds the limit of {MAX_STR}")
        return v
    if isinstance(v, list):
        if len(v) > MAX_LIST:
            raise _ExprError(f"a list of {len(v):,} elements exceeds the limit of {MAX_LIST:,}")
        return v
    if v is UNSET:
        return v
    raise _ExprError(f"{type(v).__name__} values are not allowed")


# -- functions ---------------------------------------------------------------------------------

def _f_make_divisible(*a):
    if not 1 <= len(a) <= 4:
        raise _ExprError("make_divisible(value, divisor=8, min_value=divisor, round_limit=0.9) "
                         f"takes 1 to 4 arguments, got {len(a)}")
    v = _num(a[0], "make_divisible")
    d = _int_arg(a[1], "make_divisible's divisor") if len(a) > 1 else 8
    m = _int_arg(a[2], "make_divisible's min_value") if len(a) > 2 and a[2] is not None else None
    r = _num(a[3], "make_divisible's round_limit") if len(a) > 3 else 0.9
    if d <= 0:
        raise _ExprError("make_divisible: divisor must be positive")
    return make_divisible(v, d, m, r)


def _one(name: str, a: tuple) -> Any:
    if len(a) != 1:
        raise _ExprError(f"{name}() takes one argument, got {len(a)}")
    return a[0]


def _f_int(*a):
    v = _num(_one("int", a), "int()")
    # math.trunc is int() for numbers, and lets the sweep's traced numbers stay traced
    return v if isinstance(v, int) else math.trunc(v)


def _f_float(*a):
    return float(_num(_one("float", a), "float()"))


def _f_round(*a):
    if len(a) not in (1, 2):
        raise _ExprError(f"round() takes 1 or 2 arguments, got {len(a)}")
    v = _num(a[0], "round()")
    if len(a) == 2:
        nd = _int_arg(a[1], "round()'s digits")
        if not -30 <= nd <= 30:
            raise _ExprError("round()'s digits must be between -30 and 30")
        return round(v, nd)
    return round(v)


def _minmax(name: str, fn: Callable):
    def f(*a):
        items = list(_list(a[0], name + "()")) if len(a) == 1 else list(a)
        if not items:
            raise _ExprError(f"{name}() of an empty list")
        for v in items:
            _num(v, f"{name}()")
        return fn(items)
    return f


def _f_abs(*a):
    return abs(_num(_one("abs", a), "abs()"))


def _f_ceil(*a):
    return math.ceil(_num(_one("ceil", a), "ceil()"))


def _f_floor(*a):
    return math.floor(_num(_one("floor", a), "floor()"))


def _f_sqrt(*a):
    v = _num(_one("sqrt", a), "sqrt()")
    v = float(v)     # a traced number is pinned: math reads the value itself
    if v < 0:
        raise _ExprError(f"sqrt() of a negative number ({v})")
    return math.sqrt(v)


def _f_exp(*a):
    v = _num(_one("exp", a), "exp()")
    v = float(v)     # a traced number is pinned: math reads the value itself
    if v > 69:   # e**69 > 1e30
        raise _ExprError("exp() of more than 69 exceeds the limit of 1e30")
    return math.exp(v)


def _f_log(*a):
    if len(a) not in (1, 2):
        raise _ExprError(f"log() takes 1 or 2 arguments (x, base), got {len(a)}")
    v = float(_num(a[0], "log()"))     # float(): a traced number is pinned
    if v <= 0:
        raise _ExprError(f"log() of a number that is not positive ({v})")
    if len(a) == 2:
        b = float(_num(a[1], "log()'s base"))
        if b <= 0 or b == 1:
            raise _ExprError(f"log()'s base must be positive and not 1, got {b}")
        return math.log(v) / math.log(b)
    return math.log(v)


def _f_log2(*a):
    v = _num(_one("log2", a), "log2()")
    v = float(v)     # a traced number is pinned: math reads the value itself
    if v <= 0:
        raise _ExprError(f"log2() of a number that is not positive ({v})")
    return math.log2(v)


def _f_len(*a):
    v = _one("len", a)
    if not isinstance(v, list):
        raise _ExprError(f"len() needs a list, got {type_name(v)} {_show(v)}")
    return len(v)


def _f_sum(*a):
    items = _list(_one("sum", a), "sum()")
    total: int | float = 0
    for v in items:
        total = bounded(total + _num(v, "sum()"))
    return total


def _f_range(*a):
    if not 1 <= len(a) <= 3:
        raise _ExprError(f"range() takes 1 to 3 arguments, got {len(a)}")
    ints = [_int_arg(v, "range()") for v in a]
    if len(ints) == 3 and ints[2] == 0:
        raise _ExprError("range()'s step must not be zero")
    r = range(*ints)
    if len(r) > MAX_LIST:
        raise _ExprError(f"range() of {len(r):,} elements exceeds the limit of {MAX_LIST:,}")
    return list(r)


def _f_index(*a):
    if len(a) != 2:
        raise _ExprError(f"index(list, value) takes 2 arguments, got {len(a)}")
    items = _list(a[0], "index()")
    for i, v in enumerate(items):
        if _equal(v, a[1], check=False):
            return i
    raise _ExprError(f"index(): {_show(a[1])} is not in the list")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "make_divisible": _f_make_divisible,
    "int": _f_int,
    "float": _f_float,
    "round": _f_round,          # Python's round (banker's rounding), as torchvision uses it
    "min": _minmax("min", min),
    "max": _minmax("max", max),
    "abs": _f_abs,
    "ceil": _f_ceil,
    "floor": _f_floor,
    "sqrt": _f_sqrt,
    "exp": _f_exp,
    "log": _f_log,
    "log2": _f_log2,
    "len": _f_len,
    "sum": _f_sum,
    "range": _f_range,
    "index": _f_index,
}

CONSTANTS = {"true": True, "True": True, "false": False, "False": False}


# -- parsing -----------------------------------------------------------------------------------

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_ALLOWED_CMP = (*_CMPOPS, ast.In, ast.NotIn)
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

_ALLOWED = (ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp,
            ast.IfExp, ast.Call, ast.Load, ast.Store, ast.operator, ast.unaryop, ast.cmpop,
            ast.boolop, ast.List, ast.Tuple, ast.Subscript, ast.Slice, ast.ListComp,
            ast.comprehension)


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.expr:
    if len(text) > MAX_EXPR_LEN:
        raise SpecError(f"expression of {len(text):,} characters is longer than the limit of "
                        f"{MAX_EXPR_LEN} ({text[:40]!r}...)")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise SpecError(f"cannot parse expression {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SpecError(f"cannot parse expression {text[:60]!r}: it nests too deeply") from None
    _check(tree.body, text)
    return tree.body


def _depth(node: ast.AST) -> int:
    best, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))
    return best


def _check(node: ast.AST, text: str) -> None:
    """Reject any construct outside the small language before evaluating anything."""
    if _depth(node) > MAX_NESTING:
        raise SpecError(f"expression {text[:60]!r}: nests deeper than {MAX_NESTING} levels")
    for sub in ast.walk(node):
        if not isinstance(sub, _ALLOWED):
            raise SpecError(f"expression {text!r}: {type(sub).__name__} is not allowed "
                            "(only numbers, names, arithmetic, comparisons, lists and "
                            f"the functions {', '.join(sorted(FUNCTIONS))})")
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and type(sub.op) not in _BINOPS:
            raise SpecError(f"expression {text!r}: operator {type(sub.op).__name__} is not allowed")
        if isinstance(sub, ast.Compare):
            for op in sub.ops:
                if not isinstance(op, _ALLOWED_CMP):
                    raise SpecError(f"expression {text!r}: comparison {type(op).__name__} "
                                    "is not allowed")
        if isinstance(sub, ast.UnaryOp) and not isinstance(sub.op, (ast.USub, ast.UAdd, ast.Not)):
            raise SpecError(f"expression {text!r}: operator {type(sub.op).__name__} is not allowed")
        if isinstance(sub, ast.Call):
            if not isinstance(sub.func, ast.Name) or sub.func.id not in FUNCTIONS:
                fname = sub.func.id if isinstance(sub.func, ast.Name) else "?"
                raise SpecError(f"expression {text!r}: unknown function {fname!r}"
                                + _suggest(fname, FUNCTIONS))
            if sub.keywords:
                raise SpecError(f"expression {text!r}: keyword is not allowed (arguments go in "
                                "order)")
        if isinstance(sub, ast.Constant) and (type(sub.value) not in (int, float, str, bool)):
            raise SpecError(f"expression {text!r}: constant {sub.value!r} is not allowed")
        if isinstance(sub, ast.Constant) and isinstance(sub.value, (int, float)) \
                and not isinstance(sub.value, bool):
            try:
                bounded(sub.value)
            except _ExprError as exc:
                raise SpecError(f"expression {text[:60]!r}: {exc}") from None
        if isinstance(sub, ast.ListComp):
            if len(sub.generators) != 1 or sub.generators[0].is_async \
                    or not isinstance(sub.generators[0].target, ast.Name):
                raise SpecError(f"expression {text!r}: a list comprehension takes one "
                                "'for NAME in LIST' (and optional 'if' conditions)")
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Slice) \
                and sub.slice.step is not None:
            raise SpecError(f"expression {text!r}: a slice step is not allowed")
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store) is False \
                and sub.id.startswith("__"):
            raise SpecError(f"expression {text!r}: name {sub.id!r} is not allowed")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse(text: str) -> ast.expr:
    """The checked syntax tree of an expression (cached)."""
    return _parse(text)


def names_in(text: str) -> set[str]:
    """The free names an expression refers to (not functions, constants or loop variables)."""
    tree = _parse(text)
    bound = {g.target.id for g in ast.walk(tree) if isinstance(g, ast.comprehension)}
    funcs = {id(c.func) for c in ast.walk(tree) if isinstance(c, ast.Call)}
    return {s.id for s in ast.walk(tree) if isinstance(s, ast.Name) and isinstance(s.ctx, ast.Load)
            and id(s) not in funcs and s.id not in bound and s.id not in CONSTANTS}


# -- evaluation --------------------------------------------------------------------------------

def evaluate(value: Any, env: Mapping[str, Any]) -> Any:
    """Evaluate a spec value: numbers and booleans pass through, strings are expressions."""
    if isinstance(value, str):
        tree = _parse(value)
        ev = _Evaluator(env)
        try:
            return ev.eval(tree)
        except _ExprError as exc:
            raise SpecError(f"expression {_show_text(value)}: {exc}") from None
        except SpecError as exc:
            exc.message = f"expression {_show_text(value)}: {exc.message}"
            raise
        except RecursionError:
            raise SpecError(f"expression {_show_text(value)}: nests too deeply") from None
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            raise SpecError(f"a list of {len(value):,} values exceeds the limit of {MAX_LIST:,}")
        return [evaluate(v, env) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return value        # nan / inf: the field's own range check names it
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return bounded(value)
        except _ExprError as exc:
            raise SpecError(f"value {_show(value)}: {exc}") from None
    return value


def _show_text(text: str) -> str:
    return repr(text) if len(text) <= 80 else repr(text[:60] + "...")


def _equal(a: Any, b: Any, check: bool = True) -> bool:
    """Typed equality: numbers with numbers, and otherwise values of the same type."""
    if is_num(a) and is_num(b):
        return _cmpop(ast.Eq, a, b)
    if type(a) is type(b) and not isinstance(a, list):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, check) for x, y in zip(a, b))
    if not check:
        return False
    raise _ExprError(f"cannot compare {type_name(a)} {_show(a)} with {type_name(b)} {_show(b)}")


class _Evaluator:
    __slots__ = ("env", "local", "steps")

    def __init__(self, env: Mapping[str, Any]):
        self.env = env
        self.local: dict[str, Any] = {}
        self.steps = 0

    def eval(self, node: ast.expr) -> Any:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _ExprError(f"more than {MAX_STEPS:,} evaluation steps; refusing to go on")
        t = type(node)
        if t is ast.Constant:
            return node.value
        if t is ast.Name:
            return self.name(node.id)
        if t is ast.BinOp:
            return bounded(self.binop(node))
        if t is ast.Compare:
            return self.compare(node)
        if t is ast.BoolOp:
            is_and = isinstance(node.op, ast.And)
            word = "and" if is_and else "or"
            for v in node.values:
                r = self.cond(v, f"'{word}'")
                if r is not is_and:
                    return r
            return is_and
        if t is ast.UnaryOp:
            v = self.eval(node.operand)
            if isinstance(node.op, ast.Not):
                if not isinstance(v, bool):
                    raise _ExprError(f"'not' needs true or false, got {type_name(v)} {_show(v)}")
                return not v
            v = _num(v, "unary '-'" if isinstance(node.op, ast.USub) else "unary '+'")
            return -v if isinstance(node.op, ast.USub) else v
        if t is ast.IfExp:
            c = self.cond(node.test, "'a if CONDITION else b'")
            return self.eval(node.body if c else node.orelse)
        if t is ast.Call:
            args = [self.eval(a) for a in node.args]
            for a in args:
                if a is UNSET:
                    raise _ExprError("an optional argument that was not given has no value "
                                     "(it stands for the op's default)")
            try:
                for a in args:  # the sweep's traced numbers record the call as one formula
                    hook = getattr(type(a), "__expr_call__", None)
                    if hook is not None:
                        return bounded(hook(node.func.id, args))  # type: ignore[union-attr]
                return bounded(FUNCTIONS[node.func.id](*args))  # type: ignore[union-attr]
            except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
                raise _ExprError(f"{node.func.id}(): {exc}") from None  # type: ignore[union-attr]
        if t is ast.List or t is ast.Tuple:
            if len(node.elts) > MAX_LIST:
                raise _ExprError("list literal too long")
            return [self.eval(e) for e in node.elts]
        if t is ast.Subscript:
            return self.subscript(node)
        if t is ast.ListComp:
            return self.listcomp(node)
        raise _ExprError(f"{t.__name__} is not allowed")

    def name(self, ident: str) -> Any:
        if ident in self.local:
            return self.local[ident]
        if ident in self.env:
            return self.env[ident]
        if ident in CONSTANTS:
            return CONSTANTS[ident]
        known = sorted(k for k in {*self.env, *self.local} if not k.startswith("\x00"))
        shown = ", ".join(known[:30]) + (f" and {len(known) - 30} more" if len(known) > 30 else "")
        raise _ExprError(f"unknown name {ident!r}" + _suggest(ident, known)
                         + f"; known: {shown or 'none'}")

    def cond(self, node: ast.expr, what: str) -> bool:
        v = self.eval(node)
        if not isinstance(v, bool):
            raise _ExprError(f"{what} needs true or false, got {type_name(v)} {_show(v)} "
                             "(compare it: x == 'name', n > 0)")
        return v

    def binop(self, node: ast.BinOp) -> Any:
        a = self.eval(node.left)
        b = self.eval(node.right)
        op = node.op
        if isinstance(op, ast.Add) and isinstance(a, list) and isinstance(b, list):
            if len(a) + len(b) > MAX_LIST:
                raise _ExprError(f"a list of {len(a) + len(b):,} elements exceeds the limit of "
                                 f"{MAX_LIST:,}")
            return a + b
        sym = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
               ast.Mod: "%", ast.Pow: "**"}[type(op)]
        if not is_num(a) or not is_num(b):
            bad = a if not is_num(a) else b
            raise _ExprError(f"'{sym}' needs numbers, got {type_name(bad)} {_show(bad)}"
                             + (" (strings are names, not numbers)" if isinstance(bad, str) else ""))
        try:
            if sym == "**":
                return self.power(a, b)
            return _binop(type(op), a, b)
        except ZeroDivisionError:
            raise _ExprError("division by zero") from None
        except OverflowError:
            raise _ExprError("a value exceeds the limit of 1e30 in magnitude") from None

    @staticmethod
    def power(a, b):
        ra, rb = raw(a), raw(b)       # the bounds are checked on plain values
        if abs(rb) > 64:
            raise _ExprError(f"exponent {rb} too large (the limit is 64)")
        if ra == 0 and rb < 0:
            raise _ExprError("division by zero (0 to a negative power)")
        if abs(ra) > 1 and rb > 0 and rb * math.log10(abs(ra)) > 30.5:
            raise _ExprError("a value exceeds the limit of 1e30 in magnitude")
        r = _binop(ast.Pow, a, b)
        if isinstance(r, complex):
            raise _ExprError("a negative number to a fractional power")
        return r

    def compare(self, node: ast.Compare) -> bool:
        left = self.eval(node.left)
        for op, comp in zip(node.ops, node.comparators):
            right = self.eval(comp)
            t = type(op)
            if t is ast.Eq:
                ok = _equal(left, right)
            elif t is ast.NotEq:
                ok = not _equal(left, right)
            elif t is ast.In or t is ast.NotIn:
                items = _list(right, "'in'")
                found = any(_equal(left, v) for v in items)
                ok = found if t is ast.In else not found
            else:
                sym = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}[t]
                _num(left, f"'{sym}'")
                _num(right, f"'{sym}'")
                ok = _cmpop(t, left, right)
            if not ok:
                return False
            left = right
        return True

    def subscript(self, node: ast.Subscript) -> Any:
        seq = _list(self.eval(node.value), "indexing")
        if isinstance(node.slice, ast.Slice):
            lo = None if node.slice.lower is None else _int_arg(self.eval(node.slice.lower), "a slice")
            hi = None if node.slice.upper is None else _int_arg(self.eval(node.slice.upper), "a slice")
            return seq[lo:hi]
        i = self.eval(node.slice)
        if isinstance(i, bool) or not isinstance(i, int):
            raise _ExprError(f"a list index must be an integer, got {type_name(i)} {_show(i)}")
        if not -len(seq) <= i < len(seq):
            raise _ExprError(f"index {i} is out of range for a list of {len(seq)} elements")
        return seq[i]

    def listcomp(self, node: ast.ListComp) -> list:
        gen = node.generators[0]
        items = _list(self.eval(gen.iter), "a comprehension's 'in'")
        var = gen.target.id  # type: ignore[attr-defined]
        had = var in self.local
        saved = self.local.get(var)
        out = []
        try:
            for v in items:
                self.local[var] = v
                if all(self.cond(c, "a comprehension's 'if'") for c in gen.ifs):
                    out.append(self.eval(node.elt))
        finally:
            if had:
                self.local[var] = saved
            else:
                self.local.pop(var, None)
        return out
