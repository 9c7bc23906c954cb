"""Where a sweep's chunks run: in this process, in local worker processes (``--jobs N``), or
as Ray tasks (``--backend ray [--address ...]``, the ``ray`` extra). Every backend maps the
same function, :func:`run_chunk`, over the same chunks and yields the results in order, so
the rows (and their order) do not depend on where they were computed.

``verify --all`` uses the same backends with its own per-model function.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from costmodel import extras
from costmodel.errors import SpecError


# --- the chunk function -------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """What every chunk of one sweep shares (plain data: it travels to the workers)."""
    source: Any                          # a spec file's path, or a spec as a dict
    axes: tuple                          # ((name, (values...)), ...)
    fixed: tuple                         # ((name, value), ...)
    where: str | None = None
    pareto: tuple | None = None
    compile: bool = True
    chunk: int = 32_768
    convention: str = "paper"            # the convention's column (measures.Measures)
    batch: int = 1
    key: str = field(default="", compare=False)

    def keyed(self) -> "Job":
        text = json.dumps([self.source, self.axes, self.fixed, self.where, self.pareto,
                           self.compile, self.chunk, self.convention, self.batch],
                          default=repr, sort_keys=True)
        return Job(self.source, self.axes, self.fixed, self.where, self.pareto, self.compile,
                   self.chunk, self.convention, self.batch,
                   hashlib.sha1(text.encode()).hexdigest())

    @property
    def measures(self):
        from costmodel.sweep.measures import Measures
        return Measures(self.convention, self.batch)


@dataclass(frozen=True)
class Chunk:
    job: Job
    start: int = 0
    stop: int = 0
    indices: tuple | None = None         # a sample's points instead of [start, stop)


_WORKERS: dict[str, Any] = {}            # job key -> (space, compiled, where): one per process


def _worker(job: Job):
    hit = _WORKERS.get(job.key)
    if hit is None:
        from costmodel.count.profile import Spec
        from costmodel.sweep.compile import Compiled
        from costmodel.sweep.filters import Where
        from costmodel.sweep.space import Axis, Space
        spec = Spec.load(job.source)
        space = Space([Axis(n, list(v)) for n, v in job.axes])
        compiled = Compiled(spec, space.names, dict(job.fixed), enabled=job.compile,
                            measures=job.measures)
        where = (Where(job.where, [*space.names, *dict(job.fixed), *job.measures.names])
                 if job.where else None)
        if len(_WORKERS) > 8:
            _WORKERS.clear()
        hit = _WORKERS[job.key] = (space, compiled, where)
    return hit


def run_chunk(chunk: Chunk) -> dict[str, Any]:
    """The rows of one chunk: the swept settings and the totals, after ``where``; with
    ``pareto``, only the chunk's own front (the caller merges the fronts)."""
    from costmodel.sweep.filters import front
    space, compiled, where = _worker(chunk.job)
    if chunk.indices is not None:
        blocks = [space.block_of(chunk.indices)]
    else:
        blocks = space.blocks(chunk.job.chunk, chunk.start, chunk.stop)
    parts = []
    for block in blocks:
        counts = compiled.evaluate(block)
        cols = {**block.columns(), **counts}
        n = block.size
        if where is not None:
            env = dict(cols)
            for k, v in chunk.job.fixed:
                env[k] = v
            mask = where.mask(_as_arrays(env), n)
            cols = _select(cols, mask)
        parts.append(cols)
    out = _concat(parts, [*space.names, *chunk.job.measures.names])
    if chunk.job.pareto:
        out = front(out, list(chunk.job.pareto))
    return out


def _as_arrays(cols: dict[str, Any]) -> dict[str, Any]:
    try:
        import numpy as np
    except ImportError:                 # pragma: no cover
        return cols
    from costmodel.sweep.space import _array
    return {k: v if isinstance(v, np.ndarray) else (_array(v) if isinstance(v, list) else v)
            for k, v in cols.items()}


def _select(cols: dict[str, Any], mask) -> dict[str, Any]:
    out = {}
    for k, v in cols.items():
        if hasattr(v, "dtype"):
            out[k] = v[mask]
        else:
            out[k] = [x for x, keep in zip(v, mask) if keep]
    return out


def _concat(parts: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for k in names:
        vals = [p[k] for p in parts]
        if all(hasattr(v, "dtype") for v in vals):
            import numpy as np
            out[k] = np.concatenate(vals)
        else:
            out[k] = [x for v in vals for x in (v.tolist() if hasattr(v, "tolist") else v)]
    return out


# --- backends -----------------------------------------------------------------------------

class Serial:
    """This process."""
    name = "local"
    workers = 1

    def map(self, fn: Callable, items: Iterable) -> Iterator:
        return map(fn, items)

    def close(self) -> None:
        pass


class Processes:
    """Local worker processes, results in order, a bounded number of chunks in flight."""
    name = "local"

    def __init__(self, jobs: int, prepare: Callable[[], None] | None = None):
        self.workers = jobs
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method),
                                        initializer=prepare)
        if prepare is not None:
            # Start the workers now, so that their preparation (verify's: importing torch and
            # fvcore, 3 s here) overlaps the caller's own work before its first item.
            self.pool.submit(_nothing)

    def map(self, fn: Callable, items: Iterable) -> Iterator:
        pending: deque = deque()
        for item in items:
            pending.append(self.pool.submit(fn, item))
            if len(pending) >= 2 * self.workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class Ray:
    """Ray tasks on a cluster (``address``), or on a Ray started here when no address is
    given. Results in order, a bounded number of tasks in flight."""
    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        extras.need("ray", "--backend ray")
        import ray
        self.ray = ray
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(address=address, log_to_driver=False,
                             runtime_env={"env_vars": _pythonpath()})
                else:
                    ray.init(num_cpus=num_cpus, log_to_driver=False, include_dashboard=False,
                             runtime_env={"env_vars": _pythonpath()})
            except Exception as exc:     # ConnectionError, RuntimeError, ValueError...
                where = f"at --address {address}" if address else "started here"
                raise SpecError(f"--backend ray: no Ray cluster {where} "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                                ) from None
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote: dict[Callable, Any] = {}

    def map(self, fn: Callable, items: Iterable) -> Iterator:
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = self.ray.remote(fn)
        pending: deque = deque()
        for item in items:
            pending.append(remote.remote(item))
            if len(pending) >= 2 * self.workers:
                yield self.ray.get(pending.popleft())
        while pending:
            yield self.ray.get(pending.popleft())

    def close(self) -> None:
        pass


def _pythonpath() -> dict[str, str]:
    """Ray workers import costmodel the way this process does."""
    import costmodel
    root = os.path.dirname(os.path.dirname(os.path.abspath(costmodel.__file__)))
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": root + (os.pathsep + path if path else "")}


def _nothing() -> None:
    return None


def backend(name: str = "local", jobs: int = 1, address: str | None = None,
            prepare: Callable[[], None] | None = None):
    """The backend named on the command line. ``prepare``: run once in every local worker
    process as it starts, and the workers started at once (ignored in this process and by
    Ray)."""
    if name == "ray":
        return Ray(address)
    if address:
        raise SpecError("--address needs --backend ray")
    if name != "local":
        raise SpecError(f"unknown --backend {name!r}; backends: local, ray")
    if jobs < 1:
        raise SpecError(f"--jobs must be at least 1, got {jobs}")
    return Serial() if jobs == 1 else Processes(jobs, prepare)
