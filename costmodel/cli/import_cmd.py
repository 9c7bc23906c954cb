"""`costmodel import`: a torch module or an ONNX model written as a spec."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.cli.app import app, console


@app.command("import", rich_help_panel="torch", epilog="Examples:\n\n"
             "  costmodel import tests/reference_models.py:resnet50 --out resnet50_imported.yaml\n\n"
             "  costmodel import mypkg.models:build --args '{\"width\": 0.5}' --input 3x160x160\n\n"
             "  costmodel import model.onnx --out model.yaml\n\n"
             "  costmodel profile model.onnx")
def import_(
    source: str = typer.Argument(..., help="package.module:factory, path/to/file.py:factory, "
                                 "or an ONNX file (*.onnx)."),
    input_: Optional[str] = typer.Option(None, "--input", metavar="CxHxW", help="Input shape "
                                         "(default: 3x224x224 for a module, the ONNX graph's own)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the spec here "
                                       "(atomically) instead of printing it."),
    args: Optional[str] = typer.Option(None, "--args", metavar="JSON", help="The factory's "
                                       "keyword arguments, a JSON object."),
    allow_unknown: bool = typer.Option(False, "--allow-unknown", help="Keep ops the spec "
                                       "language cannot express as named zero-cost placeholders "
                                       "(flagged UNKNOWN) instead of failing."),
    name: Optional[str] = typer.Option(None, "--name", help="The spec's model name."),
) -> None:
    """Write a torch module (traced with torch.fx) or an ONNX graph as a spec: one entry per
    layer, residual/parallel where the graph adds or concatenates. The spec is profiled and
    held to the source (the same parameters, and fvcore's conv + linear count for a module)
    before it is written. Ops the spec language cannot express are listed, exit 2."""
    import yaml

    from costmodel.importer.source import checked, import_source
    from costmodel.torch.reference import parse_args, parse_input
    imp = import_source(source, parse_input(input_), parse_args(args), allow_unknown, name)
    p = checked(imp)
    text = (f"# Imported by costmodel from {source}: {p.params:,} params, {p.mult_adds:,} "
            "mult-adds\n") + yaml.safe_dump(imp.spec, sort_keys=False, default_flow_style=None,
                                             width=100)
    err = console(stderr=True)
    for u in imp.unknown:
        err.print(f"[yellow]UNKNOWN placeholder (counted 0):[/] {u}", highlight=False)
    if out is None:
        sys.stdout.write(text)
        return
    from costmodel.output.atomic import write_atomic
    write_atomic(out, text)
    err.print(f"wrote {out}: {len(p.layers)} layers, {p.params:,} params, {p.mult_adds:,} "
              "mult-adds (equal to the source's)", highlight=False)
