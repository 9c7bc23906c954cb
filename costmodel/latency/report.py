"""Latency and traffic reports as Tabular objects (the CLI renders them in every format).
Predicted and measured times are always labelled as such, with the device profile, threads,
batch and dtype in the title."""
from __future__ import annotations

from costmodel.output.tabular import Column, Tabular, fmt_int


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f}"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _settings(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items())


def traffic_table(model: str, settings: dict, rows, tot: dict, batch: int, dtype: str) -> Tabular:
    """`profile --traffic`: bytes read and written per layer, ShuffleNet V2's MAC, intensity."""
    t = Tabular(
        title=f"{model} ({_settings(settings)}): memory traffic at {dtype}, batch {batch}",
        columns=[Column("Layer", "left"), Column("Type", "left"), Column("Class", "left"),
                 Column("FLOPs"), Column("Read inputs (B)"), Column("Read weights (B)"),
                 Column("Written (B)"), Column("Total (B)"), Column("MAC 1x1 (elem.)"),
                 Column("FLOPs/B")])
    for r in rows:
        tr = r.traffic
        t.add([r.name, r.type, r.op_class, fmt_int(tr.flops), fmt_int(tr.input_bytes),
               fmt_int(tr.weight_bytes), fmt_int(tr.output_bytes), fmt_int(tr.bytes),
               "" if r.mac_1x1 is None else fmt_int(r.mac_1x1), f"{tr.intensity:.2f}"])
    t.footer = ["Total", "", "", fmt_int(tot["flops"]), fmt_int(tot["input_bytes"]),
                fmt_int(tot["weight_bytes"]), fmt_int(tot["output_bytes"]), fmt_int(tot["bytes"]),
                fmt_int(tot["mac_1x1"]), f"{tot['intensity']:.2f}"]
    t.notes = ["Traffic: what an unfused eager run of each op reads (input maps; weights, biases "
               "and batch-norm statistics, once per batch) and writes; views (split, slice, "
               "flatten) move nothing. FLOPs: 2 per multiply-accumulate plus the element-wise ops.",
               "MAC 1x1: ShuffleNet V2's memory access cost hw(c1+c2) + c1*c2/g of 1x1 convs "
               "(Section 2), in elements; blank for other layers."]
    return t


def _pred_title(pred, what: str) -> str:
    d = pred.device
    return (f"{pred.model} ({_settings(pred.settings)}): PREDICTED latency {what} on {d.name} "
            f"({d.kind}, {d.threads} thread(s), {pred.dtype}, batch {pred.batch})")


def _pred_notes(pred) -> list[str]:
    total = pred.time_s
    b = pred.by_bound()
    d = pred.device
    rule = ("overhead + FLOPs / peak + bytes / bandwidth" if d.model == "additive"
            else "overhead + max(FLOPs / peak, bytes / bandwidth)")
    return [f"Predicted, not measured: {d.model} model of profile {d.name} "
            f"({d.file or 'shipped'}; calibrated {d.calibrated or '?'} with torch {d.torch or '?'} "
            f"on {d.cpu or '?'}). Each kernel: {rule}.",
            "Bound shares: " + ", ".join(f"{k} {pct(v, total)}" for k, v in b.items()) + "."] + (
        [f"Working set: the network's weights exceed the profile's {d.weight_cache_bytes / 2**20:g} "
         f"MiB weight cache, so {100 * pred.weight_miss:.1f}% of every kernel's activation and "
         f"weight bytes are priced at its cold bandwidth ({d.cold_bandwidth / 1e9:,.2f} GB/s) too."]
        if pred.weight_miss else []) + (
        [f"Memory: the network's weights exceed the profile's {d.llc_bytes / 2**20:g} MiB "
         f"last-level cache, so {100 * pred.dram_share:.1f}% of every kernel's weight bytes are "
         f"priced at its DRAM bandwidth ({d.dram_bandwidth / 1e9:,.2f} GB/s) too."]
        if pred.dram_share else [])


class Counted:
    """``latency --convention NAME``: the convention's count of every layer beside the
    prediction (counted, not predicted: the latency model does not use it), per sample as
    ``profile`` gives it and for the prediction's batch."""

    def __init__(self, p, convention: str, batch: int):
        from costmodel.count.conventions import CONVENTIONS
        self.conv = CONVENTIONS[convention]
        self.batch = batch
        self.per_sample = p.layer_counts(convention, 1)
        self.at_batch = p.layer_counts(convention, batch)

    @property
    def header(self) -> str:
        return self.conv.title + (f", batch {self.batch}" if self.batch != 1 else "")

    def note(self) -> str:
        c = self.conv
        return (f"{self.header}: counted (not predicted) under the {c.name} convention: "
                f"{c.doc}" + (f" ({c.peer})" if c.peer else "") + ".")

    def by_type(self, pred, per_sample: bool = False) -> dict[str, int]:
        """The counts summed per layer type, for the batch (or per sample)."""
        out: dict[str, int] = {}
        for l, n in zip(pred.layers, self.per_sample if per_sample else self.at_batch):
            out[l.traffic.type] = out.get(l.traffic.type, 0) + n
        return out

    def add_to(self, doc: dict, pred) -> dict:
        """The JSON document with the counts: ``convention``, ``count_title``, the totals under
        profile's keys (``flops_thop``... and ``count`` per sample, ``count_at_batch``), and
        ``count``/``count_at_batch`` in every layer and type row."""
        doc["convention"], doc["count_title"] = self.conv.name, self.conv.title
        per, at = sum(self.per_sample), sum(self.at_batch)
        doc["totals"].update({self.conv.key: per, "count": per, "count_at_batch": at})
        for row, n1, nb in zip(doc["layers"], self.per_sample, self.at_batch):
            row["count"], row["count_at_batch"] = n1, nb
        types, per_type = self.by_type(pred), self.by_type(pred, per_sample=True)
        for row in doc["by_type"]:
            row["count"], row["count_at_batch"] = per_type[row["type"]], types[row["type"]]
        return doc


def latency_table(pred, counted: Counted | None = None) -> Tabular:
    total = pred.time_s
    extra = [Column(counted.header)] if counted else []
    t = Tabular(title=_pred_title(pred, "per layer"),
                columns=[Column("Layer", "left"), Column("Type", "left"), Column("Class", "left"),
                         Column("Bound", "left"), Column("FLOPs"), Column("Bytes"),
                         Column("FLOPs/B"), *extra, Column("Pred. (us)"), Column("%")])
    for i, l in enumerate(pred.layers):
        tr = l.traffic
        t.add([tr.name, tr.type, tr.op_class, l.bound, fmt_int(tr.traffic.flops),
               fmt_int(tr.traffic.bytes), f"{tr.traffic.intensity:.2f}",
               *([fmt_int(counted.at_batch[i])] if counted else []), us(l.time_s),
               pct(l.time_s, total)])
    flops = sum(l.traffic.traffic.flops for l in pred.layers)
    nbytes = sum(l.traffic.traffic.bytes for l in pred.layers)
    t.footer = ["Total", "", "", "", fmt_int(flops), fmt_int(nbytes),
                f"{flops / nbytes:.2f}" if nbytes else "-",
                *([fmt_int(sum(counted.at_batch))] if counted else []), us(total), "100.0%"]
    t.notes = _pred_notes(pred) + ([counted.note()] if counted else [])
    return t


def latency_type_table(pred, counted: Counted | None = None) -> Tabular:
    total = pred.time_s
    extra = [Column(counted.header)] if counted else []
    types = counted.by_type(pred) if counted else {}
    t = Tabular(title=_pred_title(pred, "per layer type"),
                columns=[Column("Type", "left"), Column("Layers"), Column("FLOPs"),
                         Column("Bytes"), *extra, Column("Pred. (us)"), Column("%")])
    for r in pred.by_type():
        t.add([r["type"], r["layers"], fmt_int(r["flops"]), fmt_int(r["bytes"]),
               *([fmt_int(types[r["type"]])] if counted else []), us(r["time_s"]),
               pct(r["time_s"], total)])
    t.footer = ["Total", len(pred.layers), "", "",
                *([fmt_int(sum(counted.at_batch))] if counted else []), us(total), "100.0%"]
    t.notes = _pred_notes(pred) + ([counted.note()] if counted else [])
    return t


def latency_rows(pred, counted: Counted | None = None) -> list[dict]:
    """Flat per-layer records for CSV."""
    total = pred.time_s
    d = pred.to_dict()["device"]
    rows = [{**l.to_dict(total), "kind": "predicted", "device": d["name"],
             "threads": d["threads"], "dtype": pred.dtype, "batch": pred.batch}
            for l in pred.layers]
    if counted:
        for row, n1, nb in zip(rows, counted.per_sample, counted.at_batch):
            row.update({"convention": counted.conv.name, "count": n1, "count_at_batch": nb})
    return rows


def _machine(m) -> str:
    mc = m.machine
    return f"{mc['cpu']}, torch {mc['torch']}, {mc['threads']} thread(s), fp32, batch {m.batch}"


def bench_table(m) -> Tabular:
    tot = m.totals
    t = Tabular(title=f"{m.model} ({_settings(m.settings)}): MEASURED latency per layer "
                      f"({_machine(m)})",
                columns=[Column("Layer", "left"), Column("Type", "left"),
                         Column("Measured (us)"), Column("%")])
    for l in m.layers:
        t.add([l["name"], l["type"], us(l["time_s"]), f"{100 * l['share']:.1f}%"])
    t.footer = ["Sum of layers", "", us(tot.get("layers_sum_s", 0.0)), "100.0%"]
    t.notes = [f"Measured: median of {m.repeat} forward passes after {m.warmup} warm-up: "
               f"{ms(tot['time_s'])} ms (min {ms(tot['min_s'])}, p25 {ms(tot['p25_s'])}, "
               f"p75 {ms(tot['p75_s'])}, max {ms(tot['max_s'])}; IQR/median "
               f"{100 * tot['spread']:.1f}%).",
               "Per layer: medians over passes with timing hooks on each layer's module (the "
               "hooks add a little; the sum of layers excludes the containers' own time)."]
    return t


def compare_rows(m, pred) -> tuple[list[dict], list[dict]]:
    """Per layer and per type: measured and predicted seconds and the relative error."""
    by_name = {l.traffic.name: l for l in pred.layers}
    layers = []
    for l in m.layers:
        p = by_name[l["name"]]
        layers.append({"name": l["name"], "type": l["type"], "bound": p.bound,
                       "measured_s": l["time_s"], "predicted_s": p.time_s,
                       "error": (p.time_s - l["time_s"]) / l["time_s"] if l["time_s"] else None})
    types: dict[str, dict] = {}
    for r in layers:
        row = types.setdefault(r["type"], {"type": r["type"], "layers": 0, "measured_s": 0.0,
                                           "predicted_s": 0.0})
        row["layers"] += 1
        row["measured_s"] += r["measured_s"]
        row["predicted_s"] += r["predicted_s"]
    for row in types.values():
        row["error"] = (row["predicted_s"] - row["measured_s"]) / row["measured_s"] if row["measured_s"] else None
    return layers, sorted(types.values(), key=lambda r: -r["measured_s"])


def _err(e) -> str:
    return "-" if e is None else f"{100 * e:+.1f}%"


def compare_tables(m, pred) -> list[Tabular]:
    layers, types = compare_rows(m, pred)
    d = pred.device
    head = (f"{m.model} ({_settings(m.settings)}): MEASURED ({_machine(m)}) vs PREDICTED "
            f"({d.name}, {d.threads} thread(s), {pred.dtype})")
    tt = Tabular(title=head + " per type",
                 columns=[Column("Type", "left"), Column("Layers"), Column("Measured (us)"),
                          Column("Predicted (us)"), Column("Error")])
    for r in types:
        tt.add([r["type"], r["layers"], us(r["measured_s"]), us(r["predicted_s"]), _err(r["error"])])
    total_m, total_p = m.totals["time_s"], pred.time_s
    tt.footer = ["Total (whole passes)", len(layers), us(total_m), us(total_p),
                 _err((total_p - total_m) / total_m if total_m else None)]
    tt.notes = ["Measured: median of per-layer hook timings (types) and of whole forward passes "
                "(total). Predicted: the cost model of the named profile. Error: (predicted - "
                "measured) / measured."]
    lt = Tabular(title=head + " per layer",
                 columns=[Column("Layer", "left"), Column("Type", "left"), Column("Bound", "left"),
                          Column("Measured (us)"), Column("Predicted (us)"), Column("Error")])
    for r in layers:
        lt.add([r["name"], r["type"], r["bound"], us(r["measured_s"]), us(r["predicted_s"]),
                _err(r["error"])])
    return [tt, lt]
