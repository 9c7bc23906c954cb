"""Sweeps: a grid of settings -> exact mult-adds and params, one parsed spec profiled per point.

``costmodel sweep specs/mobilenet_v1.yaml --grid width=1.0,0.75 --grid resolution=224,160``
answers "what does 0.6x-176 cost?" for any spec, not only the rows a paper printed. Counts
follow the project's conventions: mult-adds are conv + linear multiply-accumulates (bias
excluded), params every trainable parameter, weights the conv/linear weights alone.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any, Mapping

from costmodel.errors import SpecError
from costmodel.count.profile import Spec
from costmodel.output.tabular import Column, Tabular

MAX_POINTS = 10_000


@dataclass
class Point:
    settings: dict[str, Any]      # every setting of the spec, resolved
    mult_adds: int
    params: int
    weights: int


@dataclass
class Sweep:
    spec: str                     # the spec's name
    file: str
    axes: dict[str, list[Any]]    # the grid, values coerced to the settings' types
    fixed: dict[str, Any]
    points: list[Point]

    def records(self) -> list[dict]:
        return [{**{k: p.settings[k] for k in self.axes}, "mult_adds": p.mult_adds,
                 "params": p.params, "weights": p.weights} for p in self.points]

    def to_json(self) -> dict:
        return {"spec": self.spec, "file": self.file, "grid": self.axes, "fixed": self.fixed,
                "conventions": {"mult_adds": "conv + linear multiply-accumulates, bias excluded",
                                "params": "every trainable parameter",
                                "weights": "conv/linear weights only"},
                "points": self.records()}


def parse_grid(items: list[str] | None) -> dict[str, list[str]]:
    """``["width=1.0,0.5", "resolution=224,160"]`` -> ``{"width": ["1.0", "0.5"], ...}``."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = [v.strip() for v in values.split(",")]
        if not sep or not key or not values.strip() or any(not v for v in vals):
            raise SpecError(f"--grid expects NAME=V1,V2,..., got {item!r}")
        if key in grid:
            raise SpecError(f"--grid {key} is given twice: put all its values in one --grid")
        grid[key] = vals
    if not grid:
        raise SpecError("give at least one --grid NAME=V1,V2,...")
    return grid


def run(source: "str | os.PathLike | Mapping | Spec", grid: Mapping[str, list[Any]],
        fixed: Mapping[str, Any] | None = None) -> Sweep:
    """Profile the spec at every point of the grid (the cartesian product, first axis
    slowest). Values may be strings (from the CLI): they are coerced like ``--set``."""
    spec = Spec.load(source)
    fixed = dict(fixed or {})
    both = set(fixed) & set(grid)
    if both:
        raise SpecError(f"setting {sorted(both)[0]!r} is both fixed (--set) and swept (--grid)")
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        axes[key] = [spec.settings({**fixed, key: v})[key] for v in values]
    total = 1
    for values in axes.values():
        total *= len(values)
    if total > MAX_POINTS:
        raise SpecError(f"the grid has {total:,} points; the limit is {MAX_POINTS:,}")
    points = []
    for combo in itertools.product(*axes.values()):
        p = spec.profile(**fixed, **dict(zip(axes, combo)))
        points.append(Point(dict(p.settings), p.mult_adds, p.params, p.weights))
    return Sweep(spec.name, spec.file, axes, fixed, points)


def _m(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def table(sweep: Sweep) -> Tabular:
    """One row per grid point."""
    fixed = ", ".join(f"{k}={v}" for k, v in sweep.fixed.items())
    t = Tabular(title=f"{sweep.spec}: sweep over {' x '.join(sweep.axes)}"
                + (f" ({fixed})" if fixed else ""),
                columns=[*(Column(k) for k in sweep.axes), Column("Mult-Adds", key="mult_adds"),
                         Column("Mult-Adds (M)", machine=False), Column("Params", key="params"),
                         Column("Params (M)", machine=False), Column("Weights", key="weights",
                                                                     drop=1),
                         Column("Weights (M)", machine=False)])
    for p in sweep.points:
        t.add([*(p.settings[k] for k in sweep.axes), p.mult_adds, _m(p.mult_adds),
               p.params, _m(p.params), p.weights, _m(p.weights)])
    t.notes = ["Mult-Adds: conv + linear multiply-accumulates, bias excluded. Params: every "
               "trainable parameter. Weights: conv/linear weights only (no bias, no batch norm)."]
    return t


def matrix(sweep: Sweep, metric: str = "mult_adds") -> Tabular:
    """A two-axis sweep as a matrix: first axis down, second across; cells in millions."""
    if len(sweep.axes) != 2:
        raise SpecError("a matrix needs exactly two --grid axes")
    (a, av), (b, bv) = sweep.axes.items()
    word = {"mult_adds": "mult-adds", "params": "params", "weights": "weights"}[metric]
    t = Tabular(title=f"{sweep.spec}: {word} (M), {a} down, {b} across",
                columns=[Column(f"{a} \\ {b}", "left"), *(Column(str(v)) for v in bv)])
    it = iter(sweep.points)
    for va in av:
        t.add([str(va), *(_m(getattr(next(it), metric)) for _ in bv)])
    return t
