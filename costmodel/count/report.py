"""Profile reports: the per-layer table (the papers' Table 1) and the per-type breakdown
(MobileNet's Table 2), as Tabular objects."""
from __future__ import annotations

from costmodel.count.conventions import CONVENTIONS
from costmodel.ops.base import hwc
from costmodel.count.profile import Profile
from costmodel.output.tabular import Column, Tabular, fmt_int, fmt_pct


def _settings(p: Profile) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.settings.items())


def layer_table(p: Profile, convention: str = "paper") -> Tabular:
    conv = CONVENTIONS[convention]
    total = p.total(convention)
    t = Tabular(
        title=f"{p.model} ({_settings(p)}): per layer",
        columns=[Column("Layer", "left"), Column("Type / Stride", "left"),
                 Column("Filter Shape", "left"), Column("Input (HxWxC)"), Column("Output (HxWxC)"),
                 Column(conv.title), Column("%"), Column("Params"), Column("%")])
    for l in p.layers:
        count = conv.count(l)
        t.add([l.name, l.type_stride, l.filter, hwc(l.input_shape), hwc(l.output_shape),
               fmt_int(count), fmt_pct(count, total), fmt_int(l.params), fmt_pct(l.params, p.params)])
    t.footer = ["Total", "", "", hwc(p.input_shape), hwc(p.output_shape), fmt_int(total),
                "100.00%", fmt_int(p.params), "100.00%"]
    t.notes = [f"{conv.title}: {conv.doc}.",
               "Params: trainable parameters (weights, biases, batch-norm scale and shift).",
               f"Activations: {fmt_int(p.activations)} output elements; peak activation memory "
               f"{p.peak_activation_bytes / 2**20:.2f} MiB and weights {p.weight_bytes / 2**20:.2f} "
               "MiB (fp32, batch 1)."]
    return t


def type_table(p: Profile) -> Tabular:
    """Mult-adds and parameters per layer type, as MobileNet's Table 2 (whose parameter
    shares count conv/linear weights only: the 'Weights' columns)."""
    t = Tabular(
        title=f"{p.model} ({_settings(p)}): per layer type",
        columns=[Column("Type", "left"), Column("Layers"), Column("Mult-Adds"), Column("%"),
                 Column("Params"), Column("%"), Column("Weights"), Column("%")])
    for r in p.by_type():
        t.add([r.type, r.count, fmt_int(r.mult_adds), fmt_pct(r.mult_adds, p.mult_adds),
               fmt_int(r.params), fmt_pct(r.params, p.params), fmt_int(r.weights),
               fmt_pct(r.weights, p.weights)])
    t.footer = ["Total", len(p.layers), fmt_int(p.mult_adds), "100.00%", fmt_int(p.params),
                "100.00%", fmt_int(p.weights), "100.00%"]
    t.notes = ["Mult-Adds: conv + linear multiply-accumulates, bias excluded.",
               "Params: all trainable parameters. Weights: conv/linear weight tensors only "
               "(no bias, no batch norm), the papers' parameter shares."]
    return t


def layer_rows(p: Profile, convention: str = "paper") -> list[dict]:
    """Flat records for CSV output."""
    count = CONVENTIONS[convention].count
    return [{"name": l.name, "op": l.op, "type": l.type_key, "type_stride": l.type_stride,
             "filter": l.filter, "input_shape": "x".join(map(str, l.input_shape)),
             "output_shape": "x".join(map(str, l.output_shape)), convention: count(l),
             "params": l.params, "activations": l.activations} for l in p.layers]
