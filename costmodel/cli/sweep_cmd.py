"""`costmodel sweep SPEC --grid NAME=V1,V2 ...`: mult-adds and params over a grid of settings."""
from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.sweep import grid as sweep_mod
from costmodel.output.atomic import ensure_dir, write_atomic
from costmodel.spec.settings import parse_assignments

from costmodel.cli.app import app, console, set_option


class SweepFormat(str, enum.Enum):
    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


SUFFIX_FORMATS = {".md": "markdown", ".csv": "csv", ".json": "json"}


def render(s: sweep_mod.Sweep, fmt: str) -> str:
    """The sweep as text: Markdown, CSV or JSON (two axes add the mult-adds/params matrices)."""
    if fmt == "json":
        from costmodel.output.jsondoc import document
        return json.dumps(document(s.to_json()), indent=2) + "\n"
    if fmt == "csv":
        return sweep_mod.table(s).to_csv()
    text = sweep_mod.table(s).to_markdown()
    if len(s.axes) == 2:
        text += "\n" + sweep_mod.matrix(s, "mult_adds").to_markdown()
        text += "\n" + sweep_mod.matrix(s, "params").to_markdown()
    return text


@app.command("sweep", rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=1.0,0.75,0.5,0.25 "
             "--grid resolution=224,192,160,128\n\n"
             "  costmodel sweep mobilenet_v1 --grid width=0.6 --grid resolution=176\n\n"
             "  costmodel sweep shufflenet_v1 --grid groups=1,2,3,4,8 --out g.csv")
def sweep(
    spec: Path = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec (costmodel zoo)."),
    grid: Optional[list[str]] = typer.Option(None, "--grid", "-g", metavar="NAME=V1,V2,...",
                                             help="A setting and the values to sweep; repeat "
                                             "for more axes (the grid is their product)."),
    set_: Optional[list[str]] = set_option(),
    fmt: Optional[SweepFormat] = typer.Option(None, "--format", "-f", help="Output format "
                                              "(default: table, or from --out's suffix)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE",
                                       help="Write to FILE (atomically) instead of stdout."),
) -> None:
    """Mult-adds and params of a spec at every point of a grid of settings.

    Answers "what does 0.6x at 176 pixels cost?" for any spec. Exact integers; mult-adds are
    conv + linear multiply-accumulates (bias excluded), params every trainable parameter.
    """
    s = sweep_mod.run(spec, sweep_mod.parse_grid(grid), parse_assignments(set_))
    if out is not None:
        chosen = fmt.value if fmt else SUFFIX_FORMATS.get(out.suffix.lower(), "markdown")
        ensure_dir(out.parent if str(out.parent) else ".")
        write_atomic(out, render(s, "markdown" if chosen == "table" else chosen))
        console(stderr=True).print(f"wrote {len(s.points)} points to {out}")
        return
    chosen = fmt.value if fmt else "table"
    if chosen != "table":
        sys.stdout.write(render(s, chosen))
        return
    c = console()
    c.print(sweep_mod.table(s).to_rich())
    if len(s.axes) == 2:
        c.print(sweep_mod.matrix(s, "mult_adds").to_rich())
        c.print(sweep_mod.matrix(s, "params").to_rich())
