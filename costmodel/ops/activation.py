"""Element-wise activations, dropout and identity.

None has parameters or mult-adds. fvcore counts none of them (``aten::relu`` is ignored; the
others, ``aten::gelu`` and ``aten::silu`` included, are reported as unsupported and count 0).
FlopCounterMode counts none either. full: one operation per output element.
"""
from __future__ import annotations

from costmodel.ops.base import F, Kernel, NoArithmetic, Op, Shape, numel, register

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

# Per output element, under the two peers that count any activation of ours.
# ptflops 0.7.5 (pytorch backend) hooks nn.ReLU, nn.ReLU6 and nn.GELU (1 per element,
# ``relu_flops_counter_hook``) and also patches F.relu, F.gelu and F.silu: nn.ReLU's and
# nn.GELU's forwards call the patched F.relu / F.gelu, so a ReLU or a GELU counts TWICE (its
# bug); nn.ReLU6 calls F.hardtanh (unpatched): once; nn.SiLU (swish) is not hooked but calls
# the patched F.silu: once; Hardswish, Hardsigmoid, Sigmoid: neither hooked nor patched.
PTFLOPS_PER_ELEMENT = {"relu": 2, "relu6": 1, "swish": 1, "silu": 1, "gelu": 2}
# calflops 0.3.2 patches F.relu, F.silu and F.gelu (F.relu6 too, but nn.ReLU6 calls
# F.hardtanh): 1 per input element each.
CALFLOPS_PER_ELEMENT = {"relu": 1, "swish": 1, "silu": 1, "gelu": 1}


class _Activation(Op):
    fn: str = "relu"

    def _fn(self, a: dict) -> str:
        return a.get("fn", self.fn)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return 0 if self._fn(a) == "identity" else numel(y)

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: ``zero_ops`` for ReLU and ReLU6, no rule (0) for the others (GELU,
        SiLU, the hard ones, sigmoid)."""
        return 0

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: ReLU and GELU 2 per element (module hook + the patched F.relu /
        F.gelu the module calls: counted twice), ReLU6 and Swish 1, the others 0 (see
        PTFLOPS_PER_ELEMENT)."""
        return n * numel(y) * PTFLOPS_PER_ELEMENT.get(self._fn(a), 0)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: only conv and matmul ops count: 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: MACs come from parameters; an activation has none: 0."""
        return 0

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2: 1 per input element for ReLU (F.relu), Swish (F.silu) and GELU
        (F.gelu, ``_gelu_flops_compute``); ReLU6 goes through the unpatched F.hardtanh,
        h-swish, h-sigmoid and sigmoid are not patched: 0."""
        return n * numel(x) * CALFLOPS_PER_ELEMENT.get(self._fn(a), 0)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4: aten::relu and sigmoid map to nothing, hardtanh, hardswish,
        hardsigmoid, silu and gelu have no handler (skipped with a warning): 0."""
        return 0

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
class Dropout(NoArithmetic, Op):
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
