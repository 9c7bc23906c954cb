"""Ops that join or split branches. The graph creates them for ``parallel`` and ``residual``
entries; they are not written as entries themselves."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import Kernel, NoArithmetic, NoRule, Op, Shape, fmt_shape, numel, register


@register
class Add(NoArithmetic, Op):
    """Element-wise sum of the branches (residual add). fvcore reports ``aten::add`` as
    unsupported: 0. full: (branches - 1) adds per output element.

    Every peer counts 0: thop and torchinfo have no rule for the module (no parameters);
    ptflops and calflops patch ``torch.add``/``Tensor.add`` but the module adds with ``+``
    (``Tensor.__add__``, not patched); torchprofile maps aten::add to nothing."""
    name = "add"
    kind = "merge"

    def merge(self, shapes: list[Shape]) -> Shape:
        if any(s != shapes[0] for s in shapes):
            raise SpecError("residual add needs equal shapes, got "
                            + " and ".join(fmt_shape(s) for s in shapes))
        return shapes[0]

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(y) * (a["inputs"] - 1)

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Add", ""

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import Add as M
        return M()

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """One pairwise add per extra branch (as the module runs them): each reads two maps and
        writes one."""
        n = numel(y)
        return [Kernel("elementwise", n, 2 * n, 0, n) for _ in range(a["inputs"] - 1)]


@register
class Mul(Op):
    """Element-wise product of the branches (a gate). Equal shapes, or C x 1 x 1 branches
    broadcast over a C x H x W one. No parameters or mult-adds. fvcore: 0 (``aten::mul``
    has no rule). FlopCounterMode: 0. full: (branches - 1) multiplies per output element."""
    name = "mul"
    kind = "merge"

    def merge(self, shapes: list[Shape]) -> Shape:
        big = max(shapes, key=numel)
        for s in shapes:
            if s != big and not (len(s) == 3 and len(big) == 3 and s[0] == big[0]
                                 and s[1:] == (1, 1)):
                raise SpecError("mul needs equal shapes (or C x 1 x 1 against C x H x W), got "
                                + " and ".join(fmt_shape(s) for s in shapes))
        return big

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(y) * (a["inputs"] - 1)

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    # The module: costmodel.torch.modules.Mul, ``out = xs[0]; out = out * x`` for each further
    # branch (Tensor.__mul__, one aten::mul per extra branch).
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: no rule for the module: 0."""
        return 0

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: not hooked, and ``*`` is Tensor.__mul__, not the patched torch.mul
        / Tensor.mul: 0."""
        return 0

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: aten.mul has no rule: 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8: no parameters, no MACs: 0."""
        return 0

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2: ``*`` is Tensor.__mul__, not its patched torch.mul: 0."""
        return 0

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``mul``: each aten::mul counts its OUTPUT elements, so a product
        counts the broadcast shape so far: with two branches (a gate) the output's elements;
        with more, every product is full-size when the first branch is. A first branch of
        C x 1 x 1 among three or more leaves the count to the order of the other branches,
        which this rule does not see: NoRule, not a guess."""
        if a["inputs"] > 2 and numel(x) != numel(y):
            raise NoRule("torchprofile", "mul (3 or more branches, the first one broadcast)")
        return n * numel(y) * (a["inputs"] - 1)

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Mul", ""

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import Mul as M
        return M()


@register
class Concat(NoArithmetic, Op):
    """Channel concatenation. Zero in every convention (``aten::cat`` is ignored by fvcore)."""
    name = "concat"
    kind = "merge"

    def merge(self, shapes: list[Shape]) -> Shape:
        if any(len(s) != 3 or s[1:] != shapes[0][1:] for s in shapes):
            raise SpecError("concat needs branches of equal height and width, got "
                            + " and ".join(fmt_shape(s) for s in shapes))
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Concat", ""

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import Concat as M
        return M()

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """A copy: read every branch (together the output's size), write the output."""
        return [Kernel("data_movement", 0, numel(y), 0, numel(y))]


@register
class Split(NoArithmetic, Op):
    """Channel split into chunks, one per branch (ShuffleNet v2). Zero in every convention.
    Memory traffic: none (the chunks are views of the input)."""
    name = "split"
    kind = "split"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Split " + "/".join(map(str, a["sizes"])), ""

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import Split as M
        return M(a["sizes"])
