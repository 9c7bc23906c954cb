"""`costmodel calibrate`: fit a device profile from torch measurements on this machine.

Samples. The synthetic networks of :mod:`costmodel.latency.synthetic` (chains of one cell at one
shape, swept over shapes and channel counts; never a zoo network), each built by the same
spec -> graph -> torch path as every spec and timed in torch eager, inference mode, batch 1,
at the given threads. Timing runs in ``rounds``: every network is timed in every round (warm-up,
then windows of consecutive calls lasting at least 30 ms each, for its share of the budget) and
keeps its fastest window's mean call over all rounds (windows, not single calls: see
``costmodel.latency.bench.WINDOW_S``).
On a shared machine another process only ever adds time, and spreading the rounds over the
run keeps a burst of contention from spoiling one network's sample.

Model (format 2, ``model: additive``). A kernel of class c with F FLOPs, A bytes of activations
(read and written), W bytes of weights and S bytes of scratch traffic takes

    t = overhead_c + F / peak_c + A / bandwidth_c + W / weight_bandwidth_c + S / scratch_bandwidth_c

Weights get their own bandwidth because a network's weights are read once a pass, from memory,
while its activations were mostly just written by the layer before and are still in cache;
scratch is the im2col matrix of torch's native conv kernel (``conv_small``), written then read.

Compute and memory are added, not maxed: on a CPU in eager mode a kernel's loads and its
arithmetic overlap only partly, and the sum fits measured networks far better than the
roofline's max (see benchmarks/bench_latency.py). A sample's predicted time is the sum over
its kernels, so it is *linear* in the 55 unknowns (per class: overhead, 1/peak and the three
inverse bandwidths; a column no sample uses stays at its bound and is not written).

Fit. Minimise the squared relative error sum(((x_i . theta - t_i) / t_i)^2) over the samples,
each unknown bounded below (overhead >= 10 ns, peak <= 1e14 FLOP/s, bandwidth <= 1e13 B/s: a
term the data does not need sits at its bound, which is negligible), by projected coordinate
descent on the normal equations (a convex problem: the optimum is unique up to columns the
samples do not separate). Pure Python; no numpy or scipy.

Fit error. Per class, the mean absolute percentage error over the samples whose predicted
time that class dominates, and over all samples; both are printed and stored in the profile,
which is written atomically (an interrupted run leaves no partial profile).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from costmodel.count.profile import Spec
from costmodel.latency.devices import FORMAT, DeviceProfile, dump, parse
from costmodel.latency.synthetic import Synthetic, networks
from costmodel.latency.traffic import kernel_bytes, layer_traffic
from costmodel.ops.base import KERNEL_CLASSES, Kernel

MIN_OVERHEAD = 1e-8
MAX_PEAK = 1e14
MAX_BANDWIDTH = 1e13
BYTES = 4  # fp32
CLASSES = tuple(KERNEL_CLASSES)
ROUNDS = 3


def sample_profile(net: Synthetic):
    return Spec.load(net.spec).profile()


@dataclass
class Sample:
    net: Synthetic
    kernels: tuple[Kernel, ...]
    time_s: float

    @property
    def label(self) -> str:
        return self.net.label


def kernels_of(p) -> tuple[Kernel, ...]:
    """Every kernel of a profiled network, layer by layer (each op's own ``kernels`` rule)."""
    return tuple(k for l in p.layers for k in layer_traffic(l).kernels)


def measure_all(nets: list[Synthetic], threads: int, budget_s: float, rounds: int = ROUNDS,
                progress=None, after_round=None) -> list[Sample]:
    """Time every network: its fastest window of calls (``bench.window_means``: the mean call
    of at least 30 ms of consecutive calls) over ``rounds`` rounds, each round giving it about
    ``budget_s / rounds`` seconds (at least 3 windows). ``after_round(r)``, when given, runs
    after each round (the latency benchmark times the zoo there, between the rounds)."""
    import torch
    from costmodel.latency.bench import WINDOW_S, threads as with_threads, time_call, window_means
    from costmodel.torch.builder import build, example_input
    built = []
    for n in nets:
        p = sample_profile(n)
        built.append((n, build(p.root), example_input(p.input_shape, 1), kernels_of(p)))
    best = [float("inf")] * len(built)
    with with_threads(threads), torch.inference_mode():
        for r in range(rounds):
            for i, (n, net, x, _) in enumerate(built):
                time_call(lambda: net(x), 0, 1)                # warm-up
                share = budget_s / rounds          # windows shrink with a tiny budget (tests)
                best[i] = min(best[i], *window_means(lambda: net(x), share,
                                                     min(WINDOW_S, share / 3)))
                if progress:
                    progress(n, r)
            if after_round:
                after_round(r)
    return [Sample(n, ks, t) for (n, _, _, ks), t in zip(built, best)]


# -- the fit -----------------------------------------------------------------------------------
# per class: kernels, FLOPs, activation bytes, weight bytes, scratch bytes (written + read)
PER_CLASS = 5


def features(kernels) -> list[float]:
    """Per class: number of kernels, FLOPs, bytes of activations, of weights and of scratch
    traffic (fp32, batch 1): the model is linear in them."""
    f = [0.0] * (PER_CLASS * len(CLASSES))
    for k in kernels:
        i = PER_CLASS * CLASSES.index(k.cls)
        f[i] += 1
        f[i + 1] += k.flops
        for j, b in enumerate(kernel_bytes(k, 1, BYTES)):
            f[i + 2 + j] += b
    return f


LOWER = [b for _ in CLASSES
         for b in (MIN_OVERHEAD, 1 / MAX_PEAK, 1 / MAX_BANDWIDTH, 1 / MAX_BANDWIDTH, 1 / MAX_BANDWIDTH)]


def bounded_least_squares(rows: list[list[float]], target: list[float], weights: list[float],
                          lower: list[float], sweeps: int = 3000) -> list[float]:
    """argmin over theta >= lower of sum(w_i^2 (rows_i . theta - target_i)^2), by projected
    coordinate descent on the normal equations (columns scaled to unit size first)."""
    n = len(lower)
    scale = [max((abs(r[j]) for r in rows), default=0.0) or 1.0 for j in range(n)]
    a = [[w * r[j] / scale[j] for j in range(n)] for r, w in zip(rows, weights)]
    b = [w * t for t, w in zip(target, weights)]
    g = [[sum(r[i] * r[j] for r in a) for j in range(n)] for i in range(n)]
    h = [sum(r[i] * y for r, y in zip(a, b)) for i in range(n)]
    lo = [lower[j] * scale[j] for j in range(n)]
    theta = list(lo)
    for _ in range(sweeps):
        moved = 0.0
        for j in range(n):
            if g[j][j] <= 0:
                continue
            grad = sum(g[j][k] * theta[k] for k in range(n)) - h[j]
            new = max(lo[j], theta[j] - grad / g[j][j])
            moved = max(moved, abs(new - theta[j]) / (abs(new) + 1e-30))
            theta[j] = new
        if moved < 1e-12:
            break
    return [t / s for t, s in zip(theta, scale)]


@dataclass(frozen=True)
class ClassFit:
    peak_flops: float
    memory_bandwidth: float
    overhead_s: float
    weight_bandwidth: float | None      # None: no sample's kernel of this class has weights
    scratch_bandwidth: float | None     # None: none has scratch traffic
    fit_mape: float       # over the samples this class dominates (0 when it dominates none)
    samples: int          # samples that run a kernel of this class
    dominated: int        # samples whose predicted time this class dominates


@dataclass(frozen=True)
class Fit:
    classes: dict[str, ClassFit]
    mape: float           # over all samples
    within_10: float
    errors: list[tuple[Sample, float]]   # (sample, predicted time)


def fit(samples: list[Sample]) -> Fit:
    """The constants of the additive model, fitted to the samples (see the module doc)."""
    rows = [features(s.kernels) for s in samples]
    used = [any(r[PER_CLASS * i] for r in rows) for i in range(len(CLASSES))]
    missing = [c for c, u in zip(CLASSES, used) if not u]
    if missing:
        raise ValueError(f"no calibration sample runs a kernel of class {', '.join(missing)}")
    theta = bounded_least_squares(rows, [s.time_s for s in samples],
                                  [1 / s.time_s for s in samples], LOWER)
    preds = [sum(x * t for x, t in zip(r, theta)) for r in rows]
    errs = [abs(p - s.time_s) / s.time_s for p, s in zip(preds, samples)]

    def dominant(r):
        parts = [sum(r[PER_CLASS * i + j] * theta[PER_CLASS * i + j] for j in range(PER_CLASS))
                 for i in range(len(CLASSES))]
        return max(range(len(CLASSES)), key=lambda i: parts[i])

    dom = [dominant(r) for r in rows]
    classes = {}
    for i, c in enumerate(CLASSES):
        mine = [e for e, d in zip(errs, dom) if d == i]
        o, inv_peak, inv_bw, inv_wbw, inv_sbw = theta[PER_CLASS * i: PER_CLASS * (i + 1)]
        has = [any(r[PER_CLASS * i + j] for r in rows) for j in (3, 4)]
        classes[c] = ClassFit(peak_flops=min(MAX_PEAK, 1 / inv_peak),
                              memory_bandwidth=min(MAX_BANDWIDTH, 1 / inv_bw),
                              overhead_s=max(MIN_OVERHEAD, o),
                              weight_bandwidth=min(MAX_BANDWIDTH, 1 / inv_wbw) if has[0] else None,
                              scratch_bandwidth=min(MAX_BANDWIDTH, 1 / inv_sbw) if has[1] else None,
                              fit_mape=sum(mine) / len(mine) if mine else 0.0,
                              samples=sum(1 for r in rows if r[PER_CLASS * i]), dominated=len(mine))
    return Fit(classes, sum(errs) / len(errs), sum(e <= 0.10 for e in errs) / len(errs),
               list(zip(samples, preds)))


METHOD = ("additive model t = overhead + FLOPs/peak + activation bytes/bandwidth + weight "
          "bytes/weight bandwidth + scratch bytes/scratch bandwidth per kernel class, fitted "
          "by bounded relative least squares to synthetic chains of cells (never zoo networks), "
          "each timed at its fastest 30 ms window of calls over {rounds} rounds")


def make_profile(name: str, f: Fit, threads: int, quick: bool, rounds: int = ROUNDS,
                 n_samples: int = 0) -> DeviceProfile:
    import torch
    from costmodel.latency.bench import cpu_model
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bws = sorted(c.memory_bandwidth for c in f.classes.values())
    raw = {"format": FORMAT, "name": name,
           "description": f"calibrated by `costmodel calibrate{' --quick' if quick else ''}` "
                          f"on {cpu_model()} ({threads} thread(s)), {n_samples} synthetic "
                          f"networks; fit error {100 * f.mape:.1f}% (mean), "
                          f"{100 * f.within_10:.0f}% of them within 10%",
           "kind": "cpu", "dtype": "fp32", "threads": threads, "batch": 1,
           "torch": torch.__version__, "cpu": cpu_model(), "calibrated": now,
           "method": METHOD.format(rounds=rounds), "model": "additive",
           "memory_bandwidth": bws[len(bws) // 2],
           "classes": {c: {"peak_flops": cf.peak_flops, "overhead_s": cf.overhead_s,
                           "memory_bandwidth": cf.memory_bandwidth,
                           **({"weight_bandwidth": cf.weight_bandwidth}
                              if cf.weight_bandwidth is not None else {}),
                           **({"scratch_bandwidth": cf.scratch_bandwidth}
                              if cf.scratch_bandwidth is not None else {}),
                           **({"fit_mape": round(cf.fit_mape, 4)} if cf.dominated else {}),
                           "samples": max(1, cf.samples)}
                       for c, cf in f.classes.items()}}
    return parse(raw, "<calibration>")


__all__ = ["networks", "measure_all", "fit", "make_profile", "dump", "bounded_least_squares",
           "features", "Sample"]
