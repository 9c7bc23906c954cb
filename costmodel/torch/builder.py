"""From the layer graph to a real ``torch.nn.Module`` whose submodule names are the graph's
dotted layer names, so that fvcore's ``by_module()`` and FlopCounterMode attribute every
aten op to the layer that owns it, and a spec that names its layers as another model does
(``flat`` entries) loads that model's ``state_dict``.

Names and execution are kept apart:

* every :class:`~costmodel.graph.nodes.Layer` becomes ``op.build(attrs, input_shape)``, placed
  at its dotted name in a tree of :class:`Namespace` modules (plain containers, never called);
* the forward pass runs the graph: a :class:`~costmodel.graph.nodes.Seq` runs its children in
  order, a :class:`~costmodel.graph.nodes.Parallel` its optional split, each path and its merge.

So the module tree follows the names, whatever the graph's nesting (a flat residual's layers
sit next to each other, as in torchvision's ``Bottleneck``). The containers hold no attributes
of their own besides their children, so any name the spec language accepts is usable unless
``torch.nn.Module`` already defines it (``forward``, ``training``, ``eval``...): such a name is
refused with a SpecError naming the layer.
"""
from __future__ import annotations

import torch
from torch import nn

from costmodel.errors import SpecError
from costmodel.graph.nodes import Layer, Node, Seq, iter_layers


class Namespace(nn.Module):
    """A level of names: holds submodules, computes nothing (the network runs the graph)."""

    def forward(self, *args):  # pragma: no cover - never called
        raise RuntimeError("a costmodel Namespace holds modules and is not called")


def _attach(parent: nn.Module, node_name: str, local: str, child: nn.Module) -> None:
    if hasattr(parent, local) and local not in parent._modules:
        raise SpecError(f"the name {local!r} cannot name a torch module (torch.nn.Module already "
                        f"has an attribute {local!r}); rename the layer", layer=node_name)
    if local in parent._modules:
        raise SpecError(f"two layers are named {node_name!r}", layer=node_name)
    parent.add_module(local, child)


def _layer(layer: Layer) -> nn.Module:
    module = layer.opdef.build(layer.attrs, layer.input_shape)
    if not isinstance(module, nn.Module):  # pragma: no cover - an op's build is wrong
        raise TypeError(f"op {layer.op!r} built {type(module).__name__}, not a torch module")
    return module


def _place(root: nn.Module, layer: Layer) -> nn.Module:
    """Build a layer's module and put it at its dotted name under ``root``."""
    *levels, local = layer.name.split(".")
    parent = root
    for depth, level in enumerate(levels):
        child = parent._modules.get(level)
        if child is None:
            child = Namespace()
            _attach(parent, ".".join(levels[:depth + 1]), level, child)
        elif not isinstance(child, Namespace):
            raise SpecError(f"layer {'.'.join(levels[:depth + 1])!r} is also the name level of "
                            f"layer {layer.name!r}", layer=layer.name)
        parent = child
    module = _layer(layer)
    _attach(parent, layer.name, local, module)
    return module


def _plan(node: Node) -> tuple:
    """The forward pass of a node as data: ("layer", name), ("seq", steps) or
    ("parallel", split name or None, paths, merge name)."""
    if isinstance(node, Layer):
        return ("layer", node.name)
    if isinstance(node, Seq):
        return ("seq", tuple(_plan(c) for c in node.children))
    return ("parallel", None if node.split is None else node.split.name,
            tuple(_plan(path) for _, path in node.paths), node.merge.name)


class Network(nn.Module):
    """The root of a built spec. Its class name prefixes FlopCounterMode's module names:
    ``Network.features.0.dw``. The plan and the name -> module table are plain data (copied
    along with the modules by ``copy.deepcopy``)."""

    def __init__(self, root: Seq):
        super().__init__()
        table = {layer.name: _place(self, layer) for layer in iter_layers(root)}
        self.__dict__["_costmodel_plan"] = _plan(root)
        self.__dict__["_costmodel_layers"] = table

    def _run(self, step: tuple, x):
        kind = step[0]
        if kind == "layer":
            return self.__dict__["_costmodel_layers"][step[1]](x)
        if kind == "seq":
            for s in step[1]:
                x = self._run(s, x)
            return x
        _, split, paths, merge = step
        layers = self.__dict__["_costmodel_layers"]
        parts = layers[split](x) if split is not None else [x] * len(paths)
        return layers[merge](*[self._run(p, part) for p, part in zip(paths, parts)])

    def forward(self, x):
        return self._run(self.__dict__["_costmodel_plan"], x)


# From this many parameters on, build(init=False) is the faster (see build).
NO_INIT_PARAMS = 10_000_000


def build(root: Seq, init: bool = True) -> Network:
    """The whole network for the graph ``root`` (``Profile.root``), in eval mode.

    ``init=False``: every parameter and buffer is zero instead of torch's initialisation (the
    modules are made on the meta device, then given zeroed memory). The same modules, names,
    shapes and parameter counts; faster for large networks (measured here: VGG-16 0.19 s
    instead of 1.16 s, ResNet-50 0.09 s instead of 0.19 s), slower for small ones, where the
    meta device's overhead exceeds what skipping the initialisation saves (MobileNetV3-Large
    0.097 s instead of 0.071 s). ``verify`` uses it for networks over ``NO_INIT_PARAMS``
    parameters, since no count depends on a value. Not for measuring latency or loading
    weights onto (use the default)."""
    if init:
        return Network(root).eval()
    with torch.device("meta"):
        net = Network(root)
    net.to_empty(device="cpu")
    with torch.no_grad():
        for t in (*net.parameters(), *net.buffers()):
            t.zero_()
    return net.eval()


def example_input(input_shape: tuple, batch: int = 1) -> torch.Tensor:
    """A deterministic input of the spec's shape (batch first)."""
    g = torch.Generator().manual_seed(0)
    return torch.randn((batch, *input_shape), generator=g)
