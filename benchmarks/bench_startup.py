"""Start-up and rendering (issue 16): `costmodel profile SPEC --format json` and the table
format as whole processes, against `python -c "import yaml, pydantic, typer"` measured in the
same run. Targets: json within 1.3x, table within 2x. Prints each median and its ratio.
Run: python benchmarks/bench_startup.py [SPEC]   (default: mobilenet_v2)"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7


def median_time(cmd: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else "mobilenet_v2"
    py = sys.executable
    base = median_time([py, "-c", "import yaml, pydantic, typer"])
    cli = [py, "-c", "from costmodel.cli.app import main; main()", "profile", spec]
    json_t = median_time(cli + ["--format", "json"])
    table_t = median_time(cli)
    print(f"python -c 'import yaml, pydantic, typer': {base * 1000:7.1f} ms (median of {RUNS})")
    print(f"costmodel profile {spec} --format json:  {json_t * 1000:7.1f} ms  "
          f"ratio {json_t / base:.2f}x (target 1.3x)")
    print(f"costmodel profile {spec} (table):        {table_t * 1000:7.1f} ms  "
          f"ratio {table_t / base:.2f}x (target 2x)")


if __name__ == "__main__":
    main()
