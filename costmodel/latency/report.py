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
            "Bound shares: " + ", ".join(f"{k} {pct(v, total)}" for k, v in b.items()) + "."]


def latency_table(pred) -> Tabular:
    total = pred.time_s
    t = Tabular(title=_pred_title(pred, "per layer"),
                columns=[Column("Layer", "left"), Column("Type", "left"), Column("Class", "left"),
                         Column("Bound", "left"), Column("FLOPs"), Column("Bytes"),
                         Column("FLOPs/B"), Column("Pred. (us)"), Column("%")])
    for l in pred.layers:
        tr = l.traffic
        t.add([tr.name, tr.type, tr.op_class, l.bound, fmt_int(tr.traffic.flops),
               fmt_int(tr.traffic.bytes), f"{tr.traffic.intensity:.2f}", us(l.time_s),
               pct(l.time_s, total)])
    flops = sum(l.traffic.traffic.flops for l in pred.layers)
    nbytes = sum(l.traffic.traffic.bytes for l in pred.layers)
    t.footer = ["Total", "", "", "", fmt_int(flops), fmt_int(nbytes),
                f"{flops / nbytes:.2f}" if nbytes else "-", us(total), "100.0%"]
    t.notes = _pred_notes(pred)
    return t


def latency_type_table(pred) -> Tabular:
    total = pred.time_s
    t = Tabular(title=_pred_title(pred, "per layer type"),
                columns=[Column("Type", "left"), Column("Layers"), Column("FLOPs"),
                         Column("Bytes"), Column("Pred. (us)"), Column("%")])
    for r in pred.by_type():
        t.add([r["type"], r["layers"], fmt_int(r["flops"]), fmt_int(r["bytes"]), us(r["time_s"]),
               pct(r["time_s"], total)])
    t.footer = ["Total", len(pred.layers), "", "", us(total), "100.0%"]
    t.notes = _pred_notes(pred)
    return t


def latency_rows(pred) -> list[dict]:
    """Flat per-layer records for CSV."""
    total = pred.time_s
    d = pred.to_dict()["device"]
    return [{**l.to_dict(total), "kind": "predicted", "device": d["name"],
             "threads": d["threads"], "dtype": pred.dtype, "batch": pred.batch}
            for l in pred.layers]


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
