"""From the layer graph to a real ``torch.nn.Module`` whose submodule names are the graph's
dotted layer names, so that fvcore's ``by_module()`` and FlopCounterMode attribute every
aten op to the layer that owns it.

* a :class:`~costmodel.graph.nodes.Seq` becomes a :class:`SeqModule` running its children in order;
* a :class:`~costmodel.graph.nodes.Parallel` becomes a :class:`ParallelModule` with an optional
  ``split`` child, one child per path (named by the path name) and the merge child
  (``add`` or ``concat``), in that order;
* a :class:`~costmodel.graph.nodes.Layer` becomes ``op.build(attrs, input_shape)``.

The containers hold no attributes of their own besides their children, so any name the
spec language accepts is usable unless ``torch.nn.Module`` already defines it (``forward``,
``training``, ``eval``...): such a name is refused with a SpecError naming the layer.
"""
from __future__ import annotations

import torch
from torch import nn

from costmodel.errors import SpecError
from costmodel.graph.nodes import Layer, Node, Seq


class SeqModule(nn.Module):
    """Children in order; an empty sequence is the identity (a residual's shortcut)."""

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ParallelModule(nn.Module):
    """[split], one child per path, then the merge. The split child, when present, is named
    ``split`` (the graph forbids that name for a path) and comes first; the merge is last."""

    def forward(self, x):
        mods = list(self._modules.items())
        merge = mods[-1][1]
        if mods[0][0] == "split":
            parts = mods[0][1](x)
            paths = [m for _, m in mods[1:-1]]
            outs = [path(part) for path, part in zip(paths, parts)]
        else:
            outs = [m(x) for _, m in mods[:-1]]
        return merge(*outs)


class Network(SeqModule):
    """The root of a built spec (a sequence). Its class name prefixes FlopCounterMode's
    module names: ``Network.features.0.dw``."""


def _attach(parent: nn.Module, node_name: str, local: str, child: nn.Module) -> None:
    if hasattr(parent, local) and local not in parent._modules:
        raise SpecError(f"the name {local!r} cannot name a torch module (torch.nn.Module already "
                        f"has an attribute {local!r}); rename the layer", layer=node_name)
    parent.add_module(local, child)


def _layer(layer: Layer) -> nn.Module:
    module = layer.opdef.build(layer.attrs, layer.input_shape)
    if not isinstance(module, nn.Module):  # pragma: no cover - an op's build is wrong
        raise TypeError(f"op {layer.op!r} built {type(module).__name__}, not a torch module")
    return module


def build_node(node: Node) -> nn.Module:
    """The module of one node of the graph (recursively)."""
    if isinstance(node, Layer):
        return _layer(node)
    if isinstance(node, Seq):
        module = SeqModule()
        for child in node.children:
            _attach(module, child.name, child.local_name, build_node(child))
        return module
    module = ParallelModule()
    if node.split is not None:
        _attach(module, node.split.name, "split", _layer(node.split))
    for pname, path in node.paths:
        _attach(module, path.name, pname, build_node(path))
    _attach(module, node.merge.name, node.merge.local_name, _layer(node.merge))
    return module


def build(root: Seq) -> Network:
    """The whole network for the graph ``root`` (``Profile.root``), in eval mode."""
    net = Network()
    for child in root.children:
        _attach(net, child.name, child.local_name, build_node(child))
    return net.eval()


def example_input(input_shape: tuple, batch: int = 1) -> torch.Tensor:
    """A deterministic input of the spec's shape (batch first)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn((batch, *input_shape), generator=g)
