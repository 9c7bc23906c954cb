"""Tracing one expansion of a spec: the swept settings are bound to traced numbers, and every
integer the expander computes from them remembers how (a formula over the settings).

A traced number (:class:`TInt`, :class:`TFloat`) is a real ``int``/``float`` holding its value
at the traced point, so the expander, the ops and the expression evaluator run unchanged; each
arithmetic operation on it also appends a node to the :class:`Trace`. Every decision the
expansion takes on a traced value (a comparison, ``bool()``, a ``when``, a minimum check, a
``max``) returns a plain ``bool`` and is recorded as a *guard*: the formulas hold exactly at
the points where every guard comes out the same. Where a value leaves the traced world (``int()``,
``float()``, ``range()`` over a repeat count, a split into ``parts`` pieces), it is *pinned*: a
guard that it keeps its traced value. A point that fails a guard belongs to another structure,
traced on its own (see :mod:`costmodel.sweep.compile`).
"""
from __future__ import annotations

import math
import operator
from typing import Any

from costmodel.errors import SpecError
from costmodel.graph.expand import Expander
from costmodel.graph.values import to_int

from costmodel.sweep.measures import BASE as METRICS, DEFAULT, LAYER_FIELD, Measures  # noqa: F401


class Untraceable(Exception):
    """The expansion did something the tracer cannot follow (the sweep then expands per point)."""


class Trace:
    """The nodes of one traced expansion: ``nodes[i] = (op, args)``, an arg being ``("@", j)``
    (node j) or ``("=", constant)``; ``kinds[i]`` is 'i', 'f' or 'b'; guards are
    ``(node, expected value)``."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple]] = []
        self.kinds: list[str] = []
        self.index: dict = {}
        self.guards: list[tuple[int, Any]] = []
        self._guarded: set = set()

    def node(self, op: str, args: tuple, kind: str) -> int:
        key = (op, args, kind)
        n = self.index.get(key)
        if n is None:
            n = len(self.nodes)
            self.nodes.append((op, args))
            self.kinds.append(kind)
            self.index[key] = n
        return n

    def add(self, op: str, args: tuple, value: Any) -> Any:
        """A node computing ``value`` at the traced point: a traced number (a bool: guard it)."""
        kind = _kind(value)
        if kind == "b":
            raise Untraceable(f"{op} made a bool from a traced number")
        n = self.node(op, args, kind)
        return (TInt if kind == "i" else TFloat)._make(value, n, self)

    def guard(self, op: str, args: tuple, expected: Any) -> None:
        """Record that the boolean node ``op(args)`` came out ``expected`` at this point."""
        key = (self.node(op, args, "b"), expected)
        if key not in self._guarded:
            self._guarded.add(key)
            self.guards.append(key)

    def leaf(self, name: str, value: Any) -> Any:
        """A swept setting: a traced number, or (a bool or a string) a plain value guarded
        by equality."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            n = self.node("axis", (("=", name),), "o")
            self.guard("eq", (("@", n), ("=", value)), True)
            return value
        return self.add("axis", (("=", name),), value)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    raise Untraceable(f"a traced value became {type(value).__name__}")


def _arg(x: Any) -> tuple:
    if isinstance(x, (TInt, TFloat)):
        return ("@", object.__getattribute__(x, "_n"))
    return ("=", x)


def _plain(x: Any) -> Any:
    if isinstance(x, (TInt, TFloat)):
        return object.__getattribute__(x, "_v")
    return x


def _trace_of(*xs: Any) -> Trace:
    for x in xs:
        if isinstance(x, (TInt, TFloat)):
            return object.__getattribute__(x, "_t")
    raise AssertionError("no traced operand")


_BIN = {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
        "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
        "pow": operator.pow, "lshift": operator.lshift, "rshift": operator.rshift,
        "and": operator.and_, "or": operator.or_, "xor": operator.xor}
_CMP = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge,
        "eq": operator.eq, "ne": operator.ne}
_DIVIDING = ("truediv", "floordiv", "mod")
_SAFE_ATTRS = frozenset(("_n", "_v", "_t", "is_integer"))


def _number(x: Any) -> bool:
    return isinstance(x, (int, float))


def _binary(name: str):
    fn = _BIN[name]

    def apply(a, b):
        t = _trace_of(a, b)
        pa, pb = _plain(a), _plain(b)
        value = fn(pa, pb)
        if name in _DIVIDING and isinstance(b, (TInt, TFloat)):
            t.guard("ne", (_arg(b), ("=", 0)), pb != 0)
        if name == "pow" and isinstance(b, (TInt, TFloat)):
            t.guard("ge", (_arg(b), ("=", 0)), pb >= 0)
        if name == "pow" and isinstance(a, (TInt, TFloat)):
            t.guard("ge", (_arg(a), ("=", 0)), pa >= 0)
        return t.add(name, (_arg(a), _arg(b)), value)

    def forward(self, other, *mod):
        if mod and mod[0] is not None:
            return fn(_pin(self), _pin(other)) % _pin(mod[0])
        if not _number(other):
            return NotImplemented
        return apply(self, other)

    def reflected(self, other):
        if not _number(other):
            return NotImplemented
        return apply(other, self)

    return forward, reflected


def _compare(name: str):
    fn = _CMP[name]

    def method(self, other):
        if not _number(other):
            return NotImplemented
        value = fn(_plain(self), _plain(other))
        _trace_of(self).guard(name, (_arg(self), _arg(other)), value)
        return value

    return method


def _unary(name: str, fn):
    def method(self):
        t = _trace_of(self)
        return t.add(name, (_arg(self),), fn(_plain(self)))
    return method


def _pin(x: Any) -> Any:
    """Fix a traced value: record that it keeps its traced value, and return the plain one."""
    if isinstance(x, (TInt, TFloat)):
        v = _plain(x)
        _trace_of(x).guard("eq", (_arg(x), ("=", v)), True)
        return v
    return x


pin = _pin


class _Traced:
    """Methods shared by TInt and TFloat (mixed in before the numeric base)."""

    @classmethod
    def _make(cls, value, n, t):
        obj = cls.__bases__[1].__new__(cls, value)
        object.__setattr__(obj, "_v", value)
        object.__setattr__(obj, "_n", n)
        object.__setattr__(obj, "_t", t)
        return obj

    def __getattribute__(self, name):
        if name in _SAFE_ATTRS or name.startswith("__"):
            return object.__getattribute__(self, name)
        # bit_length, as_integer_ratio, real, numerator...: leaves the traced world
        return getattr(_pin(self), name)

    def __hash__(self):
        return hash(object.__getattribute__(self, "_v"))

    def __bool__(self):
        v = object.__getattribute__(self, "_v")
        _trace_of(self).guard("ne", (_arg(self), ("=", 0)), v != 0)
        return v != 0

    def __int__(self):
        return int(_pin(self))

    def __float__(self):
        return float(_pin(self))

    def __index__(self):
        return operator.index(_pin(self))

    def __complex__(self):
        return complex(_pin(self))

    def __repr__(self):
        return repr(object.__getattribute__(self, "_v"))

    __str__ = __repr__

    def __format__(self, spec):
        return format(object.__getattribute__(self, "_v"), spec)

    def __divmod__(self, other):
        if not _number(other):
            return NotImplemented
        return self // other, self % other

    def __rdivmod__(self, other):
        if not _number(other):
            return NotImplemented
        return other // self, other % self

    @staticmethod
    def __expr_call__(name: str, args: list) -> Any:
        """A function of the spec language called on traced numbers: ``make_divisible`` with
        constant divisor, minimum and limit, and ``min``/``max`` of numbers of one kind,
        become one node (no guards on their inner branches); others run on the traced
        numbers themselves."""
        from costmodel.spec.expr import FUNCTIONS
        fn = FUNCTIONS[name]
        t = _trace_of(*[a for a in args if isinstance(a, (TInt, TFloat))])
        if name == "make_divisible" and 1 <= len(args) <= 4 and \
                not any(isinstance(a, (TInt, TFloat)) for a in args[1:]):
            full = list(args) + [8, None, 0.9][len(args) - 1:]
            value = fn(*[_plain(a) for a in full])
            if isinstance(full[1], int) and not isinstance(full[1], bool) and \
                    (full[2] is None or type(full[2]) is int) and type(full[3]) in (int, float):
                return t.add("make_divisible", tuple(_arg(a) for a in full), value)
        if name in ("min", "max") and len(args) >= 2 and \
                len({_kind(_plain(a)) for a in args}) == 1 and _kind(_plain(args[0])) in "if":
            value = fn(*[_plain(a) for a in args])
            out = args[0]
            for a in args[1:]:
                out = t.add(name, (_arg(out), _arg(a)), fn(_plain(out), _plain(a)))
            return out
        return fn(*args)

    def __reduce__(self):
        raise Untraceable("a traced value cannot be pickled")

    __neg__ = _unary("neg", operator.neg)
    __pos__ = _unary("pos", operator.pos)
    __abs__ = _unary("abs", abs)


for _name in _BIN:
    _f, _r = _binary(_name)
    setattr(_Traced, f"__{_name}__", _f)
    setattr(_Traced, f"__r{_name}__", _r)
for _name in _CMP:
    setattr(_Traced, f"__{_name}__", _compare(_name))


class TInt(_Traced, int):
    __invert__ = _unary("invert", operator.invert)

    def __trunc__(self):
        return self

    __floor__ = __ceil__ = __trunc__

    def __round__(self, ndigits=None):
        if ndigits is None:
            return self
        nd = _pin(ndigits)
        return _trace_of(self).add("round_nd", (_arg(self), ("=", nd)), round(_plain(self), nd))


class TFloat(_Traced, float):
    __trunc__ = _unary("trunc", math.trunc)
    __floor__ = _unary("floor", math.floor)
    __ceil__ = _unary("ceil", math.ceil)

    def __round__(self, ndigits=None):
        if ndigits is None:
            return _trace_of(self).add("round", (_arg(self),), round(_plain(self)))
        nd = _pin(ndigits)
        return _trace_of(self).add("round_nd", (_arg(self), ("=", nd)), round(_plain(self), nd))

    def is_integer(self):
        v = object.__getattribute__(self, "_v")
        _trace_of(self).guard("is_integer", (_arg(self),), v.is_integer())
        return v.is_integer()


class _NoPeak:
    """Stands for the expander's peak-memory tracker while tracing: the sweep does not report
    peak memory, and a running maximum would only add guards."""

    def __lt__(self, other):
        return False

    __gt__ = __le__ = __ge__ = __lt__

    def __add__(self, other):
        return self

    __radd__ = __add__


NO_PEAK = _NoPeak()


class _NoMemo(dict):
    """The expander memoises block instances by their (hashable) arguments; two traced values
    equal at the traced point may differ elsewhere, so tracing expands every instance."""

    def __setitem__(self, key, value):
        pass


class TracingExpander(Expander):
    """The expander with the structural counts pinned: repeat counts, row repeats and split
    parts are used by ``range()`` and list repetition, which read an int's value directly."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instances = _NoMemo()

    peak = property(lambda self: NO_PEAK, lambda self, value: None)

    def repeat_entry(self, e, env, full, x, held, stack, line, **kw):
        _pin_quietly(lambda: to_int(e["repeat"], env, "repeat", minimum=0))
        return super().repeat_entry(e, env, full, x, held, stack, line, **kw)

    def block_entry(self, e, env, full, x, held, stack, line, **kw):
        rows = e.get("rows")
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, dict) and "repeat" in row:
                    _pin_quietly(lambda: to_int(row["repeat"], env, "row repeat", minimum=0))
        return super().block_entry(e, env, full, x, held, stack, line, **kw)

    def _branches(self, paths, merge, split, env, full, x, held, stack, line, **kw):
        if split is not None and not isinstance(split, list):
            _pin_quietly(lambda: to_int(split, env, "split", minimum=2))
        return super()._branches(paths, merge, split, env, full, x, held, stack, line, **kw)

    def make_layer(self, op, a, x, y, name, line, held, inputs=None):
        for field in getattr(op, "structural", ()):
            value = a.get(field)
            for v in (value if isinstance(value, (tuple, list)) else (value,)):
                _pin(v)
        return super().make_layer(op, a, x, y, name, line, held, inputs)


def _pin_quietly(compute) -> None:
    try:
        _pin(compute())
    except SpecError:
        pass      # the expansion itself raises it, with its place


def trace(spec, values: dict[str, Any], traced: list[str],
          measures: Measures = DEFAULT) -> tuple[Trace, dict[str, Any], dict]:
    """Expand ``spec`` (a :class:`costmodel.count.profile.Spec`) at the resolved settings
    ``values`` with the settings named in ``traced`` bound to traced numbers (bools and
    strings are guarded by equality instead). Returns the trace, the totals of ``measures``
    (traced values or constants) and the plain totals at this point."""
    t = Trace()
    env = dict(values)
    for name in traced:
        env[name] = t.leaf(name, values[name])
    exp = TracingExpander(spec.model, spec.raw, spec.file, env, spec._prepared)
    root, _, _ = exp.run()
    totals = measures.of_tree(root)
    return t, totals, {m: _plain(v) for m, v in totals.items()}
