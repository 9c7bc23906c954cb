"""`costmodel zoo`: the shipped specs, with their settings and citations."""
from __future__ import annotations

import typer

from costmodel.cli.app import Format, app, emit, fail, print_json
from costmodel.count.profile import Spec
from costmodel.output.tabular import Column, Tabular
from costmodel.spec import zoo


def rows() -> list[dict]:
    out = []
    for name in zoo.names():
        s = Spec.load(name)
        settings = s.settings()     # resolved defaults (computed settings included)
        out.append({"name": name, "model": s.name,
                    "settings": ", ".join(f"{k}={v}" for k, v in settings.items()),
                    "citation": s.model.citation or "", "file": str(zoo.path_of(name))})
    return out


@app.command("zoo", rich_help_panel="profile", epilog="Examples:\n\n  costmodel zoo\n\n  costmodel profile mobilenet_v2")
def zoo_cmd(fmt: Format = typer.Option(Format.table, "--format", "-f",
                                       help="table, json, csv or markdown.")) -> None:
    """List the shipped specs: the name to pass to profile, verify or sweep, their settings
    (with defaults) and the paper each one cites."""
    if fmt.value not in ("table", "json", "csv", "markdown"):
        fail(f"zoo prints table, json, csv or markdown, not {fmt.value}")
    data = rows()
    if fmt == Format.json:
        print_json({"specs": data})
        return
    tab = Tabular("The zoo (costmodel profile NAME)", [
        Column("Name", "left"), Column("Model", "left"), Column("Settings (defaults)", "left"),
        Column("Source", "left")], [[r["name"], r["model"], r["settings"], r["citation"]]
                                    for r in data])
    emit(tab, fmt.value)
