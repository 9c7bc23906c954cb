"""`costmodel schema` and `costmodel ops`: the spec language, for editors and for people."""
from __future__ import annotations

from costmodel.ops import ALIASES, OPS
from costmodel.spec.schema import json_schema
from costmodel.output.tabular import Column, Tabular

from costmodel.cli.app import app, emit, print_json


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec format.

    Point your editor's YAML language server at it for completion and checking, e.g. put
    `# yaml-language-server: $schema=costmodel-spec.schema.json` at the top of a spec after
    `costmodel schema > costmodel-spec.schema.json`.
    """
    print_json(json_schema(), meta=False)


@app.command()
def ops() -> None:
    """List the ops of the spec language with their fields and defaults."""
    aliases: dict[str, list[str]] = {}
    for a, n in ALIASES.items():
        aliases.setdefault(n, []).append(a)
    t = Tabular("Ops of the spec language", [Column("op", "left"), Column("aliases", "left"),
                                             Column("fields (default)", "left"),
                                             Column("what it is", "left")])
    for name, op in OPS.items():
        if op.kind != "layer":
            continue
        fields = ", ".join(f"{k}" + ("" if f.required else f"={f.default}") for k, f in op.fields.items())
        doc = (type(op).__doc__ or "").strip().splitlines()[0] if type(op).__doc__ else ""
        t.add([name, ", ".join(aliases.get(name, [])), fields, doc])
    t.notes = ["Branches: {parallel: [[...], [...]], merge: add|concat, split: N} and "
               "{residual: [...], shortcut: [...]} create split/add/concat layers."]
    emit(t, "table")
