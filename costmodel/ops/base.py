"""The op registry: one class per op holds everything about it.

An op declares its spec fields (``fields``), and implements:

* ``resolve(a, x)``: check the evaluated fields against the input shape ``x`` and add derived
  attributes (input channels, groups...). Raise :class:`SpecError` for bad values.
* ``infer(a, x)``: the output shape, with PyTorch's exact formulas.
* ``params``/``weights``: trainable parameters (what ``sum(p.numel())`` gives) and the
  conv/linear weight elements alone (no bias, no batch norm: what the papers' Table 2 counts).
* ``macs``: conv + linear multiply-accumulates, bias excluded (the papers' mult-adds).
* ``fvcore``: what ``fvcore.nn.FlopCountAnalysis`` reports for the module (its rules).
* ``full``: every arithmetic operation, stated op by op in the op's docstring.
* the peers' conventions, one method each (``thop``, ``ptflops``, ``ptflops_aten``,
  ``torchinfo``, ``calflops``, ``calflops_macs``, ``torchprofile``), and ``training``: what
  that tool reports for the op's module at batch ``n``, with its own rules and bugs, in a
  separate block of each op class (the block's docstrings name the peer's rule). An op with
  no rule for a peer raises :class:`NoRule`: no convention ever guesses.
* ``describe``/``type_key``: the paper-style "type / stride" and "filter shape" columns,
  and the row of the per-type breakdown.
* ``build``: the ``torch.nn.Module`` (torch is imported inside, never at module import).
* ``kernels``: the memory-traffic and latency rule (issue 13): the kernels an unfused eager
  implementation runs for the op, each with its device-profile class, FLOPs and the elements
  it reads (activations, weights) and writes; ``traffic`` turns them into bytes at a dtype and
  batch, and ``mac_1x1`` is ShuffleNet V2's memory access cost of a 1x1 convolution.

Adding an op means writing one such class and decorating it with ``@register``.
"""
from __future__ import annotations

import difflib
from math import prod
from dataclasses import dataclass
from typing import Any, ClassVar

from costmodel.errors import SpecError

Shape = tuple[int, ...]      # (C, H, W) for feature maps, (F,) after flatten; batch excluded

REQUIRED = object()

# The peers' conventions an op answers for (method names; costmodel/count/conventions.py
# registers them with the peer's version).
PEER_RULES = ("thop", "ptflops", "ptflops_aten", "torchinfo", "calflops", "calflops_macs",
              "torchprofile")



class NoRule(SpecError):
    """An op has no rule for a convention: an error, never a silent 0."""

    def __init__(self, convention: str, op: str):
        super().__init__(f"the {convention} convention has no rule for op {op!r} yet; "
                         "choose another --convention")
        self.convention, self.op = convention, op


@dataclass(frozen=True)
class F:
    """One field of an op: its kind, default and a line of documentation."""
    kind: str                 # int | float | bool | pair | choice | intlist
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | float | None = None   # for int/pair/float kinds: the least value allowed
    maximum: float | None = None         # for float: the largest value allowed
    positive: bool = False               # for float: strictly above 0 (an epsilon)

    def range_text(self) -> str:
        """The float range as a sentence part: ``in [0, 1]``, ``> 0``."""
        if self.positive:
            return "> 0" if self.maximum is None else f"in (0, {self.maximum:g}]"
        if self.minimum is not None and self.maximum is not None:
            return f"in [{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f">= {self.minimum:g}"
        return f"<= {self.maximum:g}" if self.maximum is not None else "finite"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def numel(shape: Shape) -> int:
    return prod(shape)


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def hwc(shape: Shape) -> str:
    """The papers' way of writing a shape: H x W x C (a flat vector: its length)."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}" if len(shape) == 3 else str(shape[0])


def need_map(x: Shape, op: str) -> tuple[int, int, int]:
    if len(x) != 3:
        raise SpecError(f"{op} needs a C x H x W feature map, got a flat vector of {x[0]} "
                        "features (is there a flatten before it?)")
    return x  # type: ignore[return-value]


def pair(v: int | list[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (v[0], v[1])


def pair_str(p: tuple[int, int]) -> str:
    return f"{p[0]}x{p[1]}"


class Op:
    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    fields: ClassVar[dict[str, F]] = {}
    kind: ClassVar[str] = "layer"       # layer | merge | split (merge/split: made by the graph)
    # fields whose values the counts loop over (the sweep's compiler keeps them fixed)
    structural: ClassVar[tuple[str, ...]] = ()

    # --- shape and checks -------------------------------------------------------------------
    def resolve(self, a: dict, x: Shape) -> dict:
        return a

    def infer(self, a: dict, x: Shape) -> Shape:
        return x

    # --- counts (all exact integers) -------------------------------------------------------
    def params(self, a: dict, x: Shape) -> int:
        return 0

    def weights(self, a: dict, x: Shape) -> int:
        return 0

    def buffers(self, a: dict, x: Shape) -> int:
        """Elements of the module's buffers, as its ``state_dict`` holds them (batch norm's
        running mean and variance, and its int64 ``num_batches_tracked`` counter)."""
        return 0

    def int64_buffers(self, a: dict, x: Shape) -> int:
        """How many of those buffer elements are int64 counters (kept at 8 bytes whatever
        the dtype of the model)."""
        return 0

    def macs(self, a: dict, x: Shape, y: Shape) -> int:
        return 0

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return 0

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return 0

    # --- peers' conventions: what each tool reports for this op's module, batch n ------------
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("thop", self.name)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("ptflops", self.name)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("ptflops-aten", self.name)

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("torchinfo", self.name)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("calflops", self.name)

    def calflops_macs(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops' MACs: its conv and linear functionals' multiply-accumulates, nothing
        else (the same number as the papers' mult-adds, for every op that has MACs)."""
        return n * self.macs(a, x, y)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        raise NoRule("torchprofile", self.name)

    def training(self, a: dict, x: Shape, y: Shape, n: int, input_grad: bool) -> int:
        """Forward + backward FLOPs at 2 per multiply-accumulate: the forward pass, the weight
        gradient (as many MACs again), and the input gradient (once more) unless nothing
        before the layer needs a gradient (``input_grad`` false: the first conv). Ops whose
        MACs are not one conv/matmul override this."""
        return 2 * n * self.macs(a, x, y) * (3 if input_grad else 2)

    # --- presentation ----------------------------------------------------------------------
    def type_key(self, a: dict, x: Shape) -> str:
        return self.title

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        """(type / stride, filter shape) as in the papers' architecture tables."""
        return self.title, ""

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").title()

    # --- torch -----------------------------------------------------------------------------
    def build(self, a: dict, x: Shape):  # pragma: no cover - each op overrides
        raise NotImplementedError(self.name)

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list["Kernel"]:
        """The kernels the op runs (see :class:`Kernel`). Default: none (a view: nothing moves)."""
        return []

    def traffic(self, a: dict, x: Shape, y: Shape, batch: int = 1, dtype: str = "fp32") -> "Traffic":
        """Bytes read (inputs, weights) and written by the op's kernels at a dtype and batch."""
        return Traffic.of(self.kernels(a, x, y), batch, dtype)

    def mac_1x1(self, a: dict, x: Shape, y: Shape, batch: int = 1) -> int | None:
        """ShuffleNet V2's memory access cost (Section 2, G1) for 1x1 convolutions, in elements;
        None for every other op."""
        return None


#: The op classes of a device profile: each has its own peak throughput and per-layer overhead.
KERNEL_CLASSES = {
    "conv": "dense convolution (groups = 1) with a kernel larger than 1x1, or 1x1 strided or "
            "dilated (torch runs these with oneDNN)",
    "conv_small": "the same on a small input (at most 20,480 elements a sample, a kernel not "
                  "larger than 3 in both directions), which torch runs with its native im2col "
                  "kernel instead of oneDNN (at batch 1 and one thread)",
    "conv1x1": "dense 1x1 (pointwise) convolution at stride 1, which torch runs as a GEMM",
    "grouped": "grouped convolution (1 < groups < channels)",
    "depthwise": "depthwise convolution (groups = input channels)",
    "linear": "fully connected layer",
    "elementwise": "activations, batch norm, residual add, the SE multiply",
    "pooling": "windowed max pooling (and average pooling, in a profile without avg_pool)",
    "avg_pool": "windowed average pooling, which torch runs with another kernel than max "
                "pooling (measured here: 2.6x cheaper per input element at 3x3, stride 2)",
    "global_pool": "global and adaptive average pooling (a reduction of each channel)",
    "data_movement": "channel shuffle, concat, zero-pad copies",
}


@dataclass(frozen=True)
class Kernel:
    """One kernel of an op: its device-profile class, its FLOPs (a multiply-accumulate is 2),
    and the elements it reads and writes. ``reads``, ``writes`` and ``flops`` are per sample
    (they scale with the batch); ``weights`` (weights, biases, batch-norm statistics) are read
    once per batch. ``scratch``: elements the implementation writes to a buffer of its own and
    reads back, per sample (torch's native conv kernel unfolds its input into an im2col
    matrix); not part of the layer's traffic, priced by the latency model only."""
    cls: str
    flops: int
    reads: int
    weights: int
    writes: int
    scratch: int = 0


@dataclass(frozen=True)
class Traffic:
    """Memory traffic in bytes and the FLOPs it serves, exact integers."""
    input_bytes: int
    weight_bytes: int
    output_bytes: int
    flops: int

    @property
    def read_bytes(self) -> int:
        return self.input_bytes + self.weight_bytes

    @property
    def bytes(self) -> int:
        return self.input_bytes + self.weight_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved (0 when nothing moves)."""
        return self.flops / self.bytes if self.bytes else 0.0

    @classmethod
    def of(cls, kernels: list[Kernel], batch: int, dtype: str) -> "Traffic":
        from costmodel.count.dtypes import DTYPE_BYTES
        size = DTYPE_BYTES[dtype]
        return cls(sum(k.reads for k in kernels) * batch * size,
                   sum(k.weights for k in kernels) * size,
                   sum(k.writes for k in kernels) * batch * size,
                   sum(k.flops for k in kernels) * batch)


OPS: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


class NoArithmetic:
    """Mixin for ops that only move data (flatten, shuffle, slice, split, concat, pad,
    dropout): zero under every peer. Checked against each peer: thop and torchinfo count only
    modules they know (none of these), ptflops and calflops patch no view, cat, split, pad or
    dropout functional, and torchprofile's table maps aten::cat, slice, view, transpose,
    contiguous, flatten, dropout and constant_pad_nd to nothing (aten::split has no entry:
    skipped with a warning)."""

    def _zero(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """0: the op moves data; the peer has no rule or an empty one for it."""
        return 0

    thop = ptflops = ptflops_aten = torchinfo = calflops = torchprofile = _zero


def register(cls: type[Op]) -> type[Op]:
    op = cls()
    for key in (cls.name, *cls.aliases):
        if key in OPS or key in ALIASES:
            raise RuntimeError(f"op name {key!r} registered twice")
    OPS[cls.name] = op
    for alias in cls.aliases:
        ALIASES[alias] = cls.name
    return cls


def lookup(name: str) -> Op:
    canonical = ALIASES.get(name, name)
    op = OPS.get(canonical)
    if op is None or op.kind != "layer":
        known = sorted(k for k, v in OPS.items() if v.kind == "layer") + sorted(ALIASES)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"unknown op {name!r}{hint}; known ops: {', '.join(sorted(known))}")
    return op
