"""ShuffleNet V2's guideline experiments (Section 2, Tables 1-4) on this machine: every row of
the registry's `shufflenet_v2-guidelines` table (the specs in
costmodel/zoo/shufflenet_v2_guidelines/), with the paper's GPU and ARM speeds as printed (cited
in the table's notes), the MEASURED speed here (torch eager, CPU, fp32, batch 1, --threads) and
the PREDICTED one (the shipped or given device profile), each as a ratio to its experiment's
first row. The same table as `costmodel table shufflenet_v2-guidelines --measure`; this script
only adds a summary of how often each column agrees with the paper's direction.

    python benchmarks/bench_guidelines.py [--threads 1] [--device epyc-1t] [--repeat 10]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from costmodel.latency import devices  # noqa: E402
from costmodel.papers import measured, registry  # noqa: E402
from costmodel.papers import tables as paper_tables  # noqa: E402
from costmodel.papers.speed import SpeedContext  # noqa: E402

TABLE = "shufflenet_v2-guidelines"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeat", type=int, default=10, help="timed runs per row (median)")
    args = ap.parse_args()
    dev = devices.resolve(args.device or devices.default_name())
    t = registry.load().get(TABLE)
    resolver = registry.Resolver()
    m = measured.measure(measured.needed([t], resolver), threads=args.threads, repeat=args.repeat)
    built = paper_tables.build(t, resolver, SpeedContext(dev, m))
    con = Console(width=220)
    con.print(built.display.to_rich(220))
    # does each column slow down where the paper's does? (rows after the first of a group)
    agree = {"predicted": [0, 0], "measured": [0, 0]}
    for r in built.records:
        paper = [r.get(f"{k}_ratio") for k in ("gpu", "arm") if r.get(f"{k}_ratio") is not None]
        if not paper or paper[0] == 1.0:
            continue
        for what in agree:
            ours = r.get(f"{what}_ratio")
            if ours is None:
                continue
            agree[what][1] += 1
            agree[what][0] += (ours < 1.0) == (paper[0] < 1.0)
    for what, (ok, n) in agree.items():
        con.print(f"{what}: slower/faster than the experiment's first row as the paper's first "
                  f"speed column says in {ok} of {n} rows")


if __name__ == "__main__":
    main()
