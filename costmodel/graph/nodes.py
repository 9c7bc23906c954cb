"""The layer graph: a tree of :class:`Seq` (children in order) and :class:`Parallel` (an
optional channel split, branches, a merge) with :class:`Layer` leaves. Every node has a stable
dotted name, which is also the name of its module in the built ``torch.nn.Module``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Union

from costmodel.ops import OPS, Op, Shape


@dataclass
class Layer:
    """A leaf of the graph: one op with its shapes and exact counts."""
    name: str
    op: str
    attrs: dict
    input_shape: Shape
    output_shape: Shape
    mult_adds: int          # conv + linear multiply-accumulates, bias excluded (papers)
    params: int             # trainable parameters: sum(p.numel()) of the built module
    weights: int            # conv/linear weight elements only (papers' per-type tables)
    activations: int        # elements of the output
    fvcore: int             # what fvcore.nn.FlopCountAnalysis counts for this module
    full: int               # every arithmetic operation (see each op's docstring)
    line: int | None = None
    input_shapes: list[Shape] | None = None   # merges: the shape of every branch
    buffers: int = 0        # state_dict buffer elements (batch-norm running statistics)
    int64_buffers: int = 0  # ... of which int64 counters (num_batches_tracked)

    @property
    def opdef(self) -> Op:
        return OPS[self.op]

    # Presentation, computed on demand (profiling does not need it).
    @property
    def type_key(self) -> str:
        """The row of the per-type breakdown (MobileNet's Table 2), e.g. 'Conv DW 3x3'."""
        return self.opdef.type_key(self.attrs, self.input_shape)

    @property
    def type_stride(self) -> str:
        """The papers' 'Type / Stride' column, e.g. 'Conv dw / s2'."""
        return self.opdef.describe(self.attrs, self.input_shape)[0]

    @property
    def filter(self) -> str:
        """The papers' 'Filter Shape' column, e.g. '3x3x32 dw'."""
        return self.opdef.describe(self.attrs, self.input_shape)[1]

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class Seq:
    name: str
    children: list["Node"] = field(default_factory=list)
    line: int | None = None

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class Parallel:
    name: str
    paths: list[tuple[str, Seq]]
    merge: Layer
    split: Layer | None = None
    line: int | None = None

    @property
    def local_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


Node = Union[Layer, Seq, Parallel]


def iter_layers(node: Node) -> Iterator[Layer]:
    """Leaves in execution order."""
    out: list[Layer] = []
    _collect(node, out)
    return iter(out)


def _collect(node: Node, out: list[Layer]) -> None:
    if isinstance(node, Layer):
        out.append(node)
    elif isinstance(node, Seq):
        for child in node.children:
            _collect(child, out)
    else:
        if node.split is not None:
            out.append(node.split)
        for _, path in node.paths:
            _collect(path, out)
        out.append(node.merge)


def renamed(node: Node, old: str, new: str) -> Node:
    """A copy of a subtree whose names start with `old`, renamed to start with `new`.
    Layers share their (read-only) attribute dicts with the original."""
    cut = len(old)
    if isinstance(node, Layer):
        copy = Layer.__new__(Layer)
        copy.__dict__ = {**node.__dict__, "name": new + node.name[cut:]}
        return copy
    if isinstance(node, Seq):
        return Seq(new + node.name[cut:], [renamed(c, old, new) for c in node.children], node.line)
    return Parallel(new + node.name[cut:],
                    [(p, renamed(seq, old, new)) for p, seq in node.paths],
                    renamed(node.merge, old, new),
                    None if node.split is None else renamed(node.split, old, new), node.line)
