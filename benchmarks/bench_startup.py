"""Start-up and rendering (issue 16): `costmodel profile SPEC --format json` and the table
format as whole processes, against `python -c "import yaml, pydantic, typer"` measured in the
same run. Targets: json within 1.3x, table within 2x. Prints each median and its ratio.
Run: python benchmarks/bench_startup.py [SPEC]   (default: mobilenet_v2)

Every command runs once untimed first, with bytecode caching on (PYTHONDONTWRITEBYTECODE
removed from the environment), so that costmodel's modules load from __pycache__ as an
installed package's do (pip compiles them at install); the baseline's modules are installed.
The load average is printed with the figures: on a shared machine the ratios move with it."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 11


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    return env


def times(cmds: list[list[str]]) -> list[list[float]]:
    """Each command RUNS times, interleaved (a change of load hits all of them alike), after
    one untimed warm-up run of each."""
    env = _env()
    for cmd in cmds:
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    out: list[list[float]] = [[] for _ in cmds]
    for _ in range(RUNS):
        for i, cmd in enumerate(cmds):
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
            out[i].append(time.perf_counter() - t)
    return out


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else "mobilenet_v2"
    py = sys.executable
    cli = [py, "-c", "from costmodel.cli.app import main; main()", "profile", spec]
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    base, json_t, table_t = times([[py, "-c", "import yaml, pydantic, typer"],
                                   cli + ["--format", "json"], cli])
    after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    med, low = statistics.median, min
    print(f"load average (1, 5, 15 min): {load} before, {after} after, on {os.cpu_count()} CPUs")
    print(f"python -c 'import yaml, pydantic, typer': median {med(base) * 1000:6.1f} ms, "
          f"min {low(base) * 1000:6.1f} ms ({RUNS} runs, interleaved)")
    for what, t, target in ((f"costmodel profile {spec} --format json", json_t, "1.3x"),
                            (f"costmodel profile {spec} (table)", table_t, "2x")):
        print(f"{what + ':':45} median {med(t) * 1000:6.1f} ms, ratio {med(t) / med(base):.2f}x "
              f"(min {low(t) * 1000:6.1f} ms, ratio {low(t) / low(base):.2f}x; target {target})")


if __name__ == "__main__":
    main()
