"""The baseline file of ``costmodel lock``: its format, validated with pydantic, and its I/O.

Layout (format version 2)::

    {
     "format_version": 1, "tool": "costmodel", "tool_version": "0.1.0",
     "specs": {
      "mobilenet_v1.yaml": {                      # path relative to the specs folder
       "model": "mobilenet_v1",
       "default_variant": "resolution=224,width=1.0",
       "default": {"settings": {...}, "totals": {...}, "digest": "..."},   # the defaults, as such
       "variants": {
        "resolution=128,width=0.25": {
         "settings": {...},                       # every resolved setting
         "totals": {"mult_adds": ..., "params": ..., ...},
         "digest": "16 hex digits",               # over every layer's record and counts
         "layer_hashes": "6 hex digits per layer, concatenated",
         "layers": ["name|op|in|out|attrs|mult_adds|params", ...]   # default variant only
        }, ...}}}}

The ``default`` entry guards the spec's default configuration *as the default*: a default
that moves to another point of the grid (``resolution: 224`` -> ``192``) leaves every variant
as it was, yet changes what ``costmodel profile`` prints; ``check`` compares the defaults'
settings and counts on their own.

Size stays bounded: the readable per-layer records are kept for the default variant of each
spec; every other variant keeps 6 bytes per layer (a short hash), enough to find the first
layer that differs. Output is deterministic: sorted keys, one-space indent, no timestamps, a final
newline; the file is written atomically (a temporary file in the same folder, then
``os.replace``).
"""
from __future__ import annotations

import json
import os
import re
from typing import Annotated, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt,
                      ValidationError, model_validator)

from costmodel.errors import SpecError, excerpt
from costmodel.spec.loader import read_bounded

FORMAT_VERSION = 2      # 2: the defaults' own entry
MAX_BASELINE_BYTES = 64_000_000
HASH_DIGITS = 6
MAX_COUNT = 2 ** 63       # a count beyond this is a hand-edit, not a network
_RECORD_RE = re.compile(r"^[^|]+\|[^|]+\|[^|]*\|[^|]*\|[^|]*\|[0-9]+\|[0-9]+$")

Scalar = Union[StrictBool, StrictInt, StrictFloat, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VariantEntry(_Strict):
    """One variant (a setting combination) of one spec."""
    settings: dict[str, Scalar]
    totals: dict[str, Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]]
    digest: str = Field(pattern=r"^[0-9a-f]{16}$")
    layer_hashes: str = Field(pattern=rf"^([0-9a-f]{{{HASH_DIGITS}}})*$")
    layers: Optional[list[str]] = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.layers is not None:
            n = len(self.hashes)
            if len(self.layers) != n:
                raise ValueError(f"{len(self.layers)} layer records for {n} layer hashes")
            for rec in self.layers:
                if not _RECORD_RE.match(rec):
                    raise ValueError(f"malformed layer record {rec!r} "
                                     "(expected name|op|input|output|attrs|mult_adds|params)")
        return self

    @property
    def hashes(self) -> list[str]:
        h = self.layer_hashes
        return [h[i:i + HASH_DIGITS] for i in range(0, len(h), HASH_DIGITS)]


class DefaultEntry(_Strict):
    """The spec's default configuration (no ``--set``): every resolved setting and its counts.
    Its per-layer records are those of the variant ``default_variant``."""
    settings: dict[str, Scalar]
    totals: dict[str, Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]]
    digest: str = Field(pattern=r"^[0-9a-f]{16}$")


class SpecEntry(_Strict):
    """Every guarded variant of one spec file, and its defaults."""
    model: str
    default_variant: str
    default: DefaultEntry
    variants: dict[str, VariantEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_default(self):
        if self.default_variant not in self.variants:
            raise ValueError(f"default_variant {self.default_variant!r} is not among the variants")
        v = self.variants[self.default_variant]
        if v.digest != self.default.digest or v.totals != self.default.totals:
            raise ValueError(f"the default entry disagrees with variant {self.default_variant!r}")
        return self


class Baseline(_Strict):
    """A snapshot of the counts of every spec of a folder."""
    format_version: StrictInt = Field(ge=1)
    tool: Literal["costmodel"]
    tool_version: str
    specs: dict[str, SpecEntry]


# --- writing -------------------------------------------------------------------------------
def stored(baseline: Baseline) -> Baseline:
    """The baseline as it is written: per-layer records for the default variants only."""
    specs = {}
    for file, entry in baseline.specs.items():
        variants = {key: v if key == entry.default_variant else v.model_copy(update={"layers": None})
                    for key, v in entry.variants.items()}
        specs[file] = entry.model_copy(update={"variants": variants})
    return baseline.model_copy(update={"specs": specs})


def dumps(baseline: Baseline) -> str:
    """The deterministic text of a baseline (same input, same bytes)."""
    data = stored(baseline).model_dump(exclude_none=True)
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


# --- reading -------------------------------------------------------------------------------
def _where(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "the top level"


def parse(text: str, file: str) -> Baseline:
    """Parse and validate a baseline's text; every problem is a SpecError (exit 2), never
    a diff against an empty or garbled baseline."""
    redo = "re-create it with `costmodel lock`"
    if not text.strip():
        raise SpecError(f"the baseline is empty; {redo}", file=file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"the baseline is not valid JSON (truncated or hand-edited?): {exc.msg} "
                        f"(column {exc.colno}); {redo}", file=file, line=exc.lineno) from None
    except RecursionError:
        raise SpecError(f"the baseline nests too deeply; {redo}", file=file) from None
    except ValueError as exc:       # an integer of more than 4,300 digits, for one
        raise SpecError(f"the baseline has a value this costmodel cannot read "
                        f"({excerpt(str(exc))}); {redo}", file=file) from None
    if not isinstance(data, dict) or "format_version" not in data:
        raise SpecError(f"not a costmodel baseline (no format_version); {redo}", file=file)
    version = data["format_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version < FORMAT_VERSION:
        raise SpecError(f"the baseline has format version {version}, written by an older "
                        f"costmodel ({data.get('tool_version', '?')}); this costmodel reads format "
                        f"{FORMAT_VERSION} (which also guards each spec's defaults as such): "
                        f"re-create it with `costmodel lock` and commit it", file=file)
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise SpecError(f"the baseline has format version {version}, written by a newer costmodel "
                        f"({data.get('tool_version', '?')}); this costmodel reads format "
                        f"{FORMAT_VERSION}: upgrade costmodel, or re-lock with this one",
                        file=file)
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        got = err.get("input")
        shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
        if len(shown) > 60:
            shown = shown[:57] + "..."
        msg = err["msg"]
        msg = msg[0].lower() + msg[1:] if msg else msg
        raise SpecError(f"invalid baseline (hand-edited?): at {_where(err['loc'])}: {msg} "
                        f"(got {shown}); {redo}", file=file) from None


def read(path: "str | os.PathLike") -> Baseline:
    """Read a baseline file; a missing, unreadable, truncated or invalid one is a SpecError."""
    file = os.fspath(path)
    if not os.path.lexists(file):
        raise SpecError("no baseline here; create it with `costmodel lock` (and commit it)",
                        file=file)
    raw = read_bounded(file, MAX_BASELINE_BYTES, "a baseline")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}): is this a baseline file?",
                        file=file) from None
    return parse(text, file)
