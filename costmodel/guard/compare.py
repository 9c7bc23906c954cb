"""Comparing a fresh snapshot with the baseline: per-metric changes under a relative
tolerance, new and removed specs and variants, and the first layer that differs.

Rules:

* a metric changes when ``|after - before| > tolerance * before`` (a metric that was 0 and is
  not any more always changes); tolerances are per metric, 0 unless given;
* with every tolerance 0 (the default) the check is an exact snapshot: a change in the layers
  that leaves every total the same (a renamed layer, two swapped blocks) fails as well, shown
  as the pseudo-metric ``layers`` (before and after: the layer count). With a tolerance, the
  totals decide and such a change is listed as within tolerance;
* a spec or variant that is new or gone fails the check: it is unguarded, or the baseline is
  stale, until ``costmodel lock`` is run on purpose;
* a spec's *defaults* are guarded as such: a default setting that changes fails the check
  (whatever the tolerance), even when the new default is another guarded variant whose counts
  did not move, and the defaults' counts before and after are listed under the variant
  ``default``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from typing import Optional

from costmodel.errors import SpecError
from costmodel.guard.baseline import Baseline, SpecEntry, VariantEntry
from costmodel.guard.snapshot import Record

LAYERS = "layers"
DEFAULTS = "default"      # the variant label of the defaults' own comparison
METRIC_ORDER = ["mult_adds", "params", "weights", "activations", "flops_fvcore", "flops_full",
                "peak_activation_bytes"]
ALL = "*"


# --- tolerance -----------------------------------------------------------------------------
def _fraction(text: str, item: str) -> float:
    t = text.strip()
    scale = 1.0
    if t.endswith("%"):
        t, scale = t[:-1], 0.01
    try:
        v = float(t) * scale
    except ValueError:
        raise SpecError(f"--tolerance expects a fraction (0.01), a percentage (1%) or "
                        f"METRIC=VALUE, got {item!r}") from None
    if not math.isfinite(v) or v < 0:
        raise SpecError(f"--tolerance must be a non-negative number, got {item!r}")
    return v


def parse_tolerance(items: list[str] | None, metrics: list[str]) -> dict[str, float]:
    """``["0.01", "params=0"]`` -> ``{"*": 0.01, "params": 0.0}``. A bare value applies to
    every metric; ``METRIC=VALUE`` to one (later items win). Unknown metrics are errors."""
    out: dict[str, float] = {ALL: 0.0}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            out[ALL] = _fraction(item, item)
            for k in [k for k in out if k != ALL]:
                del out[k]
            continue
        key = key.strip()
        if key not in metrics:
            close = difflib.get_close_matches(key, metrics, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"--tolerance: unknown metric {key!r}{hint}; metrics: "
                            f"{', '.join(metrics)}")
        out[key] = _fraction(value, item)
    return out


def tolerance_for(tol: dict[str, float], metric: str) -> float:
    return tol.get(metric, tol.get(ALL, 0.0))


def is_strict(tol: dict[str, float]) -> bool:
    return all(v == 0 for v in tol.values())


def within(before: int, after: int, tolerance: float) -> bool:
    if before == after:
        return True
    if before == 0:
        return False
    return abs(after - before) <= tolerance * abs(before)


def metric_sort_key(metric: str) -> tuple:
    if metric == LAYERS:
        return (len(METRIC_ORDER) + 1, metric)
    return (METRIC_ORDER.index(metric), "") if metric in METRIC_ORDER else (len(METRIC_ORDER), metric)


# --- results -------------------------------------------------------------------------------
@dataclass
class Change:
    """One metric of one variant that moved."""
    spec: str
    model: str
    variant: str
    metric: str
    before: int
    after: int
    ok: bool            # within tolerance

    @property
    def delta(self) -> int:
        return self.after - self.before

    @property
    def delta_pct(self) -> Optional[float]:
        return None if self.before == 0 else 100.0 * self.delta / self.before

    def to_dict(self) -> dict:
        return {"file": self.spec, "model": self.model, "variant": self.variant,
                "metric": self.metric, "before": self.before, "after": self.after,
                "delta": self.delta, "delta_pct": self.delta_pct, "within_tolerance": self.ok}


@dataclass
class LayerDiff:
    """The first layer that differs in one variant of one spec, and how."""
    spec: str
    model: str
    variant: str
    index: int
    layer: str
    how: list[str]
    before: Optional[str] = None     # the records, when the baseline has them
    after: Optional[str] = None

    def to_dict(self) -> dict:
        return {"file": self.spec, "model": self.model, "variant": self.variant,
                "index": self.index, "layer": self.layer, "how": self.how,
                "before": self.before, "after": self.after}


@dataclass
class DefaultChange:
    """A default setting of one spec that changed (``None``: not declared on that side)."""
    spec: str
    model: str
    setting: str
    before: object
    after: object

    def text(self) -> str:
        def show(v):
            return "(not declared)" if v is None else _setting_text(v)
        return f"{self.setting} {show(self.before)} -> {show(self.after)}"

    def to_dict(self) -> dict:
        return {"file": self.spec, "model": self.model, "setting": self.setting,
                "before": self.before, "after": self.after}


def _setting_text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)


@dataclass
class Item:
    """A spec or variant present on one side only."""
    spec: str
    model: str
    variant: Optional[str] = None

    def to_dict(self) -> dict:
        d = {"file": self.spec, "model": self.model}
        if self.variant is not None:
            d["variant"] = self.variant
        return d


@dataclass
class Report:
    tolerance: dict[str, float]
    specs_checked: int = 0
    variants_checked: int = 0
    changes: list[Change] = field(default_factory=list)
    layers: list[LayerDiff] = field(default_factory=list)
    new_specs: list[Item] = field(default_factory=list)
    removed_specs: list[Item] = field(default_factory=list)
    new_variants: list[Item] = field(default_factory=list)
    removed_variants: list[Item] = field(default_factory=list)
    default_changes: list[DefaultChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[Change]:
        return [c for c in self.changes if not c.ok]

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.new_specs or self.removed_specs or self.new_variants
                    or self.removed_variants or self.default_changes)

    @property
    def changed_variants(self) -> list[tuple[str, str]]:
        """The guarded variants that changed (the defaults' own comparison is not one)."""
        return sorted({(c.spec, c.variant) for c in self.failures if c.variant != DEFAULTS})

    @property
    def changed_defaults(self) -> list[str]:
        return sorted({d.spec for d in self.default_changes})

    def to_dict(self) -> dict:
        return {
            "status": "changed" if self.failed else "unchanged",
            "specs_checked": self.specs_checked,
            "variants_checked": self.variants_checked,
            "variants_changed": len(self.changed_variants),
            "tolerance": {("default" if k == ALL else k): v for k, v in sorted(self.tolerance.items())},
            "changes": [c.to_dict() for c in self.changes],
            "first_layer_changes": [d.to_dict() for d in self.layers],
            "new_specs": [i.to_dict() for i in self.new_specs],
            "removed_specs": [i.to_dict() for i in self.removed_specs],
            "new_variants": [i.to_dict() for i in self.new_variants],
            "removed_variants": [i.to_dict() for i in self.removed_variants],
            "default_changes": [d.to_dict() for d in self.default_changes],
            "notes": self.notes,
        }


# --- the first layer that differs ----------------------------------------------------------
def _shape_change(what: str, before: str, after: str) -> str:
    b, a = before.split("x"), after.split("x")
    if len(b) == len(a) == 3 and "+" not in before + after:
        if b[0] != a[0] and b[1:] == a[1:]:
            return f"{what} channels {b[0]} -> {a[0]} ({before} -> {after})"
        if b[0] == a[0] and b[1:] != a[1:]:
            return f"{what} size {b[1]}x{b[2]} -> {a[1]}x{a[2]} ({before} -> {after})"
    return f"{what} shape {before} -> {after}"


def _count_change(what: str, before: int, after: int) -> str:
    pct = f" ({100.0 * (after - before) / before:+.2f}%)" if before else ""
    return f"{what} {before:,} -> {after:,}{pct}"


def describe_change(b: Record, a: Record) -> list[str]:
    """How one layer's record changed, most telling first: op, attributes, shapes, counts."""
    how: list[str] = []
    if b.name != a.name:
        how.append(f"name {b.name} -> {a.name}")
    if b.op != a.op:
        how.append(f"op {b.op} -> {a.op}")
    ba, aa = b.attr_map(), a.attr_map()
    for k in sorted(set(ba) | set(aa)):
        if ba.get(k) != aa.get(k):
            how.append(f"{k} {ba.get(k, '(none)')} -> {aa.get(k, '(none)')}")
    if b.input != a.input:
        how.append(_shape_change("input", b.input, a.input))
    if b.output != a.output:
        how.append(_shape_change("output", b.output, a.output))
    if b.mult_adds != a.mult_adds:
        how.append(_count_change("mult-adds", b.mult_adds, a.mult_adds))
    if b.params != a.params:
        how.append(_count_change("params", b.params, a.params))
    if not how:
        how.append("other counts (weights, activations, fvcore or full FLOPs) differ")
    return how


def _summary(r: Record) -> str:
    return (f"{r.op} {r.input} -> {r.output}" + (f" [{r.attrs}]" if r.attrs else "")
            + f", {r.mult_adds:,} mult-adds, {r.params:,} params")


def _reordered_or_renamed(brecs: list[Record], arecs: list[Record], i: int) -> list[str]:
    """Counts that did not move but layers that did: the same layers in another order, or
    the same layers under other names (a change ``check`` fails on when exact)."""
    if len(brecs) != len(arecs):
        return []
    b, a = brecs[i], arecs[i]
    if sorted(r.text() for r in brecs) == sorted(r.text() for r in arecs):
        moved = sum(1 for x, y in zip(brecs, arecs) if x != y)
        return [f"layers reordered (the same {len(arecs)} layers and counts, in another order; "
                f"{moved} at other positions): #{i} was {b.name}, is now {a.name}"]
    unnamed = [dataclasses.replace(r, name="") for r in brecs]
    if unnamed == [dataclasses.replace(r, name="") for r in arecs]:
        renamed = [(x.name, y.name) for x, y in zip(brecs, arecs) if x.name != y.name]
        shown = ", ".join(f"{x} -> {y}" for x, y in renamed[:5])
        more = f" and {len(renamed) - 5} more" if len(renamed) > 5 else ""
        return [f"layers renamed (same layers, same counts): {shown}{more}"]
    return []


def first_layer_diff(spec: str, model: str, variant: str, before: VariantEntry,
                     after: VariantEntry) -> Optional[LayerDiff]:
    """The first layer whose hash differs, named and explained. ``after`` always has its
    records (it was just computed); ``before`` has them for the default variant."""
    bh, ah = before.hashes, after.hashes
    arecs = [Record.parse(t) for t in after.layers or []]
    brecs = [Record.parse(t) for t in before.layers] if before.layers else None
    n = min(len(bh), len(ah))
    i = next((k for k in range(n) if bh[k] != ah[k]), n)
    if i == len(bh) == len(ah):
        return None
    if i == len(ah):           # the after side ends early: layers were removed at the end
        name = brecs[i].name if brecs else (arecs[i - 1].name if arecs else "?")
        how = [f"{len(bh) - len(ah)} layer(s) removed at the end"
               + (f", from {brecs[i].name}" if brecs else f", after {name}")]
        return LayerDiff(spec, model, variant, i, name, how, before=before.layers[i] if brecs else None)
    a = arecs[i]
    if i == len(bh):           # layers were appended
        how = [f"new layer(s) at the end: {len(ah) - len(bh)} more, from {a.name}: {_summary(a)}"]
        return LayerDiff(spec, model, variant, i, a.name, how, after=a.text())
    if brecs is None:
        how = [f"differs from the baseline (which keeps per-layer records for the default "
               f"variant only); now: {_summary(a)}"]
        return LayerDiff(spec, model, variant, i, a.name, how, after=a.text())
    b = brecs[i]
    how = _reordered_or_renamed(brecs, arecs, i)
    if how:
        return LayerDiff(spec, model, variant, i, a.name, how, before=b.text(), after=a.text())
    if b.name != a.name:
        later_after = [r.name for r in arecs[i:]]
        later_before = [r.name for r in brecs[i:]]
        if b.name in later_after:
            how.append(f"layer(s) inserted before {b.name}: {a.name} ({_summary(a)})")
            return LayerDiff(spec, model, variant, i, a.name, how, after=a.text())
        if a.name in later_before:
            how.append(f"layer {b.name} removed ({_summary(b)})")
            return LayerDiff(spec, model, variant, i, b.name, how, before=b.text())
    how = describe_change(b, a)
    if len(bh) != len(ah):
        how.append(f"layer count {len(bh)} -> {len(ah)}")
    return LayerDiff(spec, model, variant, i, a.name, how, before=b.text(), after=a.text())


# --- the comparison ------------------------------------------------------------------------
def _variant_order(entry: SpecEntry) -> list[str]:
    return [entry.default_variant] + sorted(k for k in entry.variants if k != entry.default_variant)


def compare(before: Baseline, after: Baseline, tolerance: dict[str, float]) -> Report:
    report = Report(tolerance=tolerance)
    strict = is_strict(tolerance)
    if before.tool_version != after.tool_version:
        report.notes.append(f"the baseline was written by costmodel {before.tool_version}; "
                            f"this is {after.tool_version}")
    for spec in sorted(set(before.specs) | set(after.specs)):
        b, a = before.specs.get(spec), after.specs.get(spec)
        if b is None:
            report.new_specs.append(Item(spec, a.model))
            continue
        if a is None:
            report.removed_specs.append(Item(spec, b.model))
            continue
        report.specs_checked += 1
        if a.model != b.model:
            report.notes.append(f"{spec}: model renamed {b.model} -> {a.model}")
        diffs: list[LayerDiff] = []
        _compare_defaults(report, spec, a.model, b, a, tolerance)
        for key in _variant_order(a):
            if key not in b.variants:
                report.new_variants.append(Item(spec, a.model, key))
                continue
            report.variants_checked += 1
            diff = _compare_variant(report, spec, a.model, key, b.variants[key], a.variants[key],
                                    tolerance, strict)
            if diff is not None:
                diffs.append(diff)
        for key in sorted(set(b.variants) - set(a.variants)):
            report.removed_variants.append(Item(spec, b.model, key))
        if diffs:
            # The default variant explains best (the baseline has its records).
            report.layers.append(next((d for d in diffs if d.variant == a.default_variant), diffs[0]))
    return report


def _compare_defaults(report: Report, spec: str, model: str, b: SpecEntry, a: SpecEntry,
                      tolerance: dict[str, float]) -> None:
    """The defaults as such: each default setting that changed, and (when one did) the
    defaults' counts before and after, under the variant label ``default``."""
    bs, as_ = b.default.settings, a.default.settings
    moved = [DefaultChange(spec, model, k, bs.get(k), as_.get(k))
             for k in sorted(set(bs) | set(as_))
             if k not in bs or k not in as_ or type(bs[k]) is not type(as_[k]) or bs[k] != as_[k]]
    if not moved:
        return          # same defaults: the variant ``default_variant`` compares their counts
    report.default_changes.extend(moved)
    bt, at = b.default.totals, a.default.totals
    for metric in sorted(set(bt) & set(at), key=metric_sort_key):
        if bt[metric] != at[metric]:
            report.changes.append(Change(spec, model, DEFAULTS, metric, bt[metric], at[metric],
                                         within(bt[metric], at[metric],
                                                tolerance_for(tolerance, metric))))


def _compare_variant(report: Report, spec: str, model: str, key: str, b: VariantEntry,
                     a: VariantEntry, tolerance: dict[str, float], strict: bool) -> Optional[LayerDiff]:
    moved = False
    for metric in sorted(set(b.totals) | set(a.totals), key=metric_sort_key):
        if metric not in b.totals:
            report.notes.append(f"{spec} [{key}]: metric {metric} is not in the baseline "
                                "(re-lock to guard it)")
            continue
        if metric not in a.totals:
            report.notes.append(f"{spec} [{key}]: metric {metric} of the baseline is no longer "
                                "computed")
            continue
        bv, av = b.totals[metric], a.totals[metric]
        if bv != av:
            moved = True
            report.changes.append(Change(spec, model, key, metric, bv, av,
                                         within(bv, av, tolerance_for(tolerance, metric))))
    if b.digest == a.digest:
        return None
    nb, na = len(b.hashes), len(a.hashes)
    if not moved or nb != na:
        report.changes.append(Change(spec, model, key, LAYERS, nb, na, ok=not strict))
    return first_layer_diff(spec, model, key, b, a)
