"""He et al.'s parameter-free "option A" shortcut (CIFAR ResNets)."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, NoArithmetic, Op, Shape, need_map, numel, pair, register


@register
class ChannelPad(NoArithmetic, Op):
    """Keep every ``stride``-th pixel (``x[:, :, ::s, ::s]``) and zero-pad the channels up to
    ``out``, half before and half after (the CIFAR ResNet shortcut of He et al. 2016, Sec. 4.2,
    "option A", as in the common PyTorch ports). Output: out x ceil(H/s) x ceil(W/s).

    No parameters and no arithmetic: zero in every convention (fvcore ignores ``aten::slice``
    and has no rule for ``aten::pad``, which it reports as unsupported and counts 0)."""
    name = "channel_pad"
    aliases = ("pad_shortcut",)
    fields = {
        "out": F("int", doc="output channels (at least the input channels)", minimum=1),
        "stride": F("pair", 1, "spatial subsampling step", minimum=1),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        c = need_map(x, self.name)[0]
        if a["out"] < c:
            raise SpecError(f"channel_pad cannot shrink {c} channels to {a['out']}")
        extra = a["out"] - c
        return {**a, "stride": pair(a["stride"]), "before": extra // 2, "after": extra - extra // 2}

    def infer(self, a: dict, x: Shape) -> Shape:
        s = a["stride"]
        return (a["out"], -(-x[1] // s[0]), -(-x[2] // s[1]))

    def type_key(self, a: dict, x: Shape) -> str:
        return "Shortcut (zero pad)"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return f"Pad shortcut / s{a['stride'][0]}", f"{x[0]} -> {a['out']} channels"

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import ChannelPad
        return ChannelPad(a["before"], a["after"], a["stride"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """The subsampling is a view; the pad reads the kept pixels (C x H' x W') and writes
        the padded output."""
        return [Kernel("data_movement", 0, x[0] * y[1] * y[2], 0, numel(y))]
