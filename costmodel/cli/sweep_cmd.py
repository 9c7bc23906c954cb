"""`costmodel sweep SPEC --grid NAME=V1,V2 ...`: exact counts over a grid (or a sample) of
settings, filtered, streamed, on local processes or Ray."""
from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.errors import SpecError
from costmodel.output.text import markup
from costmodel.output.atomic import ensure_dir, write_atomic
from costmodel.spec.settings import parse_assignments
from costmodel.sweep import grid as sweep_mod
from costmodel.sweep.stream import STREAM_FORMATS, SUFFIXES, Writer

from costmodel.cli.app import app, console, convention_option, fail, set_option


class SweepFormat(str, enum.Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    parquet = "parquet"


class Backend(str, enum.Enum):
    local = "local"
    ray = "ray"


def render(s: sweep_mod.Sweep, fmt: str) -> str:
    """The sweep as Markdown or JSON (a complete two-axis grid adds the matrices)."""
    if fmt == "json":
        from costmodel.output.jsondoc import document, dumps
        return dumps(document(s.to_json())) + "\n"
    text = sweep_mod.table(s).to_markdown()
    if len(s.axes) == 2 and s.complete:
        for metric in _matrices(s):
            text += "\n" + sweep_mod.matrix(s, metric).to_markdown()
    return text


def _matrices(s: sweep_mod.Sweep) -> list[str]:
    """The matrices of a complete two-axis sweep: mult-adds, the convention's count (when
    another convention is chosen) and params."""
    m = s.measures
    return ["mult_adds", *([m.key] if m.convention != "paper" else []), "params"]


def _progress(total: int, enabled: bool):
    """A rich progress bar on stderr (rate, time left), or a no-op."""
    if not enabled:
        return None, (lambda n: None)
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn,
                               TaskProgressColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task):
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} points/s")

    bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   Rate(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                   console=console(stderr=True), transient=False)
    task = bar.add_task("sweep", total=total)
    return bar, (lambda n: bar.advance(task, n))


@app.command("sweep", rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=1.0,0.75,0.5,0.25 "
             "--grid resolution=224,192,160,128\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=0.6 --grid resolution=176\n\n"
             "  costmodel sweep shufflenet_v1 --grid groups=1,2,3,4,8 --out g.csv\n\n"
             "  costmodel sweep mobilenet_v2 --grid width=0.5,0.75,1.0 --grid resolution=160,224 "
             "--convention thop --batch 32\n\n"
             "  costmodel sweep mobilenet_v2 --grid width=0.25:1.5:0.001 --grid "
             "resolution=96:320:4 --stream --out space.csv --jobs 2\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=0.25:1.5:0.01 --grid resolution=96:320:8 "
             "--where \"mult_adds < 300e6 and params < 4e6\" --pareto mult_adds,params\n\n"
             "  costmodel sweep mobilenet_v3_large --grid width=0.25:2:0.001 --grid "
             "resolution=96:320:2 --sample 1000 --seed 0 --format jsonl\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=0.25:1.5:0.0001 --grid "
             "resolution=96:320:1 --stream --out big.parquet --backend ray --address auto")
def sweep(
    spec: Path = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec (costmodel zoo)."),
    grid: Optional[list[str]] = typer.Option(
        None, "--grid", "-g", metavar="NAME=V1,V2,...|START:STOP:STEP",
        help="A setting and its values: a list, a range START:STOP:STEP (stop included when "
        "a step lands on it), or both (96:224:32,320). Repeat for more axes: the grid is "
        "their product, first axis slowest."),
    set_: Optional[list[str]] = set_option(),
    sample: Optional[int] = typer.Option(None, "--sample", metavar="N",
                                         help="N random points of the grid (distinct, in grid order)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of --sample (same seed, same points)."),
    where: Optional[str] = typer.Option(
        None, "--where", metavar="CONDITION",
        help="Keep the points where CONDITION holds, e.g. \"mult_adds < 300e6 and params < 4e6\". "
        "Columns: the swept and --set settings, mult_adds, params, weights, activations, "
        "flops_fvcore, flops_full, and with --convention / --batch its column (flops_thop...) "
        "and count_at_batch."),
    pareto: Optional[str] = typer.Option(
        None, "--pareto", metavar="COL,COL",
        help="Keep the points no other point beats on all these columns (smaller is better; "
        "-name: larger is better), e.g. mult_adds,params or mult_adds,-resolution."),
    fmt: Optional[SweepFormat] = typer.Option(None, "--format", "-f", help="Output format "
                                              "(default: table, or from --out's suffix)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE",
                                       help="Write to FILE (atomically) instead of stdout."),
    stream: bool = typer.Option(False, "--stream", help="Write rows as they are computed "
                                "(csv, jsonl, parquet) in constant memory: no limit on the "
                                f"grid (else {sweep_mod.MAX_POINTS:,} points)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Local worker processes."),
    backend: Backend = typer.Option(Backend.local, "--backend", help="local (processes) or "
                                    "ray (tasks on a Ray cluster; the 'ray' extra)."),
    address: Optional[str] = typer.Option(None, "--address", help="The Ray cluster "
                                          "(e.g. auto, or ray://host:10001); default: start "
                                          "Ray here."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress "
                                            "bar with rate and time left (default: on a "
                                            "terminal, for long sweeps)."),
    no_compile: bool = typer.Option(False, "--no-compile", help="Expand the spec at every "
                                    "point (the slow reference path)."),
    convention=convention_option(
        "paper", "Add this convention's total per sample as a column named as profile's JSON "
        "totals (flops_thop, flops_ptflops_aten, flops_training...; paper, fvcore and full "
        "are columns already): thop, ptflops, ptflops-aten, torchinfo, calflops, "
        "calflops-macs, torchprofile, training, flop_counter..."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, max=1_000_000, metavar="N",
                              help="Also count the convention for a batch of N: column "
                              "count_at_batch (as profile's totals.count_at_batch)."),
) -> None:
    """Exact counts of a spec at every point of a grid (or a sample) of settings.

    Answers "what does 0.6x at 176 pixels cost?" for any spec, and scans search spaces of
    millions of points: the spec is compiled once per layer structure into formulas over
    the swept settings (the same integers as `costmodel profile` at every point). Columns:
    mult_adds (conv + linear multiply-accumulates, bias excluded), params (every trainable
    parameter), weights (conv/linear weights), activations, flops_fvcore, flops_full;
    --convention NAME adds that convention's column (e.g. flops_thop), --batch N the batch's
    count (count_at_batch), both usable in --where and --pareto.
    """
    try:
        _sweep(spec, grid, set_, sample, seed, where, pareto, fmt, out, stream, jobs, backend,
               address, progress, no_compile, convention.value, batch)
    except SpecError as exc:
        if exc.file is None:            # an option, not a file: no "<spec>:" prefix
            fail(exc.message)
        raise


def _sweep(spec, grid, set_, sample, seed, where, pareto, fmt, out, stream, jobs, backend,
           address, progress, no_compile, convention="paper", batch=1) -> None:
    chosen = fmt.value if fmt else (SUFFIXES.get(out.suffix.lower(), "markdown") if out
                                    else "table")
    streamed = chosen in STREAM_FORMATS
    if stream and not streamed and pareto is None:
        raise SpecError(f"--stream writes csv, jsonl or parquet, not {chosen} (only --pareto's "
                        "front is small enough for the other formats)")
    if chosen == "parquet" and out is None:
        raise SpecError("Parquet is binary: give --out FILE.parquet")
    plan = sweep_mod.Plan(spec, sweep_mod.parse_grid(grid), parse_assignments(set_),
                          sample=sample, seed=seed, where=where, pareto=pareto, stream=stream,
                          compile=not no_compile, convention=convention, batch=batch)
    runner = sweep_mod.backends_mod.backend(backend.value, jobs, address)
    show = progress if progress is not None else (sys.stderr.isatty() and plan.count > 50_000)
    bar, advance = _progress(plan.count, bool(show))
    try:
        if bar is not None:
            bar.start()
        if streamed:
            with Writer(chosen, out, plan.columns, plan.types) as w:
                for cols in plan.results(runner, advance):
                    w.write(cols)
            if out is not None:
                console(stderr=True).print(f"wrote {w.rows:,} rows to {markup(out)}", highlight=False)
            return
        s = plan.collect(runner, advance)
    finally:
        if bar is not None:
            bar.stop()
        runner.close()
    if out is not None:
        ensure_dir(out.parent if str(out.parent) else ".")
        write_atomic(out, render(s, "markdown" if chosen == "table" else chosen))
        console(stderr=True).print(f"wrote {len(s.points)} points to {markup(out)}", highlight=False)
        return
    if chosen != "table":
        sys.stdout.write(render(s, chosen))
        return
    c = console()
    c.print(sweep_mod.table(s).to_rich())
    if len(s.axes) == 2 and s.complete:
        for metric in _matrices(s):
            c.print(sweep_mod.matrix(s, metric).to_rich())
