"""`costmodel verify`: build the spec as a torch module and cross-check every layer's analytic
count against fvcore and FlopCounterMode. Exit status 1 on any mismatch, 2 on bad input."""
from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Optional

import typer

from costmodel.output.text import markup
from costmodel.count.conventions import CONVENTIONS
from costmodel import extras
from costmodel.errors import SpecError
from costmodel.spec.zoo import ZOO_DIR
from costmodel.ops.base import hwc
from costmodel.count.profile import Spec
from costmodel.spec.settings import parse_assignments
from costmodel.spec.variants import declared_overrides
from costmodel.output.tabular import Column, Tabular, fmt_int

from costmodel.cli.app import Format, app, console, fail, print_json, set_option


class VerifyFormat(str, enum.Enum):
    """The formats verify prints (str values: equal to the matching Format members)."""
    table = "table"
    json = "json"

MISMATCH = "bold red"
MAX_VARIANTS = 32   # --all: a spec declaring more variants is verified at its defaults only


def _hwc(shape) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return " + ".join(_hwc(s) for s in shape)
    return hwc(shape)


def _signed(n: int) -> str:
    return "0" if n == 0 else f"{n:+,}"


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def layer_table(r) -> Tabular:
    """Per layer: analytic (fvcore convention) | fvcore | delta, FlopCounterMode vs 2 x MACs,
    params vs module params. Mismatched rows are highlighted."""
    t = Tabular(
        title=f"{r.model} ({_settings_text(r.settings)}): analytic vs fvcore, per layer",
        columns=[Column("Layer", "left"), Column("Type", "left"), Column("Output (HxWxC)"),
                 Column("Mult-Adds (paper)"), Column("Analytic (fvcore conv.)"), Column("fvcore"),
                 Column("Δ"), Column("FlopCounterMode"), Column("2 x MACs"), Column("Params"),
                 Column("Module params"), Column("", "left")])
    for c in r.layers:
        problems = r.layer_problems(c)
        t.add([c.name, c.type, _hwc(c.output_shape), fmt_int(c.paper), fmt_int(c.analytic),
               fmt_int(c.fvcore), _signed(c.delta), fmt_int(c.flop_counter), fmt_int(2 * c.paper),
               fmt_int(c.params), fmt_int(c.module_params), "MISMATCH" if problems else "ok"],
              style=MISMATCH if problems else None)
    t.footer = ["Total", "", _hwc(r.output_shape), fmt_int(r.analytic_totals["paper"]),
                fmt_int(r.analytic_totals["fvcore"]), fmt_int(r.fvcore_total),
                _signed(r.fvcore_total - r.analytic_totals["fvcore"]), fmt_int(r.flop_counter_total),
                fmt_int(r.analytic_totals["flop_counter"]), fmt_int(r.params),
                fmt_int(r.module_params), "ok" if r.ok else "MISMATCH"]
    return t


def type_table(r) -> Tabular:
    """Totals per layer type under every convention, side by side."""
    t = Tabular(
        title="Per layer type, every convention",
        columns=[Column("Type", "left"), Column("Layers"), Column("paper"),
                 Column("fvcore (analytic)"), Column("fvcore (traced)"), Column("fvcore - paper"),
                 Column("flop_counter (traced)"), Column("full")])
    for row in r.by_type():
        bad = row.analytic != row.fvcore or row.flop_counter != 2 * row.paper
        t.add([row.type, row.count, fmt_int(row.paper), fmt_int(row.analytic), fmt_int(row.fvcore),
               _signed(row.analytic - row.paper), fmt_int(row.flop_counter), fmt_int(row.full)],
              style=MISMATCH if bad else None)
    a = r.analytic_totals
    t.footer = ["Total", len(r.layers), fmt_int(a["paper"]), fmt_int(a["fvcore"]),
                fmt_int(r.fvcore_total), _signed(a["fvcore"] - a["paper"]),
                fmt_int(r.flop_counter_total), fmt_int(a["full"])]
    return t


def convention_table(r) -> Tabular:
    """One row per convention: analytic total, the tracer's total, and the ratio to paper."""
    from costmodel.torch.crosscheck import why_fvcore_differs
    a = r.analytic_totals
    traced = {"fvcore": r.fvcore_total, "flop_counter": r.flop_counter_total}
    t = Tabular(title="Totals per convention",
                columns=[Column("Convention", "left"), Column("Analytic"), Column("Traced"),
                         Column("Δ"), Column("x paper"), Column("Counts", "left")])
    for name, conv in CONVENTIONS.items():
        if name not in a:
            continue
        tr = traced.get(name)
        bad = tr is not None and tr != a[name]
        t.add([name, fmt_int(a[name]), "-" if tr is None else fmt_int(tr),
               "-" if tr is None else _signed(tr - a[name]),
               f"{a[name] / a['paper']:.4f}" if a["paper"] else "-", conv.doc],
              style=MISMATCH if bad else None)
    t.add(["params", fmt_int(r.params), fmt_int(r.module_params), _signed(r.module_params - r.params),
           "", "analytic vs sum(p.numel()) of the built module"],
          style=MISMATCH if r.params != r.module_params else None)
    diffs = why_fvcore_differs(r)
    if diffs:
        parts = ", ".join(f"{typ} {_signed(d)}" for typ, d in diffs)
        t.notes.append(f"fvcore - paper = {_signed(a['fvcore'] - a['paper'])}: {parts}.")
    if r.fvcore_by_operator:
        t.notes.append("fvcore by operator: " + ", ".join(
            f"{k} {fmt_int(v)}" for k, v in sorted(r.fvcore_by_operator.items(), key=lambda kv: -kv[1])))
    if r.unsupported_ops:
        t.notes.append("Unsupported by fvcore (counted 0, as the fvcore convention says): " + ", ".join(
            f"{k} x{v}" for k, v in sorted(r.unsupported_ops.items())))
    else:
        t.notes.append("Unsupported by fvcore: none.")
    return t


def _print_result(r) -> None:
    c = console()
    c.print(layer_table(r).to_rich())
    c.print(type_table(r).to_rich())
    c.print(convention_table(r).to_rich())
    problems = r.problems()
    if problems:
        c.print(f"[{MISMATCH}]{markup(r.model)}: {len(problems)} mismatch(es)[/]", highlight=False)
        for p in problems:
            c.print(f"[{MISMATCH}]  {markup(p)}[/]", markup=True, highlight=False)
    else:
        c.print(f"[bold green]{markup(r.model)}: every layer matches[/] ({len(r.layers)} layers: fvcore, "
                "FlopCounterMode, params and shapes)")


def _spec_dir(given: Optional[Path]) -> Path:
    if given is not None:
        return given
    return ZOO_DIR


def _jobs(files: list[Path], with_variants: bool) -> list[tuple[Path, Spec | None, dict, str | None]]:
    """(file, spec, settings, error) for every spec at its defaults and its variants."""
    jobs = []
    for f in files:
        try:
            spec = Spec.load(f)
        except SpecError as exc:
            jobs.append((f, None, {}, str(exc)))
            continue
        jobs.append((f, spec, {}, None))
        if with_variants:
            try:
                variants = declared_overrides(spec)
            except SpecError as exc:
                jobs.append((f, None, {}, str(exc)))
                continue
            if len(variants) > MAX_VARIANTS:
                continue
            try:
                seen = [spec.settings()]
            except SpecError as exc:
                jobs[-1] = (f, None, {}, str(exc))
                continue
            for v in variants:
                try:
                    resolved = spec.settings(v)
                except SpecError as exc:
                    jobs.append((f, None, v, str(exc)))
                    continue
                if resolved not in seen:    # a variant equal to the defaults runs once
                    seen.append(resolved)
                    jobs.append((f, spec, v, None))
    return jobs


def _peers_cell(r) -> str:
    """verify --all --peers: the peers' agreement in one cell."""
    checks = r.peers or []
    ran = [c for c in checks if not c.missing and not c.no_rule]
    bad = [c for c in ran if not c.ok]
    if not ran:
        return "none installed" if checks else "-"
    if bad:
        return "MISMATCH: " + ", ".join(
            c.convention + (f" failed" if c.error else f" {_signed(c.measured - c.analytic)}"
                            if c.measured != c.analytic else " per layer") for c in bad)
    skipped = [c.convention for c in checks if c.missing or c.no_rule]
    return f"{len(ran)}/{len(checks)} equal" + (f" ({', '.join(skipped)} not run)" if skipped else "")


def _verify_all(directory: Path, fmt: Format, with_variants: bool, runner,
                peers: bool = False) -> int:
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from costmodel.torch.batch import verify_many
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not files:
        fail(f"no specs (*.yaml) under {directory}")
    jobs = _jobs(files, with_variants)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"),
                  TimeRemainingColumn(), console=console(stderr=True), transient=True) as bar:
        task = bar.add_task("verifying", total=len(jobs))
        results = verify_many(jobs, runner, lambda label, n: bar.update(
            task, advance=n, description=markup(label) if label else "verifying"), peers=peers)
    mismatch = any(r is not None and not r.ok for _, _, r, _ in results)
    errors = any(e is not None for *_, e in results)
    if fmt == Format.json:
        print_json({"match": not mismatch and not errors, "results": [
            {"file": str(f), "settings": s, "error": e, **(r.to_dict(layers=False) if r else {})}
            for f, s, r, e in results]})
    else:
        t = Tabular(title=f"costmodel verify --all: {len(files)} specs, {len(results)} runs",
                    columns=[Column("Spec", "left"), Column("Settings", "left"), Column("Layers"),
                             Column("Mult-Adds (paper)"), Column("fvcore (analytic)"),
                             Column("fvcore (traced)"), Column("FlopCounterMode"), Column("Params"),
                             Column("Module params"),
                             *([Column("Peers", "left")] if peers else []),
                             Column("Result", "left")])
        for f, s, r, e in results:
            if r is None:
                t.add([f.name, _settings_text(s), "", "", "", "", "", "", "",
                       *([""] if peers else []), f"error: {e}"], style=MISMATCH)
                continue
            t.add([f.name, _settings_text(s) or "defaults", len(r.layers),
                   fmt_int(r.analytic_totals["paper"]), fmt_int(r.analytic_totals["fvcore"]),
                   fmt_int(r.fvcore_total), fmt_int(r.flop_counter_total), fmt_int(r.params),
                   fmt_int(r.module_params), *([_peers_cell(r)] if peers else []),
                   "ok" if r.ok else "MISMATCH: " + "; ".join(r.problems()[:3])],
                  style=None if r.ok else MISMATCH)
        unsupported: dict[str, int] = {}
        for _, _, r, _ in results:
            for k, v in (r.unsupported_ops if r else {}).items():
                unsupported[k] = unsupported.get(k, 0) + v
        if unsupported:
            t.notes.append("Unsupported by fvcore (counted 0): "
                           + ", ".join(f"{k} x{v}" for k, v in sorted(unsupported.items())))
        if peers:
            missing = sorted({c.convention for _, _, r, _ in results if r
                              for c in (r.peers or []) if c.missing})
            t.notes.append("Peers: each installed peer's total (and per-module counts where it "
                           "has them) against the convention named after it, to the unit."
                           + (f" Not installed: {', '.join(missing)} (pip install "
                              "'costmodel[peers]')." if missing else ""))
        console().print(t.to_rich())
    if errors:
        return 2
    return 1 if mismatch else 0


@app.command(rich_help_panel="torch", epilog="Examples:\n\n"
             "  costmodel verify mobilenet_v1\n\n"
             "  costmodel verify mobilenet_v1 --set width=0.5 --format json\n\n"
             "  costmodel verify --all\n\n"
             "  costmodel verify --all --jobs 2 --format json\n\n"
             "  costmodel verify resnet50 --against tests/reference_models.py:resnet50\n\n"
             "  costmodel verify mobilenet_v2 --against mypkg.models:build --args '{\"width\": 1.0}'\n\n"
             "  costmodel verify mobilenet_v2 --peers\n\n"
             "  costmodel verify --all --peers --defaults-only --jobs 2")
def verify(
    spec: Optional[Path] = typer.Argument(None, help="YAML architecture spec (with --all: a "
                                          "directory of specs, default: the shipped zoo)."),
    set_: Optional[list[str]] = set_option(),
    all_: bool = typer.Option(False, "--all", help="Verify every spec of the folder (default: the zoo) at its "
                              "defaults and at each of its declared variants."),
    variants: bool = typer.Option(True, "--variants/--defaults-only", help="With --all: also "
                                  f"verify each spec's declared variants (up to {MAX_VARIANTS})."),
    fmt: VerifyFormat = typer.Option(VerifyFormat.table, "--format", "-f", help="table or json."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", "-j", help="With --all: worker "
                             "processes (default: the cores)."),
    backend: str = typer.Option("local", "--backend", help="With --all: local (processes) or "
                                "ray (tasks on a Ray cluster; the 'ray' extra)."),
    address: Optional[str] = typer.Option(None, "--address", help="With --backend ray: the "
                                          "cluster (default: start Ray here)."),
    against: Optional[str] = typer.Option(None, "--against", metavar="REF", help="Compare with "
                                          "your own nn.Module, layer by layer: package.module:factory "
                                          "or path/to/file.py:factory."),
    args: Optional[str] = typer.Option(None, "--args", metavar="JSON", help="With --against: the "
                                       "factory's keyword arguments, a JSON object."),
    input_: Optional[str] = typer.Option(None, "--input", metavar="CxHxW", help="With --against: "
                                         "the input shape (default: the spec's)."),
    peers: bool = typer.Option(False, "--peers", help="Also run each installed peer (thop, "
                               "ptflops, torchinfo, calflops, torchprofile) on the built module "
                               "and compare its total, and its per-module counts where it has "
                               "them, with the convention named after it, to the unit. With "
                               "--all: for every run (--defaults-only: each spec at its "
                               "defaults)."),
) -> None:
    """Build the spec as a real torch module and check every layer's analytic count against
    fvcore (to the unit) and FlopCounterMode (2 x mult-adds), and its parameters against
    sum(p.numel()). Exit status 1 on any mismatch."""
    if fmt not in (Format.table, Format.json):
        fail(f"verify prints table or json, not {fmt.value}")
    extras.need("torch", "costmodel verify")
    if all_:
        if set_:
            fail("--set applies to one spec; --all verifies each spec's own variants")
        from costmodel.sweep.backends import backend as make_backend
        from costmodel.torch.batch import prepare_worker
        try:
            runner = make_backend(backend, jobs, address, prepare_worker)
        except SpecError as exc:
            fail(exc.message)
        try:
            code = _verify_all(_spec_dir(spec), fmt, variants, runner, peers)
        finally:
            runner.close()
        raise typer.Exit(code)
    if spec is None:
        fail("give a spec (a file or a shipped name), or --all to verify every shipped spec")
    if against is not None or args is not None or input_ is not None:
        if against is None:
            fail("--args and --input go with --against REF")
        from costmodel.cli.against_view import show
        from costmodel.torch.against import verify_against
        from costmodel.torch.reference import parse_args, parse_input
        r = verify_against(Spec.load(spec), against, parse_args(args), parse_assignments(set_),
                           parse_input(input_))
        raise typer.Exit(show(r, fmt.value))
    from costmodel.torch.crosscheck import verify_profile
    from costmodel.torch.tracing import drop_source_locations
    p = Spec.load(spec).profile(**parse_assignments(set_))
    drop_source_locations()
    r = verify_profile(p)
    checks = _peer_checks(p) if peers else []
    if fmt == Format.json:
        print_json({**r.to_dict(), **({"peers": [c.to_dict() for c in checks]} if peers else {})})
    else:
        _print_result(r)
        if peers:
            _print_peers(p, checks)
    if not r.ok or any(c.failed for c in checks):
        raise typer.Exit(1)


def _peer_checks(p):
    from costmodel.torch.peers import check_peers
    with console(stderr=True).status("running the peers on the built module..."):
        return check_peers(p)


def _print_peers(p, checks) -> None:
    t = Tabular(title=f"{p.model}: the real peers vs their conventions",
                columns=[Column("Convention", "left"), Column("Peer", "left"), Column("Analytic"),
                         Column("Peer's count"), Column("Δ"), Column("Per layer", "left"),
                         Column("Result", "left")])
    for c in checks:
        peer = f"{CONVENTIONS[c.convention].peer}" + (f" (installed {c.version})" if c.note else "")
        if c.missing or c.error or c.no_rule:
            t.add([c.convention, peer, "-" if c.no_rule else fmt_int(c.analytic), "-", "-", "-",
                   "not installed" if c.missing else
                   f"not compared: {c.no_rule}" if c.no_rule else f"failed: {c.error}"],
                  style=MISMATCH if c.error else None)
            continue
        bad = c.layer_mismatches
        per = (f"{len(c.layers) - len(bad)}/{len(c.layers)} layers equal" if c.layers
               else "total only")
        result = "ok" if c.ok else "MISMATCH" + (": " + ", ".join(
            f"{n} {g:,} != {a:,}" for n, a, g in bad[:3]) if bad else "")
        t.add([c.convention, peer, fmt_int(c.analytic), fmt_int(c.measured),
               _signed(c.measured - c.analytic), per, result], style=None if c.ok else MISMATCH)
    missing = [c.convention for c in checks if c.missing]
    if missing:
        t.notes.append("Not installed: " + ", ".join(missing) + " (pip install 'costmodel[peers]').")
    t.notes.append("Why each differs from the papers' mult-adds: costmodel explain SPEC "
                   "--convention NAME.")
    console().print(t.to_rich())
