"""A placeholder for an op an importer could not express (``costmodel import --allow-unknown``)."""
from __future__ import annotations

from costmodel.ops.base import F, NoArithmetic, Op, Shape, register


@register
class Unknown(NoArithmetic, Op):
    """An op the spec language cannot express, kept by name with its output shape: counted
    as 0 under every convention and flagged as UNKNOWN wherever layers are listed. Its torch
    module outputs zeros of that shape (so a built network runs; its numbers are not the
    original's)."""
    name = "unknown"
    fields = {
        "channels": F("int", doc="output channels (or features)", minimum=1),
        "height": F("int", 0, "output height (0: a flat vector)", minimum=0),
        "width": F("int", 0, "output width (0: a flat vector)", minimum=0),
    }

    def infer(self, a: dict, x: Shape) -> Shape:
        if a["height"] and a["width"]:
            return (a["channels"], a["height"], a["width"])
        return (a["channels"],)

    def type_key(self, a: dict, x: Shape) -> str:
        return "UNKNOWN (placeholder, counted 0)"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "UNKNOWN placeholder", "counted 0"

    def build(self, a: dict, x: Shape):
        import torch
        from torch import nn
        shape = self.infer(a, x)

        class Placeholder(nn.Module):
            def forward(self, t):
                return torch.zeros((t.shape[0], *shape), dtype=t.dtype, device=t.device)
        return Placeholder()
