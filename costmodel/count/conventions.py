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
* the peers, each tied to the version its rules were read from and checked against (the
  rule of every op lives in the op's class, ``costmodel/ops/``, beside its other counts):
  ``thop``, ``ptflops``, ``ptflops-aten``, ``torchinfo``, ``calflops``, ``calflops-macs``,
  ``torchprofile``.
* ``training``: forward + backward FLOPs (2 per multiply-accumulate): forward, weight
  gradient and input gradient, the first conv needing no input gradient.

Every count is for a batch of ``n`` (default 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from costmodel.graph.nodes import Layer, Node, Parallel, Seq


@dataclass(frozen=True)
class Convention:
    name: str
    title: str
    doc: str
    rule: Callable[[Layer, int, bool], int]     # (layer, batch, input needs a gradient)
    peer: str = ""            # the peer package and version the rules are written for
    differs: str = ""         # one line: what makes it differ from the papers' mult-adds

    def count(self, layer: Layer, n: int = 1, input_grad: bool = True) -> int:
        return self.rule(layer, n, input_grad)

    @property
    def key(self) -> str:
        """The JSON totals key: ``flops_thop``, ``flops_ptflops_aten``..."""
        return "mult_adds" if self.name == "paper" else "flops_" + self.name.replace("-", "_")


def _peer(method: str) -> Callable[[Layer, int, bool], int]:
    def rule(l: Layer, n: int, g: bool) -> int:
        try:
            return getattr(l.opdef, method)(l.attrs, l.input_shape, l.output_shape, n)
        except Exception as exc:
            if hasattr(exc, "located"):
                raise exc.located(layer=l.name) from None
            raise
    rule.__name__ = method
    return rule


def _training(l: Layer, n: int, g: bool) -> int:
    return l.opdef.training(l.attrs, l.input_shape, l.output_shape, n, g)


CONVENTIONS: dict[str, Convention] = {c.name: c for c in [
    Convention("paper", "Mult-Adds (paper)",
               "conv + linear multiply-accumulates, bias excluded",
               lambda l, n, g: n * l.mult_adds),
    Convention("fvcore", "fvcore FLOPs",
               "fvcore.nn.FlopCountAnalysis: MACs + batch norm + adaptive avg pool",
               lambda l, n, g: n * l.fvcore, "fvcore 0.1.5",
               "batch norm at 2 per element, adaptive/global average pooling at 1 per input "
               "element"),
    Convention("flop_counter", "FlopCounterMode FLOPs",
               "torch.utils.flop_counter: 2 x conv/matmul MACs",
               lambda l, n, g: 2 * n * l.mult_adds, "torch.utils.flop_counter",
               "2 FLOPs per multiply-accumulate, nothing else"),
    Convention("full", "All ops",
               "MACs + bias, batch norm, activations, pooling, adds, SE multiply",
               lambda l, n, g: n * l.full),
    Convention("thop", "thop MACs",
               "thop.profile: MACs + batch norm at 4 per element + avg pools",
               _peer("thop"), "thop 0.1.1.post2209072238",
               "batch and layer norm at 4 per element (2, doubled for affine), average pooling 1 "
               "per output, adaptive pooling (kernel + 1) per output; biases, ReLU, GELU, max "
               "pooling, the layer scale 0"),
    Convention("ptflops", "ptflops MACs",
               "ptflops pytorch backend: MACs + biases + BN + ReLU and pools counted twice",
               _peer("ptflops"), "ptflops 0.7.5",
               "biases, batch norm 2 per element, layer norm 1 (affine ignored), ReLU, GELU and "
               "every pooling counted twice (module hook + patched functional), ReLU6 once; "
               "residual adds, multiplies and the layer scale 0"),
    Convention("ptflops-aten", "ptflops (aten) MACs",
               "ptflops aten backend: conv + matmul MACs + their biases",
               _peer("ptflops_aten"), "ptflops 0.7.5",
               "the conv and linear biases, one per output element; nothing else"),
    Convention("torchinfo", "torchinfo mult-adds",
               "torchinfo.summary: parameters x output positions (biases, BN parameters)",
               _peer("torchinfo"), "torchinfo 1.8.0",
               "every weight and bias x output positions: conv/linear biases and the batch- "
               "and layer-norm PARAMETERS (2 x C per sample), not their elements; the layer "
               "scale's gamma 0"),
    Convention("calflops", "calflops FLOPs",
               "calflops.calculate_flops FLOPs: 2 x MACs + biases + BN + ReLU + pools",
               _peer("calflops"), "calflops 0.3.2",
               "2 FLOPs per MAC, conv biases (not linear's), batch norm 2 per element, layer "
               "norm 5, ReLU, SiLU and GELU 1 (not ReLU6), every pooling 1 per input element"),
    Convention("calflops-macs", "calflops MACs",
               "calflops.calculate_flops MACs: conv + linear MACs",
               _peer("calflops_macs"), "calflops 0.3.2",
               "nothing: its MACs are the papers' mult-adds"),
    Convention("torchprofile", "torchprofile MACs",
               "torchprofile.profile_macs: MACs + 1 per BN element + avg pool outputs + mul",
               _peer("torchprofile"), "torchprofile 0.0.4",
               "batch and layer norm 1 per element, average pooling and mean 1 per output "
               "element, every multiply (aten::mul: the SE, the layer scale, a gate) 1 per "
               "output element"),
    Convention("training", "Training FLOPs (fwd + bwd)",
               "forward + backward at 2 FLOPs per MAC: forward, weight and input gradients",
               _training, "torch.utils.flop_counter on a backward pass",
               "3 passes of 2 FLOPs per MAC (forward, weight gradient, input gradient), the "
               "first conv without an input gradient"),
]}

PEERS = [n for n in ("thop", "ptflops", "ptflops-aten", "torchinfo", "calflops",
                     "calflops-macs", "torchprofile")]


def get(name: str) -> Convention:
    from costmodel.errors import SpecError
    if name not in CONVENTIONS:
        alt = name.replace("_", "-")
        alt = alt if alt in CONVENTIONS else name.replace("-", "_")
        if alt in CONVENTIONS:
            return CONVENTIONS[alt]
        raise SpecError(f"unknown convention {name!r}; known: {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


def gradient_free(root: Node) -> frozenset[str]:
    """The layers whose input needs no gradient in training: those reached from the network
    input through parameter-free layers only (the first conv, a pooling stem...)."""
    free: set[str] = set()

    def walk(node: Node, grad: bool) -> bool:
        if isinstance(node, Layer):
            if not grad:
                free.add(node.name)
            return grad or node.params > 0
        if isinstance(node, Seq):
            for child in node.children:
                grad = walk(child, grad)
            return grad
        assert isinstance(node, Parallel)
        if node.split is not None:
            walk(node.split, grad)
        outs = [walk(path, grad) for _, path in node.paths]
        return walk(node.merge, any(outs))

    walk(root, False)
    return frozenset(free)


def counts(layers: Iterable[Layer], convention: str, n: int = 1,
           free: frozenset[str] = frozenset()) -> list[int]:
    """Each layer's count under ``convention`` for a batch of ``n``."""
    conv = CONVENTIONS[convention]
    return [conv.count(l, n, l.name not in free) for l in layers]
