"""Measured latency for the speed tables: a set of (spec, settings) -> seconds per run, with the
machine, torch version, threads and batch it came from. Two ways to get one:

* :func:`measure`: run ``costmodel.latency.bench.measure`` on every configuration a set of
  tables needs (needs the `torch` extra; a progress bar with time left);
* :func:`load`: read a measurement file (JSON, what ``costmodel tables --measure`` writes as
  ``measurements.json``, or one written by hand)::

    {"format": 1, "kind": "measured",
     "machine": {"cpu": "AMD EPYC", "torch": "2.13.0+cpu", "threads": 1},
     "batch": 1, "repeat": 10, "warmup": 3,
     "measurements": [{"spec": "alexnet", "settings": {}, "time_s": 0.06}]}

A configuration is matched by spec name and its resolved settings (every setting, defaults
filled in): an entry may list only the settings that differ from the spec's defaults.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, \
    ValidationError

from costmodel.errors import SpecError

FORMAT = 1
MAX_BYTES = 10 * 2**20
Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr]


def key(spec: str, settings: dict) -> tuple:
    return (spec, tuple(sorted((k, repr(v)) for k, v in settings.items())))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Entry(_Strict):
    spec: StrictStr
    settings: dict[str, Scalar] = Field(default_factory=dict)
    time_s: float = Field(..., gt=0, lt=1e6)


class _Machine(_Strict):
    cpu: StrictStr = Field(..., min_length=1, max_length=500)
    torch: StrictStr = Field(..., min_length=1, max_length=100)
    threads: StrictInt = Field(..., ge=1, le=4096)
    cores: Optional[StrictInt] = None
    platform: Optional[StrictStr] = None


class _File(_Strict):
    format: StrictInt
    kind: StrictStr
    machine: _Machine
    batch: StrictInt = Field(1, ge=1, le=65536)
    repeat: Optional[StrictInt] = Field(None, ge=1)
    warmup: Optional[StrictInt] = Field(None, ge=0)
    measurements: list[_Entry]


@dataclass
class Measurements:
    machine: dict
    batch: int = 1
    repeat: int | None = None
    warmup: int | None = None
    source: str = "costmodel bench"
    times: dict[tuple, float] = field(default_factory=dict)
    order: list[tuple[str, dict]] = field(default_factory=list)
    pending: list[tuple[str, dict, float]] = field(default_factory=list)   # as read, unresolved

    def add(self, spec: str, settings: dict, seconds: float) -> None:
        """A measurement of ``spec`` at its resolved ``settings``."""
        k = key(spec, settings)
        if k not in self.times:
            self.order.append((spec, dict(settings)))
        self.times[k] = seconds

    def resolve(self, resolver) -> "Measurements":
        """Fill in the defaults of the entries read from a file (their spec's settings), so
        that they match the registry's configurations; an unknown spec or setting is an error
        naming the file."""
        for spec, settings, seconds in self.pending:
            try:
                full = resolver.spec(spec, self.source, None, f"measurement of {spec!r}").settings(settings)
            except SpecError as exc:
                raise SpecError(f"measurement of {spec!r}: {exc.message}", file=self.source) from None
            self.add(spec, full, seconds)
        self.pending = []
        return self

    def time_s(self, spec: str, settings: dict) -> float | None:
        """Seconds per run of ``spec`` at its resolved ``settings`` (a profile's)."""
        return self.times.get(key(spec, settings))

    def describe(self) -> str:  # noqa: D401
        m = self.machine
        runs = f"median of {self.repeat} runs after {self.warmup} warm-up" if self.repeat else \
            "median of repeated runs"
        return (f"MEASURED on {m['cpu']} with torch {m['torch']}, {m['threads']} thread(s), batch "
                f"{self.batch}, fp32, torch eager, {runs} ({os.path.basename(self.source)}); machine-dependent")

    def to_json(self) -> dict:
        return {"format": FORMAT, "kind": "measured", "machine": dict(self.machine),
                "batch": self.batch, "repeat": self.repeat, "warmup": self.warmup,
                "measurements": [{"spec": s, "settings": st, "time_s": self.times[key(s, st)]}
                                 for s, st in self.order]}


def load(path: "str | os.PathLike") -> Measurements:
    file = os.fspath(path)
    try:
        with open(file, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read the measurement file: {exc.strerror or exc}", file=file) from None
    if len(data) > MAX_BYTES:
        raise SpecError(f"the measurement file is larger than {MAX_BYTES // 2**20} MiB", file=file)
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise SpecError(f"not a JSON measurement file: {getattr(exc, 'msg', exc)}", file=file,
                        line=line) from None
    if isinstance(raw, dict) and isinstance(raw.get("format"), int) and raw["format"] > FORMAT:
        raise SpecError(f"measurement file format {raw['format']} is newer than this costmodel "
                        f"reads (format {FORMAT})", file=file)
    try:
        doc = _File.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"])) or "the file"
        raise SpecError(f"measurement file: field {where!r}: {err['msg'].lower()}", file=file) from None
    if doc.format != FORMAT or doc.kind != "measured":
        raise SpecError(f"not a measurement file (format {doc.format}, kind {doc.kind!r}; want "
                        f"format {FORMAT}, kind 'measured')", file=file)
    m = Measurements(doc.machine.model_dump(exclude_none=True), doc.batch, doc.repeat, doc.warmup,
                     source=file)
    for e in doc.measurements:
        if not math.isfinite(e.time_s):
            raise SpecError(f"measurement of {e.spec}: time_s must be finite", file=file)
        m.pending.append((e.spec, dict(e.settings), e.time_s))
    return m


def needed(tables: list, resolver) -> list[tuple[str, dict, Any]]:
    """(spec, resolved settings, profile) of every configuration the speed tables would
    measure, in table order."""
    out = []
    for t in tables:
        if t.kind not in ("speed", "guidelines"):
            continue
        for spec, settings, file, line, what in t.specs():
            p = resolver.profile(spec, settings, file, line, what)
            if p is not None:
                out.append((spec, dict(p.settings), p))
    return out


def measure(configs: list[tuple[str, dict, Any]], threads: int = 1, repeat: int = 10,
            warmup: int = 3, step=None) -> Measurements:
    """Measure every configuration once (torch eager, CPU, fp32, batch 1): the median of
    ``repeat`` timed runs after ``warmup``. ``step(spec, done, total)`` is called before each
    (a progress bar). Needs the `torch` extra."""
    from costmodel import extras
    extras.need("torch", "--measure")
    from costmodel.latency.bench import machine, measure as bench
    unique, seen = [], set()
    for c in configs:
        if key(c[0], c[1]) not in seen:
            seen.add(key(c[0], c[1]))
            unique.append(c)
    info = machine()
    out = Measurements({"cpu": info["cpu"], "torch": info["torch"], "threads": threads,
                        "cores": info.get("cores"), "platform": info.get("platform")},
                       1, repeat, warmup)
    for i, (spec, settings, p) in enumerate(unique):
        if step:
            step(spec, i, len(unique))
        m = bench(p, n_threads=threads, repeat=repeat, warmup=warmup, per_layer=False)
        out.add(spec, settings, m.totals["time_s"])
    if step:
        step("", len(unique), len(unique))
    return out
