"""Memory traffic of every layer of a profiled graph, at a dtype and a batch.

Each op's rule lives in its op class (``Op.kernels``: the kernels an unfused eager
implementation runs, with the elements each reads and writes); this module only walks the
layers and adds them up. Exact integers: bytes read from inputs, from weights (weights, biases,
batch-norm statistics; once per batch), bytes written, FLOPs (2 per multiply-accumulate), and
ShuffleNet V2's memory access cost of 1x1 convolutions (in elements, Section 2).
"""
from __future__ import annotations

from dataclasses import dataclass

from costmodel.count.dtypes import DTYPE_BYTES
from costmodel.errors import SpecError
from costmodel.graph.nodes import Layer
from costmodel.ops.base import Kernel, Traffic


def check_dtype(dtype: str) -> str:
    if dtype not in DTYPE_BYTES:
        raise SpecError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}")
    return dtype


def check_batch(batch: int) -> int:
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 65536:
        raise SpecError(f"batch must be an integer from 1 to 65536, got {batch!r}")
    return batch


def kernel_bytes(k: Kernel, batch: int, size: int) -> tuple[int, int, int]:
    """The bytes a kernel moves, as the latency model prices them: activations (read and
    written, per sample), weights (once per batch) and scratch traffic (written then read back,
    per sample). The predictor and calibration's fit both use this split."""
    return (k.reads + k.writes) * batch * size, k.weights * size, 2 * k.scratch * batch * size


def weight_bytes(kernels, size: int) -> int:
    """A network's weight bytes at ``size`` bytes an element, read once a pass (once a batch):
    what the latency model's weight and last-level caches compare against."""
    return sum(k.weights for k in kernels) * size


@dataclass(frozen=True)
class LayerTraffic:
    name: str
    op: str
    type: str
    kernels: tuple[Kernel, ...]
    traffic: Traffic
    mac_1x1: int | None

    @property
    def op_class(self) -> str:
        """The device-profile class of the layer: that of its kernel with the most FLOPs (or
        the most bytes when none computes); '-' for a layer that runs no kernel (a view)."""
        if not self.kernels:
            return "-"
        return max(self.kernels, key=lambda k: (k.flops, k.reads + k.weights + k.writes)).cls

    def to_dict(self) -> dict:
        t = self.traffic
        return {"name": self.name, "op": self.op, "type": self.type, "class": self.op_class,
                "flops": t.flops, "input_bytes": t.input_bytes, "weight_bytes": t.weight_bytes,
                "output_bytes": t.output_bytes, "bytes": t.bytes,
                "intensity": round(t.intensity, 4), "mac_1x1": self.mac_1x1}


def layer_traffic(layer: Layer, batch: int = 1, dtype: str = "fp32") -> LayerTraffic:
    op = layer.opdef
    a, x, y = layer.attrs, layer.input_shape, layer.output_shape
    kernels = tuple(op.kernels(a, x, y))
    return LayerTraffic(layer.name, layer.op, layer.type_key, kernels,
                        Traffic.of(list(kernels), batch, dtype), op.mac_1x1(a, x, y, batch))


def traffic(layers: list[Layer], batch: int = 1, dtype: str = "fp32") -> list[LayerTraffic]:
    check_dtype(dtype)
    check_batch(batch)
    return [layer_traffic(l, batch, dtype) for l in layers]


def totals(rows: list[LayerTraffic]) -> dict:
    t = Traffic(sum(r.traffic.input_bytes for r in rows), sum(r.traffic.weight_bytes for r in rows),
                sum(r.traffic.output_bytes for r in rows), sum(r.traffic.flops for r in rows))
    macs = [r.mac_1x1 for r in rows if r.mac_1x1 is not None]
    return {"flops": t.flops, "input_bytes": t.input_bytes, "weight_bytes": t.weight_bytes,
            "output_bytes": t.output_bytes, "bytes": t.bytes, "intensity": round(t.intensity, 4),
            "mac_1x1": sum(macs)}
