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


@app.command("table", rich_help_panel="papers", epilog="Examples:\n\n"
             "  costmodel table --list\n\n"
             "  costmodel table mobilenet_v1-table6\n\n"
             "  costmodel table shufflenet_v1-table5 --format markdown")
def table(
    name: Optional[str] = typer.Argument(None, help="Table name, e.g. mobilenet_v1-table6 "
                                         "(see --list)."),
    list_: bool = typer.Option(False, "--list", help="List the known tables and exit."),
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", "-f", help="Output format."),
    registry_dir: Optional[Path] = _registry_option(),
    specs_dir: Optional[Path] = _specs_option(),
    allow_missing: bool = _missing_option(),
) -> None:
    """One paper table: reported accuracy and cost, computed cost, difference, footnotes.

    Accuracy is cited from the paper (never measured); computed mult-adds are conv + linear
    multiply-accumulates, bias excluded; the header says how parameters are counted.
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
    built = paper_tables.build(t, registry.Resolver(specs_dir, allow_missing))
    if fmt == TableFormat.json:
        print_json(built.to_json())
    elif fmt == TableFormat.csv:
        sys.stdout.write(built.to_csv())
    else:
        emit(built.display, fmt.value)


@app.command("tables", rich_help_panel="papers", epilog="Example:\n\n  costmodel tables --out reports/")
def tables(
    out: Path = typer.Option(..., "--out", "-o", metavar="DIR",
                             help="Folder to write the reports into (created if needed)."),
    registry_dir: Optional[Path] = _registry_option(),
    specs_dir: Optional[Path] = _specs_option(),
    allow_missing: bool = _missing_option(),
) -> None:
    """Regenerate every paper table (Markdown + CSV) and the plots (PNG + SVG) into DIR.

    Everything is rendered before anything is written, and each file is replaced atomically:
    a bad registry row or an unwritable folder leaves the existing reports as they were.
    """
    extras.need("plots", "costmodel tables (its plots)")
    reg = registry.load(registry_dir)
    resolver = registry.Resolver(specs_dir, allow_missing)
    files = paper_reports.render(reg, resolver)
    written = paper_reports.write(files, out)
    c = console(stderr=True)
    c.print(f"wrote {len(written)} files to {markup(out)} ({len(reg.tables)} tables, "
            f"{sum(1 for f in files if f.endswith('.png'))} plots)")
    if resolver.missing:
        c.print("[yellow]specs missing (blank computed cells): "
                + markup(", ".join(sorted(resolver.missing))) + "[/yellow]")
