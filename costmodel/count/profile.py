"""Loading a spec and profiling it: the analytic path (no torch, no fvcore)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from costmodel.spec import settings as settings_mod
from costmodel.count.conventions import CONVENTIONS, counts, gradient_free
from costmodel.count.dtypes import DTYPE_BYTES
from costmodel.errors import SpecError
from costmodel.graph.expand import Expander
from costmodel.graph.nodes import Layer, Seq, iter_layers
from costmodel.spec.messages import pydantic_part, validation_error
from costmodel.spec.extends import resolve_extends
from costmodel.spec.loader import read_spec_file
from costmodel.spec import zoo
from costmodel.spec.messages import nested_line
from costmodel.spec import validate
from costmodel.spec.validate import ValidationError

BYTES_PER_ELEMENT = 4  # fp32: the memory figures of totals() (the guarded baseline)
INT64_BYTES = 8


class Spec:
    """A parsed, validated spec, ready to be profiled under any settings."""

    def __init__(self, raw: Any, file: str):
        self.file = file
        if not isinstance(raw, dict):
            kind = "a list" if isinstance(raw, list) else f"a single value ({raw!r:.40})"
            raise SpecError(f"the top level must be a mapping with name, input and layers, got {kind}",
                            file=file, line=getattr(raw, "line", 1))
        try:
            self.model = validate.validate("SpecFile", dict(raw))
        except ValidationError as exc:
            errors = exc.errors()
            err = next((e for e in errors if e["type"] == "extra_forbidden"),
                       next((e for e in errors if e["type"] == "value_error"), errors[0]))
            loc = err["loc"]
            if err["type"] == "value_error":     # a validator's own sentence
                loc = tuple(p for p in loc if not pydantic_part(p))
                raise SpecError(f"{'.'.join(map(str, loc))}: "
                                f"{err['msg'].removeprefix('Value error, ')}",
                                file=file, line=nested_line(raw, loc)) from None
            if len(loc) <= 1:
                known = list(validate.fields("SpecFile"))
                e = validation_error(exc, "the spec header", raw, known)
                raise e.located(file=file) from None
            where = ".".join(map(str, loc))
            got = err.get("input")
            msg = {"extra_forbidden": f"unknown field {where!r}",
                   "missing": f"missing field {where!r}"}.get(
                err["type"], f"field {where!r}: {err['msg'].lower()} (got {got!r})")
            raise SpecError(msg, file=file, line=nested_line(raw, loc)) from None
        if not isinstance(raw.get("layers"), list):
            raise SpecError("'layers' must be a list", file=file, line=nested_line(raw, ("layers",)))
        self.raw = raw
        self.name = self.model.name
        self._prepared: dict = {}     # entries checked once, reused by every profile

    @classmethod
    def load(cls, source: "str | os.PathLike | Mapping | Spec") -> "Spec":
        if isinstance(source, Spec):
            return source
        if isinstance(source, Mapping):
            raw = source if isinstance(source, dict) else dict(source)
            return cls(resolve_extends(raw, "<dict>"), "<dict>")
        file = zoo.resolve(source)
        return cls(resolve_extends(read_spec_file(file), file), file)

    def settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            return settings_mod.resolve(self.model, overrides)
        except SpecError as exc:
            raise exc.located(file=self.file) from None

    def profile(self, **overrides: Any) -> "Profile":
        values = self.settings(overrides)
        exp = Expander(self.model, self.raw, self.file, values, self._prepared)
        root, shape, out = exp.run()
        return Profile(model=self.model.name, citation=self.model.citation, file=self.file,
                       settings=values, input_shape=shape, output_shape=out, root=root,
                       layers=list(iter_layers(root)), peak_activation_elements=exp.peak)


@dataclass
class TypeRow:
    type: str
    count: int
    mult_adds: int
    params: int
    weights: int
    flops: int = 0          # under the convention by_type() was asked for (batch included)


@dataclass
class Profile:
    """The analytic profile of one spec under one set of settings."""
    model: str
    citation: str
    file: str
    settings: dict[str, Any]
    input_shape: tuple
    output_shape: tuple
    root: Seq
    layers: list[Layer]
    peak_activation_elements: int

    @property
    def mult_adds(self) -> int:
        return sum(l.mult_adds for l in self.layers)

    @property
    def params(self) -> int:
        return sum(l.params for l in self.layers)

    @property
    def weights(self) -> int:
        return sum(l.weights for l in self.layers)

    @property
    def activations(self) -> int:
        return sum(l.activations for l in self.layers)

    @property
    def weight_bytes(self) -> int:
        return self.params * BYTES_PER_ELEMENT

    @property
    def peak_activation_bytes(self) -> int:
        return self.peak_activation_elements * BYTES_PER_ELEMENT

    @property
    def buffers(self) -> int:
        """state_dict buffer elements: batch-norm running statistics and counters."""
        return sum(l.buffers for l in self.layers)

    def memory(self, batch: int = 1, dtype: str = "fp32") -> dict[str, Any]:
        """Memory figures at a batch size and a dtype, in bytes. The model size is what
        ``state_dict`` holds: parameters and buffers at the dtype, int64 counters at 8 bytes."""
        if dtype not in DTYPE_BYTES:
            raise SpecError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}")
        if not isinstance(batch, int) or batch < 1:
            raise SpecError(f"batch must be a positive integer, got {batch!r}")
        b = DTYPE_BYTES[dtype]
        int64 = sum(l.int64_buffers for l in self.layers)
        return {"batch": batch, "dtype": dtype, "bytes_per_element": b,
                "params": self.params, "buffers": self.buffers,
                "params_bytes": self.params * b,
                "model_bytes": (self.params + self.buffers - int64) * b + int64 * INT64_BYTES,
                "activation_bytes": self.activations * batch * b,
                "peak_activation_bytes": self.peak_activation_elements * batch * b}

    def layer_counts(self, convention: str = "paper", batch: int = 1) -> list[int]:
        """Each layer's count under ``convention`` for a batch of ``batch`` (in layer order).
        An op without a rule for the convention raises NoRule (a SpecError)."""
        key = (convention, batch)
        cache = self.__dict__.setdefault("_counts", {})
        if key not in cache:
            free = self.gradient_free if convention == "training" else frozenset()
            cache[key] = counts(self.layers, convention, batch, free)
        return cache[key]

    @property
    def gradient_free(self) -> frozenset[str]:
        """Layers whose input needs no gradient in training (see conventions.gradient_free)."""
        if "_free" not in self.__dict__:
            self.__dict__["_free"] = gradient_free(self.root)
        return self.__dict__["_free"]

    def total(self, convention: str = "paper", batch: int = 1) -> int:
        return sum(self.layer_counts(convention, batch))

    def by_type(self, convention: str = "paper", batch: int = 1) -> list[TypeRow]:
        rows: dict[str, TypeRow] = {}
        flops = self.layer_counts(convention, batch)
        for i, l in enumerate(self.layers):
            r = rows.setdefault(l.type_key, TypeRow(l.type_key, 0, 0, 0, 0))
            r.count += 1
            r.mult_adds += l.mult_adds
            r.params += l.params
            r.weights += l.weights
            r.flops += flops[i]
        return sorted(rows.values(), key=lambda r: (-r.flops, -r.mult_adds, -r.params, r.type))

    def available(self) -> dict[str, str]:
        """Conventions with no rule for some op of this network: {name: why}."""
        from costmodel.ops.base import NoRule
        out = {}
        for name in CONVENTIONS:
            try:
                self.layer_counts(name)
            except NoRule as exc:
                out[name] = str(exc.message)
        return out

    def totals(self) -> dict[str, int]:
        """The headline numbers (per sample); every convention's total under its key
        (``flops_thop``...), except a convention with no rule for some op here (``available``)."""
        missing = self.available()
        return {"mult_adds": self.mult_adds, "params": self.params,
                "activations": self.activations, "weights": self.weights,
                "weight_bytes": self.weight_bytes,
                "peak_activation_bytes": self.peak_activation_bytes,
                **{c.key: self.total(name) for name, c in CONVENTIONS.items()
                   if name != "paper" and name not in missing}}

    def to_dict(self, convention: str = "paper", batch: int = 1,
                dtype: str = "fp32") -> dict[str, Any]:
        """The JSON document of ``profile --format json`` (schema: profile.schema.json).
        Counts are per sample (batch 1), as the papers give them; memory is at batch, dtype."""
        from costmodel.output.jsondoc import document
        conv = CONVENTIONS[convention]
        mem = self.memory(batch, dtype)
        totals = self.totals()
        mine = self.layer_counts(convention)
        missing = self.available()
        totals.update({"count": sum(mine), "count_at_batch": self.total(convention, batch),
                       "buffers": self.buffers,
                       "weight_bytes": mem["params_bytes"], "model_bytes": mem["model_bytes"],
                       "peak_activation_bytes": mem["peak_activation_bytes"]})
        return document({
            "model": self.model,
            "citation": self.citation,
            "file": self.file,
            "settings": dict(self.settings),
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "convention": convention,
            "count_title": conv.title,
            "conventions": {c.name: c.doc + (f" ({c.peer})" if c.peer else "")
                            for c in CONVENTIONS.values()},
            **({"conventions_without_rule": missing} if missing else {}),
            "memory": mem,
            "totals": totals,
            "by_type": self._type_dicts(mine),
            "layers": [layer_dict(l, c) for l, c in zip(self.layers, mine)],
        })


    def _type_dicts(self, mine: list[int]) -> list[dict[str, Any]]:
        per_type: dict[str, int] = {}
        for l, c in zip(self.layers, mine):
            per_type[l.type_key] = per_type.get(l.type_key, 0) + c
        return [{"type": r.type, "num_layers": r.count, "count": per_type[r.type],
                 "mult_adds": r.mult_adds, "params": r.params, "weights": r.weights}
                for r in self.by_type()]


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def layer_dict(l: Layer, count: int) -> dict[str, Any]:
    """One layer as JSON: its op and the op's resolved fields (kernel, stride, padding,
    groups, channels...), shapes and every count."""
    return {"name": l.name, "op": l.op, "type": l.type_key,
            "attrs": {k: _jsonable(v) for k, v in sorted(l.attrs.items())},
            "input_shape": list(l.input_shape), "output_shape": list(l.output_shape),
            "count": count, "mult_adds": l.mult_adds, "params": l.params,
            "buffers": l.buffers, "weights": l.weights, "activations": l.activations,
            "flops_fvcore": l.fvcore, "flops_flop_counter": 2 * l.mult_adds,
            "flops_full": l.full, "line": l.line}


def profile(source: "str | os.PathLike | Mapping | Spec", **settings: Any) -> Profile:
    """Profile a spec file (or an already-parsed dict) under the given settings."""
    return Spec.load(source).profile(**settings)
