"""Speed of the analytic path against the tracers, per spec, measured in one run.

For every spec under specs/ at its default settings, in this process:

* analytic: ``spec.profile()`` on a parsed spec (expand, infer shapes, count), best of
  ``--repeat`` runs: the counterpart of tracing an already-built module; and
  ``costmodel.profile(path)`` including reading and validating the YAML file;
* fvcore: ``FlopCountAnalysis(model, x).total()`` on the already-built module (a TorchScript
  trace of one forward pass), best of ``--trace-repeat`` runs;
* FlopCounterMode: one forward pass under ``torch.utils.flop_counter.FlopCounterMode``
  (no TorchScript), best of ``--trace-repeat`` runs;
* build: constructing the ``torch.nn.Module`` from the layer graph (once; reported, not
  included in the tracer times).

Prints a table with the ratios fvcore / analytic and FlopCounterMode / analytic; the analytic
path is expected to be at least 100x faster than the fvcore trace.

Then (unless ``--no-all``) the ``verify --all`` figure: the whole command over the zoo and its
variants in a fresh process, with one worker and with ``--jobs`` workers (default: the cores),
the wall time of each and their ratio, and how many runs were answered by fewer traces
(identical networks are traced once).

    python benchmarks/bench_verify.py [--specs specs] [--repeat 20] [--trace-repeat 3] [--jobs N] [--no-all]
    python benchmarks/bench_verify.py --only-all [--no-serial]   # only the verify --all figure

The verify --all figure ends with one line: the number of runs (171 for the zoo and its
variants), the wall time with --jobs workers, the target (under 60 s on an otherwise idle
2-core machine) and the load average before and after, since on a shared machine the time
moves with it.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from rich.console import Console  # noqa: E402

import costmodel  # noqa: E402
from costmodel.torch.builder import build, example_input  # noqa: E402
from costmodel.output.tabular import Column, Tabular  # noqa: E402
from costmodel.torch.crosscheck import check_size, fvcore_analysis, quiet  # noqa: E402

TARGET = 100   # the analytic path should be at least this much faster than fvcore


def best(fn, repeat: int) -> float:
    """The fastest of ``repeat`` timed calls, in seconds (the least disturbed by noise)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(path: Path, repeat: int, trace_repeat: int) -> dict:
    t_file = best(lambda: costmodel.profile(path), repeat)
    spec = costmodel.Spec.load(path)
    t_analytic = best(spec.profile, repeat)
    p = spec.profile()
    check_size(p)
    t0 = time.perf_counter()
    model = build(p.root)
    t_build = time.perf_counter() - t0
    x = example_input(p.input_shape)

    def fvcore_trace():
        with torch.no_grad():
            return fvcore_analysis(model, x).total()

    def flop_counter():
        from torch.utils.flop_counter import FlopCounterMode
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(x)
        return fc.get_total_flops()

    with quiet():
        fvcore_trace()          # warm-up: first-call costs (JIT, allocator) are not the tracer's
        t_fvcore = best(fvcore_trace, trace_repeat)
        flop_counter()
        t_fc = best(flop_counter, trace_repeat)
    return {"spec": path.name, "layers": len(p.layers), "mult_adds": p.mult_adds,
            "analytic": t_analytic, "file": t_file, "build": t_build, "fvcore": t_fvcore, "flop_counter": t_fc}


def ms(t: float) -> str:
    return f"{t * 1e3:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--specs", type=Path, default=ROOT / "costmodel" / "zoo")
    ap.add_argument("--repeat", type=int, default=20, help="runs of the analytic profile")
    ap.add_argument("--trace-repeat", type=int, default=3, help="runs of each tracer")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="verify --all workers")
    ap.add_argument("--no-all", action="store_true", help="skip the verify --all figure")
    ap.add_argument("--only-all", action="store_true", help="only the verify --all figure")
    ap.add_argument("--no-serial", action="store_true",
                    help="verify --all with --jobs workers only (not also with one)")
    args = ap.parse_args(argv)
    if args.only_all:
        verify_all_figure(args.specs, args.jobs, serial=not args.no_serial)
        return 0
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = []
    for path in sorted(args.specs.glob("*.yaml")):
        try:
            rows.append(measure(path, args.repeat, args.trace_repeat))
        except costmodel.SpecError as exc:
            print(f"skipped {path.name}: {exc}", file=sys.stderr)
    t = Tabular(title=f"analytic profile vs fvcore trace vs FlopCounterMode (torch "
                      f"{torch.__version__}, {torch.get_num_threads()} threads, batch 1)",
                columns=[Column("Spec", "left"), Column("Layers"), Column("Analytic ms"),
                         Column("+ YAML ms"), Column("Build ms"), Column("fvcore ms"),
                         Column("FlopCounterMode ms"), Column("fvcore / analytic"),
                         Column("FlopCounterMode / analytic"), Column("end to end")])
    worst = None
    for r in rows:
        ratio = r["fvcore"] / r["analytic"]
        worst = ratio if worst is None else min(worst, ratio)
        e2e = (r["build"] + r["fvcore"]) / r["file"]
        t.add([r["spec"], r["layers"], ms(r["analytic"]), ms(r["file"]), ms(r["build"]),
               ms(r["fvcore"]), ms(r["flop_counter"]), f"{ratio:,.0f}x",
               f"{r['flop_counter'] / r['analytic']:,.0f}x", f"{e2e:,.0f}x"],
              style=None if ratio >= TARGET else "bold red")
    if rows:
        total = {k: sum(r[k] for r in rows)
                 for k in ("analytic", "file", "build", "fvcore", "flop_counter")}
        t.footer = ["All", sum(r["layers"] for r in rows), ms(total["analytic"]),
                    ms(total["file"]), ms(total["build"]), ms(total["fvcore"]),
                    ms(total["flop_counter"]), f"{total['fvcore'] / total['analytic']:,.0f}x",
                    f"{total['flop_counter'] / total['analytic']:,.0f}x",
                    f"{(total['build'] + total['fvcore']) / total['file']:,.0f}x"]
        t.notes = [f"Best of {args.repeat} analytic runs and {args.trace_repeat} tracer runs. "
                   f"Target: analytic >= {TARGET}x faster than fvcore; slowest ratio: {worst:,.0f}x "
                   f"({'met' if worst >= TARGET else 'NOT met'}).",
                   "end to end: (build the module + fvcore trace) / (read the YAML + analytic "
                   "profile), both starting from the spec file."]
    Console(width=200).print(t.to_rich())
    if not args.no_all:
        verify_all_figure(args.specs, args.jobs, serial=not args.no_serial)
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verify_all_figure(specs: Path, jobs: int, serial: bool = True) -> None:
    """Wall time of `costmodel verify --all` with 1 and with `jobs` workers (fresh processes)."""
    from costmodel.cli.verify_cmd import _jobs
    from costmodel.torch.batch import fingerprint
    files = sorted(specs.glob("*.yaml"))
    runs = [j for j in _jobs(files, True) if j[3] is None]
    traces = len({fingerprint(spec.profile(**settings)) for _, spec, settings, _ in runs})
    times = {}
    load_before = _load()
    for n in sorted({1, jobs} if serial else {jobs}):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "costmodel.cli", "verify", "--all", str(specs),
                            "--jobs", str(n), "--format", "json"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        times[n] = time.perf_counter() - t0
        ok = json.loads(r.stdout)["match"] if r.stdout.strip() else False
        print(f"verify --all --jobs {n}: {times[n]:.1f} s, exit {r.returncode}, "
              f"{'every run matches' if ok else 'MISMATCH or error'}")
    print(f"verify --all: {len(runs)} runs answered by {traces} traces (identical networks "
          f"traced once)" + (f"; --jobs {jobs} vs 1: {times[1] / times[jobs]:.2f}x faster"
                             if 1 in times and jobs != 1 else ""))
    print(f"verify --all: {len(runs)} runs in {times[jobs]:.1f} s with --jobs {jobs} (target: "
          f"under 60 s on an otherwise idle 2-core machine; {'met' if times[jobs] < 60 else 'not met'} "
          f"here); load average {load_before} before, {_load()} after, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    sys.exit(main())
