"""`costmodel schema` and `costmodel ops`: the spec language, for editors and for people."""
from __future__ import annotations

import enum
import inspect
import sys

import typer

from costmodel.ops import ALIASES, OPS
from costmodel.spec.schema import json_schema

from costmodel.cli.app import app, console, print_json


@app.command(rich_help_panel="profile")
def schema() -> None:
    """Print the JSON Schema of the spec format.

    Point your editor's YAML language server at it for completion and checking, e.g. put
    `# yaml-language-server: $schema=costmodel-spec.schema.json` at the top of a spec after
    `costmodel schema > costmodel-spec.schema.json`.
    """
    print_json(json_schema(), meta=False)


class OpsFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"
    json = "json"


def op_docs() -> list[dict]:
    """Every op of the spec language: name, aliases, whole description, fields."""
    aliases: dict[str, list[str]] = {}
    for a, n in ALIASES.items():
        aliases.setdefault(n, []).append(a)
    out = []
    for name, op in OPS.items():
        if op.kind != "layer":
            continue
        out.append({"op": name, "aliases": aliases.get(name, []),
                    "description": inspect.getdoc(type(op)) or "",
                    "fields": [{"name": k, "kind": f.kind, "required": f.required,
                                "default": None if f.required else f.default, "doc": f.doc,
                                **({"choices": list(f.choices)} if f.choices else {})}
                               for k, f in op.fields.items()]})
    return out


BRANCHES = ("Branches: {parallel: [[...], [...]], merge: add|concat, split: N} and "
            "{residual: [...], shortcut: [...]} create split/add/concat layers.")


def _field_line(f: dict) -> str:
    default = "required" if f["required"] else f"default {f['default']}"
    choices = f" (one of {', '.join(f['choices'])})" if f.get("choices") else ""
    return f"{f['name']} ({f['kind']}, {default}): {f['doc']}{choices}"


@app.command(rich_help_panel="profile", epilog="Examples:\n\n  costmodel ops\n\n"
             "  costmodel ops --format markdown > OPS.md\n\n"
             "  costmodel ops --format json | jq '.ops[].op'")
def ops(fmt: OpsFormat = typer.Option(OpsFormat.text, "--format", "-f",
                                      help="text, markdown or json.")) -> None:
    """List the ops of the spec language: each one's whole description (what it counts under
    every convention) and its fields with their defaults."""
    docs = op_docs()
    if fmt == OpsFormat.json:
        print_json({"ops": docs, "branches": BRANCHES})
        return
    if fmt == OpsFormat.markdown:
        out = ["# Ops of the spec language", ""]
        for d in docs:
            alias = f" (aliases: {', '.join(d['aliases'])})" if d["aliases"] else ""
            out += [f"## {d['op']}{alias}", "", d["description"], ""]
            out += [f"- {_field_line(f)}" for f in d["fields"]] + [""]
        out.append(BRANCHES)
        sys.stdout.write("\n".join(out) + "\n")
        return
    from rich.padding import Padding
    from rich.text import Text
    c = console()
    for d in docs:
        head = Text(d["op"], style="bold")
        if d["aliases"]:
            head.append(f" (aliases: {', '.join(d['aliases'])})", style="dim")
        c.print(head)
        for para in d["description"].split("\n\n"):      # whole paragraphs, re-flowed
            c.print(Padding(Text(" ".join(para.replace("``", "`").split())), (0, 0, 0, 4)))
        for f in d["fields"]:
            c.print(Padding(Text("- " + _field_line(f)), (0, 0, 0, 4)))
        c.print()
    c.print(Text(BRANCHES))
