"""Speed tables: the papers' device timings beside mult-adds, the PREDICTED latency (a device
profile's cost model, always named) and, only when asked, the latency MEASURED on this machine.

Two table kinds (``costmodel.papers.registry``):

* ``speed``: one row per model; each printed speed column (device, unit, batch, source) is
  compared by rank with our three columns (Spearman, ties averaged; a throughput is read as a
  time, 1 / speed, so +1 means the same order); the paper's speed-up claims are recomputed as
  ratios in footnotes: paper, measured here, predicted.
* ``guidelines``: ShuffleNet V2's Tables 1-4, groups of rows of one benchmark spec; every
  speed is also shown as a ratio to its group's first row, which is what the guidelines are
  about (equal FLOPs, different speed).

Measured numbers come only from a :class:`~costmodel.papers.measured.Measurements` given by the
caller (``--measure`` or ``--measurements FILE``): their columns and records are prefixed
``measured`` and name the machine and torch; everything else is machine-independent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from costmodel.output.tabular import Column, Tabular
from costmodel.papers.rank import spearman
from costmodel.papers.registry import SPEED_UNITS, Resolver, SpeedColumn, Table
from costmodel.papers.tables import (Footnotes, PaperTable, _header_notes, _with_footnotes,
                                     printed, settings_text)


@dataclass
class SpeedContext:
    """What the speed columns are computed with: the device profile of the predicted column
    (always), and the measurements of this machine (only when the caller has them)."""
    device: Any                     # costmodel.latency.devices.DeviceProfile
    measurements: Any = None        # costmodel.papers.measured.Measurements | None

    @staticmethod
    def default() -> "SpeedContext":
        from costmodel.latency import devices
        return SpeedContext(devices.resolve(devices.default_name()))

    def predicted_s(self, profile) -> float:
        from costmodel.latency.predict import predict
        return predict(profile, self.device).time_s

    def measured_s(self, spec: str, profile) -> float | None:
        """This machine's time for ``spec`` at the profile's (resolved) settings, if measured."""
        return None if self.measurements is None else self.measurements.time_s(spec, profile.settings)

    def device_text(self) -> str:
        d = self.device
        return (f"{d.name} ({d.kind}, {d.threads} thread{'s' * (d.threads != 1)}, {d.dtype}, "
                "batch 1)")

    def predicted_note(self) -> str:
        d = self.device
        return (f"Predicted: PREDICTED, not measured: the {d.model} latency model on device profile "
                f"{self.device_text()}, calibrated {d.calibrated or '?'} with torch "
                f"{d.torch or '?'} on {d.cpu or '?'}; `costmodel latency SPEC --device "
                f"{d.name}` shows it per layer.")

    def measured_note(self, command: str) -> str:
        m = self.measurements
        if m is None:
            return ("Measured: not included. Measured latency depends on the machine, so it is "
                    f"added only on request (`{command} --measure`, or `--measurements FILE`).")
        return "Measured: " + m.describe() + "."


def time_of(value: float, column: SpeedColumn) -> float:
    """A printed speed as seconds per run (1 / speed for a throughput): the quantity the rank
    correlation and the ratios compare."""
    kind, scale = SPEED_UNITS[column.unit]
    return value * scale if kind == "latency" else 1.0 / value


def column_text(c: SpeedColumn, with_source: bool = True) -> str:
    batch = f"batch {c.batch}" if c.batch is not None else "batch not stated"
    where = f", input {c.input}" if c.input else ""
    text = f"{c.label or c.key}: {c.device}, in {c.unit} ({batch}{where})"
    return text + (f"; source: {' '.join(c.source.split())}." if with_source else
                   "; same source.")


def column_notes(speeds: list[SpeedColumn]) -> list[str]:
    """One note per printed speed column; a source already named is not repeated."""
    seen: set[str] = set()
    out = []
    for c in speeds:
        out.append(column_text(c, c.source not in seen))
        seen.add(c.source)
    return out


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.2f}"


def _rho(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


# --- speed: one row per model ------------------------------------------------------------------

def build_speed(t: Table, resolver: Resolver, ctx: SpeedContext) -> PaperTable:
    d = t.definition
    fn = Footnotes()
    measured = ctx.measurements is not None
    cols = [Column("Model", "left"), Column("Spec (settings)", "left", drop=5)]
    cols += [Column(f"{c.label or c.key} ({c.unit}), reported", key=f"{c.key}_reported")
             for c in d.speeds]
    cols += [Column("Mult-Adds (M), computed"),
             Column(f"Predicted (ms), {ctx.device.name}", key="predicted_ms")]
    if measured:
        cols.append(Column("Measured (ms), this machine", key="measured_ms"))
    tab = Tabular(title=d.title, columns=cols)
    records: list[dict] = []
    by_model: dict[str, dict] = {}
    for row in t.rows:
        r = row.data
        p = None
        if r.spec is None:
            spec_cell = "- " + fn.mark(f"{r.model}: {r.note}" if r.note else
                                       "no spec here: the printed numbers only, our columns blank")
        else:
            p = resolver.profile(r.spec, r.settings, row.file, row.line, f"row {r.model!r}")
            spec_cell = f"{r.spec} {settings_text(r.settings)}".strip()
            if p is None:
                spec_cell += " " + fn.mark(f"the spec {r.spec!r} does not exist yet")
            elif r.note:
                spec_cell += " " + fn.mark(f"{r.model}: {r.note}")
        pred = ctx.predicted_s(p) if p is not None else None
        meas = ctx.measured_s(r.spec, p) if (p is not None and measured) else None
        cells = [r.model, spec_cell]
        cells += [printed(r.speed.get(c.key)) for c in d.speeds]
        cells += [f"{p.mult_adds / 1e6:,.1f}" if p is not None else "", _ms(pred) if p else ""]
        if measured:
            cells.append(_ms(meas) if p is not None else "")
        tab.add(cells)
        rec: dict[str, Any] = {"table": t.id, "model": r.model, "spec": r.spec,
                               "settings": dict(r.settings)}
        if r.top1 is not None:
            rec["top1_reported"] = r.top1
        if r.err is not None:
            rec["err_reported"] = r.err
        for c in d.speeds:
            rec[f"{c.key}_reported"] = r.speed.get(c.key)
        rec.update({"mult_adds_computed": p.mult_adds if p is not None else None,
                    "predicted_ms": None if pred is None else round(pred * 1e3, 6),
                    "predicted_device": ctx.device.name if pred is not None else None})
        if measured:
            rec["measured_ms"] = None if meas is None else round(meas * 1e3, 6)
        records.append(rec)
        by_model[r.model] = {"speed": r.speed, "pred": pred, "meas": meas}
    notes = _header_notes(t, None)
    notes += column_notes(d.speeds)
    notes += [ctx.predicted_note(), ctx.measured_note(f"costmodel table {t.id}")]
    correlations = rank_correlations(t, records, measured)
    notes += [c["text"] for c in correlations]
    claims = []
    for claim in d.claims:
        c = next(x for x in d.speeds if x.key == claim.column)
        done = claim_ratios(claim, c, by_model, measured)
        claims.append(done)
        fn.mark(done["text"])
    tab.notes = _with_footnotes(notes, fn)
    extra = {"device": _device_dict(ctx), "machine": ctx.measurements.machine if measured else None,
             "rank_correlations": [{k: v for k, v in c.items() if k != "text"} for c in correlations],
             "claims": [{k: v for k, v in c.items() if k != "text"} for c in claims]}
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts, extra)


def _device_dict(ctx: SpeedContext) -> dict:
    d = ctx.device
    return {"name": d.name, "kind": d.kind, "threads": d.threads, "dtype": d.dtype, "batch": 1,
            "calibrated": d.calibrated, "torch": d.torch, "cpu": d.cpu}


def rank_correlations(t: Table, records: list[dict], measured: bool) -> list[dict]:
    """For every printed speed column: Spearman's rho between the paper's time (1 / speed
    for a throughput) and each of our columns, over the rows that have both."""
    out = []
    for c in t.definition.speeds:
        if not c.compare:
            continue
        rows = [r for r in records if r[f"{c.key}_reported"] is not None
                and r["mult_adds_computed"] is not None]
        paper = [time_of(r[f"{c.key}_reported"], c) for r in rows]
        res: dict[str, Any] = {"column": c.key, "n": len(rows),
                               "mult_adds": spearman(paper, [r["mult_adds_computed"] for r in rows]),
                               "predicted": spearman(paper, [r["predicted_ms"] for r in rows])}
        parts = [f"mult-adds {_rho(res['mult_adds'])}", f"predicted {_rho(res['predicted'])}"]
        if measured:
            both = [(p, r["measured_ms"]) for p, r in zip(paper, rows) if r["measured_ms"] is not None]
            res["measured"] = spearman([a for a, _ in both], [b for _, b in both])
            res["measured_n"] = len(both)
            parts.append(f"measured {_rho(res['measured'])}"
                         + (f" (n = {len(both)})" if len(both) != len(rows) else ""))
        res["text"] = (f"Spearman rank correlation with the paper's {c.label or c.key} (n = "
                       f"{len(rows)} models with a spec; a throughput is read as 1 / speed, so +1 "
                       f"is the paper's order): {', '.join(parts)}.")
        out.append(res)
    return out


def claim_ratios(claim, column: SpeedColumn, by_model: dict, measured: bool) -> dict:
    """A stated speed-up as three ratios, each time(slower) / time(faster): the paper's printed
    numbers, this machine's measurement, the prediction."""
    fast, slow = by_model[claim.faster], by_model[claim.slower]
    a, b = fast["speed"].get(column.key), slow["speed"].get(column.key)
    paper = None if a is None or b is None else time_of(b, column) / time_of(a, column)
    pred = None if not (fast["pred"] and slow["pred"]) else slow["pred"] / fast["pred"]
    meas = None if not (fast["meas"] and slow["meas"]) else slow["meas"] / fast["meas"]
    if paper is None:
        ptext = "the paper prints no speed for one of them"
    elif SPEED_UNITS[column.unit][0] == "latency":
        ptext = f"paper {printed(b)} / {printed(a)} {column.unit} = {paper:.2f}x"
    else:
        ptext = f"paper {printed(a)} / {printed(b)} {column.unit} = {paper:.2f}x"
    parts = [ptext]
    if measured:
        parts.append(f"measured here {_ratio(meas)}")
    parts.append(f"predicted {_ratio(pred)}")
    text = (f"{claim.text} ({claim.faster} vs {claim.slower}, {column.label or column.key}): "
            + "; ".join(parts) + ".")
    res = {"claim": claim.text, "faster": claim.faster, "slower": claim.slower,
           "column": column.key, "paper": paper, "predicted": pred, "text": text}
    if measured:
        res["measured"] = meas
    return res


# --- guidelines: groups of rows of one benchmark spec -----------------------------------------

def build_guidelines(t: Table, resolver: Resolver, ctx: SpeedContext) -> PaperTable:
    d = t.definition
    fn = Footnotes()
    measured = ctx.measurements is not None
    cols = [Column("Experiment", "left"), Column("Paper row", "left"),
            Column("Settings", "left", drop=5), Column("Mult-Adds (M)", key="mult_adds")]
    for c in d.speeds:
        cols += [Column(f"{c.label or c.key} ({c.unit}), reported", key=f"{c.key}_reported"),
                 Column("ratio", key=f"{c.key}_ratio")]
    cols += [Column(f"Predicted (images/s), {ctx.device.name}", key="predicted_images_per_s"),
             Column("ratio", key="predicted_ratio")]
    if measured:
        cols += [Column("Measured (images/s), this machine", key="measured_images_per_s"),
                 Column("ratio", key="measured_ratio")]
    tab = Tabular(title=d.title, columns=cols)
    records: list[dict] = []
    for grow in t.rows:
        g = grow.data
        first: dict[str, float | None] = {}
        for i, r in enumerate(g.rows):
            p = resolver.profile(g.spec, r.settings, grow.file, grow.line,
                                 f"{g.experiment} row {r.label!r}") if r.computed else None
            pred = ctx.predicted_s(p) if p is not None else None
            meas = ctx.measured_s(g.spec, p) if (p is not None and measured) else None
            label = r.label + (" " + fn.mark(f"{g.experiment}, {r.label}: {r.note}") if r.note else "")
            cells = [f"{g.experiment}: {g.title}" if i == 0 else "", label,
                     settings_text(r.settings),
                     f"{p.mult_adds / 1e6:,.1f}" if p is not None else "n/a"]
            rec: dict[str, Any] = {"table": t.id, "experiment": g.experiment, "group": g.title,
                                   "row": r.label, "spec": g.spec, "settings": dict(r.settings),
                                   "mult_adds": p.mult_adds if p is not None else None}
            for c in d.speeds:
                v = r.speed.get(c.key)
                base = first.setdefault(c.key, v) if i == 0 else first.get(c.key)
                ratio = (time_of(base, c) / time_of(v, c)) if (v is not None and base) else None
                cells += [printed(v), _ratio(ratio) if v is not None else ""]
                rec[f"{c.key}_reported"] = v
                rec[f"{c.key}_ratio"] = None if ratio is None else round(ratio, 4)
            for what, secs in (("predicted", pred), ("measured", meas)):
                if what == "measured" and not measured:
                    continue
                base = first.setdefault(what, secs) if i == 0 else first.get(what)
                ratio = (base / secs) if (secs and base) else None
                cells += ["-" if secs is None else f"{1.0 / secs:,.1f}", _ratio(ratio)]
                rec[f"{what}_images_per_s"] = None if secs is None else round(1.0 / secs, 4)
                rec[f"{what}_ratio"] = None if ratio is None else round(ratio, 4)
            rec["predicted_device"] = ctx.device.name
            tab.add(cells)
            records.append(rec)
    notes = _header_notes(t, None)
    notes += column_notes(d.speeds)
    notes.append("ratio: the row's speed relative to the first row of its experiment (a number "
                 "above 1 is faster). The rows of an experiment have equal (or nearly equal) FLOPs: "
                 "the guideline is that their speed differs anyway.")
    notes += [ctx.predicted_note(), ctx.measured_note(f"costmodel table {t.id}")]
    tab.notes = _with_footnotes(notes, fn)
    extra = {"device": _device_dict(ctx), "machine": ctx.measurements.machine if measured else None}
    return PaperTable(t.id, d.title, d.kind, tab, records, fn.texts, extra)


BUILDERS = {"speed": build_speed, "guidelines": build_guidelines}
