"""`costmodel calibrate`: fit a device profile from torch microbenchmarks on this machine.

Method. Synthetic single-op networks (one layer, built by the same spec -> graph -> torch path as
every spec, never a zoo network) are swept over shapes and channel counts for each op class of a
device profile. Each is timed (torch eager, inference mode, batch 1, the given threads: warm-up,
then the fastest of repeated calls, since contention from other processes only adds time). Its FLOPs and bytes come from the op's own ``kernels`` rule.
The constants of ``t = overhead_c + max(F / peak_c, B / bandwidth)`` are then fitted to minimise
the squared *relative* error:

1. the bandwidth, shared by all classes, on the memory-bound classes (element-wise, global
   pooling, data movement) by a log-spaced grid search, each class's overhead solved in closed form
   (the weighted mean of t - B/bandwidth with weights 1/t^2);
2. for every class, its peak by a grid search over 10^7..10^13 FLOP/s at that bandwidth, the
   overhead again in closed form (kept positive).

The fit error per class (mean absolute percentage error over its samples) is printed and stored
in the profile, which is written atomically (an interrupted run leaves no partial profile).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass

from costmodel.count.profile import Spec
from costmodel.latency.devices import FORMAT, DeviceProfile, dump, parse
from costmodel.latency.predict import kernel_time
from costmodel.latency.traffic import layer_traffic
from costmodel.ops.base import KERNEL_CLASSES

MIN_OVERHEAD = 1e-8


@dataclass(frozen=True)
class Micro:
    """One microbenchmark: a one-layer network (entry) on an input shape, for an op class."""
    cls: str
    entry: dict
    input: tuple[int, int, int]

    @property
    def label(self) -> str:
        e = dict(self.entry)
        op = e.pop("op", None) or ("parallel" if "parallel" in e else "?")
        e.pop("parallel", None)
        args = ",".join(f"{k}={v}" for k, v in e.items())
        return f"{self.cls}: {op}({args}) on {'x'.join(map(str, self.input))}"


def _conv(cin, cout, hw, k=3, s=1, g=1):
    return {"op": "conv2d", "out": cout, "kernel": k, "stride": s, "groups": g}, (cin, hw, hw)


def _dw(c, hw, k=3, s=1):
    return {"op": "depthwise", "kernel": k, "stride": s}, (c, hw, hw)


# (class, [(entry, input)]) — shapes spanning what efficient CNNs use: 7..224 pixels, 3..2048
# channels, strides 1 and 2. Order within a class: from small to large.
SWEEP = {
    "conv": [_conv(3, 16, 224, 3, 2), _conv(3, 32, 224, 3, 2), _conv(16, 16, 56), _conv(32, 64, 28),
             _conv(64, 64, 56), _conv(64, 128, 56, 3, 2), _conv(128, 128, 28), _conv(256, 256, 14),
             _conv(512, 512, 7), _conv(24, 64, 28, 5), _conv(3, 64, 224, 7, 2), _conv(3, 64, 224, 11, 4),
             _conv(192, 384, 13), _conv(16, 32, 112)],
    "conv1x1": [_conv(16, 96, 112, 1), _conv(32, 16, 112, 1), _conv(24, 144, 56, 1),
                _conv(144, 24, 56, 1), _conv(58, 58, 28, 1), _conv(116, 116, 14, 1),
                _conv(232, 232, 7, 1), _conv(64, 384, 14, 1), _conv(384, 64, 14, 1),
                _conv(160, 960, 7, 1), _conv(960, 160, 7, 1), _conv(320, 1280, 7, 1),
                _conv(256, 1024, 14, 1), _conv(512, 2048, 7, 1), _conv(256, 512, 56, 1, 2),
                _conv(64, 256, 56, 1)],
    "grouped": [_conv(240, 60, 28, 1, 1, 3), _conv(60, 240, 28, 1, 1, 3), _conv(480, 120, 14, 1, 1, 3),
                _conv(120, 480, 14, 1, 1, 3), _conv(384, 96, 28, 1, 1, 8), _conv(96, 384, 28, 1, 1, 8),
                _conv(200, 200, 28, 1, 1, 2), _conv(544, 136, 14, 1, 1, 4), _conv(64, 64, 56, 3, 1, 4),
                _conv(1536, 384, 7, 1, 1, 8)],
    "depthwise": [_dw(24, 56), _dw(32, 112), _dw(96, 112, 3, 2), _dw(144, 56), _dw(144, 56, 3, 2),
                  _dw(192, 28), _dw(384, 14), _dw(576, 14, 3, 2), _dw(960, 7), _dw(72, 56, 5, 2),
                  _dw(120, 28, 5), _dw(672, 14, 5), _dw(480, 14), _dw(58, 28)],
    "linear": [({"op": "linear", "out": 1000}, (1280,)), ({"op": "linear", "out": 1000}, (1024,)),
               ({"op": "linear", "out": 1000}, (2048,)), ({"op": "linear", "out": 4096}, (4096,)),
               ({"op": "linear", "out": 1280}, (960,)), ({"op": "linear", "out": 10}, (64,)),
               ({"op": "linear", "out": 4096}, (9216,))],
    "elementwise": [({"op": "relu"}, (32, 112, 112)), ({"op": "relu"}, (96, 28, 28)),
                    ({"op": "relu6"}, (144, 56, 56)), ({"op": "relu6"}, (960, 7, 7)),
                    ({"op": "batch_norm"}, (32, 112, 112)), ({"op": "batch_norm"}, (144, 56, 56)),
                    ({"op": "batch_norm"}, (384, 14, 14)), ({"op": "batch_norm"}, (960, 7, 7)),
                    ({"op": "hardswish"}, (16, 112, 112)), ({"op": "hardswish"}, (480, 14, 14)),
                    ({"parallel": [[], []], "merge": "add"}, (24, 56, 56)),
                    ({"parallel": [[], []], "merge": "add"}, (160, 7, 7)),
                    ({"parallel": [[], []], "merge": "add"}, (256, 56, 56)),
                    ({"op": "relu"}, (64, 112, 112))],
    "pooling": [({"op": "max_pool", "kernel": 3, "stride": 2, "padding": 1}, (24, 112, 112)),
                ({"op": "max_pool", "kernel": 3, "stride": 2, "padding": 1}, (64, 112, 112)),
                ({"op": "max_pool", "kernel": 2}, (128, 56, 56)), ({"op": "max_pool", "kernel": 2}, (512, 14, 14)),
                ({"op": "avg_pool", "kernel": 2}, (256, 28, 28)),
                ({"op": "max_pool", "kernel": 3, "stride": 2}, (96, 55, 55)),
                ({"op": "max_pool", "kernel": 3, "stride": 2, "ceil_mode": True}, (24, 112, 112))],
    "global_pool": [({"op": "global_avg_pool"}, (1280, 7, 7)), ({"op": "global_avg_pool"}, (960, 7, 7)),
                    ({"op": "global_avg_pool"}, (2048, 7, 7)), ({"op": "global_avg_pool"}, (72, 56, 56)),
                    ({"op": "global_avg_pool"}, (16, 56, 56)), ({"op": "global_avg_pool"}, (576, 14, 14)),
                    ({"op": "adaptive_avg_pool", "size": 7}, (512, 7, 7)),
                    ({"op": "adaptive_avg_pool", "size": 6}, (256, 13, 13))],
    "data_movement": [({"parallel": [[], []], "merge": "concat"}, (58, 28, 28)),
                      ({"parallel": [[], []], "merge": "concat"}, (116, 14, 14)),
                      ({"parallel": [[], []], "merge": "concat"}, (24, 56, 56)),
                      ({"parallel": [[], []], "merge": "concat"}, (128, 56, 56)),
                      ({"op": "channel_shuffle", "groups": 2}, (116, 28, 28)),
                      ({"op": "channel_shuffle", "groups": 3}, (240, 28, 28)),
                      ({"op": "channel_shuffle", "groups": 2}, (464, 7, 7)),
                      ({"op": "channel_shuffle", "groups": 2}, (64, 56, 56)),
                      ({"op": "channel_pad", "out": 32, "stride": 2}, (16, 32, 32))],
}
assert set(SWEEP) == set(KERNEL_CLASSES)

QUICK_PER_CLASS = 4


def micros(quick: bool = False) -> list[Micro]:
    out = []
    for cls, items in SWEEP.items():
        if quick:  # spread over the range: first, last and evenly between
            n = len(items)
            idx = sorted({round(i * (n - 1) / (QUICK_PER_CLASS - 1)) for i in range(QUICK_PER_CLASS)})
            items = [items[i] for i in idx]
        out += [Micro(cls, e, tuple(x)) for e, x in items]
    return out


def micro_profile(m: Micro):
    spec = {"name": f"micro_{m.cls}", "input": list(m.input), "layers": [dict(m.entry)]}
    return Spec.load(spec).profile()


@dataclass
class Sample:
    micro: Micro
    kernels: tuple
    time_s: float


def measure_all(ms: list[Micro], threads: int, budget_s: float, progress=None) -> list[Sample]:
    """Time every microbenchmark: its fastest call among calls filling about ``budget_s`` (on a
    shared machine the noise of other processes only ever adds time)."""
    import torch
    from costmodel.latency.bench import threads as with_threads, time_call
    from costmodel.torch.builder import build, example_input
    out = []
    with with_threads(threads), torch.inference_mode():
        for m in ms:
            p = micro_profile(m)
            net = build(p.root)
            x = example_input(p.input_shape, 1)
            once = time_call(lambda: net(x), 1, 1)[0]
            repeat = max(3, min(200, int(budget_s / max(once, 1e-6))))
            t = min(time_call(lambda: net(x), repeat, 2))
            kernels = tuple(k for l in p.layers for k in layer_traffic(l).kernels)
            out.append(Sample(m, kernels, t))
            if progress:
                progress(m)
    return out


# -- the fit -----------------------------------------------------------------------------------
def _grid(lo: float, hi: float, n: int) -> list[float]:
    a, b = math.log10(lo), math.log10(hi)
    return [10 ** (a + (b - a) * i / (n - 1)) for i in range(n)]


def _overhead(times: list[float], rest: list[float], kernels: list[int]) -> float:
    """argmin_o sum(((n_i o + r_i - t_i) / t_i)^2): o = sum(n(t - r)/t^2) / sum(n^2/t^2)."""
    num = sum(n * (t - r) / t ** 2 for t, r, n in zip(times, rest, kernels))
    den = sum(n * n / t ** 2 for t, n in zip(times, kernels))
    return max(MIN_OVERHEAD, num / den) if den else MIN_OVERHEAD


def _predict(sample: Sample, cls_peak: dict, cls_over: dict, bw: float) -> float:
    t = 0.0
    for k in sample.kernels:
        moved = (k.reads + k.writes + k.weights) * 4
        t += cls_over[k.cls] + max(k.flops / cls_peak[k.cls], moved / bw)
    return t


def _rest(sample: Sample, peak: dict, bw: float) -> float:
    return sum(max(k.flops / peak[k.cls], (k.reads + k.writes + k.weights) * 4 / bw)
               for k in sample.kernels)


def _err(samples, peak, over, bw) -> float:
    return sum(((_predict(s, peak, over, bw) - s.time_s) / s.time_s) ** 2 for s in samples)


MEMORY_CLASSES = ("elementwise", "global_pool", "data_movement")


def fit(samples: list[Sample]) -> tuple[float, dict[str, tuple[float, float, float, int]]]:
    """(bandwidth, {class: (peak_flops, overhead_s, fit_mape, samples)}), see the module doc.
    Every microbenchmark's kernels are of its own class (one-op networks)."""
    by_cls = {c: [s for s in samples if s.micro.cls == c] for c in KERNEL_CLASSES}
    peak = {c: 1e13 for c in KERNEL_CLASSES}    # memory classes: compute never binds at first
    over = {c: 1e-6 for c in KERNEL_CLASSES}

    def fit_over(c, bw):
        ss = by_cls[c]
        over[c] = _overhead([s.time_s for s in ss], [_rest(s, peak, bw) for s in ss],
                            [len(s.kernels) for s in ss])

    best = None
    mem = [s for c in MEMORY_CLASSES for s in by_cls[c]]
    for bw in _grid(1e8, 1e12, 161):
        for c in MEMORY_CLASSES:
            if by_cls[c]:
                fit_over(c, bw)
        e = _err(mem, peak, over, bw)
        if best is None or e < best[0]:
            best = (e, bw)
    bw = best[1]
    result = {}
    for c in KERNEL_CLASSES:
        ss = by_cls[c]
        if not ss:
            raise ValueError(f"no microbenchmark of class {c}")
        best = None
        for pk in _grid(1e7, 1e13, 241):
            peak[c] = pk
            fit_over(c, bw)
            e = _err(ss, peak, over, bw)
            if best is None or e < best[0]:
                best = (e, pk, over[c])
        peak[c], over[c] = best[1], best[2]
        mape = sum(abs(_predict(s, peak, over, bw) - s.time_s) / s.time_s for s in ss) / len(ss)
        result[c] = (peak[c], over[c], mape, len(ss))
    return bw, result


def make_profile(name: str, bw: float, classes: dict, threads: int, quick: bool) -> DeviceProfile:
    import torch
    from costmodel.latency.bench import cpu_model
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = {"format": FORMAT, "name": name,
           "description": f"calibrated by `costmodel calibrate{' --quick' if quick else ''}` "
                          f"on {cpu_model()} ({threads} thread(s))",
           "kind": "cpu", "dtype": "fp32", "threads": threads, "batch": 1,
           "torch": torch.__version__, "cpu": cpu_model(), "calibrated": now,
           "method": "microbenchmarks of synthetic one-op networks per class (never zoo "
                     "networks); relative least squares by grid search: shared bandwidth on "
                     "the memory-bound classes, then each class's peak; overheads in closed form",
           "memory_bandwidth": bw,
           "classes": {c: {"peak_flops": pk, "overhead_s": o, "fit_mape": round(m, 4), "samples": n}
                       for c, (pk, o, m, n) in classes.items()}}
    return parse(raw, "<calibration>")


def sample_error(samples: list[Sample], prof: DeviceProfile) -> list[tuple[Sample, float]]:
    """(sample, predicted time) with the fitted profile (through the predictor itself)."""
    out = []
    for s in samples:
        out.append((s, sum(kernel_time(k, prof, 1, "fp32").time_s for k in s.kernels)))
    return out


__all__ = ["SWEEP", "Micro", "micros", "measure_all", "fit", "make_profile", "dump", "sample_error"]
