"""`costmodel table NAME` and `costmodel tables --out DIR`: the papers' tables, what they
printed next to what the specs compute, with footnotes where they differ."""
from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.output.text import markup
from costmodel.papers import reports as paper_reports

from costmodel.papers import tables as paper_tables

from costmodel.papers import registry
from costmodel import extras
from costmodel.errors import SpecError

from costmodel.cli.app import app, console, emit, print_json


class TableFormat(str, enum.Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"
    latex = "latex"


def _registry_option():
    return typer.Option(None, "--registry", metavar="DIR",
                        help="Folder of registry YAML files (default: the project's registry/).")


def _specs_option():
    return typer.Option(None, "--specs", metavar="DIR",
                        help="Folder the registry's spec names resolve in (default: the shipped zoo).")


def _missing_option():
    return typer.Option(False, "--allow-missing", help="Render a row whose spec file does not "
                        "exist (yet) with a blank computed cell instead of failing.")


def _device_option():
    return typer.Option(None, "--device", "-d", metavar="NAME|FILE",
                        help="Device profile of the speed tables' PREDICTED column: a shipped "
                        "name (costmodel/latency/devices/) or a file from `costmodel calibrate` "
                        "(default: the first shipped profile).")


def _measure_option():
    return typer.Option(False, "--measure", help="Also MEASURE every model of the speed tables "
                        "on this machine (torch eager, fp32, batch 1; needs the torch extra) and "
                        "show it beside the paper's and the predicted speed. Machine-dependent.")


def _measurements_option():
    return typer.Option(None, "--measurements", metavar="FILE", help="Take the measured column "
                        "from a measurement file (JSON, as `costmodel tables --measure` writes "
                        "it) instead of measuring now.")


def _threads_option():
    return typer.Option(1, "--threads", min=1, max=4096, help="Intra-op threads while measuring.")


def _repeat_option():
    return typer.Option(10, "--repeat", min=1, max=10_000,
                        help="Timed runs per model while measuring (the median is shown).")


def _speed_context(device, measure: bool, measurements_file, threads: int, repeat: int,
                   tables: list, resolver):
    """The device profile of the predicted column and, when asked, this machine's
    measurements (from a file, or measured now for what ``tables`` need)."""
    from costmodel.latency import devices
    from costmodel.papers import measured
    from costmodel.papers.speed import SpeedContext
    dev = devices.resolve(device if device else devices.default_name())
    if measure and measurements_file:
        raise SpecError("give --measure or --measurements FILE, not both")
    m = None
    if measurements_file:
        m = measured.load(measurements_file).resolve(resolver)
    elif measure:
        registry.check_specs(tables, resolver)
        configs = measured.needed(tables, resolver) + paper_reports.plot_configs(tables, resolver)
        m = _measure_with_progress(measured, configs, threads, repeat)
    return SpeedContext(dev, m)


def _measure_with_progress(measured, configs, threads: int, repeat: int):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)
    with Progress(TextColumn("measuring {task.description:<28}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                  TimeRemainingColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)

        def step(spec: str, done: int, total: int) -> None:
            bar.update(task, description=spec, completed=done, total=total)
        return measured.measure(configs, threads=threads, repeat=repeat, step=step)


@app.command("table", rich_help_panel="papers", epilog="Examples:\n\n"
             "  costmodel table --list\n\n"
             "  costmodel table mobilenet_v1-table6\n\n"
             "  costmodel table shufflenet_v1-table5 --format markdown\n\n"
             "  costmodel table shufflenet_v1-table8                  # paper ms, mult-adds, predicted\n\n"
             "  costmodel table shufflenet_v1-table8 --measure        # ... and measured here\n\n"
             "  costmodel table shufflenet_v2-guidelines --device my_cpu.yaml")
def table(
    name: Optional[str] = typer.Argument(None, help="Table name, e.g. mobilenet_v1-table6 "
                                         "(see --list)."),
    list_: bool = typer.Option(False, "--list", help="List the known tables and exit."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output format."),
    registry_dir: Optional[Path] = _registry_option(),
    specs_dir: Optional[Path] = _specs_option(),
    allow_missing: bool = _missing_option(),
    device: Optional[str] = _device_option(),
    measure: bool = _measure_option(),
    measurements: Optional[Path] = _measurements_option(),
    threads: int = _threads_option(),
    repeat: int = _repeat_option(),
) -> None:
    """One paper table: reported accuracy and cost, computed cost, difference, footnotes.

    Accuracy is cited from the paper (never measured); computed mult-adds are conv + linear
    multiply-accumulates, bias excluded; the header says how parameters are counted.

    Speed tables (ShuffleNet v1/v2 Table 8, MobileNet v2 Table 4, MobileNet v3 Table 3, the
    ShuffleNet v2 guideline experiments) show the paper's device speed, the computed
    mult-adds, the PREDICTED latency on a device profile (--device) and, with --measure, the
    latency MEASURED on this machine; they end with Spearman rank correlations and the
    paper's speed-up claims recomputed as ratios.
    """
    reg = registry.load(registry_dir)
    if list_:
        if fmt == TableFormat.json:
            print_json([{"table": t.id, "title": t.title, "kind": t.kind, "rows": len(t.rows)}
                        for t in reg.tables.values()])
            return
        width = max(len(n) for n in reg.tables)
        for t in reg.tables.values():
            sys.stdout.write(f"{t.id:<{width}}  {t.title}\n")
        return
    if not name:
        raise SpecError("give a table name; known tables: " + ", ".join(reg.tables))
    t = reg.get(name)
    resolver = registry.Resolver(specs_dir, allow_missing)
    ctx = None
    if t.kind in paper_tables.SPEED_KINDS:
        ctx = _speed_context(device, measure, measurements, threads, repeat, [t], resolver)
    elif device or measure or measurements:
        raise SpecError(f"table {t.id!r} has no speed columns: --device, --measure and "
                        "--measurements apply to the speed tables only ("
                        + ", ".join(n for n, x in reg.tables.items()
                                    if x.kind in paper_tables.SPEED_KINDS) + ")")
    built = paper_tables.build(t, resolver, ctx)
    if fmt == TableFormat.json:
        print_json(built.to_json())
    elif fmt == TableFormat.csv:
        sys.stdout.write(built.to_csv())
    else:
        emit(built.display, fmt.value)


@app.command("tables", rich_help_panel="papers", epilog="Examples:\n\n  costmodel tables --out reports/\n\n"
             "  costmodel tables --out reports/ --measure     # adds *.measured.* files, this machine")
def tables(
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR",
                             help="Folder to write the reports into (created if needed)."),
    registry_dir: Optional[Path] = _registry_option(),
    specs_dir: Optional[Path] = _specs_option(),
    allow_missing: bool = _missing_option(),
    device: Optional[str] = _device_option(),
    measure: bool = _measure_option(),
    measurements: Optional[Path] = _measurements_option(),
    threads: int = _threads_option(),
    repeat: int = _repeat_option(),
) -> None:
    """Regenerate every paper table (Markdown + CSV) and the plots (PNG + SVG) into DIR.

    Everything is rendered before anything is written, and each file is replaced atomically:
    a bad registry row or an unwritable folder leaves the existing reports as they were.

    The files are machine-independent (the predicted latency comes from a device profile,
    named in each table). With --measure (or --measurements FILE), the speed tables and the
    accuracy-vs-latency plot are also written with this machine's measured latency, as
    separate `*.measured.*` files that name the machine and the torch version, with the
    measurements themselves in `measurements.measured.json`.
    """
    extras.need("plots", "costmodel tables (its plots)")
    reg = registry.load(registry_dir)
    resolver = registry.Resolver(specs_dir, allow_missing)
    ctx = _speed_context(device, measure, measurements, threads, repeat,
                         list(reg.tables.values()), resolver)
    files = paper_reports.render(reg, resolver, ctx)
    written = paper_reports.write(files, out)
    c = console(stderr=True)
    c.print(f"wrote {len(written)} files to {markup(out)} ({len(reg.tables)} tables, "
            f"{sum(1 for f in files if f.endswith('.png'))} plots)")
    if resolver.missing:
        c.print("[yellow]specs missing (blank computed cells): "
                + markup(", ".join(sorted(resolver.missing))) + "[/yellow]")
