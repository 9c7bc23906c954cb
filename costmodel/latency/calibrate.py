"""`costmodel calibrate`: fit a device profile from torch measurements on this machine.

Samples. The synthetic networks of :mod:`costmodel.latency.synthetic` (chains of one cell at one
shape, swept over shapes and channel counts; never a zoo network), each built by the same
spec -> graph -> torch path as every spec and timed in torch eager, inference mode, batch 1,
at the given threads. Timing runs in ``rounds``, each in a fresh process
(:mod:`costmodel.latency.rounds`: where a process's tensors land in memory changes their time
by up to 22% here, and stays for the life of the process): every network is timed in every
round (warm-up, then windows of consecutive calls, 10 ms each,
alternating with 5 ms windows of a fixed reference network, for its share of the budget) and
keeps the median over the rounds of its ratio to the reference in each round, times the
reference's fastest window over the whole run (:mod:`costmodel.latency.drift`: the shared
machine's speed moves in phases as long as a round, which the ratio cancels, so a profile's
times are at the machine's quiet speed). The median over processes is the time a user's
process sees at that speed, not the luckiest placement. Five rounds
(two with ``--quick``), each running its networks in an order of its own (``round_order``),
each network in a child process forked for it (see :mod:`costmodel.latency.rounds`: what ran
before a network changes its time).

Model (format 2, ``model: additive``). A kernel of class c with F FLOPs, A bytes of activations
(read and written), W bytes of weights and S bytes of scratch traffic takes

    t = overhead_c + F / peak_c + A / bandwidth_c + W / weight_bandwidth_c + S / scratch_bandwidth_c

Weights get their own bandwidth because a network's weights are read once a pass, from memory,
while its activations were mostly just written by the layer before and are still in cache;
scratch is the im2col matrix of torch's native conv kernel (``conv_small``), written then read.

The working set adds, to every kernel of a network whose weights (W_net bytes) exceed a weight
cache of K bytes, m x (A + W) / cold_bandwidth with m = max(0, 1 - K / W_net): a small
network's weights and activations stay in the cache from one pass to the next, a large one
streams its weights from memory every pass and the stream evicts its activations
(costmodel.latency.devices gives the measurement behind it). And a kernel whose own footprint
(A + W) exceeds a kernel cache of L bytes spills s x A / spill_bandwidth more, s = max(0, 1 -
L / (A + W)): the part of its data no longer in the cache the previous layer left its input
in. And a network whose weights exceed a last-level cache of M bytes reads d x W more at
dram_bandwidth, d = max(0, 1 - M / W_net): from memory itself. cold_bandwidth, spill_bandwidth
and dram_bandwidth are one unknown each, for every class; K, L and M are not linear in the
model, so the fit scans them (see ``fit``) and keeps the best.

Compute and memory are added, not maxed: on a CPU in eager mode a kernel's loads and its
arithmetic overlap only partly, and the sum fits measured networks far better than the
roofline's max (see benchmarks/bench_latency.py). A sample's predicted time is the sum over
its kernels, so for given K, L and M it is *linear* in the 58 unknowns (per class: overhead,
1/peak and the three inverse bandwidths; then the inverse cold, spill and DRAM bandwidths; a
column no sample uses stays at its bound and is not written).

Fit. Minimise the squared relative error sum(v_i ((x_i . theta - t_i) / t_i)^2) over the
samples (v_i = 1 for a chain or single layer; for a whole network, the chains' count over the
networks', so that the two groups weigh the same: see ``sample_weights``),
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
import statistics
from dataclasses import dataclass

from costmodel.count.profile import Spec
from costmodel.latency.devices import FORMAT, DeviceProfile, dump, miss_share, parse
from costmodel.latency.synthetic import NETWORK_FAMILIES, Synthetic, networks
from costmodel.latency.traffic import kernel_bytes, layer_traffic, weight_bytes
from costmodel.ops.base import KERNEL_CLASSES, Kernel

MIN_OVERHEAD = 1e-8
MAX_PEAK = 1e14
MAX_BANDWIDTH = 1e13
BYTES = 4  # fp32
CLASSES = tuple(KERNEL_CLASSES)
ROUNDS = 5
QUICK_ROUNDS = 2
BUDGET_S = 0.40         # seconds of timing per network over all rounds (3 windows a round)
QUICK_BUDGET_S = 0.05


def sample_profile(net: Synthetic):
    return Spec.load(net.spec).profile()


@dataclass
class Sample:
    net: Synthetic
    kernels: tuple[Kernel, ...]
    time_s: float
    rounds: tuple[float, ...] = ()      # each round's time (time_s: their median)
    raw: tuple[float, ...] = ()         # each round's fastest window, uncorrected for drift

    @property
    def label(self) -> str:
        return self.net.label


@dataclass
class Timed:
    """What ``measure_all`` timed: the samples, and the reference network's quiet time that
    turned their ratios into seconds (``costmodel.latency.drift``)."""
    samples: list[Sample]
    reference_s: float
    torch: str = ""         # the version of torch that timed them (the worker's)


def kernels_of(p) -> tuple[Kernel, ...]:
    """Every kernel of a profiled network, layer by layer (each op's own ``kernels`` rule)."""
    return tuple(k for l in p.layers for k in layer_traffic(l).kernels)


def sample(net: Synthetic, time_s: float, rounds=(), raw=()) -> Sample:
    """A timed network as the fit sees it: its kernels and its time (and, where known, each
    round's time, corrected and raw)."""
    return Sample(net, kernels_of(sample_profile(net)), time_s, tuple(rounds), tuple(raw))


def measure_all(nets: list[Synthetic], threads: int, budget_s: float, rounds: int = ROUNDS,
                progress=None, extra=None, on_extra=None) -> Timed:
    """Time every network in ``rounds`` rounds, each in a fresh process
    (:mod:`costmodel.latency.rounds`: where a process's tensors land in memory changes their
    time), giving it about ``budget_s / rounds`` seconds a round: windows of consecutive calls
    alternating with windows of the reference network (``drift.paired_windows``), and its
    ratio to the reference (``drift.ratio``) in each round. A network's time is the median of
    its ratios over the rounds, times the reference's quiet time: its fastest window over the
    whole run (every job's, ``extra`` ones included). Each round runs its jobs in its own
    shuffled order (``round_order``), so that no network always follows the same one.
    ``progress(net, round)`` as each network ends. ``extra(round)``: more jobs (``rounds.job``)
    timed in that round, shuffled in with the networks, their results handed to
    ``on_extra(i, round, result)``: the latency benchmark times the zoo this way, beside the
    calibration's networks, under the same conditions (and scales their ratios by the
    returned ``reference_s``)."""
    from costmodel.latency import drift
    from costmodel.latency.rounds import job, run_round
    share = budget_s / rounds
    window_s = drift.window_for(share)
    jobs = [job(n.spec, budget_s=share, window_s=window_s) for n in nets]
    ratios: list[list[float]] = [[] for _ in nets]
    raw: list[list[float]] = [[] for _ in nets]
    fastest_ref = float("inf")
    version = ""
    for r in range(rounds):
        both = jobs + (list(extra(r)) if extra else [])
        order = round_order(len(both), r)

        def done(k, res, r=r, order=order):
            nonlocal fastest_ref, version
            i = order[k]
            fastest_ref = min(fastest_ref, drift.quiet(res["reference"]))
            version = res["torch"]
            if i >= len(nets):
                on_extra(i - len(nets), r, res)
                return
            ratios[i].append(res["ratio"])
            raw[i].append(min(res["windows"]))
            if progress:
                progress(nets[i], r)
        run_round([both[i] for i in order], threads, done)
    q = fastest_ref
    return Timed([sample(n, statistics.median(t) * q, [x * q for x in t], w)
                  for n, t, w in zip(nets, ratios, raw)], q, version)


def round_order(n: int, r: int) -> list[int]:
    """The order of ``n`` jobs in round ``r``: a shuffle seeded by the round (the same on
    every run)."""
    import random
    order = list(range(n))
    random.Random(r).shuffle(order)
    return order


# -- the fit -----------------------------------------------------------------------------------
# per class: kernels, FLOPs, activation bytes, weight bytes, scratch bytes (written + read)
PER_CLASS = 5


def features(kernels, cache: float | None = None, spill: float | None = None,
             llc: float | None = None) -> list[float]:
    """Per class: number of kernels, FLOPs, bytes of activations, of weights and of scratch
    traffic (fp32, batch 1); then the activation and weight bytes that miss a weight cache of
    ``cache`` bytes, the activation bytes that spill past a kernel cache of ``spill`` bytes,
    and the weight bytes read past a last-level cache of ``llc`` bytes (none: 0): the model
    is linear in them."""
    f = [0.0] * (PER_CLASS * len(CLASSES) + EXTRA)
    w_net = weight_bytes(kernels, BYTES)
    miss, dram = miss_share(w_net, cache), miss_share(w_net, llc)
    for k in kernels:
        i = PER_CLASS * CLASSES.index(k.cls)
        f[i] += 1
        f[i + 1] += k.flops
        act, wts, scratch = kernel_bytes(k, 1, BYTES)
        f[i + 2] += act
        f[i + 3] += wts
        f[i + 4] += scratch
        f[-3] += miss * (act + wts)
        f[-2] += act * miss_share(act + wts, spill)
        f[-1] += dram * wts
    return f


EXTRA = 3      # the cold, spill and DRAM columns after the classes'
LOWER = [b for _ in CLASSES
         for b in (MIN_OVERHEAD, 1 / MAX_PEAK, 1 / MAX_BANDWIDTH, 1 / MAX_BANDWIDTH, 1 / MAX_BANDWIDTH)
         ] + [1 / MAX_BANDWIDTH] * EXTRA
# The cache sizes the fit tries (bytes), each also "none": it keeps the ones that fit best.
CACHE_SIZES = tuple(float(1 << n) for n in range(18, 26))     # weight cache: 256 KiB .. 32 MiB
SPILL_SIZES = tuple(float(1 << n) for n in range(18, 24))     # kernel cache: 256 KiB .. 8 MiB
LLC_SIZES = tuple(float(1 << n) for n in range(24, 30))       # last level: 16 MiB .. 512 MiB
# Sweeps of coordinate descent: the fit itself, and each trial of the cache sizes' scan (see
# ``fit``: the scan only ranks the trials; on the measured samples the last 90% of the sweeps
# change a trial's loss by about 1e-7 of it, far less than the trials differ by).
SWEEPS = 3000
SCAN_SWEEPS = 300


def bounded_least_squares(rows: list[list[float]], target: list[float], weights: list[float],
                          lower: list[float], sweeps: int = SWEEPS,
                          start: list[float] | None = None) -> list[float]:
    """argmin over theta >= lower of sum(w_i^2 (rows_i . theta - target_i)^2), by projected
    coordinate descent on the normal equations (columns scaled to unit size first), from
    ``start`` (default: ``lower``)."""
    from operator import mul
    n = len(lower)
    scale = [max((abs(r[j]) for r in rows), default=0.0) or 1.0 for j in range(n)]
    a = [[w * r[j] / scale[j] for j in range(n)] for r, w in zip(rows, weights)]
    b = [w * t for t, w in zip(target, weights)]
    cols = list(zip(*a)) if a else [()] * n
    g = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):
            g[i][j] = g[j][i] = sum(map(mul, cols[i], cols[j]))
    h = [sum(map(mul, cols[i], b)) for i in range(n)]
    lo = [lower[j] * scale[j] for j in range(n)]
    theta = list(lo) if start is None else [max(l, t * c) for l, t, c in zip(lo, start, scale)]
    for _ in range(sweeps):
        moved = 0.0
        for j in range(n):
            if g[j][j] <= 0:
                continue
            grad = sum(map(mul, g[j], theta)) - h[j]
            new = max(lo[j], theta[j] - grad / g[j][j])
            moved = max(moved, abs(new - theta[j]) / (abs(new) + 1e-30))
            theta[j] = new
        if moved < 1e-12:
            break
    return [t / s for t, s in zip(theta, scale)]


def sample_weights(samples: list[Sample]) -> list[float]:
    """Each sample's weight in the fit: 1 / its time (a relative error), times sqrt(chains /
    networks) for a whole network (``synthetic.NETWORK_FAMILIES``), so that in the squared loss
    the whole networks weigh, together, as much as the chains and single layers. Unweighted,
    the 191 chains outvote the 60 networks: measured here, in three benchmark runs, the fit put
    the networks 3.8-5.2% under (median) and the chains 0.1-0.6% over; weighted, 2.0-3.0% under
    and 0.4-1.2% over."""
    whole = [getattr(s.net, "family", None) in NETWORK_FAMILIES for s in samples]
    n = sum(whole)
    boost = ((len(samples) - n) / n) ** 0.5 if 0 < n < len(samples) else 1.0
    return [(boost if w else 1.0) / s.time_s for s, w in zip(samples, whole)]


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
    weight_cache_bytes: float | None = None     # None: no weight cache priced
    cold_bandwidth: float | None = None
    kernel_cache_bytes: float | None = None     # None: no kernel cache priced
    spill_bandwidth: float | None = None
    llc_bytes: float | None = None              # None: no last-level cache priced
    dram_bandwidth: float | None = None


def fit(samples: list[Sample]) -> Fit:
    """The constants of the additive model, fitted to the samples (see the module doc). The
    three cache sizes are not linear in the model: the fit scans one at a time over its sizes
    (``CACHE_SIZES``, ``SPILL_SIZES``, ``LLC_SIZES``, each also none) with the others at their
    best so far, the weight cache, the kernel cache, the last level, then the weight cache
    again, and keeps the best fit it saw (ties: no cache, then the smaller). The scan ranks
    its trials by short fits (``SCAN_SWEEPS``, each from the best constants so far); the
    sizes it keeps are then fitted in full (``SWEEPS``), and so is each of them without one of
    its caches, which goes where the full fit does no better with it (a short fit can gain a
    little from a spare term it has not converged without). On the four saved benchmark runs
    of 3 December: the same sizes and the same predictions as full fits throughout, in a
    third of the time."""
    plain = [features(s.kernels) for s in samples]
    used = [any(r[PER_CLASS * i] for r in plain) for i in range(len(CLASSES))]
    missing = [c for c, u in zip(CLASSES, used) if not u]
    if missing:
        raise ValueError(f"no calibration sample runs a kernel of class {', '.join(missing)}")
    target, weights = [s.time_s for s in samples], sample_weights(samples)
    tried: dict[tuple, float] = {}

    def solve(sizes: tuple, sweeps: int, start=None):
        """(loss, rows, theta, predictions) of the fit at these cache sizes."""
        rows = plain if sizes == (None, None, None) else \
            [features(s.kernels, *sizes) for s in samples]
        theta = bounded_least_squares(rows, target, weights, LOWER, sweeps, start)
        preds = [sum(x * t for x, t in zip(r, theta)) for r in rows]
        return sum((w * (p - t)) ** 2 for p, t, w in zip(preds, target, weights)), rows, theta, preds

    lead_loss, lead = float("inf"), None        # the scan's lowest loss so far, and its constants

    def attempt(sizes: tuple):
        nonlocal lead_loss, lead
        if sizes not in tried:
            loss, _, theta, _ = solve(sizes, SCAN_SWEEPS, lead)
            tried[sizes] = loss
            if loss < lead_loss:
                lead_loss, lead = loss, theta
        return tried[sizes]

    best = [None, None, None]
    for i in (0, 1, 2, 0):
        def key(c, i=i):
            return attempt(tuple(c if j == i else b for j, b in enumerate(best))), c is not None, c or 0
        best[i] = min((None, *(CACHE_SIZES, SPILL_SIZES, LLC_SIZES)[i]), key=key)
    # the choice fitted in full, and each cache it prices fitted in full without that cache:
    # where the short fits' ranking kept a cache the full fit does no better with, it goes
    full: dict[tuple, tuple] = {}

    def fitted(sizes: tuple):
        if sizes not in full:
            full[sizes] = solve(sizes, SWEEPS)
        return full[sizes]

    for i in range(3):
        if best[i] is not None:
            without = tuple(None if j == i else b for j, b in enumerate(best))
            if fitted(without)[0] <= fitted(tuple(best))[0]:
                best[i] = None
    cache, spill, llc = best
    _, rows, theta, preds = fitted(tuple(best))
    errs = [abs(p - s.time_s) / s.time_s for p, s in zip(preds, samples)]

    def needed(i):     # a term the fit left at its bound (or that no sample has) is not written
        return any(r[i] for r in rows) and 1 / theta[i] < MAX_BANDWIDTH * (1 - 1e-9)

    cold = 1 / theta[-3] if cache is not None and needed(-3) else None
    spill_bw = 1 / theta[-2] if spill is not None and needed(-2) else None
    dram_bw = 1 / theta[-1] if llc is not None and needed(-1) else None

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
               list(zip(samples, preds)), cache if cold else None, cold,
               spill if spill_bw else None, spill_bw, llc if dram_bw else None, dram_bw)


METHOD = ("additive model t = overhead + FLOPs/peak + activation bytes/bandwidth + weight "
          "bytes/weight bandwidth + scratch bytes/scratch bandwidth per kernel class, + the "
          "working set's misses (activation + weight bytes) x m / cold bandwidth, m from the "
          "network's weights and a weight cache chosen among 256 KiB..32 MiB, + a kernel's "
          "spill (activation bytes) x s / spill bandwidth, s from its footprint and a kernel "
          "cache chosen among 256 KiB..8 MiB, + weight bytes x d / DRAM bandwidth, d from the "
          "network's weights and a last-level cache chosen among 16..512 MiB, fitted "
          "by bounded relative least squares to synthetic networks (chains of cells, single "
          "layers, and whole staged and mobile networks weighing as much as the rest; never zoo "
          "networks), each timed at the median over {rounds} rounds (each network in a child "
          "process of its own, in a shuffled order) of its ratio to a reference network timed "
          "in 5 ms windows between its windows of calls (the median over its windows of the "
          "window's time over the mean of the reference's on either side), times the "
          "reference's fastest window in the run, {reference_ms:.4f} ms: times at the "
          "machine's quiet speed")


def make_profile(name: str, f: Fit, threads: int, quick: bool, rounds: int = ROUNDS,
                 n_samples: int = 0, by: str = "", reference_s: float = 0.0,
                 torch_version: str = "", calibrated: str = "") -> DeviceProfile:
    """The fit as a profile; ``by``: what ran the calibration (default: `costmodel
    calibrate`); ``torch_version``: the torch that timed it (``Timed.torch``; default: this
    process's, which imports it); ``calibrated``: when the timing ended (default: now)."""
    from costmodel.latency.bench import cpu_model
    if not torch_version:
        import torch
        torch_version = torch.__version__
    now = calibrated or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bws = sorted(c.memory_bandwidth for c in f.classes.values())
    by = by or f"`costmodel calibrate{' --quick' if quick else ''}`"
    raw = {"format": FORMAT, "name": name,
           "description": f"calibrated by {by} "
                          f"on {cpu_model()} ({threads} thread(s)), {n_samples} synthetic "
                          f"networks; fit error {100 * f.mape:.1f}% (mean), "
                          f"{100 * f.within_10:.0f}% of them within 10%",
           "kind": "cpu", "dtype": "fp32", "threads": threads, "batch": 1,
           "torch": torch_version, "cpu": cpu_model(), "calibrated": now,
           "method": METHOD.format(rounds=rounds, reference_ms=reference_s * 1e3), "model": "additive",
           "memory_bandwidth": bws[len(bws) // 2],
           **({"weight_cache_bytes": f.weight_cache_bytes,
               "cold_bandwidth": f.cold_bandwidth} if f.cold_bandwidth else {}),
           **({"kernel_cache_bytes": f.kernel_cache_bytes,
               "spill_bandwidth": f.spill_bandwidth} if f.spill_bandwidth else {}),
           **({"llc_bytes": f.llc_bytes, "dram_bandwidth": f.dram_bandwidth}
              if f.dram_bandwidth else {}),
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


__all__ = ["networks", "measure_all", "Timed", "fit", "make_profile", "dump", "bounded_least_squares",
           "features", "Sample"]
