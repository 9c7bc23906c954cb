"""Sweeps: a grid of settings -> exact mult-adds and params at every point.

``costmodel sweep mobilenet_v1 --grid width=1.0,0.75 --grid resolution=224,160`` answers
"what does 0.6x-176 cost?" for any spec, not only the rows a paper printed. A :class:`Plan`
ties the pieces together: the space (:mod:`~costmodel.sweep.space`), the spec compiled once
per structure (:mod:`~costmodel.sweep.compile`), the filters (:mod:`~costmodel.sweep.filters`),
and the chunks mapped over a backend (:mod:`~costmodel.sweep.backends`); the rows go to a
writer (:mod:`~costmodel.sweep.stream`) or, for small sweeps, into a :class:`Sweep`.

Counts follow the project's conventions: mult-adds are conv + linear multiply-accumulates
(bias excluded), params every trainable parameter, weights the conv/linear weights alone,
activations the output elements of every layer, flops_fvcore and flops_full the totals of
those conventions (``costmodel profile --format json``'s totals). ``convention`` and ``batch``
add that convention's total under its profile key (``flops_thop``...) and the batch's count
(``count_at_batch``): see :mod:`~costmodel.sweep.measures`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from costmodel.count.profile import Spec
from costmodel.errors import SpecError
from costmodel.output.tabular import Column, Tabular
from costmodel.sweep import backends as backends_mod
from costmodel.sweep.filters import Pareto, Where
from costmodel.sweep.measures import BATCH_KEY, Measures
from costmodel.sweep.space import CHUNK, MAX_POINTS, Space, parse_grid, resolve_axes
from costmodel.sweep.trace import METRICS

__all__ = ["MAX_POINTS", "METRICS", "Plan", "Point", "Sweep", "matrix", "parse_grid", "run",
           "table"]

# what each metric of a point is (the JSON's "metrics"; "conventions" in profile's JSON names
# the counting conventions themselves)
METRIC_DOCS = {"mult_adds": "conv + linear multiply-accumulates, bias excluded",
               "params": "every trainable parameter",
               "weights": "conv/linear weights only",
               "activations": "output elements of every layer",
               "flops_fvcore": "fvcore.nn.FlopCountAnalysis's rules",
               "flops_full": "every arithmetic operation"}


@dataclass
class Point:
    settings: dict[str, Any]      # the swept and fixed settings of this point
    mult_adds: int
    params: int
    weights: int
    activations: int = 0
    flops_fvcore: int = 0
    flops_full: int = 0
    extra: dict[str, int] = field(default_factory=dict)   # a convention's columns

    def value(self, metric: str) -> int:
        return self.extra[metric] if metric in self.extra else getattr(self, metric)


@dataclass
class Sweep:
    spec: str                     # the model's name (the JSON's "model")
    file: str
    axes: dict[str, list[Any]]    # the grid, values coerced to the settings' types
    fixed: dict[str, Any]
    points: list[Point]
    complete: bool = True         # every point of the grid, in order (no sample or filter)
    filters: dict[str, Any] | None = None
    measures: Measures = field(default_factory=Measures)

    def records(self) -> list[dict]:
        names = self.measures.names
        return [{**{k: p.settings[k] for k in self.axes}, **{m: p.value(m) for m in names}}
                for p in self.points]

    def to_json(self) -> dict:
        out = {"model": self.spec, "file": self.file, "grid": self.axes, "fixed": self.fixed,
               "metrics": {**METRIC_DOCS, **self.measures.describe()}}
        if self.measures.extra:
            out["convention"] = self.measures.convention
            out["batch"] = self.measures.batch
        if self.filters:
            out.update(self.filters)
        out["points"] = self.records()
        return out


class Plan:
    """One sweep, checked before anything runs: bad settings, ranges, columns and sizes are
    SpecErrors naming what is wrong."""

    def __init__(self, source: "str | os.PathLike | Mapping | Spec", grid: Mapping[str, Any],
                 fixed: Mapping[str, Any] | None = None, *, sample: int | None = None,
                 seed: int | None = None, where: str | None = None, pareto: str | None = None,
                 stream: bool = False, compile: bool = True, chunk: int = CHUNK,
                 convention: str | None = None, batch: int = 1):
        self.measures = Measures.of(convention, batch)
        metrics = self.measures.names
        self.spec = Spec.load(source)
        given = dict(fixed or {})
        axes = resolve_axes(self.spec, grid, given)
        resolved = self.spec.settings(given)
        self.fixed = {k: resolved[k] for k in given}
        self.space = Space(axes)
        self.names = self.space.names
        self.columns = [*self.names, *metrics]
        self.types = {a.name: type(a.values[0]) if a.values else str for a in axes}
        self.types.update({m: int for m in metrics})
        self.where = Where(where, [*self.names, *self.fixed, *metrics]) if where else None
        numeric = [c for c, t in self.types.items() if t in (int, float)]
        self.pareto = Pareto(pareto, self.columns, numeric) if pareto else None
        self.indices = self.space.sample(sample, seed) if sample is not None else None
        self.count = len(self.indices) if self.indices is not None else self.space.total
        self.sample, self.seed = sample, seed
        self.stream = stream
        if not stream:
            if sample is None and self.count > MAX_POINTS:
                raise SpecError(f"the grid has {self.count:,} points; the limit is {MAX_POINTS:,} "
                                "without --stream (rows written as they come: --format csv, "
                                "jsonl or parquet) or --sample N")
            if sample is not None and self.count > MAX_POINTS:
                raise SpecError(f"--sample {self.count:,} is more than {MAX_POINTS:,} points "
                                "without --stream")
        source_ref = source if isinstance(source, Mapping) else self.spec.file
        if isinstance(source, Spec):
            source_ref = source.file if os.path.exists(source.file) else dict(source.raw)
        self.job = backends_mod.Job(
            source=source_ref if not isinstance(source_ref, os.PathLike) else str(source_ref),
            axes=tuple((a.name, tuple(a.values)) for a in axes),
            fixed=tuple(self.fixed.items()), where=where,
            pareto=tuple(self.pareto.names) if self.pareto else None,
            compile=compile, chunk=chunk, convention=self.measures.convention,
            batch=self.measures.batch).keyed()
        self.chunk = chunk

    def chunks(self) -> list[backends_mod.Chunk]:
        if self.indices is not None:
            idx = self.indices
            return [backends_mod.Chunk(self.job, indices=tuple(idx[a:a + self.chunk]))
                    for a in range(0, len(idx), self.chunk)]
        return [backends_mod.Chunk(self.job, a, b) for a, b in self.space.ranges(self.chunk)]

    def sizes(self, chunks: list[backends_mod.Chunk]) -> list[int]:
        return [len(c.indices) if c.indices is not None else c.stop - c.start for c in chunks]

    def results(self, backend=None, progress=None) -> Iterator[dict[str, Any]]:
        """The rows, chunk by chunk, in grid order (with --pareto: the front, once, at the
        end). ``progress(points_done)`` is called after each chunk."""
        backend = backend or backends_mod.Serial()
        if isinstance(backend, backends_mod.Serial):
            self._prime()
        chunks = self.chunks()
        sizes = self.sizes(chunks)
        for size, cols in zip(sizes, backend.map(backends_mod.run_chunk, chunks)):
            if progress is not None:
                progress(size)
            if self.pareto is not None:
                self.pareto.add(cols)
                continue
            yield cols
        if self.pareto is not None:
            yield self.pareto.result(self.columns)

    def _prime(self) -> None:
        """In this process, the worker state starts from the already parsed spec."""
        if self.job.key in backends_mod._WORKERS:
            return
        from costmodel.sweep.compile import Compiled
        compiled = Compiled(self.spec, self.names, self.fixed, enabled=self.job.compile,
                            measures=self.measures)
        where = (Where(self.job.where, [*self.names, *self.fixed, *self.measures.names])
                 if self.job.where else None)
        backends_mod._WORKERS[self.job.key] = (self.space, compiled, where)

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sample is not None:
            out["sample"] = {"points": self.sample, "seed": self.seed}
        if self.where is not None:
            out["where"] = self.where.text
        if self.pareto is not None:
            out["pareto"] = self.pareto.names
        return out

    def collect(self, backend=None, progress=None) -> Sweep:
        """Every row in memory (small sweeps: the table, Markdown and JSON formats)."""
        points: list[Point] = []
        for cols in self.results(backend, progress):
            lists = {k: (v.tolist() if hasattr(v, "tolist") else list(v)) for k, v in cols.items()}
            n = len(lists[METRICS[0]])
            for j in range(n):
                settings = {**self.fixed, **{k: lists[k][j] for k in self.names}}
                points.append(Point(settings, *(lists[m][j] for m in METRICS),
                                    extra={m: lists[m][j] for m in self.measures.extra}))
        complete = self.indices is None and self.where is None and self.pareto is None
        return Sweep(self.spec.name, self.spec.file, {a.name: a.values for a in self.space.axes},
                     self.fixed, points, complete, self.filters(), self.measures)


def run(source: "str | os.PathLike | Mapping | Spec", grid: Mapping[str, list[Any]],
        fixed: Mapping[str, Any] | None = None, **options: Any) -> Sweep:
    """Profile the spec at every point of the grid (the cartesian product, first axis
    slowest), in memory. Values may be strings (from the CLI): they are coerced like
    ``--set``; a string ``START:STOP:STEP`` is a range. Options: those of :class:`Plan`."""
    return Plan(source, grid, fixed, **options).collect()


def _m(n: int) -> str:
    return f"{n / 1e6:,.2f}"


def table(sweep: Sweep) -> Tabular:
    """One row per point; with a convention other than the papers', its count beside the
    mult-adds (and with a batch, the batch's count)."""
    from costmodel.count.conventions import CONVENTIONS
    m = sweep.measures
    conv = CONVENTIONS[m.convention]
    counted = [m.key] if m.convention != "paper" else []
    counted += [BATCH_KEY] if m.batch != 1 else []
    heads = {m.key: conv.title, BATCH_KEY: f"{conv.title}, batch {m.batch}"}
    fixed = ", ".join(f"{k}={v}" for k, v in sweep.fixed.items())
    extra_cols = [c for k in counted for c in (Column(heads[k], key=k),
                                               Column(f"{heads[k]} (M)", machine=False))]
    t = Tabular(title=f"{sweep.spec}: sweep over {' x '.join(sweep.axes)}"
                + (f" ({fixed})" if fixed else ""),
                columns=[*(Column(k) for k in sweep.axes), Column("Mult-Adds", key="mult_adds"),
                         Column("Mult-Adds (M)", machine=False), *extra_cols,
                         Column("Params", key="params"),
                         Column("Params (M)", machine=False), Column("Weights", key="weights",
                                                                     drop=1),
                         Column("Weights (M)", machine=False)])
    for p in sweep.points:
        t.add([*(p.settings[k] for k in sweep.axes), p.mult_adds, _m(p.mult_adds),
               *(v for k in counted for v in (p.value(k), _m(p.value(k)))),
               p.params, _m(p.params), p.weights, _m(p.weights)])
    t.notes = ["Mult-Adds: conv + linear multiply-accumulates, bias excluded. Params: every "
               "trainable parameter. Weights: conv/linear weights only (no bias, no batch norm)."]
    if counted:
        t.notes.append(f"{conv.title}: {conv.doc}" + (f" ({conv.peer})" if conv.peer else "")
                       + (f"; per sample, and for the batch of {m.batch}" if m.batch != 1
                          else "; per sample") + ".")
    if sweep.filters:
        t.notes.append("Rows: " + "; ".join(
            f"{k} {v if not isinstance(v, list) else ','.join(v)}" for k, v in sweep.filters.items()))
    return t


def matrix(sweep: Sweep, metric: str = "mult_adds") -> Tabular:
    """A two-axis sweep as a matrix: first axis down, second across; cells in millions."""
    if len(sweep.axes) != 2:
        raise SpecError("a matrix needs exactly two --grid axes")
    if not sweep.complete:
        raise SpecError("a matrix needs every point of the grid (no --sample, --where or --pareto)")
    (a, av), (b, bv) = sweep.axes.items()
    from costmodel.count.conventions import CONVENTIONS
    words = {"mult_adds": "mult-adds", "params": "params", "weights": "weights",
             BATCH_KEY: f"batch of {sweep.measures.batch}"}
    word = words.get(metric) or next(c.title for c in CONVENTIONS.values() if c.key == metric)
    t = Tabular(title=f"{sweep.spec}: {word} (M), {a} down, {b} across",
                columns=[Column(f"{a} \\ {b}", "left"), *(Column(str(v)) for v in bv)])
    it = iter(sweep.points)
    for va in av:
        t.add([str(va), *(_m(next(it).value(metric)) for _ in bv)])
    return t
