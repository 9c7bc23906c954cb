"""Measured latency of the module built from a spec (torch eager, CPU): warm-up, then the
median and spread of repeated runs, in total and per layer (forward hooks on each layer's
module). Measured, never predicted: every result names the machine, torch, threads and batch.
Needs the `torch` extra (imported inside the functions that run torch)."""
from __future__ import annotations

import os
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from costmodel.count.profile import Profile
from costmodel.errors import SpecError

MAX_REPEAT = 10_000


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine() -> dict:
    import torch
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "platform": platform.platform(),
            "allocator": _ALLOCATOR[0]}


# glibc's malloc hands blocks above its mmap threshold to mmap and gives them back on free, and
# trims the heap top above its trim threshold; both thresholds start low (128 KiB) and rise
# with the largest block freed so far. So what a process ran before changes a measurement:
# measured on an Intel Xeon, a chain of four MobileNetV2 blocks (1.8 MB activations) took
# 14.3 ms a pass in a fresh process, page-faulting its activations in every pass, and 5.9 ms
# after a larger network had run. Every measurement here first fixes the allocator in its
# steady state (no mmap, no trimming: freed memory is reused, never returned), the state a
# long-running process reaches anyway, so a result does not depend on the process's history.
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
_ALLOCATOR = ["default"]


def steady_allocator() -> str:
    """Fix glibc's allocator in its steady state for this process (see above); a no-op where
    the C library has no ``mallopt`` (then the allocator is described as 'default')."""
    if _ALLOCATOR[0] != "default":
        return _ALLOCATOR[0]
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):     # no C library to open (Windows) or no mallopt
        return _ALLOCATOR[0]
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1:
        _ALLOCATOR[0] = "glibc, steady (no mmap, no trim)"
    return _ALLOCATOR[0]


@contextmanager
def threads(n: int | None):
    """Run with ``n`` intra-op threads (restored afterwards)."""
    if n is None:
        yield
        return
    import torch
    if not 1 <= n <= 4096:
        raise SpecError(f"--threads must be from 1 to 4096, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def quantiles(values: list[float]) -> dict:
    v = sorted(values)
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    med = statistics.median(v)
    return {"time_s": med, "min_s": v[0], "max_s": v[-1], "p25_s": q[0], "p75_s": q[2],
            "spread": (q[2] - q[0]) / med if med else 0.0}


def time_call(fn, repeat: int, warmup: int, min_time_s: float = 0.0) -> list[float]:
    """Seconds per call of ``fn``: ``warmup`` untimed calls, then at least ``repeat`` timed
    ones (more, up to 10x, until ``min_time_s`` of timed calls is reached)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat or (spent < min_time_s and len(times) < 10 * repeat):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        spent += dt
    return times


# Calibration and the latency benchmark time networks of 1 ms to 1 s on one statistic: the
# fastest window of consecutive calls lasting at least this long, as its mean per call.
# The fastest single call of a 2 ms network can dodge every interruption a 40 ms call cannot,
# so a model calibrated on short networks' fastest calls under-predicts long ones (measured
# here: a 6.5 ms chain's fastest call was 14% under its fastest 30 ms window, a 48 ms
# MobileNetV2's 0.3% over).
WINDOW_S = 0.03


def one_window(fn, window_s: float) -> tuple[float, float]:
    """Consecutive calls of ``fn`` until at least ``window_s`` has passed (one call if it takes
    longer): the mean seconds per call, and the window's length."""
    calls = 0
    t0 = time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= window_s:
            return dt / calls, dt


def window_means(fn, budget_s: float, window_s: float = WINDOW_S, min_windows: int = 3) -> list[float]:
    """Mean seconds per call of ``fn`` over consecutive windows of calls, each lasting at least
    ``window_s`` (a longer call is a window of its own), for about ``budget_s`` in all and at
    least ``min_windows`` windows."""
    out: list[float] = []
    spent = 0.0
    while len(out) < min_windows or spent < budget_s:
        mean, dt = one_window(fn, window_s)
        out.append(mean)
        spent += dt
    return out


@dataclass
class Measurement:
    model: str
    settings: dict
    batch: int
    repeat: int
    warmup: int
    machine: dict
    totals: dict
    layers: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"model": self.model, "kind": "measured", "machine": self.machine,
                "settings": dict(self.settings), "batch": self.batch, "dtype": "fp32",
                "repeat": self.repeat, "warmup": self.warmup, "totals": self.totals,
                "layers": self.layers}


def check_limits(p: Profile, batch: int) -> None:
    """bench builds only what `verify` would: the same parameter and activation limits."""
    from costmodel.torch.crosscheck import MAX_ACTIVATION_ELEMENTS, check_size
    check_size(p)
    if p.activations * batch > MAX_ACTIVATION_ELEMENTS:
        raise SpecError(f"{p.model} at batch {batch} makes {p.activations * batch:,} activation "
                        f"elements, above the limit of {MAX_ACTIVATION_ELEMENTS:,}; refusing to "
                        "build it (use a smaller batch)")


def measure(p: Profile, n_threads: int | None = 1, repeat: int = 20, warmup: int = 3,
            batch: int = 1, per_layer: bool = True, progress=None) -> Measurement:
    """Median and spread of ``repeat`` timed forward passes (after ``warmup``), and each
    layer's median over ``repeat`` further passes with timing hooks (hooks slow a pass a
    little, so the total comes from the passes without them)."""
    if not 1 <= repeat <= MAX_REPEAT:
        raise SpecError(f"--repeat must be from 1 to {MAX_REPEAT}, got {repeat}")
    if warmup < 0 or warmup > MAX_REPEAT:
        raise SpecError(f"--warmup must be from 0 to {MAX_REPEAT}, got {warmup}")
    import torch
    from costmodel.torch.builder import build, example_input
    check_limits(p, batch)
    steady_allocator()
    with threads(n_threads), torch.inference_mode():
        net = build(p.root)
        x = example_input(p.input_shape, batch)
        total = time_call(lambda: net(x), repeat, warmup)
        if progress:
            progress()
        layers: list[dict] = []
        if per_layer:
            layers = _per_layer(p, net, x, repeat)
        info = machine()
    totals = quantiles(total)
    totals["time_ms"] = totals["time_s"] * 1e3
    if layers:
        totals["layers_sum_s"] = sum(l["time_s"] for l in layers)
        for l in layers:
            l["share"] = l["time_s"] / totals["layers_sum_s"] if totals["layers_sum_s"] else 0.0
    return Measurement(p.model, p.settings, batch, repeat, warmup, info, totals, layers)


def _per_layer(p: Profile, net, x, repeat: int) -> list[dict]:
    starts: dict[str, float] = {}
    runs: dict[str, list[float]] = {l.name: [] for l in p.layers}
    current: dict[str, float] = {}
    handles = []

    def pre(name):
        def hook(_m, _i):
            starts[name] = time.perf_counter()
        return hook

    def post(name):
        def hook(_m, _i, _o):
            current[name] = current.get(name, 0.0) + time.perf_counter() - starts[name]
        return hook

    for l in p.layers:
        mod = net.get_submodule(l.name)
        handles.append(mod.register_forward_pre_hook(pre(l.name)))
        handles.append(mod.register_forward_hook(post(l.name)))
    try:
        net(x)
        for _ in range(repeat):
            current.clear()
            net(x)
            for name in runs:
                runs[name].append(current.get(name, 0.0))
    finally:
        for h in handles:
            h.remove()
    return [{"name": l.name, "op": l.op, "type": l.type_key,
             "time_s": statistics.median(runs[l.name])} for l in p.layers]
