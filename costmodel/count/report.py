"""Profile reports: the per-layer table (the papers' Table 1), rolled up to a depth of the
layer tree (fvcore's ``flop_count_table(max_depth=...)``, torchinfo's ``depth``), and the
per-type breakdown (MobileNet's Table 2), as Tabular objects."""
from __future__ import annotations

from dataclasses import dataclass

from costmodel.count.conventions import CONVENTIONS
from costmodel.errors import SpecError
from costmodel.ops.base import hwc
from costmodel.count.profile import Profile
from costmodel.output.tabular import Column, Pct, Tabular


def _settings(p: Profile) -> str:
    return ", ".join(f"{k}={v}" for k, v in p.settings.items())


@dataclass
class Row:
    """One row of the per-layer table: a layer, or the layers of a block rolled up."""
    name: str
    layers: int
    type_stride: str
    filter: str
    input_shape: tuple
    output_shape: tuple
    count: int
    params: int
    activations: int


def block_of(name: str, depth: int) -> str:
    """The block a layer rolls up to at `depth`: the first `depth` parts of its dotted name."""
    return ".".join(name.split(".")[:depth])


def rows(p: Profile, convention: str = "paper", depth: int | None = None,
         hide_zero: bool = False, top: int | None = None) -> tuple[list[Row], list[str]]:
    """The rows of the per-layer table and notes saying what was rolled up, hidden or cut."""
    if depth is not None and depth < 1:
        raise SpecError(f"--depth must be at least 1, got {depth}")
    if top is not None and top < 1:
        raise SpecError(f"--top must be at least 1, got {top}")
    per = dict(zip(map(id, p.layers), p.layer_counts(convention)))

    def count(l):
        return per[id(l)]
    out: list[Row] = []
    if depth is None:
        out = [Row(l.name, 1, l.type_stride, l.filter, l.input_shape, l.output_shape, count(l),
                   l.params, l.activations) for l in p.layers]
    else:
        groups: dict[str, list] = {}
        for l in p.layers:
            groups.setdefault(block_of(l.name, depth), []).append(l)
        for name, ls in groups.items():
            if len(ls) == 1 and ls[0].name == name:
                l = ls[0]
                out.append(Row(l.name, 1, l.type_stride, l.filter, l.input_shape, l.output_shape,
                               count(l), l.params, l.activations))
            else:
                out.append(Row(name, len(ls), f"{len(ls)} layers", "", ls[0].input_shape,
                               ls[-1].output_shape, sum(map(count, ls)),
                               sum(l.params for l in ls), sum(l.activations for l in ls)))
    notes = []
    if depth is not None:
        notes.append(f"Rolled up to depth {depth}: each row sums the layers whose dotted name "
                     f"starts with it ({len(p.layers)} layers in {len(out)} rows).")
    if hide_zero:
        shown = [r for r in out if r.count or r.params]
        if len(shown) < len(out):
            notes.append(f"{len(out) - len(shown)} rows with no cost (0 counted and 0 params) "
                         "hidden; --show-zero lists them.")
        out = shown
    if top is not None and top < len(out):
        notes.append(f"The {top} costliest of {len(out)} rows, by "
                     f"{CONVENTIONS[convention].title}; the totals are the whole model's.")
        out = sorted(out, key=lambda r: (-r.count, -r.params))[:top]
    return out, notes


def memory_note(p: Profile, batch: int = 1, dtype: str = "fp32") -> str:
    m = p.memory(batch, dtype)
    return (f"Memory at batch {batch}, {dtype}: peak activations "
            f"{m['peak_activation_bytes'] / 2**20:,.2f} MiB ({p.activations:,} output elements "
            f"per sample); model size {m['model_bytes'] / 2**20:,.2f} MiB (state_dict: "
            f"{p.params:,} params and {p.buffers:,} buffer elements, batch-norm running "
            "statistics).")


def layer_table(p: Profile, convention: str = "paper", depth: int | None = None,
                hide_zero: bool = False, top: int | None = None, batch: int = 1,
                dtype: str = "fp32") -> Tabular:
    conv = CONVENTIONS[convention]
    total = p.total(convention)
    body, notes = rows(p, convention, depth, hide_zero, top)
    t = Tabular(
        title=f"{p.model} ({_settings(p)}): per {'block' if depth else 'layer'}",
        columns=[Column("Layer" if depth is None else "Block", "left", key="name",
                        abbreviate=True),
                 Column("Type / Stride", "left", key="type_stride", drop=2),
                 Column("Filter Shape", "left", key="filter", drop=6),
                 Column("Input (HxWxC)", key="input_hwc", drop=5),
                 Column("Output (HxWxC)", key="output_hwc", drop=1),
                 Column(conv.title, key=convention),
                 Column("%", key=f"{convention}_pct", drop=3),
                 Column("Params", key="params"),
                 Column("%", key="params_pct", drop=4)])
    params = p.params           # once: a sum over every layer (a 99,000-layer spec)
    for r in body:
        t.add([r.name, r.type_stride, r.filter, hwc(r.input_shape), hwc(r.output_shape),
               r.count, Pct(r.count, total), r.params, Pct(r.params, params)])
    t.footer = ["Total", "", "", hwc(p.input_shape), hwc(p.output_shape), total,
                "100.00%", params, "100.00%"]
    t.notes = [f"{conv.title}: {conv.doc}" + (f" ({conv.peer})" if conv.peer else "") + ".",
               "Params: trainable parameters (weights, biases, batch-norm scale and shift).",
               memory_note(p, batch, dtype), *notes]
    if batch != 1:
        t.notes.append(batch_note(p, convention, batch))
    return t


def batch_note(p: Profile, convention: str, batch: int) -> str:
    """The rows count one sample; the whole batch under the convention (every convention
    counts a batch exactly: thop's adaptive pooling truncates the batch's product)."""
    conv = CONVENTIONS[convention]
    return (f"{conv.title} for the batch of {batch}: {p.total(convention, batch):,} "
            "(the rows are per sample).")


def type_table(p: Profile, convention: str = "paper", batch: int = 1) -> Tabular:
    """Mult-adds (or the count under ``convention``) and parameters per layer type, as
    MobileNet's Table 2 (whose parameter shares count conv/linear weights only: the 'Weights'
    columns)."""
    conv = CONVENTIONS[convention]
    total = p.total(convention)
    key = "mult_adds" if convention == "paper" else convention
    t = Tabular(
        title=f"{p.model} ({_settings(p)}): per layer type",
        columns=[Column("Type", "left", key="type"), Column("Layers", key="num_layers"),
                 Column("Mult-Adds" if convention == "paper" else conv.title, key=key),
                 Column("%", key=f"{key}_pct", drop=3),
                 Column("Params", key="params"), Column("%", key="params_pct", drop=2),
                 Column("Weights", key="weights"), Column("%", key="weights_pct", drop=1)])
    params, weights = p.params, p.weights
    for r in p.by_type(convention):
        t.add([r.type, r.count, r.flops, Pct(r.flops, total),
               r.params, Pct(r.params, params), r.weights, Pct(r.weights, weights)])
    t.footer = ["Total", len(p.layers), total, "100.00%", p.params,
                "100.00%", p.weights, "100.00%"]
    t.notes = ["Mult-Adds: conv + linear multiply-accumulates, bias excluded." if convention == "paper"
               else f"{conv.title}: {conv.doc}" + (f" ({conv.peer})" if conv.peer else "") + ".",
               "Params: all trainable parameters. Weights: conv/linear weight tensors only "
               "(no bias, no batch norm), the papers' parameter shares."]
    if batch != 1:
        t.notes.append(batch_note(p, convention, batch))
    return t


def layer_rows(p: Profile, convention: str = "paper", depth: int | None = None,
               hide_zero: bool = False, top: int | None = None) -> list[dict]:
    """Flat records for CSV output: plain integers, one column per field."""
    body, _ = rows(p, convention, depth, hide_zero, top)
    by_name = {l.name: l for l in p.layers}
    out = []
    for r in body:
        l = by_name.get(r.name) if r.layers == 1 else None
        out.append({"name": r.name, "layers": r.layers, "op": l.op if l else "",
                    "type": l.type_key if l else "", "type_stride": r.type_stride,
                    "filter": r.filter, "input_shape": "x".join(map(str, r.input_shape)),
                    "output_shape": "x".join(map(str, r.output_shape)), convention: r.count,
                    "params": r.params, "activations": r.activations})
    return out
