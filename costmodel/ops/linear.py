"""Fully connected layer."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, Op, Shape, register


@register
class Linear(Op):
    """y = W x + b on a flat vector.

    mult-adds = in * out; params = in * out + out (bias). fvcore's ``aten::linear`` rule
    counts in * out too. full adds one add per output for the bias.
    """
    name = "linear"
    aliases = ("fc",)
    fields = {
        "out": F("int", doc="output features", minimum=1),
        "bias": F("bool", True, "add a bias"),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        if len(x) != 1:
            raise SpecError(f"linear needs a flat vector, got a {'x'.join(map(str, x))} feature "
                            "map: add {op: flatten} (after a global_avg_pool) before it")
        return {**a, "in_features": x[0]}

    def infer(self, a: dict, x: Shape) -> Shape:
        return (a["out"],)

    def weights(self, a: dict, x: Shape) -> int:
        return a["in_features"] * a["out"]

    def params(self, a: dict, x: Shape) -> int:
        return self.weights(a, x) + (a["out"] if a["bias"] else 0)

    def macs(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x)

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x) + (a["out"] if a["bias"] else 0)

    def type_key(self, a: dict, x: Shape) -> str:
        return "Fully Connected"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "FC / s1", f"{a['in_features']}x{a['out']}"

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.Linear(a["in_features"], a["out"], bias=a["bias"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input vector and the weight matrix (and bias), write the output vector;
        2 FLOPs per multiply-accumulate plus the bias adds."""
        bias = a["out"] if a["bias"] else 0
        return [Kernel("linear", 2 * self.weights(a, x) + bias, x[0], self.weights(a, x) + bias,
                       a["out"])]
