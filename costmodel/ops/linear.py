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

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    def _bias(self, a: dict, n: int) -> int:
        return n * a["out"] if a["bias"] else 0

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_linear``: in_features per output element, the bias ignored."""
        return n * self.weights(a, x)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 ``linear_flops_counter_hook``: (in x out + out for the bias) per
        sample."""
        return n * self.weights(a, x) + self._bias(a, n)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten ``addmm_flop``: N x in x out, plus N x out for the bias (no bias:
        ``aten.mm``, N x in x out)."""
        return n * self.weights(a, x) + self._bias(a, n)

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8 ``calculate_macs``: N x every parameter (weight and bias)."""
        return n * self.weights(a, x) + self._bias(a, n)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_linear_flops_compute`` (F.linear patched): 2 x in x out per
        sample, the bias ignored."""
        return 2 * n * self.weights(a, x)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4: ``aten::linear`` goes to its matmul handler, in x out per
        sample, the bias ignored."""
        return n * self.weights(a, x)

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
