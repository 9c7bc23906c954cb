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
* ``describe``/``type_key``: the paper-style "type / stride" and "filter shape" columns,
  and the row of the per-type breakdown.
* ``build``: the ``torch.nn.Module`` (torch is imported inside, never at module import).

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


@dataclass(frozen=True)
class F:
    """One field of an op: its kind, default and a line of documentation."""
    kind: str                 # int | float | bool | pair | choice | intlist
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None   # for int/pair kinds

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


OPS: dict[str, Op] = {}
ALIASES: dict[str, str] = {}


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
