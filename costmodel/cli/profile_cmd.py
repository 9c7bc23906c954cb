"""`costmodel profile`: the analytic profile of a spec (no torch, no fvcore)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.output.text import fmt_int
from costmodel.count import conventions
from costmodel.spec.settings import parse_assignments

from costmodel.cli.app import (By, Dtype, Format, app, convention_option, emit, print_json,
                               say, set_option)


@app.command(rich_help_panel="profile", epilog="Examples:\n\n"
             "  costmodel profile mobilenet_v2 --depth 2\n\n"
             "  costmodel profile mobilenet_v2 --top 10\n\n"
             "  costmodel profile mobilenet_v1 --set width=0.5 --set resolution=160\n\n"
             "  costmodel profile mobilenet_v1 --by type\n\n"
             "  costmodel profile mobilenet_v2 --convention thop --by type\n\n"
             "  costmodel profile resnet50 --convention training --batch 32\n\n"
             "  costmodel profile mobilenet_v2 --batch 32 --dtype fp16\n\n"
             "  costmodel profile shufflenet_v2 --traffic --dtype fp16 --batch 8\n\n"
             "  costmodel profile mobilenet_v1 --format json | jq .totals")
def profile(
    spec: Path = typer.Argument(..., help="A spec: a YAML file, or the name of a shipped spec (costmodel zoo); "
                                "or a torch module (package.module:factory, file.py:factory) or "
                                "an ONNX file, imported first (costmodel import)."),
    set_: Optional[list[str]] = set_option(),
    fmt: Format = typer.Option(Format.table, "--format", "-f",
                               help="table, json, csv or markdown."),
    by: By = typer.Option(By.layer, "--by", help="One row per layer (or block, with --depth), "
                          "or per layer type (MobileNet's Table 2)."),
    convention=convention_option(),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", min=1, metavar="N",
                                        help="Roll layers up to their block at depth N of the "
                                        "dotted names (1: stem, features, head...), as fvcore's "
                                        "max_depth."),
    hide_zero: Optional[bool] = typer.Option(None, "--hide-zero/--show-zero",
                                             help="Hide rows with no cost (0 counted, 0 params). "
                                             "Default: hidden with --depth, shown otherwise.",
                                             show_default=False),
    top: Optional[int] = typer.Option(None, "--top", "-k", min=1, metavar="K",
                                      help="List only the K costliest rows, costliest first."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, metavar="N",
                              help="Batch size of the activation-memory figures; the counts stay "
                              "per sample, as the papers give them, and the whole batch's count "
                              "under the convention is added (totals.count_at_batch)."),
    dtype: Dtype = typer.Option(Dtype.fp32, "--dtype", help="Element type of the memory "
                                "figures: fp32, fp16, bf16 or int8."),
    total: bool = typer.Option(False, "--total", help="CSV: end with a totals row."),
    traffic: bool = typer.Option(False, "--traffic", help="Show memory traffic instead: bytes "
                                 "read (inputs, weights) and written per layer at --dtype and "
                                 "--batch, ShuffleNet V2's MAC of 1x1 convs, FLOPs per byte "
                                 "(also in JSON)."),
) -> None:
    """Count mult-adds, parameters, activations and memory, per layer and in total.

    Exact integers, computed analytically in milliseconds: nothing is built or traced.
    """
    from costmodel.importer.source import load_spec     # a module or .onnx: imported first
    s = load_spec(spec)
    p = s.profile(**parse_assignments(set_))
    conventions.get(convention.value)
    if traffic:
        _traffic(p, fmt, dtype.value, batch)
        return
    hide = (depth is not None) if hide_zero is None else hide_zero
    if fmt == Format.json:
        print_json(p.to_dict(convention.value, batch, dtype.value))
        return
    from costmodel.count.report import layer_rows, layer_table, type_table
    if fmt == Format.csv and by == By.layer:
        import csv
        rows = layer_rows(p, convention.value, depth, hide, top)
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        if total:
            w.writerow({"name": "Total", "layers": len(p.layers),
                        "input_shape": "x".join(map(str, p.input_shape)),
                        "output_shape": "x".join(map(str, p.output_shape)),
                        convention.value: p.total(convention.value), "params": p.params,
                        "activations": p.activations})
        return
    tab = type_table(p, convention.value, batch) if by == By.type else layer_table(p, convention.value, depth, hide, top,
                                                          batch, dtype.value)
    if fmt == Format.csv:
        sys.stdout.write(tab.to_csv(total=total))
        return
    emit(tab, fmt.value)
    if fmt == Format.table:
        say(("bold", p.model), f": {fmt_int(p.mult_adds)} mult-adds "
            f"({p.mult_adds / 1e6:.1f} M), {fmt_int(p.params)} params ({p.params / 1e6:.2f} M), "
            f"{fmt_int(p.activations)} activations")
        if convention.value != "paper" or batch != 1:
            conv = conventions.get(convention.value)
            n = p.total(conv.name, batch)
            say(f"{conv.title}{f' ({conv.peer})' if conv.peer else ''}: {n:,} ({n / 1e6:.1f} M)"
                + (f" for the batch of {batch}" if batch != 1 else ""))


def _traffic(p, fmt: Format, dtype: str, batch: int) -> None:
    """`profile --traffic`: the memory-traffic column set (costmodel/latency/traffic.py)."""
    from costmodel.latency import traffic as tr
    from costmodel.latency.report import traffic_table
    rows = tr.traffic(p.layers, batch, dtype)
    tot = tr.totals(rows)
    if fmt == Format.json:
        print_json({"model": p.model, "settings": dict(p.settings), "dtype": dtype, "batch": batch,
                    "traffic": {"totals": tot, "layers": [r.to_dict() for r in rows]}})
        return
    if fmt == Format.csv:
        import csv
        recs = [r.to_dict() for r in rows]
        w = csv.DictWriter(sys.stdout, fieldnames=list(recs[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(recs)
        return
    emit(traffic_table(p.model, p.settings, rows, tot, batch, dtype), fmt.value)
