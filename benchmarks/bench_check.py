"""How long `costmodel check` takes on this project's specs and all their variants.

Locks specs/ into a temporary baseline, then times the check in-process (reading the
baseline, recomputing every variant analytically, comparing) and as a fresh process
(`python -m costmodel.cli check`, imports included: what CI and a pre-commit hook pay). The target is
"a couple of seconds at most": the last column is the time over a 2-second budget.

    python benchmarks/bench_check.py [SPECS_DIR] [--repeat N]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel import guard  # noqa: E402
from costmodel.guard import baseline as baseline_io  # noqa: E402
from costmodel.guard.compare import compare, parse_tolerance  # noqa: E402
from costmodel.guard.snapshot import snapshot_specs  # noqa: E402

BUDGET_S = 2.0


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("specs", nargs="?", default=str(ROOT / "costmodel" / "zoo"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "baseline.json"
        base = guard.lock(args.specs, out)
        n_specs = len(base.specs)
        n_var = sum(len(e.variants) for e in base.specs.values())
        n_layers = sum(len(v.hashes) for e in base.specs.values() for v in e.variants.values())
        print(f"{n_specs} specs, {n_var} variants, {n_layers:,} layers; baseline "
              f"{out.stat().st_size / 1024:.1f} KiB")

        before = baseline_io.read(out)
        after = snapshot_specs(args.specs)
        tol = parse_tolerance(None, ["mult_adds"])
        rows = [
            ("read + validate baseline", timed(lambda: baseline_io.read(out), args.repeat)),
            ("recompute all variants", timed(lambda: snapshot_specs(args.specs), args.repeat)),
            ("compare", timed(lambda: compare(before, after, tol), args.repeat)),
            ("check, in-process", timed(lambda: guard.check(args.specs, out), args.repeat)),
        ]
        cmd = [sys.executable, "-m", "costmodel.cli", "check", args.specs, "--baseline", str(out)]

        def process() -> None:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"check failed ({proc.returncode}): {proc.stdout}{proc.stderr}")

        rows.append(("check, subprocess (python -m costmodel.cli)", timed(process, max(3, args.repeat // 2))))
        width = max(len(r[0]) for r in rows)
        print(f"{'step':<{width}}  {'median s':>9}  {'ms/variant':>10}  {'/ 2 s budget':>12}")
        for name, t in rows:
            print(f"{name:<{width}}  {t:9.3f}  {1000 * t / n_var:10.2f}  {t / BUDGET_S:12.2f}")


if __name__ == "__main__":
    main()
