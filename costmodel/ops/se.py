"""Squeeze-and-excitation (as in MobileNetV3 and GhostNet)."""
from __future__ import annotations

from costmodel.ops.base import F, Kernel, Op, Shape, need_map, numel, register


def _act_rate(a: dict, peer: str) -> int:
    """Per element, what a peer counts for the SE's inner activation (see activation.py)."""
    from costmodel.ops.activation import CALFLOPS_PER_ELEMENT, PTFLOPS_PER_ELEMENT
    act = a.get("act", "relu")
    return (PTFLOPS_PER_ELEMENT if peer == "ptflops" else CALFLOPS_PER_ELEMENT).get(act, 0)


@register
class SqueezeExcite(Op):
    """x * gate(conv1x1(act(conv1x1(global_avg_pool(x))))): both 1x1 convs with bias; ``act``
    is ReLU by default (EfficientNet's SE uses SiLU).

    mult-adds = 2 * C * squeeze (the two 1x1 convs on a 1x1 map); params = 2*C*squeeze +
    squeeze + C. fvcore: the mult-adds + C*H*W for the adaptive average pool (the activation,
    the gate and the multiply count 0). full: pool C*H*W + mult-adds + biases (squeeze + C)
    + activation (squeeze) + gate (C) + the multiply (C*H*W).
    """
    name = "se"
    aliases = ("squeeze_excite",)
    fields = {
        "squeeze": F("int", doc="channels of the squeezed vector", minimum=1),
        "gate": F("choice", "hardsigmoid", "gate function", choices=("hardsigmoid", "sigmoid")),
        "act": F("choice", "relu", "activation between the two 1x1 convs",
                 choices=("relu", "relu6", "silu", "swish", "hardswish", "gelu")),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        return {**a, "channels": need_map(x, self.name)[0]}

    def weights(self, a: dict, x: Shape) -> int:
        return 2 * a["channels"] * a["squeeze"]

    def params(self, a: dict, x: Shape) -> int:
        return self.weights(a, x) + a["squeeze"] + a["channels"]

    def macs(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x)

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return self.macs(a, x, y) + numel(x)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        c, s = a["channels"], a["squeeze"]
        return 2 * numel(x) + self.macs(a, x, y) + (s + c) + s + c

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    # The module: AdaptiveAvgPool2d(1), Conv2d(C, s, 1) with bias, ReLU, Conv2d(s, C, 1) with
    # bias, the gate (Hardsigmoid or Sigmoid), then x * gate (Tensor.__mul__).
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: the pool (H x W + 1 per channel) + both convs' MACs (bias ignored);
        ReLU, gate and multiply 0."""
        c = a["channels"]
        return n * (c * (x[1] * x[2] + 1) + self.macs(a, x, y))

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: the pool at 2 per input element (hook + patched functional), both
        convs with their biases, the inner activation as ptflops counts it alone (ReLU and
        GELU twice: 2 x squeeze; SiLU once; the others 0, as
        ``activation.PTFLOPS_PER_ELEMENT``); gate and ``x * gate``
        (``__mul__``, not the patched torch.mul) 0."""
        c, s = a["channels"], a["squeeze"]
        return n * (2 * numel(x) + self.macs(a, x, y) + s + c + s * _act_rate(a, "ptflops"))

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten: the two convolutions with their biases."""
        return n * (self.macs(a, x, y) + a["squeeze"] + a["channels"])

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: the two convs' parameters (weights and biases) x N x 1 x 1."""
        return n * self.params(a, x)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2: the pool 1 per input element, both convs at 2 per MAC + bias, the
        inner activation as calflops counts it alone (ReLU, SiLU, GELU 1 per element, the
        others 0: ``activation.CALFLOPS_PER_ELEMENT``); gate and multiply 0."""
        c, s = a["channels"], a["squeeze"]
        return n * (numel(x) + 2 * self.macs(a, x, y) + s + c + s * _act_rate(a, "calflops"))

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4: the pool 1 per output element (C), both convs' MACs, and
        aten::mul 1 per output element (the gate multiply, C x H x W)."""
        return n * (a["channels"] + self.macs(a, x, y) + numel(x))

    def training(self, a: dict, x: Shape, y: Shape, n: int, input_grad: bool) -> int:
        """Two 1x1 convs: the first needs an input gradient unless nothing before the SE
        does; the second always does."""
        half = a["channels"] * a["squeeze"]
        return 2 * n * half * ((3 if input_grad else 2) + 3)

    def type_key(self, a: dict, x: Shape) -> str:
        return "Squeeze-Excite"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "SE", f"{a['channels']}>{a['squeeze']}>{a['channels']}"

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import SqueezeExcite as M
        return M(a["channels"], a["squeeze"], a["gate"], a["act"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """As the module runs them: global pool (read C*H*W, write C); 1x1 conv C -> s with
        bias (read C, weights C*s + s, write s); ReLU (s -> s); 1x1 conv s -> C with bias;
        the gate (C -> C); the multiply (read C*H*W and the C gates, write C*H*W)."""
        c, s, n = a["channels"], a["squeeze"], numel(x)
        return [Kernel("global_pool", n, n, 0, c),
                Kernel("conv1x1", 2 * c * s + s, c, c * s + s, s),
                Kernel("elementwise", s, s, 0, s),
                Kernel("conv1x1", 2 * c * s + c, s, c * s + c, c),
                Kernel("elementwise", c, c, 0, c),
                Kernel("elementwise", n, n + c, 0, n)]
