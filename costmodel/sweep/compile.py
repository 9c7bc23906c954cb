"""Compile a spec once per structure, then evaluate it at many points of a grid.

A *structure* is one traced expansion (:mod:`costmodel.sweep.trace`): the totals as formulas
over the swept settings, valid wherever the trace's guards hold. :class:`Compiled` evaluates a
chunk of grid points with every structure it knows (vectorised with numpy when it is
installed, else point by point in Python), traces a new structure at the first point that
none accepts, and caches it. The integers are those of ``costmodel profile``:

* the vector arithmetic is exact: int64 with every product, sum and conversion checked for
  overflow, floats only where Python computes floats (IEEE operations give the same bits);
  a point where a check fails (or an operation numpy does not reproduce exactly) is
  expanded, like every point of a spec the tracer cannot follow;
* each new structure is checked against a real expansion at points other than its own.
"""
from __future__ import annotations

import math
import operator
from typing import Any, Sequence

from costmodel.count.profile import Spec
from costmodel.errors import SpecError
from costmodel.spec.expr import make_divisible
from costmodel.sweep import trace as trace_mod
from costmodel.sweep.measures import DEFAULT, Measures
from costmodel.sweep.trace import Untraceable

try:                                    # the 'sweep' extra; without it, point by point
    import numpy as np
except ImportError:                     # pragma: no cover - numpy comes with the test extra
    np = None

INT_LIMIT = 2 ** 62          # |int| above this: not trusted to int64 arithmetic
EXACT_FLOAT = 2 ** 53        # |int| above this: not exactly a float
SPOT_CHECKS = 2              # real expansions per structure, away from its traced point
MAX_STRUCTURES = 4096


def expand_point(spec: Spec, settings: dict[str, Any],
                 measures: Measures = DEFAULT) -> dict[str, int]:
    """The totals of one point by full expansion (what ``costmodel profile`` computes)."""
    return measures.of_profile(spec.profile(**settings))


# --- one structure ------------------------------------------------------------------------

_PY_UNARY = {"neg": operator.neg, "pos": operator.pos, "abs": abs, "invert": operator.invert,
             "trunc": math.trunc, "floor": math.floor, "ceil": math.ceil, "round": round,
             "is_integer": lambda x: x.is_integer()}
_PY_BINARY = {**trace_mod._BIN, **trace_mod._CMP, "round_nd": round,
              "make_divisible": make_divisible, "min": min, "max": max}
_OBJECT_OPS = {"pow", "lshift", "rshift", "and", "or", "xor", "invert", "round_nd"}


class Structure:
    """The formulas of one traced expansion, pruned to what the totals and guards need."""

    def __init__(self, t: trace_mod.Trace, totals: dict[str, Any], point: dict[str, Any]):
        self.point = point
        self.checks_left = SPOT_CHECKS
        self.broken = False
        outs = {m: trace_mod._arg(v) for m, v in totals.items()}
        roots = sorted({n for n, _ in t.guards} | {a for k, a in outs.values() if k == "@"})
        # post-order from the roots: each layer's counts are computed just before they are
        # summed, so few full-size arrays are alive at once (memory stays flat)
        order: list[int] = []
        done: set[int] = set()
        for root in roots:
            stack = [(root, False)]
            while stack:
                n, ready = stack.pop()
                if n in done:
                    continue
                if ready:
                    done.add(n)
                    order.append(n)
                    continue
                stack.append((n, True))
                for k, a in reversed(t.nodes[n][1]):
                    if k == "@" and a not in done:
                        stack.append((a, False))
        new_id = {n: i for i, n in enumerate(order)}
        self.ops: list[tuple[str, tuple, str]] = []        # (op, args, kind), args remapped
        for n in order:
            op, args = t.nodes[n]
            self.ops.append((op, tuple((k, new_id[a] if k == "@" else a) for k, a in args),
                             t.kinds[n]))
        self.outputs = {m: (k, new_id[a] if k == "@" else a) for m, (k, a) in outs.items()}
        self.guards = [(new_id[n], expected) for n, expected in t.guards]
        self.guard_at: dict[int, list] = {}
        for n, expected in self.guards:
            self.guard_at.setdefault(n, []).append(expected)
        last = [-1] * len(self.ops)
        for i, (_, args, _) in enumerate(self.ops):
            for k, a in args:
                if k == "@":
                    last[a] = i
        for n in self.guard_at:
            last[n] = max(last[n], n)
        for _, (k, a) in self.outputs.items():
            if k == "@":
                last[a] = len(self.ops)
        self.free_after: list[list[int]] = [[] for _ in self.ops]
        for n, i in enumerate(last):
            if 0 <= i < len(self.ops):
                self.free_after[i].append(n)

    def run_vector(self, inputs: dict[str, Any], shape: tuple[int, ...]):
        """(accepted, invalid, outputs), flat over the points of ``shape`` (the inputs
        broadcast to it): ``accepted`` where every guard holds, ``invalid`` where an
        operation cannot be trusted to int64/float64 (those points are expanded)."""
        vals: list[Any] = [None] * len(self.ops)
        bad = np.zeros(shape, dtype=bool)
        ok = np.ones(shape, dtype=bool)
        n = bad.size
        guard_at = self.guard_at
        with np.errstate(all="ignore"):
            for i, (op, args, kind) in enumerate(self.ops):
                if op == "axis":
                    vals[i] = inputs[args[0][1]]
                else:
                    xs = [vals[a] if k == "@" else a for k, a in args]
                    kinds = [self.ops[a][2] if k == "@" else _const_kind(a) for k, a in args]
                    vals[i], b = _vector_op(op, xs, kinds, kind)
                    if b is not None:
                        bad |= b
                if i in guard_at:
                    for expected in guard_at[i]:
                        ok &= vals[i] == expected
                for f in self.free_after[i]:
                    vals[f] = None
            outs = {}
            for m, (k, a) in self.outputs.items():
                outs[m] = (np.broadcast_to(vals[a], shape).reshape(-1) if k == "@"
                           else np.full(n, a, dtype=np.int64))
        return ok.reshape(-1), bad.reshape(-1), outs

    # -- plain Python ---------------------------------------------------------------------
    def run_point(self, point: dict[str, Any]):
        """(accepted, outputs) at one point, with Python's own arithmetic."""
        vals: list[Any] = [None] * len(self.ops)
        for i, (op, args, _) in enumerate(self.ops):
            if op == "axis":
                vals[i] = point[args[0][1]]
                continue
            xs = [vals[a] if k == "@" else a for k, a in args]
            try:
                vals[i] = (_PY_UNARY[op](xs[0]) if len(xs) == 1 else _PY_BINARY[op](*xs))
            except (ArithmeticError, ValueError, TypeError):
                return False, None
        for g, expected in self.guards:
            if vals[g] != expected:
                return False, None
        return True, {m: (vals[a] if k == "@" else a) for m, (k, a) in self.outputs.items()}


def _const_kind(a: Any) -> str:
    if isinstance(a, bool):
        return "b"
    if isinstance(a, int):
        return "i"
    if isinstance(a, float):
        return "f"
    return "o"


def _too_big(x: Any, limit: int):
    """Where |x| (an int array or scalar) exceeds limit: None when nowhere (two reductions),
    else a bool array."""
    if isinstance(x, np.ndarray):
        if x.dtype == object or x.size == 0:
            return None
        if -limit <= int(x.min()) and int(x.max()) <= limit:
            return None
        return np.abs(x.astype(np.float64)) > limit
    return None if abs(x) <= limit else True


def _magnitude(x: Any) -> int:
    if isinstance(x, np.ndarray):
        return max(abs(int(x.min())), abs(int(x.max()))) if x.size else 0
    return abs(int(x))


def _or(*masks):
    out = None
    for m in masks:
        if m is None or m is False:
            continue
        out = m if out is None else (out | m)
    return out


def _vector_op(op: str, xs: list, kinds: list[str], kind: str):
    """One node over arrays: (values, invalid mask or None)."""
    if op in _OBJECT_OPS:
        return _object_op(op, xs, kind)
    if op == "make_divisible":
        return _make_divisible(*xs, kinds[0])
    if op in ("min", "max"):            # one kind (the trace checked): the first of equals
        return (np.minimum if op == "min" else np.maximum)(xs[0], xs[1]), None
    if len(xs) == 1:
        x = xs[0]
        if op == "neg":
            return -x, (_too_big(x, INT_LIMIT) if kind == "i" else None)
        if op == "pos":
            return x, None
        if op == "abs":
            return np.abs(x), (_too_big(x, INT_LIMIT) if kind == "i" else None)
        if op in ("trunc", "floor", "ceil", "round"):
            if kinds[0] == "i":
                return x, None
            f = {"trunc": np.trunc, "floor": np.floor, "ceil": np.ceil, "round": np.rint}[op](x)
            bad = ~np.isfinite(f) | (np.abs(f) > INT_LIMIT)
            return np.where(bad, 0, f).astype(np.int64), bad
        if op == "is_integer":
            return np.isfinite(x) & (np.floor(x) == x), None
        raise AssertionError(op)
    a, b = xs
    ka, kb = kinds
    bad = None
    if "f" in (ka, kb) or op == "truediv":          # an int meets a float: exact below 2**53
        bad = _or(_too_big(a, EXACT_FLOAT) if ka == "i" else None,
                  _too_big(b, EXACT_FLOAT) if kb == "i" else None)
    if op in trace_mod._CMP:
        if "o" in (ka, kb):
            return _object_compare(op, a, b), bad
        return trace_mod._CMP[op](a, b), bad
    if kind == "i" and op == "mul":
        bad = _or(bad, _too_big_product(a, b))
    if op == "floordiv":
        r = np.floor_divide(a, b)
    elif op == "mod":
        r = np.remainder(a, b)
    else:
        r = trace_mod._BIN[op](a, b)
    if kind == "i" and op in ("add", "sub", "mul"):
        bad = _or(bad, _too_big(r, INT_LIMIT))
    return r, bad


def _make_divisible(value, divisor, min_value, round_limit, kind):
    """costmodel.spec.expr.make_divisible over an array of values (constant other args)."""
    if min_value is None:
        min_value = divisor
    f = value + divisor / 2
    bad = ~np.isfinite(f) | (np.abs(f) > EXACT_FLOAT)
    if kind == "i":
        bad |= np.abs(value) > EXACT_FLOAT
    t = np.trunc(np.where(bad, 0, f)).astype(np.int64)
    new_v = np.maximum(min_value, np.floor_divide(t, divisor) * divisor)
    new_v = new_v + divisor * (new_v < value * round_limit)
    return new_v, bad


def _too_big_product(a, b):
    if _magnitude(a) * _magnitude(b) <= INT_LIMIT:      # exact: Python ints
        return None
    fa = np.abs(np.asarray(a, dtype=np.float64))
    fb = np.abs(np.asarray(b, dtype=np.float64))
    m = fa * fb > INT_LIMIT / 2
    return m if isinstance(m, np.ndarray) and m.ndim else (True if m else None)


def _object_compare(op, a, b):
    fn = trace_mod._CMP[op]
    return np.frompyfunc(lambda x, y: bool(fn(x, y)), 2, 1)(a, b).astype(bool)


def _object_op(op: str, xs: list, kind: str):
    """Rare operations (powers, shifts, bitwise, round to digits): Python's own, per element;
    invalid where Python raises or the result leaves int64/float64."""
    fn = _PY_UNARY.get(op) if len(xs) == 1 else _PY_BINARY[op]

    def one(*args):
        try:
            v = fn(*args)
        except (ArithmeticError, ValueError, TypeError):
            return None
        if kind == "i" and (isinstance(v, bool) or not isinstance(v, int) or abs(v) > INT_LIMIT):
            return None
        if kind == "f" and not isinstance(v, float):
            return None
        return v

    objs = [x.astype(object) if isinstance(x, np.ndarray) else x for x in xs]
    res = np.frompyfunc(one, len(xs), 1)(*objs)
    bad = np.frompyfunc(lambda v: v is None, 1, 1)(res).astype(bool)
    res = np.where(bad, 0, res).astype(np.int64 if kind == "i" else np.float64)
    return res, bad


# --- a spec over a grid -------------------------------------------------------------------

class Compiled:
    """A spec compiled for a set of swept settings: ``evaluate(points)`` gives the totals of
    every point (a dict of columns), tracing and caching structures as it meets them.

    ``points`` is a dict ``setting -> sequence of values`` (one value per point, already of
    the setting's type). ``vector``: use numpy (default: when installed). ``enabled=False``
    expands every point (today's path, kept for the benchmark and as the fallback)."""

    def __init__(self, spec: Spec, swept: Sequence[str], fixed: dict[str, Any] | None = None,
                 vector: bool | None = None, enabled: bool = True,
                 measures: Measures = DEFAULT):
        self.spec = spec
        self.measures = measures
        self.metrics = measures.names
        self.swept = list(swept)
        self.fixed = dict(fixed or {})
        self.vector = (np is not None) if vector is None else (vector and np is not None)
        self.enabled = enabled
        self.structures: list[Structure] = []
        self.stats = {"traced": 0, "expanded": 0, "compiled": 0, "spot_checks": 0, "broken": 0}

    # -- helpers --------------------------------------------------------------------------
    def settings_at(self, point: dict[str, Any]) -> dict[str, Any]:
        return {**self.fixed, **point}

    def _expand(self, point: dict[str, Any]) -> dict[str, int]:
        self.stats["expanded"] += 1
        return expand_point(self.spec, self.settings_at(point), self.measures)

    def _trace(self, point: dict[str, Any]) -> Structure | None:
        values = self.spec.settings(self.settings_at(point))
        try:
            t, totals, plain = trace_mod.trace(self.spec, values, self.swept, self.measures)
        except Untraceable:
            self.enabled = False
            return None
        self.stats["traced"] += 1
        s = Structure(t, totals, point)
        ok, outs = s.run_point(point)
        if not ok or outs != plain:           # the formulas must give back their own point
            self.enabled = False
            return None
        if len(self.structures) >= MAX_STRUCTURES:
            self.structures.pop()
        self.structures.insert(0, s)
        return s

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self, block) -> dict[str, Any]:
        """The totals (``self.metrics``) at the points of a
        :class:`costmodel.sweep.space.Block`, in its order: int64 arrays (lists without numpy, or with a count beyond int64). Raises
        the SpecError of the first point that ``costmodel profile`` rejects."""
        if self.enabled and self.swept and self.vector:
            try:
                return self._evaluate_vector(block)
            except (ArithmeticError, ValueError, TypeError):
                self.vector = False        # numpy could not hold a value: Python's arithmetic
        return self._evaluate_points(block)

    def _evaluate_points(self, block) -> dict[str, list[int]]:
        cols = block.columns()
        n = block.size
        out: dict[str, list] = {m: [0] * n for m in self.metrics}
        for j in range(n):
            point = {k: cols[k][j] for k in self.swept}
            r = None
            if self.enabled and self.swept:
                claimed = False
                for s in self.structures:
                    ok, outs = s.run_point(point)
                    if ok:
                        claimed = True
                        r = self._checked(s, point, outs)
                        break
                if not claimed:
                    s = self._trace(point)
                    if s is not None:
                        ok, outs = s.run_point(point)
                        r = outs if ok else None
            if r is None:
                r = self._expand(point)
            else:
                self.stats["compiled"] += 1
            for m in self.metrics:
                out[m][j] = r[m]
        return out

    def _checked(self, s: Structure, point, outs):
        """A structure's first answers away from its own point are checked by expansion;
        a structure that fails one is expanded from then on."""
        if s.broken:
            return None
        if s.checks_left > 0 and point != s.point:
            s.checks_left -= 1
            self.stats["spot_checks"] += 1
            real = self._expand(point)
            if real != outs:
                s.broken = True
                self.stats["broken"] += 1
            return real
        return outs

    def _evaluate_vector(self, block) -> dict[str, Any]:
        n, shape = block.size, block.shape
        inputs = {k: block.arrays[k] for k in self.swept}
        flat: dict[str, Any] = {}

        def point(j: int) -> dict[str, Any]:
            if not flat:
                flat.update({k: np.broadcast_to(v, shape).reshape(-1) for k, v in inputs.items()})
            return {k: _item(flat[k][j]) for k in self.swept}

        cols = {m: np.zeros(n, dtype=np.int64) for m in self.metrics}
        huge: dict[int, dict[str, int]] = {}        # points whose counts leave int64

        def put(j: int, r: dict[str, int]) -> None:
            if any(abs(v) > INT_LIMIT for v in r.values()):
                huge[j] = r
            else:
                for m in self.metrics:
                    cols[m][j] = r[m]

        done = np.zeros(n, dtype=bool)
        tried: set[int] = set()
        candidates = list(self.structures)
        while True:
            for s in candidates:
                ok, bad, outs = s.run_vector(inputs, shape)
                ok &= ~done
                if s.broken:
                    bad = ok
                take = ok & ~bad
                if take.any():
                    for m in self.metrics:
                        cols[m][take] = outs[m][take]
                    self.stats["compiled"] += int(take.sum())
                    self._spot_check_vector(s, point, np.flatnonzero(take), cols, put)
                for j in np.flatnonzero(ok & bad).tolist():
                    put(j, self._expand(point(j)))
                done |= ok
                if done.all():
                    break
            if done.all():
                break
            j = int(np.flatnonzero(~done)[0])
            if j in tried or not self.enabled:
                for i in np.flatnonzero(~done).tolist():
                    put(i, self._expand(point(i)))
                break
            tried.add(j)
            s = self._trace(point(j))
            candidates = [s] if s is not None else []
        if huge:
            lists = {m: c.tolist() for m, c in cols.items()}
            for j, r in huge.items():
                for m in self.metrics:
                    lists[m][j] = r[m]
            return lists
        return cols

    def _spot_check_vector(self, s: Structure, point, where, cols, put) -> None:
        if s.checks_left <= 0:
            return
        for j in _spread(where, s.checks_left):
            p = point(j)
            if p == s.point:
                continue
            s.checks_left -= 1
            self.stats["spot_checks"] += 1
            real = self._expand(p)
            if any(real[m] != int(cols[m][j]) for m in self.metrics):
                s.broken = True
                self.stats["broken"] += 1
                for i in where.tolist():
                    put(i, self._expand(point(i)))
                return


def _spread(where, k: int) -> list[int]:
    """Up to k positions far from each other: the last one, then the middle."""
    w = where.tolist()
    picks = [w[-1], w[len(w) // 2], w[0]]
    out: list[int] = []
    for p in picks:
        if p not in out and len(out) < k:
            out.append(p)
    return out


def _item(v: Any) -> Any:
    """A numpy scalar as the Python value of the setting's type."""
    return v.item() if type(v) not in (int, float, str, bool) and hasattr(v, "item") else v
