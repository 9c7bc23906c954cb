"""What a sweep counts at every point: the six base totals and, with ``--convention NAME``
and ``--batch N``, that convention's total.

The base totals are those of ``costmodel profile --format json`` (``totals``): mult_adds,
params, weights, activations, flops_fvcore, flops_full. A convention adds its total per
sample under the key profile's JSON gives it (``flops_thop``, ``flops_ptflops_aten``,
``flops_training``...; nothing new for paper, fvcore and full, whose totals are base
columns), and a batch other than 1 adds ``count_at_batch``: the convention's count for the
whole batch, as ``profile --batch N``'s ``totals.count_at_batch`` (counted by the rule at
batch N, not multiplied: thop's adaptive pooling truncates the batch's product).

The counts come from the conventions' rules (each op's class, ``costmodel/ops/``), summed
over the layers, so the compiled tracer follows them as it follows the mult-adds: one op is
still one room.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from costmodel.count import conventions as conv_mod
from costmodel.graph.nodes import iter_layers

BASE = ("mult_adds", "params", "weights", "activations", "flops_fvcore", "flops_full")
LAYER_FIELD = {"mult_adds": "mult_adds", "params": "params", "weights": "weights",
               "activations": "activations", "flops_fvcore": "fvcore", "flops_full": "full"}
BATCH_KEY = "count_at_batch"


@dataclass(frozen=True)
class Measures:
    """The columns of one sweep: the base totals, and a convention at a batch."""
    convention: str = "paper"
    batch: int = 1

    @classmethod
    def of(cls, convention: str | None = None, batch: int = 1) -> "Measures":
        """Checked: a known convention (``-`` or ``_`` alike), a batch of at least 1."""
        from costmodel.errors import SpecError
        name = conv_mod.get(convention).name if convention else "paper"
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise SpecError(f"--batch must be a whole number of at least 1, got {batch!r}")
        return cls(name, batch)

    @property
    def key(self) -> str:
        """The convention's column: its profile JSON totals key."""
        return conv_mod.CONVENTIONS[self.convention].key

    @property
    def extra(self) -> tuple[str, ...]:
        cols = [] if self.key in BASE else [self.key]
        if self.batch != 1:
            cols.append(BATCH_KEY)
        return tuple(cols)

    @property
    def names(self) -> tuple[str, ...]:
        return BASE + self.extra

    def describe(self) -> dict[str, str]:
        """{column: what it counts} for the extra columns."""
        c = conv_mod.CONVENTIONS[self.convention]
        what = c.doc + (f" ({c.peer})" if c.peer else "")
        out = {}
        if self.key not in BASE:
            out[self.key] = what + ", per sample"
        if self.batch != 1:
            out[BATCH_KEY] = f"{c.title} for the batch of {self.batch}: {what}"
        return out

    def of_tree(self, root) -> dict[str, Any]:
        """The totals over the layers of a graph (plain or traced numbers alike)."""
        layers = list(iter_layers(root))
        out: dict[str, Any] = {}
        for m in BASE:
            total: Any = 0
            for layer in layers:
                total = total + getattr(layer, LAYER_FIELD[m])
            out[m] = total
        if self.extra:
            conv = conv_mod.CONVENTIONS[self.convention]
            free = conv_mod.gradient_free(root) if self.convention == "training" else frozenset()
            batches = ([1] if self.key not in BASE else []) + ([self.batch] if self.batch != 1 else [])
            for name, n in zip(self.extra, batches):
                total = 0
                for layer in layers:
                    total = total + conv.count(layer, n, layer.name not in free)
                out[name] = total
        return out

    def of_profile(self, p) -> dict[str, int]:
        """The same totals from a profile (the expansion path)."""
        out = {"mult_adds": p.mult_adds, "params": p.params, "weights": p.weights,
               "activations": p.activations, "flops_fvcore": p.total("fvcore"),
               "flops_full": p.total("full")}
        if self.key not in BASE:
            out[self.key] = p.total(self.convention)
        if self.batch != 1:
            out[BATCH_KEY] = p.total(self.convention, self.batch)
        return out


DEFAULT = Measures()
