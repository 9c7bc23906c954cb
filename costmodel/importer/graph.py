"""The importers' common graph: nodes in execution (topological) order, each one op of the
spec language (or ``unknown``), with its fields, its input nodes and its output shape."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from costmodel.errors import SpecError

MAX_NODES = 100_000


@dataclass
class GNode:
    name: str                  # spec name (letters, digits, '_'), unique in the graph
    op: str                    # a spec op, or: input, add, concat, split, item, unknown
    inputs: list[str]
    shape: tuple               # output shape without the batch (for split: its input's)
    fields: dict[str, Any] = field(default_factory=dict)
    source: str = ""           # where it came from: module name / ONNX node, for messages
    index: int = 0             # item: which part of a split
    label: str = ""            # unknown: the source op (aten op, ONNX op type)


class Graph:
    def __init__(self, input_shape: tuple):
        self.input_shape = tuple(input_shape)
        self.nodes: dict[str, GNode] = {}
        self.output: str | None = None
        self.names: set[str] = set()
        self.add(GNode("input", "input", [], self.input_shape))

    def unique(self, text: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "layer"
        if base[0].isdigit():
            base = "n" + base
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def add(self, node: GNode) -> GNode:
        if len(self.nodes) >= MAX_NODES:
            raise SpecError(f"the graph has more than {MAX_NODES:,} nodes; refusing to import it")
        self.names.add(node.name)
        self.nodes[node.name] = node
        return node

    def users(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n in self.nodes.values():
            for i in n.inputs:
                out[i].append(n.name)
        return out

    def unknown(self) -> list[GNode]:
        return [n for n in self.nodes.values() if n.op == "unknown"]
