"""The calibrated cost model: predicted latency of every layer on a device profile (no torch).

Every kernel of a layer (``Op.kernels``) of class c, with F FLOPs and B bytes at the batch and
dtype, takes, by the profile's model,

    additive:  t = overhead_c + F / peak_c + B / bandwidth_c      (what `calibrate` fits)
    roofline:  t = overhead_c + max(F / peak_c, B / bandwidth_c)

with a fixed cost per kernel (framework dispatch, memory allocation, thread wake-up), and
B / bandwidth_c the sum of activations / memory_bandwidth, weights / weight_bandwidth and, where
the profile prices them, 2 x scratch / scratch_bandwidth and the working set's misses,
m x (activations + weights) / cold_bandwidth, m from the whole network's weight bytes and the
profile's weight cache, and a kernel's spill past the kernel cache, s x activations /
spill_bandwidth, s from the kernel's own footprint, and the weights read from memory past the
last-level cache, d x weights / dram_bandwidth (see costmodel.latency.devices). A layer's
time is the sum over its kernels. What bounds it is the largest of its three parts: compute
(the F / peak terms), memory (the B / bandwidth terms) or overhead; under the roofline a kernel
counts only the larger of its compute and memory terms. Always a prediction: every result
carries the profile's name, threads and dtype.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from costmodel.count.dtypes import DTYPE_BYTES
from costmodel.count.profile import Profile
from costmodel.errors import SpecError
from costmodel.latency.devices import DeviceProfile, miss_share
from costmodel.latency.traffic import (LayerTraffic, check_batch, check_dtype, kernel_bytes,
                                       layer_traffic, totals, weight_bytes)

BOUNDS = ("compute", "memory", "overhead")


@dataclass
class LayerTime:
    traffic: LayerTraffic
    time_s: float
    compute_s: float      # the FLOPs terms (roofline: of the kernels bound by compute only)
    memory_s: float       # the bytes terms (roofline: of the kernels bound by memory only)
    overhead_s: float     # the kernels' fixed overheads
    line: int | None = None

    @property
    def bound(self) -> str:
        if not self.traffic.kernels:
            return "-"
        parts = {"compute": self.compute_s, "memory": self.memory_s, "overhead": self.overhead_s}
        return max(BOUNDS, key=lambda b: parts[b])

    def to_dict(self, total: float) -> dict:
        t = self.traffic.traffic
        return {"name": self.traffic.name, "op": self.traffic.op, "type": self.traffic.type,
                "class": self.traffic.op_class, "time_s": self.time_s,
                "share": self.time_s / total if total else 0.0, "bound": self.bound,
                "compute_s": self.compute_s, "memory_s": self.memory_s,
                "overhead_s": self.overhead_s, "kernels": len(self.traffic.kernels),
                "flops": t.flops, "bytes": t.bytes, "input_bytes": t.input_bytes,
                "weight_bytes": t.weight_bytes, "output_bytes": t.output_bytes,
                "intensity": round(t.intensity, 4), "mac_1x1": self.traffic.mac_1x1}


def _constants(dev: DeviceProfile) -> dict[str, tuple]:
    """(peak, bandwidth, weight bandwidth, scratch bandwidth or None, overhead) per class,
    looked up once per prediction."""
    return {c: (dev.cls(c).peak_flops, dev.bandwidth(c), dev.weight_bandwidth(c),
                dev.scratch_bandwidth(c), dev.cls(c).overhead_s)
            for c in type(dev.classes).model_fields}


def layer_time(lt: LayerTraffic, dev: DeviceProfile, batch: int, dtype: str,
               consts: dict | None = None, miss: float = 0.0, dram: float = 0.0) -> LayerTime:
    """The layer's kernels priced and summed: each kernel's compute part F / peak, its memory
    part B / bandwidth and its overhead; the additive model adds both parts, the roofline
    keeps the larger. ``miss``: the share of the traffic that misses the cache, from the
    network's weights (``DeviceProfile.weight_miss``); ``dram``: the share of its weights read
    past the last-level cache (``DeviceProfile.dram_share``)."""
    consts = consts or _constants(dev)
    cold = miss / dev.cold_bandwidth if miss else 0.0
    kcache, spill_bw = dev.kernel_cache_bytes, dev.spill_bandwidth
    cold_w = cold + (dram / dev.dram_bandwidth if dram else 0.0)
    additive = dev.model == "additive"
    size = DTYPE_BYTES[dtype]
    compute = memory = overhead = 0.0
    for k in lt.kernels:
        peak, bw, wbw, sbw, over = consts[k.cls]
        c = k.flops * batch / peak
        act, wts, scratch = kernel_bytes(k, batch, size)
        m = act / bw + wts / wbw + act * cold + wts * cold_w + (scratch / sbw if sbw is not None else 0.0)
        if kcache is not None:
            m += act * miss_share(act + wts, kcache) / spill_bw
        overhead += over
        if additive:
            compute += c
            memory += m
        elif c >= m:
            compute += c
        else:
            memory += m
    return LayerTime(lt, overhead + compute + memory, compute, memory, overhead)


@dataclass
class Prediction:
    model: str
    device: DeviceProfile
    settings: dict
    batch: int
    dtype: str
    layers: list[LayerTime] = field(default_factory=list)
    weight_miss: float = 0.0     # the share of traffic past the weight cache (devices.weight_miss)
    dram_share: float = 0.0      # the share of weights past the last-level cache (devices.dram_share)

    @property
    def time_s(self) -> float:
        return sum(l.time_s for l in self.layers)

    def by_bound(self) -> dict[str, float]:
        out = {b: 0.0 for b in BOUNDS}
        for l in self.layers:
            if l.bound in out:
                out[l.bound] += l.time_s
        return out

    def by_type(self) -> list[dict]:
        rows: dict[str, dict] = {}
        for l in self.layers:
            r = rows.setdefault(l.traffic.type, {"type": l.traffic.type, "layers": 0, "time_s": 0.0,
                                                 "flops": 0, "bytes": 0})
            r["layers"] += 1
            r["time_s"] += l.time_s
            r["flops"] += l.traffic.traffic.flops
            r["bytes"] += l.traffic.traffic.bytes
        total = self.time_s
        for r in rows.values():
            r["share"] = r["time_s"] / total if total else 0.0
        return sorted(rows.values(), key=lambda r: -r["time_s"])

    def device_dict(self) -> dict:
        d = self.device
        return {"name": d.name, "file": d.file, "kind": d.kind, "model": d.model,
                "threads": d.threads, "dtype": d.dtype, "torch": d.torch, "cpu": d.cpu, "calibrated": d.calibrated,
                "weight_cache_bytes": d.weight_cache_bytes, "cold_bandwidth": d.cold_bandwidth,
                "kernel_cache_bytes": d.kernel_cache_bytes, "spill_bandwidth": d.spill_bandwidth,
                "llc_bytes": d.llc_bytes, "dram_bandwidth": d.dram_bandwidth}

    def to_dict(self) -> dict:
        total = self.time_s
        t = totals([l.traffic for l in self.layers])
        return {"model": self.model, "kind": "predicted", "device": self.device_dict(),
                "settings": dict(self.settings), "batch": self.batch, "dtype": self.dtype,
                "totals": {"time_s": total, "time_ms": total * 1e3, **t,
                           "kernels": sum(len(l.traffic.kernels) for l in self.layers),
                           "weight_miss": self.weight_miss, "dram_share": self.dram_share,
                           "by_bound_s": self.by_bound()},
                "by_type": self.by_type(),
                "layers": [l.to_dict(total) for l in self.layers]}


def predict(p: Profile, dev: DeviceProfile, batch: int = 1, dtype: str | None = None) -> Prediction:
    """The predicted latency of a profiled network on ``dev`` (dtype: the profile's own)."""
    dtype = dev.dtype if dtype is None else check_dtype(dtype)
    check_batch(batch)
    if dtype != dev.dtype:
        raise SpecError(f"device profile {dev.name!r} was calibrated at {dev.dtype}, not {dtype}: "
                        f"calibrate at {dtype} or give a profile for it", file=dev.file or None)
    pred = Prediction(p.model, dev, p.settings, batch, dtype)
    consts = _constants(dev)
    traffic = [layer_traffic(layer, batch, dtype) for layer in p.layers]
    w_net = weight_bytes((k for t in traffic for k in t.kernels), DTYPE_BYTES[dtype])
    miss, dram = dev.weight_miss(w_net), dev.dram_share(w_net)
    pred.weight_miss, pred.dram_share = miss, dram
    for layer, tr in zip(p.layers, traffic):
        lt = layer_time(tr, dev, batch, dtype, consts, miss, dram)
        lt.line = layer.line
        pred.layers.append(lt)
    return pred
