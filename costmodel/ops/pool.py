"""Pooling: max, average, adaptive average and global average."""
from __future__ import annotations

import math

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, Op, Shape, need_map, numel, pair, pair_str, register


def pool_out(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape, including ceil_mode's last-window rule."""
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _Pool(Op):
    """Windowed pooling. No parameters, no mult-adds. fvcore has no rule for max_pool2d or
    avg_pool2d (it reports them unsupported): 0. full: kernel area per output element."""
    torch_cls = ""
    label = ""

    def resolve(self, a: dict, x: Shape) -> dict:
        need_map(x, self.name)
        k = pair(a["kernel"])
        s = k if a["stride"] is None else pair(a["stride"])
        p = pair(a["padding"])
        d = pair(a.get("dilation", 1))
        for i in range(2):
            if p[i] * 2 > k[i]:
                raise SpecError(f"padding {pair_str(p)} must be at most half the kernel {pair_str(k)} "
                                "(PyTorch's rule)")
        return {**a, "kernel": k, "stride": s, "padding": p, "dilation": d}

    def infer(self, a: dict, x: Shape) -> Shape:
        c, h, w = x
        k, s, p, d = a["kernel"], a["stride"], a["padding"], a["dilation"]
        ho = pool_out(h, k[0], s[0], p[0], d[0], a["ceil_mode"])
        wo = pool_out(w, k[1], s[1], p[1], d[1], a["ceil_mode"])
        if ho < 1 or wo < 1:
            raise SpecError(f"the feature map shrinks to {ho}x{wo} (input {h}x{w}, {self.label} "
                            f"{pair_str(k)} stride {pair_str(s)})")
        return (c, ho, wo)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(y) * a["kernel"][0] * a["kernel"][1]

    # --- peers' conventions shared by max and average pooling (costmodel.count.conventions) --
    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: 1 per INPUT element from the module hook, and again from the patched
        F.max_pool2d / F.avg_pool2d the module calls: 2 per input element (its double count)."""
        return 2 * n * numel(x)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: no pooling rule: 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: no parameters, no MACs: 0."""
        return 0

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_pool_flops_compute``: 1 per input element, whatever the kernel."""
        return n * numel(x)

    def type_key(self, a: dict, x: Shape) -> str:
        return f"{self.label} {pair_str(a['kernel'])}"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        s = a["stride"]
        return f"{self.label} / s{s[0] if s[0] == s[1] else pair_str(s)}", f"Pool {pair_str(a['kernel'])}"

    # === memory traffic and latency kernels (issue 13) =========================================
    kernel_cls = "pooling"

    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input map once, write the output map; FLOPs as the full convention."""
        return [Kernel(self.kernel_cls, self.full(a, x, y), numel(x), 0, numel(y))]


@register
class MaxPool(_Pool):
    """Max pooling over k x k windows (PyTorch's MaxPool2d, ceil_mode included).

    No parameters, no mult-adds. fvcore has no rule for it: 0. full: kernel area per output
    element (the comparisons).
    """
    name = "max_pool"
    aliases = ("maxpool",)
    label = "Max Pool"
    fields = {
        "kernel": F("pair", doc="window size", minimum=1),
        "stride": F("pair", None, "stride; default: the kernel size", minimum=1),
        "padding": F("pair", 0, "implicit -inf padding", minimum=0),
        "dilation": F("pair", 1, "dilation", minimum=1),
        "ceil_mode": F("bool", False, "round the output size up (PyTorch's ceil_mode)"),
    }

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: ``zero_ops`` for max pooling."""
        return 0

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4: aten::max_pool2d maps to nothing: 0."""
        return 0

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.MaxPool2d(a["kernel"], a["stride"], a["padding"], a["dilation"],
                            ceil_mode=a["ceil_mode"])


@register
class AvgPool(_Pool):
    """Average pooling over k x k windows (PyTorch's AvgPool2d).

    No parameters, no mult-adds. fvcore has no rule for it: 0. full: kernel area per output
    element (the adds and the division).
    """
    name = "avg_pool"
    kernel_cls = "avg_pool"      # torch's average-pooling kernel: its own latency class
    aliases = ("avgpool",)
    label = "Avg Pool"
    fields = {
        "kernel": F("pair", doc="window size", minimum=1),
        "stride": F("pair", None, "stride; default: the kernel size", minimum=1),
        "padding": F("pair", 0, "zero padding", minimum=0),
        "ceil_mode": F("bool", False, "round the output size up (PyTorch's ceil_mode)"),
        "count_include_pad": F("bool", True, "count padded zeros in the average"),
    }

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_avgpool``: 1 per output element (the kernel's adds ignored)."""
        return n * numel(y)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``avg_pool_or_mean``: 1 per output element."""
        return n * numel(y)

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.AvgPool2d(a["kernel"], a["stride"], a["padding"], ceil_mode=a["ceil_mode"],
                            count_include_pad=a["count_include_pad"])


def thop_adaptive(x: Shape, y: Shape, n: int) -> int:
    """thop 0.1.1 ``count_adap_avgpool``: (kernel + 1) per output element, the kernel being
    (H_in / H_out) x (W_in / W_out) in float64 and the product truncated to an integer, as
    thop does (a fraction when the output size does not divide the input). ``math.trunc``
    rather than ``int()``: the same integer, and the sweep's tracer follows it."""
    kernel = (x[1] / y[1]) * (x[2] / y[2])
    return math.trunc((kernel + 1) * (n * numel(y)))


def _mean(a: dict) -> bool:
    """A global pool built as ``x.mean([2, 3], keepdim=True)`` (SpatialMean), not
    nn.AdaptiveAvgPool2d."""
    return a.get("mode", "adaptive") == "mean"


class _AdaptivePeers:
    """Peers' rules for nn.AdaptiveAvgPool2d (global or to a fixed size), and for the global
    pool's ``mode: mean`` (a parameter-free module whose forward is ``x.mean``: no peer hooks
    the module or patches Tensor.mean; torchprofile counts aten::mean)."""

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_adap_avgpool``: (H_in/H_out x W_in/W_out + 1) per output element
        (float64, truncated): H x W + 1 per channel for a global pool. Mode mean: no rule for
        the module: 0."""
        return 0 if _mean(a) else thop_adaptive(x, y, n)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: module hook (1 per input element) + the patched
        F.adaptive_avg_pool2d it calls (once more): 2 per input element. Mode mean: not hooked,
        Tensor.mean not patched: 0."""
        return 0 if _mean(a) else 2 * n * numel(x)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: no pooling or mean rule: 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: no parameters, no MACs: 0."""
        return 0

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_pool_flops_compute`` (patched F.adaptive_avg_pool2d): 1 per input
        element. Mode mean: Tensor.mean is not patched: 0."""
        return 0 if _mean(a) else n * numel(x)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``avg_pool_or_mean`` (aten::adaptive_avg_pool2d and aten::mean
        alike): 1 per OUTPUT element."""
        return n * numel(y)


@register
class GlobalAvgPool(_AdaptivePeers, Op):
    """Average over the whole feature map, to C x 1 x 1: ``mode: adaptive`` is
    ``nn.AdaptiveAvgPool2d(1)`` (torchvision's), ``mode: mean`` is ``x.mean([2, 3],
    keepdim=True)`` (timm's and many ports').

    No parameters or mult-adds. fvcore's ``adaptive_avg_pool2d`` rule: one per input element;
    fvcore has no rule for ``aten::mean``: 0 for mode mean. FlopCounterMode: 0.
    full: one add per input element, either way. Peers, adaptive mode: thop (H x W + 1) per
    output element, ptflops 2 per input element, calflops 1 per input element, torchprofile 1
    per output element, ptflops-aten and torchinfo 0; mode mean: torchprofile 1 per output
    element (aten::mean), every other peer 0."""
    name = "global_avg_pool"
    aliases = ("gap",)
    fields = {"mode": F("choice", "adaptive", "adaptive average pooling or a mean over H, W",
                        choices=("adaptive", "mean"))}

    def infer(self, a: dict, x: Shape) -> Shape:
        return (need_map(x, self.name)[0], 1, 1)

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x) if a.get("mode", "adaptive") == "adaptive" else 0

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x)

    def type_key(self, a: dict, x: Shape) -> str:
        return "Avg Pool (global)"

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input map, write one value per channel."""
        return [Kernel("global_pool", numel(x), numel(x), 0, x[0])]

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Avg Pool / s1", f"Pool {x[1]}x{x[2]}"

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        if a.get("mode", "adaptive") == "mean":
            from costmodel.torch.modules import SpatialMean
            return SpatialMean()
        return nn.AdaptiveAvgPool2d(1)


def adaptive_windows(size: int, out: int) -> list[int]:
    """Window lengths of PyTorch's adaptive pooling along one axis: output i averages input
    [floor(i*size/out), ceil((i+1)*size/out))."""
    return [-(-((i + 1) * size) // out) - (i * size) // out for i in range(out)]


@register
class AdaptiveAvgPool(_AdaptivePeers, Op):
    """Average pooling to a fixed output size (torchvision's VGG and AlexNet pool to 7x7 and
    6x6 before the classifier, so the classifier does not depend on the resolution).

    No parameters or mult-adds. fvcore's ``adaptive_avg_pool2d`` rule: one per input element.
    full: one add per element of every window (windows overlap when the size does not divide)."""
    name = "adaptive_avg_pool"
    aliases = ("adaptive_avgpool",)
    fields = {"size": F("pair", doc="output size (int or [h, w])", minimum=1)}
    structural = ("size",)        # full() sums one window per output row and column

    def resolve(self, a: dict, x: Shape) -> dict:
        need_map(x, self.name)
        return {**a, "size": pair(a["size"])}

    def infer(self, a: dict, x: Shape) -> Shape:
        return (x[0], *a["size"])

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        rows = sum(adaptive_windows(x[1], a["size"][0]))
        cols = sum(adaptive_windows(x[2], a["size"][1]))
        return x[0] * rows * cols

    def type_key(self, a: dict, x: Shape) -> str:
        return f"Avg Pool (adaptive {pair_str(a['size'])})"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Adaptive Avg Pool", f"{x[1]}x{x[2]} -> {pair_str(a['size'])}"

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.AdaptiveAvgPool2d(a["size"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input map, write the output map."""
        return [Kernel("global_pool", self.full(a, x, y), numel(x), 0, numel(y))]
