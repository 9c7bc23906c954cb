"""Element-wise activations, dropout and identity.

None has parameters or mult-adds. fvcore counts none of them (``aten::relu`` is ignored; the
others, ``aten::gelu`` and ``aten::silu`` included, are reported as unsupported and count 0).
FlopCounterMode counts none either. full: one operation per output element.
"""
from __future__ import annotations

from costmodel.ops.base import F, Kernel, Op, Shape, numel, register

# name -> (title, torch.nn class name)
FUNCTIONS = {
    "relu": ("ReLU", "ReLU"),
    "relu6": ("ReLU6", "ReLU6"),
    "hardswish": ("h-swish", "Hardswish"),
    "hardsigmoid": ("h-sigmoid", "Hardsigmoid"),
    "sigmoid": ("Sigmoid", "Sigmoid"),
    "silu": ("SiLU", "SiLU"),
    "swish": ("SiLU", "SiLU"),       # the same function as silu (x * sigmoid(x))
    "gelu": ("GELU", "GELU"),        # exact (erf) GELU, torch's default
    "identity": ("Identity", "Identity"),
}
SYNONYMS = {"swish": "silu"}     # fn names that are another op's alias


class _Activation(Op):
    fn: str = "relu"

    def _fn(self, a: dict) -> str:
        return a.get("fn", self.fn)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return 0 if self._fn(a) == "identity" else numel(y)

    def type_key(self, a: dict, x: Shape) -> str:
        return FUNCTIONS[self._fn(a)][0]

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return FUNCTIONS[self._fn(a)][0], ""

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return getattr(nn, FUNCTIONS[self._fn(a)][1])()

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input, write the output (the identity is a no-op: nothing moves)."""
        if self._fn(a) == "identity":
            return []
        return [Kernel("elementwise", numel(y), numel(x), 0, numel(y))]


@register
class Activation(_Activation):
    """Activation chosen by a field, so a table column (MobileNetV3's NL) can pick it."""
    name = "activation"
    aliases = ("act",)
    fields = {"fn": F("choice", doc="the function", choices=tuple(FUNCTIONS))}


def _named(fn: str) -> type[Op]:
    aliases = tuple(k for k, v in SYNONYMS.items() if v == fn)
    cls = type(f"Act_{fn}", (_Activation,), {"name": fn, "fn": fn, "fields": {},
                                              "aliases": aliases,
                                              "__doc__": f"{FUNCTIONS[fn][0]} activation."})
    return register(cls)


for _fn in FUNCTIONS:
    if _fn not in SYNONYMS:
        _named(_fn)


@register
class Dropout(Op):
    """Dropout: the identity at inference; no parameters, no operations counted, no memory
    traffic (no kernel runs)."""
    name = "dropout"
    fields = {"p": F("float", 0.5, "drop probability (training only), in [0, 1] as torch "
                         "requires", minimum=0.0, maximum=1.0)}

    def type_key(self, a: dict, x: Shape) -> str:
        return "Dropout"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return f"Dropout p={a['p']}", ""

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        return nn.Dropout(a["p"])
