"""Counting conventions: each a named rule from a layer to an exact integer.

* ``paper``: multiply-accumulates of conv and linear layers, bias excluded: the papers'
  "mult-adds" (ShuffleNet and GhostNet call the same number "FLOPs").
* ``fvcore``: what ``fvcore.nn.FlopCountAnalysis`` counts: conv/linear multiply-accumulates
  (bias excluded), batch norm in eval mode as 2 per element (1 without affine), adaptive
  average pooling as 1 per input element, and 0 for what it skips or does not support
  (ReLU, other activations, max/avg pooling, add, concat, shuffle, the SE multiply).
* ``flop_counter``: ``torch.utils.flop_counter.FlopCounterMode``: 2 FLOPs per conv/matmul
  multiply-accumulate, nothing else.
* ``full``: every arithmetic operation: the mult-adds, one add per output element for each
  bias, 2 per batch-norm element, 1 per activation output, kernel area per pooling output,
  1 per input element of global pooling, (branches - 1) per element of a residual add, and
  the SE multiply; data movement (concat, split, shuffle, slice, flatten) counts 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from costmodel.graph.nodes import Layer


@dataclass(frozen=True)
class Convention:
    name: str
    title: str
    doc: str
    count: Callable[[Layer], int]


CONVENTIONS: dict[str, Convention] = {c.name: c for c in [
    Convention("paper", "Mult-Adds (paper)",
               "conv + linear multiply-accumulates, bias excluded", lambda l: l.mult_adds),
    Convention("fvcore", "fvcore FLOPs",
               "fvcore.nn.FlopCountAnalysis: MACs + batch norm + adaptive avg pool", lambda l: l.fvcore),
    Convention("flop_counter", "FlopCounterMode FLOPs",
               "torch.utils.flop_counter: 2 x conv/matmul MACs", lambda l: 2 * l.mult_adds),
    Convention("full", "All ops",
               "MACs + bias, batch norm, activations, pooling, adds, SE multiply", lambda l: l.full),
]}


def get(name: str) -> Convention:
    from costmodel.errors import SpecError
    if name not in CONVENTIONS:
        raise SpecError(f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]
