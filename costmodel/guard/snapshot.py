"""Snapshots: the counts of every variant of every spec in a folder, analytically (no torch).

A layer's *record* is ``name|op|input|output|attrs|mult_adds|params``: its dotted name, op,
input and output shapes (``32x112x112``; a merge lists every branch joined by ``+``), its
structural attributes (``kernel=3x3,stride=2x2,groups=1,...``: every attribute that is an
integer, a pair, a flag or a choice; floats such as batch-norm ``eps`` or dropout ``p`` are
hyper-parameters that change no count and are left out) and its two headline counts. Its
*hash* (6 hex digits) covers the record and the layer's other counts (weights, activations,
fvcore and full FLOPs); the variant's *digest* (16 hex digits) covers every layer in order.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from costmodel import __version__
from costmodel.errors import SpecError
from costmodel.graph.nodes import Layer
from costmodel.count.profile import Profile, Spec
from costmodel.guard.baseline import (FORMAT_VERSION, HASH_DIGITS, Baseline, DefaultEntry, SpecEntry,
                                      VariantEntry)
from costmodel.spec.variants import spec_variants

SPEC_SUFFIXES = (".yaml", ".yml")
# Profile.totals() entries that are a fixed multiple of another one: not guarded twice.
DERIVED = {"weight_bytes", "flops_flop_counter", "flops_calflops_macs"}  # calflops-macs = mult_adds


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "x".join(_value(x) for x in v)
    return "none" if v is None else str(v)


def shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def attrs_text(attrs: dict) -> str:
    """The structural attributes, sorted: ``groups=1,kernel=3x3,stride=2x2``."""
    parts = []
    for k in sorted(attrs):
        v = attrs[k]
        if isinstance(v, float) or (isinstance(v, (tuple, list)) and any(isinstance(x, float) for x in v)):
            continue
        parts.append(f"{k}={_value(v)}")
    return ",".join(parts)


@dataclass(frozen=True)
class Record:
    """One layer as the baseline stores it."""
    name: str
    op: str
    input: str
    output: str
    attrs: str
    mult_adds: int
    params: int

    def text(self) -> str:
        return "|".join([self.name, self.op, self.input, self.output, self.attrs,
                         str(self.mult_adds), str(self.params)])

    @classmethod
    def parse(cls, text: str) -> "Record":
        name, op, inp, out, attrs, macs, params = text.split("|")
        return cls(name, op, inp, out, attrs, int(macs), int(params))

    def attr_map(self) -> dict[str, str]:
        return dict(p.split("=", 1) for p in self.attrs.split(",") if "=" in p) if self.attrs else {}


def record(layer: Layer) -> Record:
    inp = "+".join(shape_text(s) for s in layer.input_shapes) if layer.input_shapes \
        else shape_text(layer.input_shape)
    return Record(layer.name, layer.op, inp, shape_text(layer.output_shape),
                  attrs_text(layer.attrs), layer.mult_adds, layer.params)


def _hash(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits]


def layer_hash(layer: Layer, rec: Record) -> str:
    extra = f"|{layer.weights}|{layer.activations}|{layer.fvcore}|{layer.full}"
    return _hash(rec.text() + extra, HASH_DIGITS)


def totals(p: Profile) -> dict[str, int]:
    return {k: int(v) for k, v in p.totals().items() if k not in DERIVED}


def variant_entry(p: Profile) -> VariantEntry:
    recs = [record(l) for l in p.layers]
    hashes = [layer_hash(l, r) for l, r in zip(p.layers, recs)]
    digest = _hash("\n".join(hashes), 16)
    return VariantEntry(settings=dict(p.settings), totals=totals(p), digest=digest,
                        layer_hashes="".join(hashes), layers=[r.text() for r in recs])


def spec_entry(spec: Spec) -> SpecEntry:
    """Every variant of one spec, the defaults first."""
    variants: dict[str, VariantEntry] = {}
    for key, settings in spec_variants(spec):
        try:
            p = spec.profile(**settings)
        except SpecError as exc:
            exc.message = f"variant {key}: {exc.message}"
            raise exc.located(file=spec.file) from None
        variants[key] = variant_entry(p)
    default = next(iter(variants))       # spec_variants lists the defaults first
    d = variants[default]
    return SpecEntry(model=spec.name, default_variant=default,
                     default=DefaultEntry(settings=d.settings, totals=d.totals, digest=d.digest),
                     variants=variants)


SKIP_DIRS = {"__pycache__"}


def spec_files(folder: "str | os.PathLike", recursive: bool = True) -> list[Path]:
    """The spec files of a folder and, unless ``recursive`` is false, of its subfolders
    (hidden folders and ``__pycache__`` skipped), sorted by relative path."""
    path = Path(folder)
    if not path.exists():
        raise SpecError("no such folder", file=str(path))
    if not path.is_dir():
        raise SpecError("not a folder of specs (give the folder that holds the *.yaml files)",
                        file=str(path))
    found = []
    for p in (path.rglob("*") if recursive else path.iterdir()):
        rel = p.relative_to(path)
        if any(part.startswith(".") or part in SKIP_DIRS for part in rel.parts[:-1]):
            continue
        if p.suffix in SPEC_SUFFIXES and p.is_file():
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(path).as_posix())


def spec_key(folder: "str | os.PathLike", file: Path) -> str:
    """A spec's key in the baseline: its path relative to the folder, with '/' separators."""
    return file.relative_to(Path(folder)).as_posix()


def snapshot_specs(folder: "str | os.PathLike", recursive: bool = True) -> Baseline:
    """The counts of every variant of every spec in ``folder``, keyed by relative path. Every
    spec that fails to load is listed (one per line) in a single SpecError, not just the first."""
    specs: dict[str, SpecEntry] = {}
    failures: list[str] = []
    for p in spec_files(folder, recursive):
        try:
            specs[spec_key(folder, p)] = spec_entry(Spec.load(p))
        except SpecError as exc:
            failures.append(str(exc.located(file=str(p))))
    if failures:
        n = len(failures)
        raise SpecError(f"{n} spec{'s' if n != 1 else ''} failed to load:\n  " + "\n  ".join(failures),
                        file=str(folder))
    return Baseline(format_version=FORMAT_VERSION, tool="costmodel", tool_version=__version__,
                    specs=specs)
