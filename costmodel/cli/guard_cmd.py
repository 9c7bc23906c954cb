"""`costmodel lock` and `costmodel check`: a FLOP regression guard for CI.

``lock`` snapshots every variant of every spec of a folder into a baseline (commit it);
``check`` recomputes them analytically and exits 0 (unchanged), 1 (changed: a diff table and
the first layer that differs in each changed model) or 2 (bad input: a missing or invalid
baseline, a spec that does not load).
"""
from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from costmodel.output.text import markup, visible
from costmodel import guard
from costmodel.errors import SpecError
from costmodel.guard.baseline import MAX_BASELINE_BYTES
from costmodel.spec.loader import read_bounded
from costmodel.spec.zoo import ZOO_DIR
from costmodel.guard.compare import LAYERS, Report, tolerance_for
from costmodel.output.tabular import Column, Tabular

from costmodel.cli.app import app, console, fail, print_json

DEFAULT_SPECS = ZOO_DIR               # the shipped zoo, whose baseline is zoo.BASELINE
BASELINE_NAME = "baseline.json"       # default baseline: SPECS_DIR/baseline.json


def _baseline_for(specs_dir: Path, given: Optional[Path]) -> Path:
    return given if given is not None else specs_dir / BASELINE_NAME


def recursive_option():
    return typer.Option(True, "--recursive/--no-recursive",
                        help="Also take the specs in subfolders (default), or only the folder's own.")
MAX_TABLE_ROWS = 80
OTHER_VARIANTS = 8     # per model, one row each, in the table (all of them in JSON)


class CheckFormat(str, enum.Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _read_quietly(path: Path) -> Optional[bytes]:
    """The previous baseline, to say whether it changed (None: none, or not a plain file;
    never blocks on a FIFO)."""
    try:
        return read_bounded(path, MAX_BASELINE_BYTES, "a baseline")
    except SpecError:
        return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@app.command(rich_help_panel="guard", epilog="Examples:\n\n"
             "  costmodel lock\n\n"
             "  costmodel lock my_specs --baseline my_specs/baseline.json")
def lock(
    specs_dir: Path = typer.Argument(DEFAULT_SPECS, help="Folder of *.yaml specs (default: the "
                                     "shipped zoo)."),
    out: Optional[Path] = typer.Option(None, "--baseline", "-b", "--out", "-o",
                                       help="Baseline file to write (default: "
                                       "SPECS_DIR/baseline.json; the file `check --baseline` "
                                       "reads; --out is the old name)."),
    recursive: bool = recursive_option(),
) -> None:
    """Snapshot the counts of every spec and declared variant into a baseline file.

    Per variant: mult-adds, params, weights, activations, fvcore and full FLOPs, peak memory.

    Plus a per-layer digest. Same specs, same bytes. Commit it; `check` compares against it.
    """
    out = _baseline_for(specs_dir, out)
    old = _read_quietly(out)
    base = guard.lock(specs_dir, out, recursive)
    n_var = sum(len(e.variants) for e in base.specs.values())
    state = "unchanged" if old == _read_quietly(out) else ("updated" if old is not None else "written")
    size = os.path.getsize(out)
    console().print(f"locked {_plural(n_var, 'variant')} of {_plural(len(base.specs), 'spec')} "
                    f"into {markup(out)} ({size / 1024:.1f} KiB, {state})", highlight=False)


@app.command(rich_help_panel="guard", epilog="Examples:\n\n"
             "  costmodel check\n\n"
             "  costmodel check my_specs --baseline my_specs/baseline.json\n\n"
             "  costmodel check --tolerance mult_adds=0.01 --tolerance params=0\n\n"
             "  costmodel check --format json | jq '.changes'\n\n"
             "  costmodel check --convention thop --convention ptflops")
def check(
    specs_dir: Path = typer.Argument(DEFAULT_SPECS, help="Folder of *.yaml specs (default: the "
                                     "shipped zoo)."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", "-b",
                                            help="Baseline written by `costmodel lock` "
                                                 "(default: SPECS_DIR/baseline.json)."),
    recursive: bool = recursive_option(),
    tolerance: Optional[list[str]] = typer.Option(
        None, "--tolerance", "-t", metavar="[METRIC=]FRACTION",
        help="Relative change allowed: 0.01 (or 1%) for every metric, or per metric, e.g. "
             "--tolerance mult_adds=0.01 --tolerance params=0. Default 0: exact."),
    fmt: CheckFormat = typer.Option(CheckFormat.table, "--format", "-f", help="Output format."),
    convention: Optional[list[str]] = typer.Option(
        None, "--convention", "-c", metavar="NAME",
        help="Guard only these conventions' FLOP totals (repeatable: thop, ptflops, training, "
             "...); mult-adds, params, activations and layers are always guarded. Default: all."),
) -> None:
    """Recompute every spec and variant (analytically, no torch) and compare with the baseline.

    Exit 0: unchanged, one line. Exit 2: a missing or invalid baseline, a spec that fails.

    Exit 1: changed, new or removed specs or variants: a diff table and the first layer changed.

    Accept an intended change with `costmodel lock` (and commit the baseline).
    """
    baseline = _baseline_for(specs_dir, baseline)
    try:
        report = guard.check(specs_dir, baseline, tolerance, recursive, convention)
    except SpecError as exc:
        if exc.file is None:            # an option, not a file: no "<spec>:" prefix
            fail(exc.message)
        raise
    if fmt == CheckFormat.json:
        data = report.to_dict()
        data["baseline"] = str(baseline)
        data["specs_dir"] = str(specs_dir)
        print_json(data)
    elif fmt == CheckFormat.markdown:
        sys.stdout.write(render_markdown(report, specs_dir, baseline))
    else:
        render_table(report, specs_dir, baseline)
    if report.failed:
        raise typer.Exit(1)


# --- rendering -----------------------------------------------------------------------------
def summary_line(report: Report, specs_dir: Path, baseline: Path) -> str:
    checked = (f"{_plural(report.variants_checked, 'variant')} of "
               f"{_plural(report.specs_checked, 'spec')}")
    tol = "exact" if not report.tolerance or all(v == 0 for v in report.tolerance.values()) \
        else "tolerance " + ", ".join(f"{'all' if k == '*' else k}={v:g}"
                                      for k, v in sorted(report.tolerance.items()))
    if not report.failed:
        within = {(c.spec, c.variant) for c in report.changes}
        extra = f"; {_plural(len(within), 'variant')} moved within tolerance" if within else ""
        return f"ok: {checked} in {specs_dir} match {baseline} ({tol}){extra}"
    parts = []
    if report.changed_variants:
        parts.append(f"{len(report.changed_variants)} of {_plural(report.variants_checked, 'variant')} "
                     "changed")
    if report.changed_defaults:
        parts.append(f"defaults of {_plural(len(report.changed_defaults), 'spec')} changed")
    for items, what in ((report.new_specs, "new spec"), (report.removed_specs, "removed spec"),
                        (report.new_variants, "new variant"),
                        (report.removed_variants, "removed variant")):
        if items:
            parts.append(_plural(len(items), what))
    return (f"CHANGED: {', '.join(parts)} ({tol}). If intended, accept with: "
            f"costmodel lock {specs_dir} --baseline {baseline}")


def _fmt_pct(c) -> str:
    pct = c.delta_pct
    if c.metric == LAYERS and c.before == c.after:
        return "layers differ"
    return "new" if pct is None else f"{pct:+.2f}%"


def table_rows(report: Report) -> tuple[list, int]:
    """The rows worth a terminal: failures first; for each model every changed metric of its
    first changed variant (the defaults, usually), then one row (the first metric that moved)
    for each of up to OTHER_VARIANTS other changed variants. Returns (rows, rows left out)."""
    rows, left_out = [], 0
    full_variant: dict[str, str] = {}
    shown: dict[str, list[str]] = {}
    for c in sorted(report.changes, key=lambda c: c.ok):       # stable: keeps model/variant order
        full = full_variant.setdefault(c.spec, c.variant)
        variants = shown.setdefault(c.spec, [])
        if c.variant == full:
            rows.append(c)
        elif c.variant not in variants and len(variants) < OTHER_VARIANTS:
            variants.append(c.variant)
            rows.append(c)
        else:
            left_out += 1
    if len(rows) > MAX_TABLE_ROWS:
        left_out += len(rows) - MAX_TABLE_ROWS
        rows = rows[:MAX_TABLE_ROWS]
    return rows, left_out


def diff_table(report: Report) -> Tabular:
    tab = Tabular("costmodel check: changes against the baseline",
                  [Column("Model", "left"), Column("Variant", "left"), Column("Metric", "left"),
                   Column("Before"), Column("After"), Column("Delta"), Column("Delta %"),
                   Column("Tolerance")])
    rows, left_out = table_rows(report)
    for c in rows:
        tol = tolerance_for(report.tolerance, c.metric)
        tab.add([c.model, c.variant, c.metric, f"{c.before:,}", f"{c.after:,}", f"{c.delta:+,}",
                 _fmt_pct(c), ("ok " if c.ok else "") + f"{tol:g}"],
                style="dim" if c.ok else None)
    if left_out:
        tab.notes.append(f"... and {left_out} more rows (more metrics and variants): "
                         "see --format json")
    return tab


def detail_lines(report: Report) -> list[str]:
    lines = []
    by_spec: dict[str, list] = {}
    for ch in report.default_changes:
        by_spec.setdefault(ch.spec, []).append(ch)
    for spec, chs in by_spec.items():
        lines.append(f"{chs[0].model} ({spec}): the defaults changed: "
                     + "; ".join(c.text() for c in chs)
                     + " (`costmodel profile` now prints other numbers)")
    for d in report.layers:
        lines.append(f"{d.model} [{d.variant}]: first layer that differs: {d.layer} "
                     f"(#{d.index}): " + "; ".join(d.how))
    for items, what in ((report.new_specs, "new spec (not in the baseline)"),
                        (report.removed_specs, "removed spec (in the baseline, not in the folder)"),
                        (report.new_variants, "new variant"),
                        (report.removed_variants, "removed variant")):
        for i in items:
            lines.append(f"{what}: {i.model} ({i.spec})" + (f" [{i.variant}]" if i.variant else ""))
    lines.extend(f"note: {n}" for n in report.notes)
    return lines


def render_table(report: Report, specs_dir: Path, baseline: Path) -> None:
    c = console()
    if report.failed:
        if report.changes:
            c.print(diff_table(report).to_rich())
        for line in detail_lines(report):
            c.print(visible(line), highlight=False, markup=False, soft_wrap=True)
    elif report.changes or report.notes:
        for line in [f"note: {n}" for n in report.notes]:
            c.print(visible(line), highlight=False, markup=False, soft_wrap=True)
    c.print(visible(summary_line(report, specs_dir, baseline)), highlight=False, markup=False,
            soft_wrap=True, style="bold red" if report.failed else "green")


def render_markdown(report: Report, specs_dir: Path, baseline: Path) -> str:
    out = []
    if report.changes and report.failed:
        out.append(diff_table(report).to_markdown())
    out.extend(f"- {line}" for line in detail_lines(report))
    out.append("")
    out.append(f"**{summary_line(report, specs_dir, baseline)}**")
    return "\n".join(out) + "\n"
