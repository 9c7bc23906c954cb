"""`costmodel profile`: the analytic profile of a spec (no torch, no fvcore)."""
from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.count import conventions
from costmodel.count.profile import Spec
from costmodel.count.report import layer_rows, layer_table, type_table
from costmodel.spec.settings import parse_assignments

from costmodel.cli.app import Format, app, console, emit, print_json, set_option


class By(str, enum.Enum):
    layer = "layer"
    type = "type"


class Conv(str, enum.Enum):
    paper = "paper"
    fvcore = "fvcore"
    flop_counter = "flop_counter"
    full = "full"


@app.command(epilog="Examples:\n\n"
             "  costmodel profile mobilenet_v1\n\n"
             "  costmodel profile mobilenet_v1 --set width=0.5 --set resolution=160\n\n"
             "  costmodel profile mobilenet_v1 --by type\n\n"
             "  costmodel profile mobilenet_v1 --format json | jq .totals")
def profile(
    spec: Path = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec (costmodel zoo)."),
    set_: Optional[list[str]] = set_option(),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
    by: By = typer.Option(By.layer, "--by", help="One row per layer, or per layer type "
                          "(MobileNet's Table 2)."),
    convention: Conv = typer.Option(Conv.paper, "--convention", "-c", help="Counting convention "
                                    "of the mult-adds column: paper (conv+linear MACs, bias "
                                    "excluded), fvcore, flop_counter (2 x MACs) or full."),
) -> None:
    """Count mult-adds, parameters, activations and memory, per layer and in total.

    Exact integers, computed analytically in milliseconds: nothing is built or traced.
    """
    s = Spec.load(spec)
    p = s.profile(**parse_assignments(set_))
    conventions.get(convention.value)
    if fmt == Format.json:
        data = p.to_dict()
        data["convention"] = convention.value
        print_json(data)
        return
    if fmt == Format.csv and by == By.layer:
        import csv
        rows = layer_rows(p, convention.value)
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return
    tab = type_table(p) if by == By.type else layer_table(p, convention.value)
    emit(tab, fmt.value)
    if fmt == Format.table:
        c = console()
        c.print(f"[bold]{p.model}[/bold]: {p.mult_adds:,} mult-adds ({p.mult_adds / 1e6:.1f} M), "
                f"{p.params:,} params ({p.params / 1e6:.2f} M), {p.activations:,} activations")
