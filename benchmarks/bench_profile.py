"""Speed of the analytic path (issue 2). Prints figures and their ratio to the targets:
an in-process profile of MobileNet v1 well under 5 ms; a 10,000-configuration width x
resolution sweep; `costmodel profile specs/mobilenet_v1.yaml` as a whole process well under
0.5 s. Run: python benchmarks/bench_profile.py"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "costmodel" / "zoo" / "mobilenet_v1.yaml"


def best_of(fn, repeat: int = 5, number: int = 50) -> float:
    """Best mean time per call over `repeat` runs of `number` calls."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t) / number)
    return min(times)


def main() -> None:
    import costmodel
    spec = costmodel.Spec.load(SPEC)

    parse_and_profile = best_of(lambda: costmodel.profile(SPEC), number=20)
    profile_only = best_of(lambda: spec.profile(), number=50)

    widths = [0.25 + 0.01 * i for i in range(100)]                  # 0.25 ... 1.24
    resolutions = [96 + 2 * i for i in range(100)]                   # 96 ... 294
    t = time.perf_counter()
    n = 0
    for w in widths:
        for r in resolutions:
            spec.profile(width=w, resolution=r)
            n += 1
    sweep = time.perf_counter() - t

    procs = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "costmodel.cli", "profile", str(SPEC)], cwd=ROOT,
                       check=True, capture_output=True)
        procs.append(time.perf_counter() - t)
    proc = statistics.median(procs)

    rows = [
        ("costmodel.profile(path), MobileNet v1", parse_and_profile, 5e-3),
        ("Spec.profile() (parsed once)", profile_only, 5e-3),
        (f"sweep of {n:,} width x resolution configs", sweep, None),
        ("  per configuration", sweep / n, 5e-3),
        ("`costmodel profile` whole process (median of 5)", proc, 0.5),
    ]
    print(f"{'what':<50} {'time':>12} {'target':>10} {'target/time':>12}")
    for what, secs, target in rows:
        shown = f"{secs * 1e3:9.2f} ms" if secs < 1 else f"{secs:9.2f} s "
        tgt = f"{target * 1e3:7.0f} ms" if target else ""
        ratio = f"{target / secs:10.1f}x" if target else ""
        print(f"{what:<50} {shown:>12} {tgt:>10} {ratio:>12}")


if __name__ == "__main__":
    main()
