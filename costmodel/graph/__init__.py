"""The layer graph: node types (:mod:`.nodes`), field values (:mod:`.values`) and the expansion
of a validated spec into a tree of layers with shapes and counts (:mod:`.expand`)."""
from costmodel.graph.nodes import Layer, Node, Parallel, Seq, iter_layers

__all__ = ["Layer", "Node", "Parallel", "Seq", "iter_layers"]
