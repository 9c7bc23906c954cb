"""GhostNet's Ghost module (Han et al. 2020), usable in any spec."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, Op, Shape, need_map, pair, pair_str, register
from costmodel.ops.conv import conv_out, dense_class, im2col


@register
class Ghost(Op):
    """Ghost module: a primary conv makes m = ceil(out / ratio) intrinsic maps (kernel k,
    stride), a cheap depthwise conv (kernel d, depth multiplier ratio - 1) makes the ghost
    maps, both followed by batch norm (and ReLU when ``relu``); the two are concatenated and
    sliced to ``out`` channels (the authors' public code).

    mult-adds = m * C_in * k*k * H*W + m(ratio-1) * d*d * H*W; params = the two conv weights
    plus 2 per batch-norm channel; buffers: the two batch norms' running statistics (2 per
    channel) and their two int64 counters. fvcore: those mult-adds + 2 per batch-norm element.
    full: the same + one per ReLU element.
    """
    name = "ghost"
    fields = {
        "out": F("int", doc="output channels n", minimum=1),
        "ratio": F("int", 2, "s: n = m * s, m intrinsic maps from the primary conv", minimum=1),
        "kernel": F("pair", 1, "primary conv kernel k", minimum=1),
        "dw_kernel": F("pair", 3, "cheap depthwise kernel d", minimum=1),
        "stride": F("pair", 1, "primary conv stride", minimum=1),
        "relu": F("bool", True, "ReLU after both halves (off in a bottleneck's projection)"),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        c = need_map(x, self.name)[0]
        init = -(-a["out"] // a["ratio"])
        if a["ratio"] > 1 and any(d % 2 == 0 for d in pair(a["dw_kernel"])):
            raise SpecError(f"dw_kernel must be odd (the cheap depthwise conv pads d//2 and "
                            f"must keep the map's size), got {a['dw_kernel']}")
        return {**a, "in_channels": c, "init": init, "cheap": init * (a["ratio"] - 1),
                "kernel": pair(a["kernel"]), "dw_kernel": pair(a["dw_kernel"]),
                "stride": pair(a["stride"])}

    def infer(self, a: dict, x: Shape) -> Shape:
        _, h, w = x
        k, s = a["kernel"], a["stride"]
        ho = conv_out(h, k[0], s[0], k[0] // 2, 1)
        wo = conv_out(w, k[1], s[1], k[1] // 2, 1)
        if ho < 1 or wo < 1:
            raise SpecError(f"the feature map shrinks to {ho}x{wo} (input {h}x{w}, kernel "
                            f"{pair_str(k)}, stride {pair_str(s)})")
        return (a["out"], ho, wo)

    def weights(self, a: dict, x: Shape) -> int:
        k, d = a["kernel"], a["dw_kernel"]
        return a["init"] * a["in_channels"] * k[0] * k[1] + a["cheap"] * d[0] * d[1]

    def params(self, a: dict, x: Shape) -> int:
        return self.weights(a, x) + 2 * (a["init"] + a["cheap"])

    def buffers(self, a: dict, x: Shape) -> int:
        return 2 * (a["init"] + a["cheap"]) + self.int64_buffers(a, x)

    def int64_buffers(self, a: dict, x: Shape) -> int:
        return 2 if a["cheap"] else 1

    def macs(self, a: dict, x: Shape, y: Shape) -> int:
        return self.weights(a, x) * y[1] * y[2]

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return self.macs(a, x, y) + 2 * (a["init"] + a["cheap"]) * y[1] * y[2]

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        relu = (a["init"] + a["cheap"]) * y[1] * y[2] if a["relu"] else 0
        return self.fvcore(a, x, y) + relu

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    # The module: primary = Conv2d (no bias) + BatchNorm2d(m) + ReLU(inplace) or Identity,
    # cheap = depthwise Conv2d (no bias) + BatchNorm2d(m(ratio-1)) + the same; cat + slice.
    def _bn_elements(self, a: dict, y: Shape) -> int:
        return (a["init"] + a["cheap"]) * y[1] * y[2]

    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: both convs' MACs + 4 per batch-norm element; ReLU and Identity 0."""
        return n * (self.macs(a, x, y) + 4 * self._bn_elements(a, y))

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: MACs + 2 per batch-norm element + the ReLU counted twice (module
        hook and patched F.relu)."""
        e = self._bn_elements(a, y)
        return n * (self.macs(a, x, y) + 2 * e + (2 * e if a["relu"] else 0))

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten: the two convolutions."""
        return n * self.macs(a, x, y)

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: MACs + N x the batch norms' parameters (2 per channel)."""
        return n * (self.macs(a, x, y) + 2 * (a["init"] + a["cheap"]))

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2: 2 per MAC + 2 per batch-norm element + 1 per ReLU element."""
        e = self._bn_elements(a, y)
        return n * (2 * self.macs(a, x, y) + 2 * e + (e if a["relu"] else 0))

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4: MACs + 1 per batch-norm element; relu_, cat, slice 0."""
        return n * (self.macs(a, x, y) + self._bn_elements(a, y))

    def training(self, a: dict, x: Shape, y: Shape, n: int, input_grad: bool) -> int:
        """The primary conv needs an input gradient unless nothing before it does; the cheap
        depthwise conv always does. (FlopCounterMode counts the cheap conv's weight gradient
        ``init`` times too high: its grouped-conv bug.)"""
        k, d = a["kernel"], a["dw_kernel"]
        hw = y[1] * y[2]
        primary = a["init"] * a["in_channels"] * k[0] * k[1] * hw
        cheap = a["cheap"] * d[0] * d[1] * hw
        return 2 * n * (primary * (3 if input_grad else 2) + 3 * cheap)

    def type_key(self, a: dict, x: Shape) -> str:
        return "Ghost module"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        k, d = a["kernel"], a["dw_kernel"]
        return (f"Ghost s={a['ratio']} / s{a['stride'][0]}",
                f"{pair_str(k)}x{a['in_channels']}x{a['init']} + dw {pair_str(d)}x{a['cheap']}")

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import GhostModule
        return GhostModule(a["in_channels"], a["out"], a["init"], a["cheap"], a["kernel"],
                           a["dw_kernel"], a["stride"], a["relu"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """As the module runs them: the primary conv (input -> m maps), its batch norm (4
        statistics per channel) and ReLU; the cheap depthwise conv (m -> m(s-1) maps), its
        batch norm and ReLU; the concat of both (read and write m*s maps); the slice to
        ``out`` channels is a view."""
        hw = y[1] * y[2]
        k, d = a["kernel"], a["dw_kernel"]
        init, cheap = a["init"], a["cheap"]
        w1 = init * a["in_channels"] * k[0] * k[1]
        primary = dense_class(k, x, a["stride"])
        out = [Kernel(primary, 2 * w1 * hw, x[0] * x[1] * x[2], w1, init * hw,
                      im2col(primary, a["in_channels"], k, y)),
               Kernel("elementwise", 2 * init * hw, init * hw, 4 * init, init * hw)]
        if a["relu"]:
            out.append(Kernel("elementwise", init * hw, init * hw, 0, init * hw))
        if cheap:
            w2 = cheap * d[0] * d[1]
            out += [Kernel("depthwise", 2 * w2 * hw, init * hw, w2, cheap * hw),
                    Kernel("elementwise", 2 * cheap * hw, cheap * hw, 4 * cheap, cheap * hw)]
            if a["relu"]:
                out.append(Kernel("elementwise", cheap * hw, cheap * hw, 0, cheap * hw))
            out.append(Kernel("data_movement", 0, (init + cheap) * hw, 0, (init + cheap) * hw))
        return out
