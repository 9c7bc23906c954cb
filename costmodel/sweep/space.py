"""The space a sweep walks: axes (a setting and its values, from lists and ranges), their
cartesian product (first axis slowest), blocks of it to evaluate at once, and random samples.

``--grid width=0.25:1.5:0.05`` is a range: start, stop (included when a step lands on it) and
a positive step, computed in decimal so 0.25 + 3 x 0.05 is 0.4, not 0.40000000000000002.
Values and ranges mix: ``--grid resolution=96:224:32,320``.
"""
from __future__ import annotations

import difflib
import random
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from math import prod
from typing import Any, Iterator, Mapping, Sequence

from costmodel.count.profile import Spec
from costmodel.errors import SpecError
from costmodel.spec.settings import coerce_setting, declared

try:
    import numpy as np
except ImportError:                     # pragma: no cover
    np = None

MAX_POINTS = 10_000          # a sweep held in memory (table, Markdown, JSON) without --sample
MAX_TOTAL = 10 ** 10         # any sweep, streamed or not
MAX_AXIS = 10 ** 7           # values of one axis
CHUNK = 32_768               # points evaluated at once


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``["width=1.0,0.5", "resolution=96:224:32"]`` -> ``{"width": ["1.0", "0.5"],
    "resolution": ["96:224:32"]}`` (ranges are expanded against the setting's type)."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = [v.strip() for v in values.split(",")]
        if not sep or not key or not values.strip() or any(not v for v in vals):
            raise SpecError(f"--grid expects NAME=V1,V2,... or NAME=START:STOP:STEP, got {item!r}")
        if key in grid:
            raise SpecError(f"--grid {key} is given twice: put all its values in one --grid")
        grid[key] = vals
    if not grid:
        raise SpecError("give at least one --grid NAME=V1,V2,... (or NAME=START:STOP:STEP)")
    return grid


def _range(name: str, text: str, default: Any) -> list[Any]:
    parts = [p.strip() for p in text.split(":")]
    if len(parts) != 3 or not all(parts):
        raise SpecError(f"--grid {name}: a range is START:STOP:STEP, got {text!r}")
    if isinstance(default, bool) or not isinstance(default, (int, float)):
        raise SpecError(f"--grid {name}: setting {name!r} is not a number; list its values "
                        "instead of a range")
    try:
        start, stop, step = (Decimal(p) for p in parts)
    except InvalidOperation:
        raise SpecError(f"--grid {name}: range {text!r} must be three numbers") from None
    if not all(d.is_finite() for d in (start, stop, step)):
        raise SpecError(f"--grid {name}: range {text!r} must be three finite numbers")
    if step <= 0:
        raise SpecError(f"--grid {name}: the range's step must be positive, got {parts[2]}")
    if stop < start:
        raise SpecError(f"--grid {name}: the range's stop {parts[1]} is below its start {parts[0]}")
    count = int((stop - start) / step) + 1
    if count > MAX_AXIS:
        raise SpecError(f"--grid {name}: the range has {count:,} values; the limit is {MAX_AXIS:,}")
    if isinstance(default, int):
        if any(d != d.to_integral_value() for d in (start, step)):
            raise SpecError(f"--grid {name}: setting {name!r} is an integer; the range "
                            f"{text!r} must have an integer start and step")
        return [int(start + i * step) for i in range(count)]
    return [float(start + i * step) for i in range(count)]


@dataclass
class Axis:
    name: str
    values: list[Any]              # of the setting's type, in the order given


def resolve_axes(spec: Spec, grid: Mapping[str, Sequence[Any]],
                 fixed: Mapping[str, Any] | None = None) -> list[Axis]:
    """The grid's axes with values coerced to the settings' types (and checked against
    their ``choices``); errors name the setting."""
    fixed = dict(fixed or {})
    both = set(fixed) & set(grid)
    if both:
        raise SpecError(f"setting {sorted(both)[0]!r} is both fixed (--set) and swept (--grid)")
    spec.settings(fixed)                                   # unknown/ill-typed --set first
    decls = declared(spec.model)
    axes = []
    for name, raw in grid.items():
        if name not in decls:
            close = difflib.get_close_matches(name, list(decls), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"unknown setting {name!r}{hint}; {spec.name} declares: "
                            f"{', '.join(decls) or 'none'}", file=spec.file)
        decl = decls[name]
        values: list[Any] = []
        for v in raw:
            if isinstance(v, str) and v.count(":") == 2:
                values.extend(_range(name, v, decl.default))
            else:
                values.append(v)
        out, seen = [], set()
        for v in values:
            try:
                c = coerce_setting(name, decl, v)
            except SpecError as exc:
                raise exc.located(file=spec.file) from None
            key = (type(c), c)
            if key not in seen:                              # 1.0 and 1 are one value
                seen.add(key)
                out.append(c)
        if len(out) > MAX_AXIS:
            raise SpecError(f"--grid {name}: {len(out):,} values; the limit is {MAX_AXIS:,}")
        axes.append(Axis(name, out))
    return axes


@dataclass
class Block:
    """Points evaluated together: ``arrays`` are numpy arrays that broadcast to ``shape``
    (a block of a grid keeps each axis at its own size, so a formula of one setting is
    computed once per value), ``size`` points in grid order."""
    names: list[str]
    shape: tuple[int, ...]
    arrays: dict[str, Any]

    @property
    def size(self) -> int:
        return prod(self.shape)

    def columns(self) -> dict[str, list[Any]]:
        """Each setting's value at every point, in order (Python values)."""
        if np is None:                  # pragma: no cover - flat lists already
            return {k: list(v) for k, v in self.arrays.items()}
        return {k: np.broadcast_to(v, self.shape).reshape(-1).tolist()
                for k, v in self.arrays.items()}


class Space:
    """The cartesian product of the axes (first axis slowest)."""

    def __init__(self, axes: list[Axis]):
        self.axes = axes
        self.names = [a.name for a in axes]
        self.sizes = [len(a.values) for a in axes]
        self.total = prod(self.sizes)
        if self.total > MAX_TOTAL:
            raise SpecError(f"the grid has {self.total:,} points; the limit is {MAX_TOTAL:,} "
                            "(even streamed)")
        self._arrays = [_array(a.values) for a in axes]

    def point(self, index: int) -> dict[str, Any]:
        out = {}
        for a, size in zip(reversed(self.axes), reversed(self.sizes)):
            index, i = divmod(index, size)
            out[a.name] = a.values[i]
        return {k: out[k] for k in self.names}

    def _inner(self, chunk: int) -> int:
        """How many axes lead (q): the trailing axes after them fit in one chunk."""
        q = len(self.axes)
        while q > 0 and prod(self.sizes[q - 1:]) <= chunk:
            q -= 1
        return q

    def ranges(self, chunk: int = CHUNK) -> list[tuple[int, int]]:
        """[start, stop) ranges of about ``chunk`` points that ``blocks`` can evaluate: the
        independent tasks of a parallel sweep."""
        q = self._inner(chunk)
        inner = prod(self.sizes[q:]) if q < len(self.axes) else 1
        step = max(1, chunk // inner) * inner if q < len(self.axes) else chunk
        return [(a, min(a + step, self.total)) for a in range(0, self.total, step)]

    def blocks(self, chunk: int = CHUNK, start: int = 0, stop: int | None = None) -> Iterator[Block]:
        """Blocks covering points [start, stop) in order (start and stop from ``ranges``)."""
        stop = self.total if stop is None else stop
        if np is None:                  # pragma: no cover - point by point
            for a in range(start, stop, chunk):
                yield self.block_of(range(a, min(a + chunk, stop)))
            return
        d = len(self.axes)
        q = self._inner(chunk)
        inner = prod(self.sizes[q:])
        inner_shape = tuple(self.sizes[q:])
        k = max(1, chunk // inner) if q < d else chunk
        # inner axes: their whole value arrays, each on its own dimension
        inner_arrays = {}
        for j in range(q, d):
            shape = [1] * (1 + d - q)
            shape[1 + j - q] = self.sizes[j]
            inner_arrays[self.names[j]] = self._arrays[j].reshape(shape)
        if q == d:
            inner, inner_shape = 1, ()
        pos = start
        while pos < stop:
            if pos % inner or (stop - pos) < inner:
                raise AssertionError("blocks start on whole inner grids")
            o0 = pos // inner
            o1 = min(o0 + k, stop // inner)
            outer = np.arange(o0, o1)
            arrays = dict(inner_arrays)
            rest = outer
            for j in range(q - 1, -1, -1):
                rest, i = np.divmod(rest, self.sizes[j])
                arrays[self.names[j]] = self._arrays[j][i].reshape((-1,) + (1,) * (d - q))
            yield Block(self.names, (o1 - o0, *inner_shape), {n: arrays[n] for n in self.names})
            pos = o1 * inner

    def block_of(self, indices: Sequence[int]) -> Block:
        """The points of these flat indices (a sample), in the order given."""
        if np is None:                  # pragma: no cover
            pts = [self.point(i) for i in indices]
            return Block(self.names, (len(pts),), {n: [p[n] for p in pts] for n in self.names})
        idx = np.asarray(indices, dtype=np.int64)
        arrays = {}
        rest = idx
        for j in range(len(self.axes) - 1, -1, -1):
            rest, i = np.divmod(rest, self.sizes[j])
            arrays[self.names[j]] = self._arrays[j][i]
        return Block(self.names, (len(idx),), {n: arrays[n] for n in self.names})

    def sample(self, n: int, seed: int | None) -> list[int]:
        """n distinct points drawn uniformly (flat indices, sorted: grid order)."""
        if n < 1:
            raise SpecError(f"--sample must be at least 1, got {n}")
        if n > self.total:
            raise SpecError(f"--sample {n:,} is more than the {self.total:,} points of the grid")
        return sorted(random.Random(seed).sample(range(self.total), n))


def _array(values: list[Any]):
    if np is None:                      # pragma: no cover
        return values
    if values and all(type(v) is int for v in values) and \
            all(-2 ** 62 < v < 2 ** 62 for v in values):
        return np.array(values, dtype=np.int64)
    if values and all(type(v) is float for v in values):
        return np.array(values, dtype=np.float64)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr
