"""`costmodel explain SPEC --convention A [--vs B]`: why two conventions (a peer's and the
papers', or two peers') give different numbers for the same network, op type by op type, with
the rule of each (analytic, no torch)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.count.explain import explain as explain_counts
from costmodel.count.profile import Spec
from costmodel.output.tabular import Column, Tabular, fmt_int
from costmodel.spec.settings import parse_assignments

from costmodel.cli.app import (ConventionName, Format, app, batch_option, console,
                              convention_option, emit, print_json, set_option)


def _signed(n: int) -> str:
    return "0" if n == 0 else f"{n:+,}"


def table(e, rules: bool = True) -> Tabular:
    a, b = e.a, e.b
    settings = ", ".join(f"{k}={v}" for k, v in e.settings.items())
    batch = f", batch {e.batch}" if e.batch != 1 else ""
    cols = [Column("Type", "left"), Column("Layers"), Column(a.name), Column(b.name),
            Column(f"{a.name} - {b.name}")]
    if rules:
        cols.append(Column(f"Why ({a.name}'s rule" + (f"; {b.name}'s rule)" if b.name != "paper"
                                                      else ")"), "left"))
    t = Tabular(title=f"{e.model} ({settings}{batch}): {a.name} vs {b.name}, per layer type",
                columns=cols)
    for r in e.rows:
        row = [r.type, r.layers, fmt_int(r.a), fmt_int(r.b), _signed(r.delta)]
        if rules:
            if r.delta == 0:
                why = "same count"
            elif b.name == "paper":
                why = r.rule_a
            else:
                why = f"{a.name}: {r.rule_a} | {b.name}: {r.rule_b}"
            row.append(why)
        t.add(row)
    t.footer = ["Total", sum(r.layers for r in e.rows), fmt_int(e.total_a), fmt_int(e.total_b),
                _signed(e.delta)] + ([""] if rules else [])
    for c in (a, b):
        if c.name != "paper":
            t.notes.append(f"{c.name} ({c.peer or c.title}): {c.doc}; vs paper: {c.differs or '-'}.")
    t.notes.append(e.headline() + ".")
    return t


@app.command("explain", rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel explain mobilenet_v2 --convention thop\n\n"
             "  costmodel explain mobilenet_v2 --convention ptflops --vs ptflops-aten\n\n"
             "  costmodel explain resnet50 --convention torchinfo\n\n"
             "  costmodel explain resnet50 --convention calflops --vs flop_counter\n\n"
             "  costmodel explain mobilenet_v3_small -c torchprofile --format json | jq .by_type")
def explain(
    spec: Path = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec "
                                "(costmodel zoo)."),
    convention=convention_option("thop", help="The convention to explain (a peer's: thop, "
                                 "ptflops, ptflops-aten, torchinfo, calflops, calflops-macs, "
                                 "torchprofile; or fvcore, flop_counter, full, training)."),
    vs=typer.Option(ConventionName("paper"), "--vs", case_sensitive=False,
                    help="The convention to compare with (default: paper, the papers' "
                    "mult-adds)."),
    set_: Optional[list[str]] = set_option(),
    batch: int = batch_option(),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format."),
) -> None:
    """Why does thop say 327.6 M? Each op type's count under two conventions, and the rule that makes them differ.

    The rules are the docstrings of the op classes that compute the counts: each names the peer's own function and its bugs (ptflops counting ReLU and pooling twice, torchinfo counting batch norm's parameters instead of its elements...).

    Every number is exact and checked against the real peer (`costmodel verify SPEC --peers`).
    """
    from costmodel.count.conventions import get
    vs_name = get(vs.value).name
    p = Spec.load(spec).profile(**parse_assignments(set_))
    e = explain_counts(p, convention.value, vs_name, batch)
    if fmt == Format.json:
        print_json(e.to_dict())
        return
    if fmt == Format.csv:
        import csv
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(["type", "op", "layers", e.a.name, e.b.name, "delta", "rule_a", "rule_b"])
        for r in e.rows:
            w.writerow([r.type, r.op, r.layers, r.a, r.b, r.delta, r.rule_a, r.rule_b])
        return
    emit(table(e), fmt.value)
    if fmt == Format.table:
        console().print(f"[bold]{e.model}[/bold]: {e.headline()}")
