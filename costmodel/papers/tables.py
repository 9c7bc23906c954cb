"""Paper tables: what a paper printed next to what the spec computes, and why they differ.

Each registry table (``costmodel.papers.registry``) becomes a :class:`PaperTable`: a display
:class:`~costmodel.output.tabular.Tabular` (terminal, Markdown, LaTeX) and flat records with exact
integers (CSV, JSON).

Conventions, stated in every table's notes:

* computed mult-adds: conv + linear multiply-accumulates, bias excluded (what MobileNet calls
  mult-adds and ShuffleNet and GhostNet call FLOPs);
* computed params: the table's ``params.count``: ``weights`` (conv/linear weight elements
  only, no bias, no batch norm: MobileNet v1's convention) or ``params`` (every trainable
  parameter, ``sum(p.numel())`` of the built module);
* the difference is ``(computed - reported) / reported`` in percent. A gap is a difference
  larger than the printed rounding (half a unit of the last printed digit: 569 -> 0.5 M,
  1.32 -> 0.005 M). Every gap gets a footnote: the registry row's ``note`` (the known cause),
  or a plain statement that no cause is recorded.
* accuracy is reported by the paper, never measured here.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from costmodel.errors import SpecError
from costmodel.ops.base import hwc
from costmodel.papers.registry import (ACCURACY_LABELS, UNITS, LayerGroup, Registry, Resolver, Table,
                       check_specs, match_layers)
from costmodel.output.tabular import Column, Tabular, fmt_int, fmt_pct

MULT_ADDS_DOC = "conv + linear multiply-accumulates, bias excluded"
COUNT_DOC = {
    "weights": "conv/linear weights only (no bias, no batch norm), as the paper counts",
    "params": "every trainable parameter (weights, biases, batch norm), sum(p.numel()) of the "
              "built module",
}
UNEXPLAINED = "the gap exceeds the printed rounding; no cause is recorded in the registry"


# --- numbers as printed ----------------------------------------------------------------------

def decimals(value: float | int) -> int:
    """Decimals of a number as printed (and written in the registry): 569 -> 0, 4.2 -> 1."""
    if isinstance(value, int):
        return 0
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def tolerance(value: float | int) -> float:
    """Half a unit of the last printed digit: the printed rounding."""
    return 0.5 * 10 ** -decimals(value)


def beyond_rounding(computed: float, reported: float | int) -> bool:
    return abs(computed - reported) > tolerance(reported) + 1e-9


def diff_pct(computed: float, reported: float | int) -> float | None:
    return None if not reported else 100.0 * (computed - reported) / reported


def printed(value: float | int | None) -> str:
    return "-" if value is None else repr(value) if isinstance(value, float) else str(value)


def settings_text(settings: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in settings.items())


class Footnotes:
    """Numbered footnotes, one number per distinct text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self) -> list[str]:
        return [f"[{i}] {t}" for i, t in enumerate(self.texts, 1)]


@dataclass
class PaperTable:
    id: str
    title: str
    kind: str
    display: Tabular
    records: list[dict] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)      # speed tables: device, machine, correlations

    def to_markdown(self) -> str:
        return self.display.to_markdown()

    def to_csv(self) -> str:
        if not self.records:
            return ""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(self.records[0]), lineterminator="\n")
        w.writeheader()
        for r in self.records:
            w.writerow({k: ("" if v is None else _csv_value(v)) for k, v in r.items()})
        return buf.getvalue()

    def to_json(self) -> dict:
        return {"table": self.id, "title": self.title, "kind": self.kind, **self.extra,
                "rows": self.records, "notes": self.display.notes}

    @property
    def measured(self) -> bool:
        """Whether the table holds measured (machine-dependent) columns."""
        return bool(self.extra.get("machine"))


def _csv_value(v: Any) -> Any:
    if isinstance(v, dict):
        return settings_text(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    return v


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _header_notes(t: Table, params_count: str | None) -> list[str]:
    d = t.definition
    notes = [f"Reported: as printed in {t.citation}. Source: {' '.join(d.source.split())}."]
    if d.accuracy:
        notes.append("Accuracy is reported by the paper, not measured here.")
    computed = f"Computed: mult-adds = {MULT_ADDS_DOC}"
    if params_count:
        computed += f"; params = {COUNT_DOC[params_count]}"
    notes.append(computed + ".")
    notes.extend(d.notes)
    return notes


# --- results: accuracy and cost per model ------------------------------------------------------

def _cost_cells(computed: int | None, reported: float | int | None, unit: int, dec: int,
                note: str | None, fn: Footnotes, status: str | None) -> tuple[str, str, dict]:
    """(computed cell, difference cell, record fields) for one cost column."""
    rec = {"computed": computed, "diff_pct": None, "within_rounding": None, "footnote": None}
    if computed is None:
        return (status or "-"), "", rec
    value = computed / unit
    cell = f"{value:,.{dec}f}"
    if reported is None:
        return cell, "", rec
    d = diff_pct(value, reported)
    gap = beyond_rounding(value, reported)
    rec.update(diff_pct=_round(d), within_rounding=not gap)
    dcell = "" if d is None else f"{d:+.1f}%"
    if gap:
        mark = fn.mark(note or UNEXPLAINED)
        dcell += " " + mark
        rec["footnote"] = int(mark.strip("[]"))
    return cell, dcell, rec


def _costs(p, count: str, exclude: list[str], row, fn: Footnotes) -> tuple:
    """(mult-adds, params, footnote mark) of a profile; the mult-adds leave out the layers
    the paper does not count (``mult_adds_exclude``)."""
    if p is None:
        return None, None, ""
    pc = _param_count(p, count)[0]
    left_out = set(match_layers(exclude, [l.name for l in p.layers])) if exclude else set()
    if exclude and not left_out:
        raise SpecError(f"row {row.data.model!r}: mult_adds_exclude {exclude} matches no layer of "
                        f"{row.data.spec}", file=row.file, line=row.line)
    kept = [l for l in p.layers if l.name not in left_out]
    mark = ""
    if left_out:
        gone = [l for l in p.layers if l.name in left_out]
        mark = fn.mark("mult-adds computed without "
                       f"{', '.join(sorted(left_out))} ({fmt_int(sum(l.mult_adds for l in gone))}"
                       " mult-adds), which the paper's count leaves out")
    return sum(l.mult_adds for l in kept), sum(pc(l) for l in p.layers), mark


def _results(t: Table, resolver: Resolver) -> PaperTable:
    d = t.definition
    fn = Footnotes()
    ma, pa = d.mult_adds, d.params
    ma_unit, pa_unit = UNITS[ma.unit], UNITS[pa.unit]
    rows = [r.data for r in t.rows]
    ma_dec = max([decimals(r.mult_adds) for r in rows if r.mult_adds is not None] or [0]) + 1
    pa_dec = max([decimals(r.params) for r in rows if r.params is not None] or [1]) + 1
    show_params = any(r.params is not None for r in rows) or pa.count == "weights"
    ma_label = ma.label or "Mult-Adds"
    pa_label = pa.label or "Params"
    cols = [Column("Model", "left"), Column("Spec (settings)", "left", drop=5)]
    cols += [Column(ACCURACY_LABELS[a] + ", reported") for a in d.accuracy]
    cols += [Column(f"{ma_label} ({ma.unit}), reported"),
             Column(f"Mult-Adds ({ma.unit}), computed"), Column("Δ")]
    count_word = "weights only" if pa.count == "weights" else "all params"
    if show_params:
        cols += [Column(f"{pa_label} ({pa.unit}), reported"),
                 Column(f"Params ({pa.unit}, {count_word}), computed"), Column("Δ")]
    tab = Tabular(title=d.title, columns=cols)
    records = []
    for row in t.rows:
        r = row.data
        p, status = None, None
        if r.spec is None:
            status = "no spec " + fn.mark(f"{r.model}: {r.note}" if r.note else
                                          f"{r.model}: no spec by design")
            spec_cell = "-"
        else:
            p = resolver.profile(r.spec, r.settings, row.file, row.line, f"row {r.model!r}")
            spec_cell = (f"{r.spec} {settings_text(r.settings)}").strip()
            if p is None:
                status = "n/a " + fn.mark(f"the spec {r.spec!r} does not exist yet")
        note = f"{r.model}: {r.note}" if r.note else None
        count = r.params_count or pa.count
        ma_c, pa_c, left_out = _costs(p, count, r.mult_adds_exclude, row, fn)
        ma_cell, ma_d, ma_rec = _cost_cells(ma_c, r.mult_adds, ma_unit, ma_dec, note, fn, status)
        if left_out:
            ma_cell += " " + left_out
        pa_cell, pa_d, pa_rec = _cost_cells(pa_c, r.params, pa_unit, pa_dec, note, fn, status)
        if count != pa.count and pa_c is not None:
            pa_cell += " " + fn.mark(f"counted as {COUNT_DOC[count].split(',')[0].split(' (')[0]}"
                                     ": the convention of the figure quoted for this row")
        cells = [r.model, spec_cell] + [printed(getattr(r, a)) for a in d.accuracy]
        cells += [printed(r.mult_adds), ma_cell, ma_d]
        if show_params:
            cells += [printed(r.params), pa_cell, pa_d]
        tab.add(cells)
        rec: dict[str, Any] = {"table": t.id, "model": r.model, "spec": r.spec,
                               "settings": dict(p.settings) if p is not None else dict(r.settings)}
        for a in ("top1", "top5", "err", "acc"):
            if a in d.accuracy:
                rec[f"{a}_reported"] = getattr(r, a)
        rec.update({
            "mult_adds_unit": ma.unit, "mult_adds_reported": r.mult_adds,
            "mult_adds_computed": ma_rec["computed"], "mult_adds_diff_pct": ma_rec["diff_pct"],
            "mult_adds_within_rounding": ma_rec["within_rounding"],
            "mult_adds_footnote": ma_rec["footnote"],
            "params_unit": pa.unit, "params_count": count, "params_reported": r.params,
            "params_computed": pa_rec["computed"], "params_diff_pct": pa_rec["diff_pct"],
            "params_within_rounding": pa_rec["within_rounding"],
            "mult_adds_exclude": " ".join(r.mult_adds_exclude) or None,
            "note": r.note, "source": r.source or " ".join(d.source.split()),
        })
        records.append(rec)
    notes = _header_notes(t, pa.count if show_params else None)
    notes.append("Δ: (computed - reported) / reported; a footnote marks a gap larger than the "
                 "printed rounding.")
    tab.notes = _with_footnotes(notes, fn)
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts)


def _with_footnotes(notes: list[str], fn: Footnotes) -> list[str]:
    """Notes, then footnotes, as Markdown paragraphs (a blank line between them)."""
    out: list[str] = []
    for line in notes + fn.lines():
        if out:
            out.append("")
        out.append(line)
    return out


# --- layers: a per-layer body table -------------------------------------------------------------

def _open(t: Table, resolver: Resolver):
    """What every spec-backed table starts from: its definition, footnotes, the profile (None
    while the spec does not exist), the parameter convention and its column word."""
    d = t.definition
    p = resolver.profile(d.spec, d.settings, t.file, t.line, f"table {t.id!r}")
    count = d.params.count
    return d, Footnotes(), p, count, "Weights" if count == "weights" else "Params"


def _spec_missing(t: Table, tab: Tabular, fn: Footnotes, count: str, column: int) -> PaperTable:
    """A table whose spec does not exist yet: one 'n/a' row, footnoted."""
    d = t.definition
    cells = [""] * len(tab.columns)
    cells[column] = "n/a " + fn.mark(f"the spec {d.spec!r} does not exist yet")
    tab.add(cells)
    tab.notes = _with_footnotes(_header_notes(t, count), fn)
    return PaperTable(t.id, d.title, d.kind, tab, [], fn.texts)


def _param_count(p, count: str):
    """(per-layer parameter count, total) under the table's convention."""
    if count == "weights":
        return (lambda l: l.weights), p.weights
    return (lambda l: l.params), p.params


def _norm(text: str) -> str:
    t = text.replace("×", "x").replace(" ", "").lower()
    return re.sub(r"^1x1x(\d+)$", r"\1", t)      # "1x1x1024" == a flat 1024-vector


def _layers(t: Table, resolver: Resolver) -> PaperTable:
    d, fn, p, count, word = _open(t, resolver)
    cols = [Column("Type / Stride (paper)", "left"), Column("Filter Shape (paper)", "left"),
            Column("Input Size (paper)", "left"), Column("Layer (spec)", "left"),
            Column("Matches", "left"), Column("Mult-Adds"), Column("%"), Column(word),
            Column("%")]
    tab = Tabular(title=d.title, columns=cols)
    records: list[dict] = []
    if p is None:
        return _spec_missing(t, tab, fn, count, 3)
    pc, total_p = _param_count(p, count)
    layers = [l for l in p.layers if l.filter]
    pos = 0
    for row in t.rows:
        group = row.data if isinstance(row.data, LayerGroup) else None
        printed_rows = group.rows if group else [row.data]
        times = group.repeat if group else 1
        for k in range(times):
            for r in printed_rows:
                label = f" ({k + 1}/{times})" if times > 1 else ""
                if not r.layer:
                    mark = fn.mark(f"{r.type}: {r.note}") if r.note else ""
                    tab.add([r.type, r.filter, r.input, f"- {mark}".strip(), "", "", "", "", ""])
                    records.append({"table": t.id, "type": r.type, "filter": r.filter,
                                    "input": r.input, "layer": None, "matches": None,
                                    "mult_adds": None, "params": None, "params_count": count})
                    continue
                if pos >= len(layers):
                    raise SpecError(f"table {t.id!r}: the paper's row {r.type!r} has no matching "
                                    f"layer left in {d.spec} (it has {len(layers)} conv, pool "
                                    "and linear layers)", file=row.file, line=row.line)
                l = layers[pos]
                pos += 1
                diffs = [f"{what} {got}" for what, want, got in (
                    ("type", r.type, l.type_stride), ("filter", r.filter, l.filter),
                    ("input", r.input, hwc(l.input_shape))) if _norm(want) != _norm(got)]
                ok = "yes" if not diffs else "no: spec has " + ", ".join(diffs)
                if diffs:
                    ok += " " + fn.mark(f"{r.type}, {r.filter}: {r.note}" if r.note else
                                        f"{r.type}, {r.filter}: the spec differs from the printed row")
                tab.add([r.type + label, r.filter, r.input, l.name, ok, fmt_int(l.mult_adds),
                         fmt_pct(l.mult_adds, p.mult_adds), fmt_int(pc(l)), fmt_pct(pc(l), total_p)])
                records.append({"table": t.id, "type": r.type, "filter": r.filter,
                                "input": r.input, "layer": l.name, "matches": not diffs,
                                "mult_adds": l.mult_adds, "params": pc(l), "params_count": count})
    for l in layers[pos:]:
        mark = fn.mark("layers of the spec that the paper's table does not list")
        tab.add(["-", "-", "-", l.name, f"not in the paper {mark}", fmt_int(l.mult_adds),
                 fmt_pct(l.mult_adds, p.mult_adds), fmt_int(pc(l)), fmt_pct(pc(l), total_p)])
        records.append({"table": t.id, "type": None, "filter": None, "input": None,
                        "layer": l.name, "matches": False, "mult_adds": l.mult_adds,
                        "params": pc(l), "params_count": count})
    tab.footer = ["Total", "", "", f"{d.spec} {settings_text(p.settings)}", "",
                  fmt_int(p.mult_adds), "100.00%", fmt_int(total_p), "100.00%"]
    notes = _header_notes(t, count)
    notes.append("Each printed row is matched, in order, with the spec's next conv, pooling or "
                 "linear layer; batch norm and ReLU layers have no mult-adds and no weights.")
    tab.notes = _with_footnotes(notes, fn)
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts)


# --- types: cost shares per layer type ---------------------------------------------------------

def _pct_cells(share: float, reported: float | int | None, note: str | None,
               fn: Footnotes) -> tuple[str, str, bool | None]:
    cell = f"{share:.2f}"
    if reported is None:
        return cell, "", None
    gap = beyond_rounding(share, reported)
    dcell = f"{share - reported:+.2f} pp"
    if gap:
        dcell += " " + fn.mark(note or UNEXPLAINED)
    return cell, dcell, not gap


def _types(t: Table, resolver: Resolver) -> PaperTable:
    d, fn, p, count, word = _open(t, resolver)
    cols = [Column("Type", "left"), Column("Mult-Adds (%), reported"),
            Column("Mult-Adds (%), computed"), Column("Δ"), Column("Parameters (%), reported"),
            Column(f"{word} (%), computed"), Column("Δ")]
    tab = Tabular(title=d.title, columns=cols)
    records: list[dict] = []
    if p is None:
        return _spec_missing(t, tab, fn, count, 0)
    by_type = {r.type: r for r in p.by_type()}
    total_p = _param_count(p, count)[1]
    sums = [0.0, 0.0, 0.0, 0.0]
    for row in t.rows:
        r = row.data
        if r.type not in by_type:
            raise SpecError(f"table {t.id!r}: layer type {r.type!r} does not occur in {d.spec}; "
                            f"it has: {', '.join(by_type)}", file=row.file, line=row.line)
        c = by_type[r.type]
        ma_share = 100 * c.mult_adds / p.mult_adds
        pa_share = 100 * (c.weights if count == "weights" else c.params) / total_p
        note = f"{r.type}: {r.note}" if r.note else None
        ma_cell, ma_d, ma_ok = _pct_cells(ma_share, r.mult_adds_pct, note, fn)
        pa_cell, pa_d, pa_ok = _pct_cells(pa_share, r.params_pct, note, fn)
        tab.add([r.type, printed(r.mult_adds_pct), ma_cell, ma_d, printed(r.params_pct),
                 pa_cell, pa_d])
        sums = [sums[0] + (r.mult_adds_pct or 0), sums[1] + ma_share,
                sums[2] + (r.params_pct or 0), sums[3] + pa_share]
        records.append({"table": t.id, "type": r.type, "layers": c.count,
                        "mult_adds": c.mult_adds, "mult_adds_pct_reported": r.mult_adds_pct,
                        "mult_adds_pct_computed": round(ma_share, 4),
                        "mult_adds_within_rounding": ma_ok,
                        "params": c.weights if count == "weights" else c.params,
                        "params_count": count, "params_pct_reported": r.params_pct,
                        "params_pct_computed": round(pa_share, 4), "params_within_rounding": pa_ok,
                        "note": r.note})
    tab.footer = ["Sum of the rows", f"{sums[0]:.2f}", f"{sums[1]:.2f}", "", f"{sums[2]:.2f}",
                  f"{sums[3]:.2f}", ""]
    notes = _header_notes(t, count)
    notes.append(f"Shares of the totals: {fmt_int(p.mult_adds)} mult-adds and "
                 f"{fmt_int(total_p)} {word.lower()} ({d.spec} {settings_text(p.settings)}). "
                 "Δ in percentage points; a footnote marks a gap larger than the printed rounding.")
    tab.notes = _with_footnotes(notes, fn)
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts)


# --- stages: body rows grouping layers ----------------------------------------------------------

_INPUT_RE = re.compile(r"^\s*(\d+)\s*\^\s*2\s*x\s*(\d+)\s*$|^\s*(\d+)\s*x\s*(\d+)\s*x\s*(\d+)\s*$")


def _parse_input(text: str) -> tuple[int, int, int] | None:
    """'112^2 x 32' or '1 x 1 x 1280' -> (C, H, W)."""
    m = _INPUT_RE.match(text.replace("×", "x"))
    if not m:
        return None
    if m.group(1):
        return int(m.group(2)), int(m.group(1)), int(m.group(1))
    return int(m.group(5)), int(m.group(3)), int(m.group(4))


def _stages(t: Table, resolver: Resolver) -> PaperTable:
    d, fn, p, count, word = _open(t, resolver)
    cols = [Column("Input (paper)", "left"), Column("Operator", "left"), Column("t"),
            Column("c"), Column("n"), Column("s"), Column("Layers (spec)", "left"),
            Column("Input matches", "left"), Column("Mult-Adds"), Column("%"), Column(word),
            Column("%")]
    tab = Tabular(title=d.title, columns=cols)
    records: list[dict] = []
    if p is None:
        return _spec_missing(t, tab, fn, count, 0)
    pc, total_p = _param_count(p, count)
    by_name = {l.name: l for l in p.layers}
    names = list(by_name)
    used: set[str] = set()
    for row in t.rows:
        r = row.data
        sel = match_layers(r.match, names)
        if not sel:
            raise SpecError(f"table {t.id!r}: no layer of {d.spec} matches {r.match}",
                            file=row.file, line=row.line)
        twice = [n for n in sel if n in used]
        if twice:
            raise SpecError(f"table {t.id!r}: layer {twice[0]!r} is matched by two rows",
                            file=row.file, line=row.line)
        used.update(sel)
        ls = [by_name[n] for n in sel]
        want = _parse_input(r.input)
        got = ls[0].input_shape
        got3 = got if len(got) == 3 else (got[0], 1, 1)
        if want is None:
            ok = "-"
        elif tuple(want) == tuple(got3):
            ok = "yes"
        else:
            ok = (f"no: spec has {got3[1]}x{got3[2]}x{got3[0]} "
                  + fn.mark(f"{r.input} {r.operator}: {r.note}" if r.note else
                            f"{r.input} {r.operator}: the spec's input differs from the printed one"))
        ma = sum(l.mult_adds for l in ls)
        pa = sum(pc(l) for l in ls)
        span = f"{', '.join(r.match)} ({len(sel)} layer{'s' if len(sel) > 1 else ''})"
        tab.add([r.input, r.operator, printed(r.t), printed(r.c), printed(r.n), printed(r.s),
                 span, ok, fmt_int(ma), fmt_pct(ma, p.mult_adds), fmt_int(pa), fmt_pct(pa, total_p)])
        records.append({"table": t.id, "input": r.input, "operator": r.operator, "t": r.t,
                        "c": r.c, "n": r.n, "s": r.s, "layers": len(sel),
                        "first_layer": sel[0], "last_layer": sel[-1],
                        "input_matches": ok == "yes", "mult_adds": ma, "params": pa,
                        "params_count": count})
    rest = [by_name[n] for n in names if n not in used and (by_name[n].mult_adds or pc(by_name[n]))]
    if rest:
        ma = sum(l.mult_adds for l in rest)
        pa = sum(pc(l) for l in rest)
        tab.add(["-", "other layers", "", "", "", "", f"{rest[0].name} ... ({len(rest)})",
                 fn.mark("layers with a cost that no printed row covers"), fmt_int(ma),
                 fmt_pct(ma, p.mult_adds), fmt_int(pa), fmt_pct(pa, total_p)])
    tab.footer = ["Total", "", "", "", "", "", f"{d.spec} {settings_text(p.settings)}", "",
                  fmt_int(p.mult_adds), "100.00%", fmt_int(total_p), "100.00%"]
    notes = _header_notes(t, count)
    notes.append("The paper prints no per-row cost: each row's cost is the sum over the spec's "
                 "layers it covers (Layers column).")
    tab.notes = _with_footnotes(notes, fn)
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts)


BUILDERS = {"results": _results, "layers": _layers, "types": _types, "stages": _stages}


SPEED_KINDS = ("speed", "guidelines")


def build(table: Table, resolver: Resolver | None = None, speed=None) -> PaperTable:
    """Assemble one paper table (resolving its specs: errors at the registry row). ``speed``
    (a :class:`costmodel.papers.speed.SpeedContext`: the device profile of the predicted
    column, and measurements when there are any) matters to the speed tables only."""
    if table.kind in SPEED_KINDS:
        from costmodel.papers import speed as speed_tables
        ctx = speed or speed_tables.SpeedContext.default()
        return speed_tables.BUILDERS[table.kind](table, resolver or Resolver(), ctx)
    return BUILDERS[table.kind](table, resolver or Resolver())


def build_all(registry: Registry, resolver: Resolver | None = None, speed=None) -> list[PaperTable]:
    """Every table; all specs are checked first, so a bad row fails before any output."""
    resolver = resolver or Resolver()
    tables = list(registry.tables.values())
    check_specs(tables, resolver)
    if speed is None and any(t.kind in SPEED_KINDS for t in tables):
        from costmodel.papers import speed as speed_tables
        speed = speed_tables.SpeedContext.default()
    return [build(t, resolver, speed) for t in tables]
