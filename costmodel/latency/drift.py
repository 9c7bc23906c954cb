"""Drift correction: every network timed against a fixed reference network run beside it.

Why. On a shared machine the speed of the whole core moves, in phases from a fraction of a
second to minutes, with nothing else running in the VM. Measured on this project's 2-core Xeon
(3 December, one thread): back-to-back 30 ms windows of a fixed 3x3 conv (64 channels, 56x56)
ran at 1.0-2.5x their fastest (median 1.49x), and a depthwise conv, a 1x1 conv and a chain of
tiny ReLUs timed in the windows between moved with it (correlation 0.56-0.74). The fastest
window of a round cannot drop a phase that lasts the whole round: in a 5-round run of the
latency benchmark (3 December, 11:20), the fastest windows of a configuration's odd rounds and of its even
rounds agreed within 10% for 30 of its 50 configurations.

How. A job's windows of calls (``WINDOW_S`` each) alternate with windows of the reference
network (``REFERENCE_WINDOW_S`` each): R J R J ... J R. Each window of the job is divided by
the mean of the two reference windows around it, and the job's ratio is the median of those
quotients: its time in units of the reference's time at that moment. The caller turns ratios
into seconds with one constant, the reference's time on the quiet machine: its fastest window
over the whole run (``quiet``). In the same run the ratios' halves agreed within 10% for 39
of the 50 configurations (and for 75% of the 251 calibration networks, against 48% for their
fastest windows). Short windows track the drift more closely: on 25 of those configurations
in 10 rounds, the ratio's halves agreed within 10% for 24 with 10 ms windows and 22 with 30 ms
ones.

What it is not: the raw time a user's process sees at a given moment (``costmodel bench``
measures that). It is the network's time at the speed the machine reaches when quiet, which is
what calibration fits and what a profile predicts; calibration and the latency benchmark both
time this way, in the same rounds, and the benchmark also scores the uncorrected fastest
windows.

The reference (``costmodel.latency.synthetic.REFERENCE``) is a small mixed cell, about 0.4 ms
on the Xeon: a 3x3 conv, a depthwise conv and a 1x1 conv with their batch norms and ReLUs, so
that its slowdowns follow those of compute-bound and of memory-bound kernels alike.
"""
from __future__ import annotations

import statistics

from costmodel.latency.bench import one_window

REFERENCE_WINDOW_S = 0.005      # about 12 calls of the reference: short, so it brackets each window closely
WINDOW_S = 0.010                # a job's window between two of the reference's: short, so both see the same speed
MIN_WINDOWS = 3                 # a job's windows at the least (a ratio is their median)


def window_for(share_s: float) -> float:
    """The job's window length for ``share_s`` seconds of timing (its budget in one round):
    ``WINDOW_S``, or shorter where ``MIN_WINDOWS`` windows and the ``MIN_WINDOWS + 1``
    reference windows around them would not fit (never under a quarter of the share over
    ``MIN_WINDOWS``)."""
    refs = (MIN_WINDOWS + 1) * REFERENCE_WINDOW_S
    return min(WINDOW_S, max(share_s - refs, share_s / 4) / MIN_WINDOWS)


def paired_windows(fn, ref, budget_s: float, window_s: float,
                   ref_window_s: float = REFERENCE_WINDOW_S,
                   min_windows: int = MIN_WINDOWS) -> tuple[list[float], list[float]]:
    """Windows of ``fn`` (mean seconds per call of each) alternating with windows of ``ref``,
    starting and ending with ``ref``: ``(windows, refs)`` with ``len(refs) == len(windows) + 1``.
    At least ``min_windows`` windows of ``fn``, and more until ``budget_s`` has passed (the
    reference's windows count in the budget)."""
    mean, spent = one_window(ref, ref_window_s)
    refs, windows = [mean], []
    while len(windows) < min_windows or spent < budget_s:
        for f, w, out in ((fn, window_s, windows), (ref, ref_window_s, refs)):
            mean, dt = one_window(f, w)
            out.append(mean)
            spent += dt
    return windows, refs


def ratio(windows: list[float], refs: list[float]) -> float:
    """The median over a job's windows of its time over the mean of the reference's windows
    on either side (``paired_windows``'s layout)."""
    if len(refs) != len(windows) + 1 or not windows:
        raise ValueError(f"{len(windows)} windows need {len(windows) + 1} reference windows, "
                         f"got {len(refs)}")
    return statistics.median(w / ((refs[k] + refs[k + 1]) / 2) for k, w in enumerate(windows))


def quiet(refs: list[float]) -> float:
    """The reference's time on the quiet machine: its fastest window (another process only
    ever adds time)."""
    return min(refs)
