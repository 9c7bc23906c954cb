"""Filters of a sweep's rows: ``--where`` (a condition over the columns, in the spec
language's safe expressions: parsed by :func:`costmodel.spec.expr.parse`, never ``eval``) and
``--pareto`` (the rows no other row beats on every listed column, all minimised).

A condition is evaluated over whole columns at once (numpy), with Python's exact integers
wherever int64 could overflow; without numpy, row by row with the spec language's evaluator.
"""
from __future__ import annotations

import ast
import difflib
from typing import Any, Sequence

from costmodel.errors import SpecError
from costmodel.spec import expr

try:
    import numpy as np
except ImportError:                     # pragma: no cover
    np = None

_INT_LIMIT = 2 ** 62


def _unknown(what: str, name: str, columns: Sequence[str]) -> SpecError:
    close = difflib.get_close_matches(name, list(columns), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SpecError(f"{what}: unknown column {name!r}{hint}; columns: {', '.join(columns)}")


class Where:
    """``--where "mult_adds < 300e6 and params < 4e6"``: keeps the rows where it is true."""

    def __init__(self, text: str, columns: Sequence[str]):
        self.text = text
        self.columns = list(columns)
        try:
            self.tree = expr.parse(text)
        except SpecError as exc:
            raise SpecError(f"--where: {exc.message}") from None
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id not in self.columns \
                    and node.id not in ("true", "false", "True", "False"):
                raise _unknown("--where", node.id, self.columns)

    def mask(self, cols: dict[str, Any], n: int):
        """A bool array (or list without numpy) over the n rows."""
        if np is None or not all(isinstance(v, np.ndarray) for v in cols.values()):
            rows = [{k: cols[k][j] for k in self.columns if k in cols} for j in range(n)]
            out = [expr.evaluate(self.text, r) for r in rows]
            if any(not isinstance(v, bool) for v in out):
                raise SpecError(f"--where {self.text!r} must be a condition (true or false), "
                                "e.g. \"mult_adds < 300e6\"")
            return np.array(out, dtype=bool) if np is not None else out
        with np.errstate(all="ignore"):
            v = self._eval(self.tree, cols, n)
        if not (isinstance(v, np.ndarray) and v.dtype == bool) and not isinstance(v, bool):
            raise SpecError(f"--where {self.text!r} must be a condition (true or false), "
                            "e.g. \"mult_adds < 300e6\"")
        return np.broadcast_to(v, (n,)) if not isinstance(v, np.ndarray) or v.shape != (n,) \
            else v

    def _eval(self, node: ast.AST, cols: dict, n: int) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in cols:
                return cols[node.id]
            return node.id in ("true", "True")
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, cols, n), self._eval(node.right, cols, n)
            return _exact(expr._BINOPS[type(node.op)], a, b)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, cols, n)
            if isinstance(node.op, ast.Not):
                return np.logical_not(_truth(v, self.text))
            return _exact(lambda x, _: -x if isinstance(node.op, ast.USub) else +x, v, 0)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, cols, n)
            result: Any = True
            for op, comp in zip(node.ops, node.comparators):
                right = self._eval(comp, cols, n)
                result = np.logical_and(result, _compare(expr._CMPOPS[type(op)], left, right))
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            vals = [_truth(self._eval(v, cols, n), self.text) for v in node.values]
            combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            out = vals[0]
            for v in vals[1:]:
                out = combine(out, v)
            return out
        if isinstance(node, ast.IfExp):
            return np.where(_truth(self._eval(node.test, cols, n), self.text),
                            self._eval(node.body, cols, n), self._eval(node.orelse, cols, n))
        if isinstance(node, ast.Call):
            fn = expr.FUNCTIONS[node.func.id]   # type: ignore[union-attr]
            args = [_objects(self._eval(a, cols, n)) for a in node.args]
            return _numeric(np.frompyfunc(fn, len(args), 1)(*args))
        raise SpecError(f"--where: {type(node).__name__} is not allowed")


def _truth(v: Any, text: str):
    if isinstance(v, np.ndarray) and v.dtype == bool or isinstance(v, bool):
        return v
    raise SpecError(f"--where {text!r}: 'and', 'or', 'not' and 'if' take conditions "
                    "(comparisons), not numbers")


def _objects(v: Any):
    return v.astype(object) if isinstance(v, np.ndarray) else v


def _numeric(v: Any):
    """An object array of Python numbers back to int64/float64 when they fit."""
    if not isinstance(v, np.ndarray) or v.dtype != object:
        return v
    vals = v.tolist()
    if all(type(x) is bool for x in vals):
        return v.astype(bool)
    if all(type(x) is int and abs(x) <= _INT_LIMIT for x in vals):
        return v.astype(np.int64)
    if all(type(x) is float for x in vals):
        return v.astype(np.float64)
    return v


def _int_like(v: Any) -> bool:
    return isinstance(v, np.ndarray) and v.dtype.kind in "iu" or \
        (isinstance(v, int) and not isinstance(v, bool))


def _exact(fn, a, b):
    """fn(a, b) on columns; integers go through Python's exact arithmetic where int64 might
    overflow (or where Python's int / int and ** differ from numpy's)."""
    if _int_like(a) and _int_like(b):
        ma = _mag(a)
        mb = _mag(b)
        risky = fn in (expr._BINOPS[ast.Pow], expr._BINOPS[ast.Div]) or \
            (fn is expr._BINOPS[ast.Mult] and ma * mb > _INT_LIMIT) or ma + mb > _INT_LIMIT
        if risky:
            return _numeric(np.frompyfunc(fn, 2, 1)(_objects(a), _objects(b)))
    if isinstance(a, np.ndarray) and a.dtype == object or \
            isinstance(b, np.ndarray) and b.dtype == object:
        return _numeric(np.frompyfunc(fn, 2, 1)(_objects(a), _objects(b)))
    return fn(a, b)


def _compare(fn, a, b):
    """A comparison; an int column against a float is exact (Python compares exactly)."""
    if (_int_like(a) and isinstance(b, (float, np.ndarray)) and not _int_like(b)) or \
            (_int_like(b) and isinstance(a, (float, np.ndarray)) and not _int_like(a)):
        if max(_mag(a) if _int_like(a) else 0, _mag(b) if _int_like(b) else 0) > 2 ** 53:
            return np.frompyfunc(fn, 2, 1)(_objects(a), _objects(b)).astype(bool)
    if isinstance(a, np.ndarray) and a.dtype == object or \
            isinstance(b, np.ndarray) and b.dtype == object:
        return np.frompyfunc(fn, 2, 1)(_objects(a), _objects(b)).astype(bool)
    return fn(a, b)


def _mag(v: Any) -> int:
    if isinstance(v, np.ndarray):
        return max(abs(int(v.min())), abs(int(v.max()))) if v.size else 0
    return abs(int(v))


class Pareto:
    """``--pareto mult_adds,params``: the rows not dominated on these columns (smaller is
    better, or larger for a column written ``-name``; a row dominates another when it is no
    worse on every column and better on one). Rows are fed chunk by chunk; only the current
    front is held."""

    def __init__(self, spec: str, columns: Sequence[str], numeric: Sequence[str]):
        names = [c.strip() for c in spec.split(",")]
        if len(names) < 2 or any(not c.lstrip("-") for c in names):
            raise SpecError(f"--pareto expects two or more columns, e.g. mult_adds,params "
                            f"(-name: larger is better); got {spec!r}")
        for c in names:
            if c.lstrip("-") not in columns:
                raise _unknown("--pareto", c.lstrip("-"), list(columns))
            if c.lstrip("-") not in numeric:
                raise SpecError(f"--pareto: column {c.lstrip('-')!r} is not a number")
        if len({c.lstrip("-") for c in names}) != len(names):
            raise SpecError(f"--pareto names a column twice: {spec!r}")
        self.names = names
        self.front: dict[str, list] | None = None

    def add(self, cols: dict[str, Any]) -> None:
        merged = cols if self.front is None else \
            {k: list(self.front[k]) + _list(cols[k]) for k in cols}
        self.front = front(merged, self.names)

    def result(self, columns: Sequence[str]) -> dict[str, list]:
        return self.front if self.front is not None else {k: [] for k in columns}


def _list(v: Any) -> list:
    return v.tolist() if hasattr(v, "tolist") else list(v)


def front(cols: dict[str, Any], names: Sequence[str]) -> dict[str, list]:
    """The non-dominated rows of ``cols`` on ``names``, sorted by those columns."""
    data = {k: _list(v) for k, v in cols.items()}
    keys = {c: [-x for x in data[c[1:]]] if c.startswith("-") else data[c] for c in names}
    n = len(keys[names[0]]) if names else 0
    order = sorted(range(n), key=lambda j: tuple(keys[c][j] for c in names))
    keep_idx: list[int] = []
    if len(names) == 2:                 # sorted by (a, b): dominated iff an earlier row has
        a_col, b_col = keys[names[0]], keys[names[1]]        # a smaller b, or the same b
        best_b = best_a = None                               # with a smaller a
        for j in order:
            a, b = a_col[j], b_col[j]
            if best_b is not None and (best_b < b or (best_b == b and best_a < a)):
                continue
            keep_idx.append(j)
            if best_b is None or b < best_b:
                best_b, best_a = b, a
        return {k: [vals[j] for j in keep_idx] for k, vals in data.items()}
    kept: list[tuple] = []
    for j in order:
        v = tuple(keys[c][j] for c in names)
        dominated = False
        for u in kept:     # lexicographic order: a dominating row comes first
            if all(a <= b for a, b in zip(u, v)) and u != v:
                dominated = True
                break
        if not dominated:
            kept.append(v)
            keep_idx.append(j)
    return {k: [vals[j] for j in keep_idx] for k, vals in data.items()}
