"""Explaining one convention's number against another's, op type by op type (analytic, no
torch): for every layer type, each convention's count and the rule that makes them differ.
The rules are the docstrings of the ops' convention methods (``costmodel/ops/``), so the
explanation is the code that computes the count.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from costmodel.count.conventions import CONVENTIONS, Convention, get
from costmodel.count.profile import Profile
from costmodel.ops.base import Op

# Convention name -> the op method holding its rule (the others have one formula for all ops).
METHODS = {"thop": "thop", "ptflops": "ptflops", "ptflops-aten": "ptflops_aten",
           "torchinfo": "torchinfo", "calflops": "calflops", "calflops-macs": "calflops_macs",
           "torchprofile": "torchprofile", "training": "training"}


def rule_text(op: Op, convention: str) -> str:
    """The rule of ``convention`` for ``op``, in one paragraph."""
    conv = CONVENTIONS[convention]
    method = METHODS.get(convention)
    if method is not None:
        doc = inspect.getdoc(getattr(type(op), method)) or ""
        if doc:
            return " ".join(doc.replace("``", "").split())
    if convention in ("paper", "flop_counter"):
        per = "2 FLOPs" if convention == "flop_counter" else "1"
        return f"{per} per conv/linear multiply-accumulate, bias excluded"
    return conv.doc


@dataclass
class Row:
    type: str
    op: str
    layers: int = 0
    a: int = 0
    b: int = 0
    rule_a: str = ""
    rule_b: str = ""

    @property
    def delta(self) -> int:
        return self.a - self.b


@dataclass
class Explanation:
    model: str
    settings: dict
    batch: int
    a: Convention
    b: Convention
    total_a: int
    total_b: int
    rows: list[Row] = field(default_factory=list)

    @property
    def delta(self) -> int:
        return self.total_a - self.total_b

    def headline(self) -> str:
        pct = f" ({self.delta / self.total_b:+.2%})" if self.total_b else ""
        return (f"{self.a.name} counts {self.total_a:,}, {self.b.name} {self.total_b:,}: "
                f"{self.delta:+,}{pct}" + (f" for a batch of {self.batch}" if self.batch != 1 else ""))

    def to_dict(self) -> dict:
        def conv(c: Convention, total: int) -> dict:
            return {"name": c.name, "title": c.title, "doc": c.doc, "peer": c.peer or None,
                    "differs_from_paper": c.differs or None, "total": total}
        return {"model": self.model, "settings": dict(self.settings), "batch": self.batch,
                "a": conv(self.a, self.total_a), "b": conv(self.b, self.total_b),
                "delta": self.delta,
                "by_type": [{"type": r.type, "op": r.op, "num_layers": r.layers, "a": r.a, "b": r.b,
                             "delta": r.delta, "rule_a": r.rule_a, "rule_b": r.rule_b}
                            for r in self.rows]}


def explain(p: Profile, a: str, b: str = "paper", batch: int = 1) -> Explanation:
    """Convention ``a`` against ``b`` on profile ``p``, per layer type (differing types first,
    largest difference first)."""
    ca, cb = get(a), get(b)
    counts_a = p.layer_counts(ca.name, batch)
    counts_b = p.layer_counts(cb.name, batch)
    rows: dict[str, Row] = {}
    for layer, na, nb in zip(p.layers, counts_a, counts_b):
        r = rows.get(layer.type_key)
        if r is None:
            op = layer.opdef
            r = rows[layer.type_key] = Row(layer.type_key, layer.op, rule_a=rule_text(op, ca.name),
                                           rule_b=rule_text(op, cb.name))
        r.layers += 1
        r.a += na
        r.b += nb
    ordered = sorted(rows.values(), key=lambda r: (r.delta == 0, -abs(r.delta), -r.a, r.type))
    return Explanation(p.model, dict(p.settings), batch, ca, cb, sum(counts_a), sum(counts_b),
                       ordered)
