"""Ops that move data without arithmetic: flatten, channel shuffle, channel slice.
No parameters; zero in every convention (fvcore ignores view/transpose/reshape/slice).
Memory traffic: flatten and slice are views (nothing moves); the shuffle is a copy."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, NoArithmetic, Op, Shape, need_map, numel, register


@register
class Flatten(NoArithmetic, Op):
    """Flatten a C x H x W map to a vector of C*H*W features (PyTorch's Flatten(1)).

    Data movement only: no parameters, every convention counts 0.
    """
    name = "flatten"
    fields = {}

    def infer(self, a: dict, x: Shape) -> Shape:
        return (numel(x),)

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.Flatten(1)


@register
class ChannelShuffle(NoArithmetic, Op):
    """ShuffleNet's channel shuffle: reshape to (groups, C/groups), transpose, flatten."""
    name = "channel_shuffle"
    aliases = ("shuffle",)
    fields = {"groups": F("int", doc="number of groups; must divide the channels", minimum=1)}

    def resolve(self, a: dict, x: Shape) -> dict:
        c = need_map(x, self.name)[0]
        if c % a["groups"]:
            raise SpecError(f"groups ({a['groups']}) must divide the channels ({c})")
        return a

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return f"Shuffle g{a['groups']}", ""

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import ChannelShuffle as M
        return M(a["groups"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """The transpose is made contiguous: read the map, write it permuted."""
        return [Kernel("data_movement", 0, numel(x), 0, numel(y))]


@register
class Slice(NoArithmetic, Op):
    """Keep the first ``channels`` channels."""
    name = "slice"
    fields = {"channels": F("int", doc="channels to keep (the first ones)", minimum=1)}

    def resolve(self, a: dict, x: Shape) -> dict:
        c = need_map(x, self.name)[0]
        if a["channels"] > c:
            raise SpecError(f"cannot keep {a['channels']} of {c} channels")
        return a

    def infer(self, a: dict, x: Shape) -> Shape:
        return (a["channels"], *x[1:])

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import ChannelSlice
        return ChannelSlice(a["channels"])
