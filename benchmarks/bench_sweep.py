"""Sweeps at search-space scale, measured in one run and printed as ratios.

* throughput: MobileNet v1's width x resolution grid, the compiled path (``costmodel sweep``:
  the spec traced once per structure, evaluated with numpy) against today's expansion path
  (``spec.profile`` at every point, what ``sweep --no-compile`` does), points per second;
  target: at least 20x;
* 1,000,000 configurations streamed to CSV (``costmodel sweep ... --stream --out x.csv``, the
  whole command in a fresh process): seconds; target: 60 s;
* peak memory (the high-water RSS of that process) at 10^4, 10^5 and 10^6 points: flat as the count grows.

    python benchmarks/bench_sweep.py [--expand 300] [--jobs 1]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from costmodel.count.profile import Spec  # noqa: E402
from costmodel.sweep.compile import Compiled  # noqa: E402
from costmodel.sweep.space import Axis, Space  # noqa: E402

TARGET_RATIO = 20
TARGET_SECONDS = 60
RESOLUTIONS = "96:295:1"                                     # 200 values
WIDTHS = {10 ** 4: "0.25:1.5:0.025", 10 ** 5: "0.25:1.5:0.0025", 10 ** 6: "0.25:1.5:0.00025"}

CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from costmodel.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
def peak_mb():
    # VmHWM: this address space's high-water mark (ru_maxrss would carry the parent's over
    # fork + exec)
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": time.perf_counter() - t0, "code": code, "peak_mb": peak_mb()}),
      file=sys.stderr)
"""


def rate(spec: Spec, space: Space, enabled: bool, limit: int | None = None) -> tuple[int, float]:
    """(points, seconds) of evaluating the grid (the first ``limit`` points)."""
    c = Compiled(spec, space.names, enabled=enabled)
    done = 0
    t0 = time.perf_counter()
    for block in space.blocks(chunk=limit or 32_768):
        c.evaluate(block)
        done += block.size
        if limit and done >= limit:
            break
    return done, time.perf_counter() - t0


def streamed(points: int, out: str, jobs: int) -> dict:
    args = [sys.executable, "-c", CHILD, "sweep", "mobilenet_v1", "--grid",
            f"width={WIDTHS[points]}", "--grid", f"resolution={RESOLUTIONS}", "--stream",
            "--out", out, "--no-progress", "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    result = json.loads(r.stderr.strip().splitlines()[-1])
    if result["code"] not in (0, None):
        raise SystemExit(r.stderr)
    with open(out) as fh:
        result["rows"] = sum(1 for _ in fh) - 1
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expand", type=int, default=300, help="points for the expansion path")
    ap.add_argument("--jobs", type=int, default=1, help="--jobs of the streamed runs")
    args = ap.parse_args()

    spec = Spec.load("mobilenet_v1")
    space = Space([Axis("width", [0.25 + 0.00025 * i for i in range(5001)]),
                   Axis("resolution", list(range(96, 296)))])
    n_exp, t_exp = rate(spec, space, enabled=False, limit=args.expand)
    n_cmp, t_cmp = rate(spec, space, enabled=True, limit=200_000)
    r_exp, r_cmp = n_exp / t_exp, n_cmp / t_cmp
    print(f"throughput, MobileNet v1 width x resolution: expansion {r_exp:,.0f} points/s "
          f"({n_exp} points), compiled {r_cmp:,.0f} points/s ({n_cmp:,} points): "
          f"ratio {r_cmp / r_exp:,.1f}x (target >= {TARGET_RATIO}x)")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for points in sorted(WIDTHS):
            results[points] = streamed(points, os.path.join(tmp, f"{points}.csv"), args.jobs)
    for points, r in results.items():
        print(f"streamed to CSV: {r['rows']:>9,} points in {r['seconds']:6.1f} s "
              f"({r['rows'] / r['seconds']:,.0f} points/s), peak memory {r['peak_mb']:6.1f} MB")
    big, small = results[10 ** 6], results[10 ** 4]
    print(f"1,000,000 configurations to CSV: {big['seconds']:.1f} s (target <= {TARGET_SECONDS} s): "
          f"{'ok' if big['seconds'] <= TARGET_SECONDS else 'MISSED'}")
    print(f"peak memory 10^6 / 10^4: {big['peak_mb'] / small['peak_mb']:.2f}x "
          f"({small['peak_mb']:.0f} MB -> {results[10 ** 5]['peak_mb']:.0f} MB -> "
          f"{big['peak_mb']:.0f} MB)")
    print(json.dumps({"ratio": r_cmp / r_exp, "seconds_1e6": big["seconds"],
                      "peak_mb": {str(k): v["peak_mb"] for k, v in results.items()}}))


if __name__ == "__main__":
    main()
