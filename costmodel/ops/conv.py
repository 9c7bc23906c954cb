"""Convolutions: conv2d and its depthwise and pointwise shorthands."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, Op, Shape, need_map, numel, pair, pair_str, register

_COMMON = {
    "stride": F("pair", 1, "stride (int or [h, w])", minimum=1),
    "padding": F("pair", None, "zero padding; default dilation*(kernel-1)//2 ('same' for odd "
                 "kernels at stride 1)", minimum=0),
    "dilation": F("pair", 1, "dilation", minimum=1),
    "bias": F("bool", False, "add a bias (off by default: a batch norm usually follows)"),
}


# torch 2.x (ConvParams::use_mkldnn, aten/src/ATen/native/Convolution.cpp) runs a dense conv
# at batch 1 and one thread with its native kernel (a GEMM, after an im2col unfold unless the
# conv is 1x1 at stride 1) in two cases: a 1x1 conv at stride 1, not dilated, always (class
# conv1x1); any other dense conv whose input holds at most this many elements and whose
# kernel does not exceed 3 in both directions (class conv_small). Everything else runs oneDNN
# (class conv), strided 1x1 convs included: ResNet's stride-2 projections are oneDNN kernels,
# not the native GEMM of its stride-1 1x1 convs (tests/test_conv_backend.py checks the rule
# against what torch runs).
NATIVE_CONV_MAX_INPUT = 20_480


def im2col(cls: str, in_per_group: int, kernel: tuple, y: Shape) -> int:
    """The native kernel's im2col matrix (conv_small only): (C_in / groups) x kh x kw rows,
    one column per output position, in elements (written once, then read by the GEMM)."""
    return in_per_group * kernel[0] * kernel[1] * y[1] * y[2] if cls == "conv_small" else 0


def dense_class(kernel: tuple, x: Shape, stride: tuple = (1, 1),
                dilation: tuple = (1, 1)) -> str:
    """The latency class of a dense (groups = 1) convolution's kernel on input ``x``."""
    if kernel == (1, 1) and stride == (1, 1) and dilation == (1, 1):
        return "conv1x1"
    small = numel(x) <= NATIVE_CONV_MAX_INPUT and not (kernel[0] > 3 and kernel[1] > 3)
    return "conv_small" if small else "conv"


def conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    """PyTorch's Conv2d output size: floor((H + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class _ConvBase(Op):
    """Standard (grouped) convolution.

    mult-adds = out * (in/groups) * kh * kw * Ho * Wo; params = that weight + out (bias).
    fvcore counts the same multiply-accumulates (bias ignored). full adds one add per output
    element for the bias, when there is one. training: the base rule (forward, weight and
    input gradients at 2 FLOPs per MAC); FlopCounterMode counts a grouped conv's weight
    gradient ``groups`` times too high (its ``conv_backward_flop`` multiplies C_in by C_out
    where the gradient has C_in/groups x C_out), which the training convention does not copy.
    """

    def _finish(self, a: dict, x: Shape, out: int, groups: int) -> dict:
        c, _, _ = need_map(x, self.name)
        k = pair(a["kernel"])
        d = pair(a["dilation"])
        p = a["padding"]
        p = (d[0] * (k[0] - 1) // 2, d[1] * (k[1] - 1) // 2) if p is None else pair(p)
        if c % groups:
            raise SpecError(f"groups ({groups}) must divide the input channels ({c})")
        if out % groups:
            raise SpecError(f"groups ({groups}) must divide the output channels ({out})")
        return {**a, "in_channels": c, "out": out, "groups": groups, "kernel": k,
                "stride": pair(a["stride"]), "padding": p, "dilation": d}

    def infer(self, a: dict, x: Shape) -> Shape:
        _, h, w = x
        ho = conv_out(h, a["kernel"][0], a["stride"][0], a["padding"][0], a["dilation"][0])
        wo = conv_out(w, a["kernel"][1], a["stride"][1], a["padding"][1], a["dilation"][1])
        if ho < 1 or wo < 1:
            raise SpecError(f"the feature map shrinks to {ho}x{wo} (input {h}x{w}, kernel "
                            f"{pair_str(a['kernel'])}, stride {pair_str(a['stride'])}, padding "
                            f"{pair_str(a['padding'])}, dilation {pair_str(a['dilation'])})")
        return (a["out"], ho, wo)

    def weights(self, a: dict, x: Shape) -> int:
        kh, kw = a["kernel"]
        return a["out"] * (a["in_channels"] // a["groups"]) * kh * kw

    def params(self, a: dict, x: Shape) -> int:
        return self.weights(a, x) + (a["out"] if a["bias"] else 0)

    def macs(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x) * y[1] * y[2]

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return self.macs(a, x, y)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return self.macs(a, x, y) + (y[0] * y[1] * y[2] if a["bias"] else 0)

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    def _bias_elements(self, a: dict, y: Shape, n: int) -> int:
        return n * y[0] * y[1] * y[2] if a["bias"] else 0

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_convNd``: output elements x (C_in / groups) x kh x kw, the bias
        ignored: the mult-adds."""
        return n * self.macs(a, x, y)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 ``conv_flops_counter_hook``: kh x kw x C_in x C_out/groups per output
        position, plus one per output element for the bias."""
        return n * self.macs(a, x, y) + self._bias_elements(a, y, n)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten ``conv_flop``: N x numel(weight) x output positions, plus the
        bias per output element."""
        return n * self.macs(a, x, y) + self._bias_elements(a, y, n)

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8 ``calculate_macs`` ("Conv" in the class name): every parameter
        (weight and bias) times N x output positions: the mult-adds plus the bias elements."""
        return n * self.macs(a, x, y) + self._bias_elements(a, y, n)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_conv_flops_compute`` (F.conv2d patched): 2 FLOPs per
        multiply-accumulate, plus one per output element for the bias."""
        return 2 * n * self.macs(a, x, y) + self._bias_elements(a, y, n)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``aten::_convolution``: output elements x (C_in / groups) x
        kernel area, the bias ignored: the mult-adds."""
        return n * self.macs(a, x, y)

    def is_depthwise(self, a: dict) -> bool:
        return a["groups"] == a["in_channels"] and a["groups"] > 1

    def type_key(self, a: dict, x: Shape) -> str:
        k = pair_str(a["kernel"])
        if self.is_depthwise(a):
            return f"Conv DW {k}"
        if a["groups"] > 1:
            return f"Group Conv {k}"
        return f"Conv {k}"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        s = a["stride"]
        stride = f"s{s[0]}" if s[0] == s[1] else f"s{pair_str(s)}"
        kh, kw = a["kernel"]
        if self.is_depthwise(a):
            mult = a["out"] // a["in_channels"]
            return f"Conv dw / {stride}", f"{kh}x{kw}x{a['in_channels']} dw" + (f" x{mult}" if mult > 1 else "")
        group = f" g{a['groups']}" if a["groups"] > 1 else ""
        return f"Conv{group} / {stride}", f"{kh}x{kw}x{a['in_channels'] // a['groups']}x{a['out']}"

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.Conv2d(a["in_channels"], a["out"], a["kernel"], a["stride"], a["padding"],
                         a["dilation"], a["groups"], bias=a["bias"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernel_class(self, a: dict, x: Shape) -> str:
        if self.is_depthwise(a):
            return "depthwise"
        if a["groups"] > 1:
            return "grouped"
        return dense_class(a["kernel"], x, a["stride"], a["dilation"])

    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """One kernel: read the input map and the weights (and bias), write the output map;
        2 FLOPs per multiply-accumulate plus one add per output element for the bias."""
        bias = a["out"] if a["bias"] else 0
        flops = 2 * self.macs(a, x, y) + (numel(y) if bias else 0)
        cls = self.kernel_class(a, x)
        return [Kernel(cls, flops, numel(x), self.weights(a, x) + bias, numel(y),
                       im2col(cls, x[0] // a["groups"], a["kernel"], y))]

    def mac_1x1(self, a: dict, x: Shape, y: Shape, batch: int = 1) -> int | None:
        """ShuffleNet V2, Section 2 (G1): a 1x1 conv with c1 inputs and c2 outputs on an h x w
        map has MAC = hw(c1 + c2) + c1*c2 (and c1*c2/g with g groups, G2), in elements. The
        input and output maps are counted at their own size (so a stride-2 1x1 conv reads
        h*w*c1 and writes (h/2)(w/2)*c2), once per sample; the weights once; no bias."""
        if a["kernel"] != (1, 1):
            return None
        return batch * (numel(x) + numel(y)) + self.weights(a, x)


@register
class Conv2d(_ConvBase):
    """2-D convolution (PyTorch's Conv2d), grouped when ``groups`` > 1.

    mult-adds = out * (in/groups) * kh * kw * Ho * Wo, bias excluded; params = that weight
    plus out when ``bias``. fvcore counts the same multiply-accumulates (bias ignored); full
    adds one add per output element for the bias, when there is one.
    """
    name = "conv2d"
    aliases = ("conv",)
    fields = {
        "out": F("int", doc="output channels", minimum=1),
        "kernel": F("pair", doc="kernel size (int or [h, w])", minimum=1),
        **_COMMON,
        "groups": F("int", 1, "groups; must divide input and output channels", minimum=1),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        return self._finish(a, x, a["out"], a["groups"])


@register
class Depthwise(_ConvBase):
    """Depthwise convolution: one k x k filter per input channel (groups = input channels),
    ``multiplier`` filters each (MobileNet's "Conv dw").

    mult-adds = C * multiplier * kh * kw * Ho * Wo; params = C * multiplier * kh * kw (plus
    the bias). fvcore: the same multiply-accumulates; full adds the bias adds.
    """
    name = "depthwise"
    aliases = ("dw", "dwconv")
    fields = {
        "kernel": F("pair", 3, "kernel size", minimum=1),
        **_COMMON,
        "multiplier": F("int", 1, "depth multiplier: output channels = input * multiplier", minimum=1),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        c = need_map(x, self.name)[0]
        return self._finish(a, x, c * a["multiplier"], c)


@register
class Pointwise(_ConvBase):
    """Pointwise (1 x 1) convolution, grouped when ``groups`` > 1 (ShuffleNet's pointwise
    group convolution); no padding.

    mult-adds = out * (in/groups) * Ho * Wo; params = out * in/groups (plus the bias).
    fvcore: the same multiply-accumulates; full adds the bias adds.
    """
    name = "pointwise"
    aliases = ("pw", "pwconv")
    fields = {
        "out": F("int", doc="output channels", minimum=1),
        "stride": _COMMON["stride"],
        "bias": _COMMON["bias"],
        "groups": F("int", 1, "groups (pointwise group convolution, as in ShuffleNet)", minimum=1),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        return self._finish({**a, "kernel": 1, "padding": 0, "dilation": 1}, x, a["out"], a["groups"])
