"""Timing rounds, each in a fresh process, each job in a fresh child of it.

Why. A network's time depends on where its tensors landed in physical memory, and that is
fixed for the life of a process: the allocator reuses what it freed (bench.steady_allocator),
so the same pages come back in every round. Measured on this project's 2-core Xeon, the same
network timed twice in one process agreed within 2%, and in six fresh processes its fastest
30 ms window ranged over 9.8-10.9 ms (ResNet-110 for CIFAR), 7.5-9.2 ms (GhostNet's VGG-16
for CIFAR) and 3.87-4.03 ms (MobileNetV3-Small 0.75): rounds in one process cannot average
that away, and two 5-round benchmark runs agreed within 5% on only 34 of their 50
configurations. So calibration and the latency benchmark time every round in a new process
and keep, per network, the median over the rounds of its time in each round (its ratio to the
reference network timed beside it, below; the median over processes estimates the time a
user's process sees, not the luckiest placement).

And a job's time depends on what ran before it. Timing the benchmark's 50 networks one after
another in one process, in their order and then reversed, the first ten ran 5% faster
(median) first than last. So the worker imports torch, runs only tiny warm-up networks
itself, and runs each job in a child forked from it (where the platform has ``fork``): every
job starts from the same process state, with a placement of its own. The jobs before still
matter through the machine (its caches, its free memory): in forked children, the 50
networks timed in a fixed order ran 6% slower (median) than shuffled. So the callers shuffle every round's jobs
(``calibrate.round_order``), and the benchmark times its networks shuffled in with the
calibration's, each seeing the same conditions.

And the machine's speed moves during a round, in phases as long as a round: so each job is
timed against the reference network (``costmodel.latency.drift``), built once in the worker
before it forks (at one thread), its windows alternating with the job's.

And the worker's own time between jobs is kept short, without changing what is timed: a child
builds its network with its values from a pool (``init: "pooled"``,
:mod:`costmodel.torch.pooled_init`: torch's initialisers draw each value one by one, over
half of a build's time), and the worker forks the next child as soon as the previous one has
reported, so that the previous one's exit (its memory handed back: 6 ms a job here) overlaps
the next one's build; the next child waits, built and warmed up, until the previous one is
gone, then times.

Protocol. The parent writes one JSON object to the worker's standard input: ``threads`` and
``jobs``, each ``{"spec": a zoo name or a spec dict, "settings": {...}, "budget_s",
"window_s", "median": bool, "per_layer": bool, "reference": bool, "init": "pooled" or
"torch"}``; the worker (``python -m
costmodel.latency.rounds``) runs the jobs one at a time, each in a forked child that builds,
warms up and times it, then exits, and writes one JSON line per job: ``{"i", "pid" (the
process that ran it), "torch" (its version), "build_s" (the seconds its module took to build,
never part of a timing), "windows": [seconds per call of each window]}``,
with ``"reference"`` (the reference's windows, one before, between and after the job's) and
``"ratio"`` (``drift.ratio``) for a job timed against it, ``"median"`` (the median pass,
``bench.measure``) and ``"layers"`` (its per-layer hook timings) when asked.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from costmodel.latency import bench, drift

MEDIAN_PASSES = (3, 50)     # the median pass's timed calls, sized by the round's fastest window


INITS = ("pooled", "torch")     # where a job's weights come from: the pool, or torch's generator


def job(spec, settings: dict | None = None, budget_s: float = 0.1, window_s: float | None = None,
        median: bool = False, per_layer: bool = False, reference: bool = True,
        init: str = "pooled") -> dict:
    """One job of a round (the module doc's protocol); ``window_s`` defaults to
    ``drift.WINDOW_S`` for a job timed against the reference, ``bench.WINDOW_S`` otherwise."""
    if window_s is None:
        window_s = drift.WINDOW_S if reference else bench.WINDOW_S
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    return {"spec": spec, "settings": settings or {}, "budget_s": budget_s,
            "window_s": window_s, "median": median, "per_layer": per_layer,
            "reference": reference, "init": init}


def run_round(jobs: list[dict], threads: int, on_result=None) -> list[dict]:
    """Time ``jobs`` in a new worker process; ``on_result(i, result)`` as each one ends."""
    pkg_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
    results: list[dict | None] = [None] * len(jobs)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as err:
        proc = subprocess.Popen([sys.executable, "-m", "costmodel.latency.rounds"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, encoding="utf-8")
        try:
            proc.stdin.write(json.dumps({"threads": threads, "jobs": jobs}))
            proc.stdin.close()
            for line in proc.stdout:
                r = json.loads(line)
                results[r["i"]] = r
                if on_result:
                    on_result(r["i"], r)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if code != 0 or any(r is None for r in results):
            err.seek(0)
            tail = err.read()[-2000:].strip()
            raise RuntimeError(f"the timing worker (python -m costmodel.latency.rounds) exited "
                               f"with status {code}: {tail or 'no message'}")
    return results


def _one(i: int, j: dict, n_threads: int, ref=None, pooled=None, ready=None) -> dict:
    """Build, warm up and time one job (in the process that calls it); ``ref``: the reference
    network's forward pass, for a job that asks to be timed against it; ``pooled``: the
    worker's :class:`~costmodel.torch.pooled_init.PooledInit`, for a job built from the pool;
    ``ready()``: called once built and warmed up, returns when the timing may start."""
    import contextlib

    import torch

    from costmodel.count.profile import Spec
    from costmodel.latency import drift
    from costmodel.latency.bench import measure, threads, time_call, window_means
    from costmodel.torch.builder import build, example_input
    p = Spec.load(j["spec"]).profile(**j["settings"])
    use_ref = j.get("reference", False)
    values = pooled if j.get("init", "torch") == "pooled" else None
    with threads(n_threads), torch.inference_mode():
        if use_ref and ref is None:
            ref = _reference()
        start = time.perf_counter()
        with values or contextlib.nullcontext():
            net = build(p.root)
        build_s = time.perf_counter() - start
        x = example_input(p.input_shape, 1)
        time_call(lambda: net(x), 0, 1)                          # warm-up
        if ready:
            ready()
        if use_ref:
            windows, refs = drift.paired_windows(lambda: net(x), ref, j["budget_s"], j["window_s"])
        else:
            windows = window_means(lambda: net(x), j["budget_s"], j["window_s"])
    del net, x
    r = {"i": i, "pid": os.getpid(), "torch": torch.__version__, "build_s": build_s,
         "windows": windows}
    if use_ref:
        r["reference"] = refs
        r["ratio"] = drift.ratio(windows, refs)
    if j["median"]:
        lo, hi = MEDIAN_PASSES
        repeat = max(lo, min(hi, int(j["budget_s"] / max(min(windows), 1e-4))))
        m = measure(p, n_threads, repeat, 1, per_layer=j["per_layer"])
        r["median"] = m.totals["time_s"]
        if j["per_layer"]:
            r["layers"] = m.layers
    return r


def _reference():
    """The reference network (``synthetic.REFERENCE``), built and warmed up: its forward pass
    as a function of nothing."""
    import torch

    from costmodel.count.profile import Spec
    from costmodel.latency.synthetic import REFERENCE
    from costmodel.torch.builder import build, example_input
    p = Spec.load(REFERENCE.spec).profile()
    with torch.inference_mode():
        net, x = build(p.root), example_input(p.input_shape, 1)
        for _ in range(10):
            net(x)
    return lambda: net(x)           # called in inference mode, as the job's own passes


class _Child:
    """One job in a child forked from this process, which has imported torch and run only the
    tiny warm-up networks: every job starts from the same process state (see the module doc).
    The child builds and warms up at once, then waits for ``run`` (the parent's go) to time;
    ``reap`` waits for its exit."""

    def __init__(self, i: int, j: dict, n_threads: int, ref=None, pooled=None):
        self.i = i
        result_r, result_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:                                   # the child: one job, then exit
            os.close(result_r)
            os.close(go_w)
            code = 1
            try:
                def ready():
                    if not os.read(go_r, 1):           # the parent is gone
                        os._exit(1)
                res = _one(i, j, n_threads, ref, pooled, ready)
                with os.fdopen(result_w, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(res))
                code = 0
            except BaseException:                      # noqa: BLE001 - reported by the parent
                import traceback
                traceback.print_exc()
                sys.stderr.flush()
            finally:
                os._exit(code)
        os.close(result_w)
        os.close(go_r)
        self.pid, self._result, self._go = pid, result_r, go_w
        self.status: int | None = None

    def run(self) -> dict:
        """Let the child time (it has built its network meanwhile) and return its result."""
        try:
            os.write(self._go, b"1")
        except BrokenPipeError:                        # it failed before it was ready
            pass
        finally:
            os.close(self._go)
        with os.fdopen(self._result, encoding="utf-8") as fh:
            data = fh.read()
        if not data:
            self.reap()                                # raises where the child failed
            raise self._failed()
        return json.loads(data)

    def reap(self) -> None:
        """Wait for the child's exit; a RuntimeError if it failed."""
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        if self.status:
            raise self._failed()

    def _failed(self) -> RuntimeError:
        return RuntimeError(f"job {self.i} failed in its child process (wait status {self.status})")


def _run_forked(jobs: list[dict], n_threads: int, ref, pooled, out) -> None:
    """Each job in a child of its own, the next one forked as soon as the previous one has
    reported: the previous one's exit overlaps the next one's build, and is over before the
    next one times (it waits until ``reap`` returns)."""
    previous = None
    for i, j in enumerate(jobs):
        child = _Child(i, j, n_threads, ref, pooled)
        if previous is not None:
            previous.reap()
        out.write(json.dumps(child.run()) + "\n")
        out.flush()
        previous = child
    if previous is not None:
        previous.reap()


def _warm_up() -> None:
    """Run the tiny calibration networks once, at one thread, so that torch's one-time set-up
    (its kernels' first calls) is done in the parent and each forked child skips it (at one
    thread no thread pool starts, so forking after it is safe)."""
    import torch

    from costmodel.count.profile import Spec
    from costmodel.latency.bench import threads
    from costmodel.latency.synthetic import networks
    from costmodel.torch.builder import build, example_input
    with threads(1), torch.inference_mode():
        for n in networks(True):
            if n.family == "tiny":
                p = Spec.load(n.spec).profile()
                build(p.root)(example_input(p.input_shape, 1))


def _work(request: dict, out) -> None:
    # imported once here, before forking: each child starts warm
    import torch  # noqa: F401

    import costmodel.count.profile  # noqa: F401
    import costmodel.torch.builder  # noqa: F401
    from costmodel.latency.bench import steady_allocator, threads
    steady_allocator()
    n_threads = request["threads"]
    forked = hasattr(os, "fork")
    ref = pooled = None
    if any(j.get("init") == "pooled" for j in request["jobs"]):
        from costmodel.torch.pooled_init import PooledInit
        with threads(1):            # no thread pool started before forking (below)
            pooled = PooledInit()   # made once, before forking: the children share its pages
    if any(j.get("reference") for j in request["jobs"]) and (not forked or n_threads == 1):
        # built once, before forking: every child times the same one (at more threads, running
        # it here would start the thread pool, which a fork does not survive: each child then
        # builds its own)
        with threads(n_threads):
            ref = _reference()
    if not forked:
        for i, j in enumerate(request["jobs"]):
            out.write(json.dumps(_one(i, j, n_threads, ref, pooled)) + "\n")
            out.flush()
        return
    if n_threads == 1:
        _warm_up()
    import gc
    gc.freeze()     # the children's collections then leave the parent's objects (and pages) alone
    _run_forked(request["jobs"], n_threads, ref, pooled, out)


if __name__ == "__main__":
    _work(json.load(sys.stdin), sys.stdout)
