"""`costmodel latency` (predicted, analytic: no torch), `calibrate`, `bench` and `roofline`.

Only `calibrate` and `bench` import torch, inside the commands (the `torch` extra); `roofline`
needs matplotlib (the `plots` extra)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.output.text import markup
from costmodel.count.profile import Spec
from costmodel.spec.settings import parse_assignments

from costmodel.cli.app import (By, CONVENTION_HELP, ConventionName, Dtype, Format, app, console,
                               emit, print_json, set_option)


SPEC_ARG = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec (costmodel zoo).")
DEVICE_HELP = ("A device profile: the name of a shipped one (costmodel/latency/devices/), or a "
               "YAML file written by `costmodel calibrate`. Default: the shipped profile.")


def _device(device: Optional[str]):
    from costmodel.latency import devices
    return devices.resolve(device if device else devices.default_name())


def _csv(rows: list[dict]) -> None:
    w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)


@app.command(rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel latency mobilenet_v2\n\n"
             "  costmodel latency shufflenet_v2 --set scale=0.5 --by type\n\n"
             "  costmodel latency mobilenet_v1 --device my_profile.yaml --batch 8\n\n"
             "  costmodel latency mobilenet_v2 --convention thop --batch 8\n\n"
             "  costmodel latency mobilenet_v2 --format json | jq .totals.time_ms")
def latency(
    spec: Path = SPEC_ARG,
    set_: Optional[list[str]] = set_option(),
    device: Optional[str] = typer.Option(None, "--device", "-d", metavar="NAME|FILE", help=DEVICE_HELP),
    batch: int = typer.Option(1, "--batch", "-b", min=1, max=65536, help="Batch size."),
    dtype: Optional[Dtype] = typer.Option(None, "--dtype", help="Dtype (default: the profile's; "
                                          "a profile holds for the dtype it was calibrated at)."),
    by: By = typer.Option(By.layer, "--by", help="One row per layer, or per layer type."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    convention: Optional[ConventionName] = typer.Option(
        None, "--convention", "-c", case_sensitive=False, show_default=False,
        help="Also show every layer's count under this convention, beside the prediction "
        "(counted, not predicted; for the batch). JSON: totals under profile's keys "
        "(flops_thop...). " + CONVENTION_HELP),
) -> None:
    """PREDICT the latency of a spec on a device profile, per layer and in total.

    Analytic (no torch, milliseconds): every layer's kernels are priced by the calibrated
    constants of their op class (the profile's model: additive, overhead + FLOPs / peak +
    bytes / bandwidth, as `calibrate` writes; or roofline, overhead + max(...)), and each
    layer says what bounds it (compute, memory or overhead). A prediction, never a measurement: use
    `costmodel bench` to measure, `costmodel bench --compare DEVICE` for both side by side.
    """
    from costmodel.latency.predict import predict
    from costmodel.latency import report

    p = Spec.load(spec).profile(**parse_assignments(set_))
    pred = predict(p, _device(device), batch, dtype.value if dtype else None)
    counted = report.Counted(p, convention.value, batch) if convention else None
    if fmt == Format.json:
        doc = pred.to_dict()
        print_json(counted.add_to(doc, pred) if counted else doc)
        return
    if fmt == Format.csv and by == By.layer:
        _csv(report.latency_rows(pred, counted))
        return
    emit(report.latency_type_table(pred, counted) if by == By.type
         else report.latency_table(pred, counted), fmt.value)
    if fmt == Format.table:
        d = pred.device
        console().print(f"[bold]{markup(pred.model)}[/bold]: predicted {pred.time_s * 1e3:.3f} ms on "
                        f"{markup(d.name)} ({d.threads} thread(s), {pred.dtype}, batch {batch})")


@app.command(rich_help_panel="torch", epilog="Examples:\n\n"
             "  costmodel calibrate --out my_cpu.yaml\n\n"
             "  costmodel calibrate --quick --threads 1 --out /tmp/quick.yaml\n\n"
             "  costmodel latency mobilenet_v2 --device my_cpu.yaml")
def calibrate(
    out: Path = typer.Option(Path("device.yaml"), "--out", "-o", metavar="FILE",
                             help="Where to write the profile (atomically)."),
    threads: int = typer.Option(1, "--threads", "-t", min=1, max=4096, help="Intra-op threads."),
    quick: bool = typer.Option(False, "--quick", help="143 of the 251 synthetic networks (no "
                               "random chains, 6 staged and 6 mobile networks), 2 rounds, less timing "
                               "(under 30 s instead of about 3 minutes); a rougher fit."),
    name: Optional[str] = typer.Option(None, "--name", help="Profile name (default: the file's stem)."),
    budget: float = typer.Option(None, "--budget", min=0.001, max=60.0, metavar="SECONDS",
                                 help="Timing per network over all rounds (default 0.4 s, "
                                 "0.05 s with --quick)."),
    rounds: int = typer.Option(None, "--rounds", min=1, max=100, help="Timing rounds over all "
                               "networks, each in a fresh process; a network keeps the median over "
                               "the rounds of its time against the reference network in each (default 5, 2 with --quick)."),
) -> None:
    """Fit a device profile from torch measurements on this machine.

    Synthetic networks (chains of one cell: a dense, 1x1, grouped or depthwise conv with the
    batch norm and activation after it, inverted residuals, split/shuffle units, stems, heads,
    pooling, wide MLPs, downsampling steps, batch norm and ReLU alone; tiny chains that pin
    each class's overhead; deep chains whose weights leave the cache; random staged and whole
    mobile networks like a search space's samples; swept over shapes and channel counts;
    never the zoo's networks) are timed, in glibc's steady allocator state, each round in a
    fresh process (a network keeps the median over the rounds), each against a small reference
    network timed between its windows of calls, so that the machine's own drift cancels (times
    are at the machine's quiet speed: costmodel/latency/drift.py), and the additive model's
    constants (per op class: peak, bandwidths, overhead per kernel; the weight, kernel and
    last-level caches with their bandwidths) are fitted by bounded relative least squares
    (costmodel/latency/calibrate.py documents the method and why chains, not lone ops).
    Prints the fit error per class. Needs the torch extra.
    """
    from costmodel.extras import need
    need("torch", "costmodel calibrate")
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from costmodel.latency import calibrate as cal
    from costmodel.output.atomic import ensure_dir, write_atomic
    from costmodel.output.tabular import Column, Tabular

    ensure_dir(out.parent if str(out.parent) else ".")
    nets = cal.networks(quick)
    budget_s = budget if budget else (cal.QUICK_BUDGET_S if quick else cal.BUDGET_S)
    n_rounds = rounds if rounds else (cal.QUICK_ROUNDS if quick else cal.ROUNDS)
    err = console(stderr=True)
    with Progress(TextColumn("calibrating"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                  TextColumn("{task.description}"), console=err, transient=True) as bar:
        task = bar.add_task("", total=len(nets) * n_rounds)
        timed = cal.measure_all(nets, threads, budget_s, n_rounds,
                                lambda n, r: bar.update(task, advance=1,
                                                        description=f"round {r + 1}: {n.label[:50]}"))
    samples = timed.samples
    f = cal.fit(samples)
    prof = cal.make_profile(name or out.stem, f, threads, quick, n_rounds, len(samples),
                            reference_s=timed.reference_s, torch_version=timed.torch)
    write_atomic(out, cal.dump(prof))
    t = Tabular(title=f"calibration fit: {prof.name} ({prof.cpu}, {threads} thread(s), "
                      f"torch {prof.torch})",
                columns=[Column("Class", "left"), Column("Samples"), Column("Peak (GFLOP/s)"),
                         Column("Bandwidth (GB/s)"), Column("Weights (GB/s)"),
                         Column("Scratch (GB/s)"), Column("Overhead (us)"),
                         Column("Dominates"), Column("Fit MAPE")])

    def gbs(v):
        return "-" if v is None else f"{v / 1e9:,.2f}"

    for c, cf in f.classes.items():
        t.add([c, cf.samples, f"{cf.peak_flops / 1e9:,.2f}", gbs(cf.memory_bandwidth),
               gbs(cf.weight_bandwidth), gbs(cf.scratch_bandwidth),
               f"{cf.overhead_s * 1e6:,.2f}", cf.dominated,
               f"{100 * cf.fit_mape:.1f}%" if cf.dominated else "-"])
    t.notes = [f"{len(samples)} synthetic networks, {n_rounds} round(s); fit error over all of "
               f"them {100 * f.mape:.1f}% (mean), {100 * f.within_10:.0f}% within 10%. Model: "
               "t = overhead + FLOPs / peak + activation bytes / bandwidth + weight bytes / "
               "weight bandwidth + scratch bytes / scratch bandwidth per kernel ('-': no "
               "sample has any; 10,000 GB/s: a bound the fit did not need to leave); "
               "'Dominates': the networks whose predicted time the class dominates (its Fit "
               "MAPE is over them).",
               (f"Working set: a network whose weights exceed {f.weight_cache_bytes / 2**20:g} MiB "
                f"moves m = 1 - {f.weight_cache_bytes / 2**20:g} MiB / its weight bytes of every "
                f"kernel's activation and weight bytes at {f.cold_bandwidth / 1e9:,.2f} GB/s more."
                if f.cold_bandwidth else "Working set: no weight cache fitted (the samples did "
                "not need one)."),
               (f"Spill: a kernel whose activation and weight bytes F exceed "
                f"{f.kernel_cache_bytes / 2**20:g} MiB moves 1 - {f.kernel_cache_bytes / 2**20:g} "
                f"MiB / F of its activation bytes at {f.spill_bandwidth / 1e9:,.2f} GB/s more."
                if f.spill_bandwidth else "Spill: no kernel cache fitted (the samples did not "
                "need one)."),
               (f"Memory: a network whose weights exceed {f.llc_bytes / 2**20:g} MiB reads "
                f"1 - {f.llc_bytes / 2**20:g} MiB / its weight bytes of every kernel's weights "
                f"at {f.dram_bandwidth / 1e9:,.2f} GB/s more." if f.dram_bandwidth else
                "Memory: no last-level cache fitted (the samples did not need one).")]
    t.notes.append(f"Times at the machine's quiet speed: each network's ratio to the reference "
                   f"network timed beside it, times the reference's fastest window, "
                   f"{timed.reference_s * 1e3:.3f} ms.")
    emit(t, "table")
    err.print(f"wrote {markup(out)}", highlight=False)


@app.command(rich_help_panel="torch", epilog="Examples:\n\n"
             "  costmodel bench mobilenet_v2\n\n"
             "  costmodel bench shufflenet_v2 --set scale=0.5 --threads 1 --repeat 50\n\n"
             "  costmodel bench mobilenet_v2 --compare epyc-1t\n\n"
             "  costmodel bench mobilenet_v1 --format json | jq .totals.time_ms")
def bench(
    spec: Path = SPEC_ARG,
    set_: Optional[list[str]] = set_option(),
    threads: int = typer.Option(1, "--threads", "-t", min=1, max=4096, help="Intra-op threads."),
    repeat: int = typer.Option(20, "--repeat", "-r", min=1, max=10000, help="Timed passes."),
    warmup: int = typer.Option(3, "--warmup", "-w", min=0, max=10000, help="Untimed passes first."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, max=65536, help="Batch size."),
    compare: Optional[str] = typer.Option(None, "--compare", "-c", metavar="DEVICE",
                                          help="Put the prediction on this device profile beside "
                                          "the measurement, per type and per layer, with the error."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """MEASURE the latency of the module built from a spec (torch eager, CPU, fp32).

    Warm-up passes, then the median and spread of timed passes in total, and per layer with
    timing hooks on each layer's module. One process: where its tensors land in memory
    changes the time and stays for the process's life (up to 22% between fresh processes on this
    project's Xeon for the CIFAR ResNets and GhostNets, 2% within one), so run it a few
    times to see that spread; `calibrate` keeps the median over 5 processes. Refuses models
    over `verify`'s size limits before building anything. Needs the torch extra.
    """
    from costmodel.extras import need
    need("torch", "costmodel bench")
    p = Spec.load(spec).profile(**parse_assignments(set_))
    pred = None
    if compare:
        from costmodel.latency.predict import predict
        pred = predict(p, _device(compare), batch, "fp32")
    from costmodel.latency import report
    from costmodel.latency.bench import check_limits, measure
    check_limits(p, batch)
    m = measure(p, threads, repeat, warmup, batch)
    if fmt == Format.json:
        data = m.to_dict()
        if pred is not None:
            layers, types = report.compare_rows(m, pred)
            data["predicted"] = {"device": pred.device_dict(), "time_s": pred.time_s,
                                 "error": (pred.time_s - m.totals["time_s"]) / m.totals["time_s"],
                                 "by_type": types, "layers": layers}
        print_json(data)
        return
    if fmt == Format.csv:
        if pred is not None:
            _csv(report.compare_rows(m, pred)[0])
        else:
            _csv([{**l, "kind": "measured", "threads": m.machine["threads"], "batch": batch}
                  for l in m.layers])
        return
    for tab in (report.compare_tables(m, pred) if pred is not None else [report.bench_table(m)]):
        emit(tab, fmt.value)
    if fmt == Format.table:
        tail = f"; predicted {pred.time_s * 1e3:.3f} ms on {markup(pred.device.name)}" if pred else ""
        console().print(f"[bold]{markup(m.model)}[/bold]: measured {m.totals['time_s'] * 1e3:.3f} ms "
                        f"(median of {repeat}, IQR/median {100 * m.totals['spread']:.1f}%, "
                        f"{threads} thread(s), batch {batch}){tail}")


@app.command(rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel roofline mobilenet_v2 --out mnv2_roofline.png\n\n"
             "  costmodel roofline shufflenet_v2 --device my_cpu.yaml --out roof.svg")
def roofline(
    spec: Path = SPEC_ARG,
    set_: Optional[list[str]] = set_option(),
    device: Optional[str] = typer.Option(None, "--device", "-d", metavar="NAME|FILE", help=DEVICE_HELP),
    out: Path = typer.Option(..., "--out", "-o", metavar="FILE.png|svg", help="The plot file."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, max=65536, help="Batch size."),
) -> None:
    """Plot every layer (arithmetic intensity vs predicted attained FLOP/s) under the device's
    roofs (one per op class), coloured by op class. Needs the plots extra (matplotlib)."""
    from costmodel.extras import need
    need("plots", "costmodel roofline")
    from costmodel.errors import SpecError
    from costmodel.latency.plot import roofline_plot
    from costmodel.latency.predict import predict
    if out.suffix.lower() not in (".png", ".svg"):
        raise SpecError("the plot file must end in .png or .svg", file=str(out))
    p = Spec.load(spec).profile(**parse_assignments(set_))
    pred = predict(p, _device(device), batch)
    roofline_plot(pred, out)
    console(stderr=True).print(f"wrote {markup(out)}", highlight=False)
