"""``verify --all``'s execution: many (spec, settings) runs, each an independent build + trace,
mapped over the sweep's backends (this process, local worker processes, Ray tasks: see
:mod:`costmodel.sweep.backends`).

Runs whose networks are identical (the same layers, attributes and shapes: a variant whose
settings do not change the network, a spec that re-declares another) are traced once; each
of them gets that result under its own name and settings.
"""
from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Callable

from costmodel.count.profile import Profile, Spec
from costmodel.errors import SpecError


@dataclass(frozen=True)
class Run:
    """One trace to make (plain data: it travels to the workers)."""
    file: str
    settings: tuple                      # ((name, value), ...)
    threads: int = 1                     # torch threads of the worker
    peers: bool = False                  # also run every peer (verify --all --peers)


def fingerprint(p: Profile) -> str:
    """Equal for two profiles exactly when their networks (hence their traces) are equal."""
    h = hashlib.sha1(repr(p.input_shape).encode())
    for l in p.layers:
        h.update(repr((l.name, l.op, sorted(l.attrs.items()), l.input_shape, l.output_shape,
                       l.input_shapes)).encode())
    return h.hexdigest()


# A layer costs the tracers about as much as this many mult-adds (measured here: 1.5 ms per
# layer, against 0.25 ns per mult-add for the real forward passes); orders the runs only.
TRACE_MULT_ADDS_PER_LAYER = 6_000_000

_SPECS: dict[str, Spec] = {}
_THREADS: list[int] = []


def prepare_worker() -> None:
    """What every worker of ``verify --all`` does first: import the tracers, and move
    everything imported out of the garbage collector's way (``gc.freeze``). (Each run drops
    the tracer's source locations itself: :func:`verify_run` also runs in this process and as
    Ray tasks.)"""
    import torch  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401
    try:
        import fvcore.nn  # noqa: F401
    except ImportError:      # verify_run says so, per run
        pass
    from costmodel.torch import crosscheck, tracing  # noqa: F401
    gc.freeze()


def verify_run(run: Run) -> tuple[Any, str | None]:
    """(Verification, None), or (None, the error) for one run; the worker-side function."""
    import torch
    from costmodel.torch.crosscheck import verify_profile
    from costmodel.torch.tracing import drop_source_locations
    drop_source_locations()      # this worker's traces only; see costmodel.torch.tracing
    if _THREADS != [run.threads]:
        torch.set_num_threads(run.threads)
        _THREADS[:] = [run.threads]
    try:
        spec = _SPECS.get(run.file)
        if spec is None:
            spec = _SPECS[run.file] = Spec.load(run.file)
        p = spec.profile(**dict(run.settings))
        gc.disable()         # a trace allocates many small objects and frees them by refcount:
        try:                 # the collector's passes over them cost 3 to 10% (measured here)
            r = verify_profile(p)
        finally:
            gc.enable()
        if run.peers:
            from costmodel.torch.peers import check_peers
            r.peers = check_peers(p)
        return r, None
    except SpecError as exc:
        return None, str(exc)


def verify_many(jobs: list[tuple], backend, progress: Callable[[str, int], None] | None = None,
                peers: bool = False) -> list[tuple]:
    """``jobs``: (file, spec, settings, error) as listed by verify --all; returns (file,
    settings, Verification or None, error) in the same order. ``progress(label, runs)`` after
    each trace (``runs``: how many jobs it answers). ``peers``: every run also runs the real
    peers (``Verification.peers``)."""
    results: list[list] = []
    groups: dict[str, list[int]] = {}            # fingerprint -> indices of its jobs
    profiles: dict[int, Profile] = {}
    for i, (f, spec, settings, error) in enumerate(jobs):
        results.append([f, settings, None, error])
        if error is not None:
            continue
        try:
            p = spec.profile(**settings)
        except SpecError as exc:
            results[i][3] = str(exc)
            continue
        profiles[i] = p
        groups.setdefault(fingerprint(p), []).append(i)
    threads = max(1, (os.cpu_count() or 1) // max(1, getattr(backend, "workers", 1)))
    # The costliest traces first, so that no worker is left tracing a large network alone at
    # the end (the cost grows with the layers, which the tracer walks, and the mult-adds).
    order = sorted(groups.values(), key=lambda idx: -(profiles[idx[0]].mult_adds
                                                      + TRACE_MULT_ADDS_PER_LAYER
                                                      * len(profiles[idx[0]].layers)))
    runs = [Run(str(jobs[idx[0]][0]), tuple(jobs[idx[0]][2].items()), threads, peers)
            for idx in order]
    skipped = sum(1 for r in results if r[3] is not None)
    if progress is not None and skipped:
        progress("", skipped)
    for idx, (r, error) in zip(order, backend.map(verify_run, runs)):
        for i in idx:
            if error is not None:
                results[i][3] = error
            else:
                p = profiles[i]
                results[i][2] = r if i == idx[0] else \
                    dataclasses.replace(r, model=p.model, file=p.file, settings=dict(p.settings))
        if progress is not None:
            f, _, settings, _ = jobs[idx[0]]
            progress(f"{os.path.basename(str(f))} {', '.join(f'{k}={v}' for k, v in settings.items())}",
                     len(idx))
    return [tuple(r) for r in results]
