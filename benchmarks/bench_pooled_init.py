"""Does building from a pool of values (``costmodel.torch.pooled_init``) change what is timed?

Calibration's timing worker builds each network with its weights copied from a pool instead
of drawn from torch's generator one by one. This script times the same calibration networks
both ways, each as a job of its own in the same rounds (``costmodel.latency.rounds``: a fresh
worker process a round, a forked child a job, each timed against the reference network), the
two builds shuffled in together, and prints:

- each way's median build time per network, and the ratio;
- per network, the median over the rounds of its ratio to the reference, pooled over torch's:
  the median of that quotient over the networks, and the share within 5% and within 10%;
- the noise ceiling beside it: the same quotient between the odd and the even rounds of
  torch's own builds (a network's halves agreeing no better than that is noise, not the pool).

    python benchmarks/bench_pooled_init.py [--networks 40] [--rounds 4] [--budget 0.08]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.latency import drift  # noqa: E402
from costmodel.latency.rounds import job, run_round  # noqa: E402
from costmodel.latency.synthetic import networks  # noqa: E402


def within(qs: list[float], tol: float) -> float:
    return sum(abs(q - 1) <= tol for q in qs) / len(qs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=40, help="calibration networks to time (default 40)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds, each in a fresh process (default 4)")
    ap.add_argument("--budget", type=float, default=0.08,
                    help="seconds of timing per job per round (default 0.08, calibration's)")
    a = ap.parse_args(argv)
    nets = networks(False)
    random.Random(1).shuffle(nets)
    nets = nets[:a.networks]
    inits = ("pooled", "torch")
    jobs = [job(n.spec, budget_s=a.budget, window_s=drift.window_for(a.budget), init=init)
            for n in nets for init in inits]
    ratios = {k: [[] for _ in nets] for k in inits}
    builds = {k: [] for k in inits}
    start = time.perf_counter()
    for r in range(a.rounds):
        order = list(range(len(jobs)))
        random.Random(100 + r).shuffle(order)
        out = run_round([jobs[i] for i in order], 1)
        for k, res in enumerate(out):
            n, init = divmod(order[k], len(inits))
            ratios[inits[init]][n].append(res["ratio"])
            builds[inits[init]].append(res["build_s"])
        print(f"round {r + 1}/{a.rounds} done, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    bp, bt = (statistics.median(builds[k]) for k in inits)
    print(f"{len(nets)} calibration networks, {a.rounds} rounds, {a.budget * 1e3:.0f} ms a job a round")
    print(f"median build: pooled {bp * 1e3:.1f} ms, torch's generator {bt * 1e3:.1f} ms "
          f"(pooled / torch {bp / bt:.2f}); totals {sum(builds['pooled']):.1f} s and "
          f"{sum(builds['torch']):.1f} s")
    pooled = [statistics.median(p) / statistics.median(t)
              for p, t in zip(ratios["pooled"], ratios["torch"])]
    halves = [statistics.median(t[0::2]) / statistics.median(t[1::2]) for t in ratios["torch"]]
    for title, qs in (("pooled / torch's (median over rounds)", pooled),
                      ("noise: torch's odd rounds / even rounds", halves)):
        print(f"{title:42s} median {statistics.median(qs):.3f}, within 5%: {within(qs, 0.05):.0%}, "
              f"within 10%: {within(qs, 0.10):.0%}, range {min(qs):.2f}-{max(qs):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
