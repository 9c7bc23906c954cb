"""From the importers' graph to spec entries: a chain of ops is a list of entries, a fork
that meets again at an add is a ``residual`` (or a ``parallel`` with ``merge: add``), at a
concat a ``parallel`` with ``merge: concat``; a channel split feeding the branches is the
parallel's ``split``. Graphs that are not series-parallel this way are refused (SpecError)."""
from __future__ import annotations

from typing import Any

from costmodel.errors import SpecError
from costmodel.importer.graph import GNode, Graph


class Structurer:
    def __init__(self, g: Graph, allow_unknown: bool):
        self.g = g
        self.users = g.users()
        self.order = {n: i for i, n in enumerate(g.nodes)}
        self.allow_unknown = allow_unknown
        self._anc: dict[str, frozenset] = {}

    def ancestors(self, name: str) -> frozenset:
        """``name`` and every node it depends on."""
        hit = self._anc.get(name)
        if hit is None:
            out = {name}
            for n in self.g.nodes:       # topological order: inputs are done before
                if n == name:
                    break
            stack = [name]
            while stack:
                cur = stack.pop()
                for i in self.g.nodes[cur].inputs:
                    if i not in out:
                        out.add(i)
                        stack.append(i)
            hit = self._anc[name] = frozenset(out)
        return hit

    def entries(self) -> list:
        return self.chain("input", self.g.output)

    def _merge_of(self, start: str, end: str, branches: list[str]) -> str:
        """The first node (in order) at which every branch from ``start`` meets: the
        nearest common descendant that every path to ``end`` passes through."""
        for name in self.g.nodes:
            if self.order[name] <= self.order[start] or name not in self.ancestors(end):
                continue
            node = self.g.nodes[name]
            if node.op in ("add", "concat") and all(
                    b == name or any(b in self.ancestors(i) for i in node.inputs)
                    for b in branches):
                return name
        raise SpecError(f"the graph forks after {self.g.nodes[start].source or start} and does "
                        "not meet again at an add or a concat: not expressible as a spec")

    def chain(self, start: str, end: str) -> list:
        out: list = []
        cur = start
        end_anc = self.ancestors(end)
        while cur != end:
            nxt = [u for u in self.users[cur] if u in end_anc]
            if not nxt:
                raise SpecError(f"no path from {start} to {end} in the graph")
            if len(nxt) == 1 and self.g.nodes[nxt[0]].op not in ("split", "add", "concat"):
                node = self.g.nodes[nxt[0]]
                out.append(self.op_entry(node))
                cur = node.name
                continue
            if len(nxt) == 1 and self.g.nodes[nxt[0]].op == "split":
                split = self.g.nodes[nxt[0]]
                items = sorted((u for u in self.users[split.name] if u in end_anc),
                               key=lambda u: self.g.nodes[u].index)
                merge = self._merge_of(split.name, end, items)
                out.append(self.branches(merge, items, split))
                cur = merge
                continue
            if len(nxt) == 1:     # an add/concat reached from one side only
                node = self.g.nodes[nxt[0]]
                if all(i == cur for i in node.inputs):
                    out.append(self.branches(node.name, [cur], None))
                    cur = node.name
                    continue
                raise SpecError(f"{node.source or node.name} merges tensors that do not fork from "
                                "one point: not expressible as a spec")
            merge = self._merge_of(cur, end, nxt)
            out.append(self.branches(merge, [cur], None))
            cur = merge
        return out

    def branches(self, merge: str, starts: list[str], split: GNode | None) -> dict:
        node = self.g.nodes[merge]
        paths: list[list] = []
        for i, inp in enumerate(node.inputs):
            if split is not None:
                src = [s for s in starts if s in self.ancestors(inp)]
                if len(src) != 1 or starts.index(src[0]) != i:
                    raise SpecError(f"{node.source or merge}: the split's parts do not reach the "
                                    "concat in order: not expressible as a spec")
                paths.append(self.chain(src[0], inp))
            else:
                paths.append(self.chain(starts[0], inp))
        if split is not None:
            sizes = split.fields["sizes"]
            if len(paths) != len(sizes):
                raise SpecError(f"{split.source}: {len(sizes)} parts for {len(paths)} branches")
            equal = len(set(sizes)) == 1
            return {"parallel": paths, "merge": node.op, "split": len(sizes) if equal else sizes,
                    "name": node.name}
        if node.op == "add" and len(paths) == 2 and (not paths[1] or paths[0]):
            return {"residual": paths[0], "shortcut": paths[1], "name": node.name}
        if node.op == "add" and len(paths) == 2:
            return {"residual": paths[1], "shortcut": paths[0], "name": node.name}
        return {"parallel": paths, "merge": node.op, "name": node.name}

    def op_entry(self, node: GNode) -> Any:
        if node.op == "unknown":      # only with allow_unknown: a named zero-cost placeholder
            shape = dict(zip(("channels", "height", "width"), node.shape))
            return {"op": "unknown", "name": node.name, **shape}
        from costmodel.ops import OPS
        declared = OPS[node.op].fields
        fields = {k: v for k, v in node.fields.items()      # the defaults are left out
                  if k not in declared or declared[k].default != v}
        return {"op": node.op, "name": node.name, **fields}


def to_spec(g: Graph, name: str, citation: str, allow_unknown: bool = False) -> dict:
    """The spec (a plain dict, ready for YAML) of an imported graph."""
    unknown = g.unknown()
    if unknown and not allow_unknown:
        listed = "; ".join(f"{n.label} at {n.source}" for n in unknown[:10])
        more = f" (and {len(unknown) - 10} more)" if len(unknown) > 10 else ""
        raise SpecError(f"{len(unknown)} op(s) the spec language cannot express: {listed}{more}; "
                        "--allow-unknown keeps them as named zero-cost placeholders")
    if g.output is None:
        raise SpecError("the graph has no output")
    layers = Structurer(g, allow_unknown).entries()
    return {"name": name, "citation": citation, "input": list(g.input_shape), "layers": layers}
