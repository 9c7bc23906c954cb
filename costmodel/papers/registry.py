"""The registry of reported results: what the papers printed, one entry per published row.

``registry/*.yaml`` (next to ``specs/``) holds one file per paper::

    paper: mobilenet_v1
    citation: Howard et al. 2017, ...
    tables:
      table6:
        title: "MobileNet v1, Table 6: width multiplier"
        source: paper Table 6, seed_tables.yaml ...
        accuracy: [top1]                       # the accuracy columns the paper prints
        mult_adds: {unit: M, label: Mult-Adds}
        params: {unit: M, label: Params, count: weights}   # weights | params
        rows:
          - {model: "1.0 MobileNet-224", spec: mobilenet_v1, settings: {width: 1.0},
             top1: 70.6, mult_adds: 569, params: 4.2}

Conventions. Reported numbers are as printed, in the table's unit (``K``, ``M``, ``B``), and
their printed decimals are their rounding. Accuracy is *reported*, never measured: ``top1``
and ``top5`` (ImageNet, %), ``err`` (ImageNet top-1 error, %), ``acc`` (CIFAR-10, %).
``spec: null`` marks a network that has no spec by design (a pruned ResNet-50): its computed
cells stay blank. ``note`` explains a gap between the printed and the computed cost; it is
shown as a footnote wherever the gap exceeds the printed rounding.

Table kinds: ``results`` (the default: accuracy and cost per model), ``layers`` (a paper's
per-layer body table, matched one to one against the spec's conv, pool and linear layers),
``types`` (cost shares per layer type, MobileNet's Table 2) and ``stages`` (a body table whose
rows group the spec's layers, selected by name patterns, MobileNet v2's Table 2).

Every row remembers its file and line: a row naming a missing spec or a setting the spec does
not declare is a :class:`SpecError` located there.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, ValidationError

from costmodel.errors import SpecError
from costmodel.spec.loader import LineDict, read_spec_file
from costmodel.spec.zoo import ZOO_DIR

REGISTRY_DIR = Path(__file__).resolve().parent / "data"   # package data: what the papers printed
SPECS_DIR = ZOO_DIR

UNITS = {"K": 10**3, "M": 10**6, "B": 10**9}
ACCURACY_LABELS = {
    "top1": "Top-1 (%)",
    "top5": "Top-5 (%)",
    "err": "Top-1 err. (%)",
    "acc": "CIFAR-10 acc. (%)",
}

Number = Union[StrictInt, StrictFloat]
Scalar = Union[StrictBool, StrictInt, StrictFloat, str]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CostColumn(_Strict):
    """How a paper prints a cost column: its unit, its name and (params) what it counts."""
    unit: Literal["K", "M", "B"] = "M"
    label: Optional[str] = None
    count: Literal["weights", "params"] = "params"


class ResultRow(_Strict):
    """One model as a comparison table prints it."""
    model: str
    spec: Optional[str] = Field(..., description="spec name in specs/, or null: no spec by design")
    settings: dict[str, Scalar] = Field(default_factory=dict)
    top1: Optional[Number] = None
    top5: Optional[Number] = None
    err: Optional[Number] = None
    acc: Optional[Number] = None
    mult_adds: Optional[Number] = None
    params: Optional[Number] = None
    params_count: Optional[Literal["weights", "params"]] = Field(None, description=(
        "this row's parameter convention, when it differs from the table's (a figure quoted "
        "from another paper)"))
    mult_adds_exclude: list[str] = Field(default_factory=list, description=(
        "glob patterns of the spec's layers the paper leaves out of its mult-adds (e.g. the "
        "classifier); the computed mult-adds omit them and a footnote says so"))
    note: Optional[str] = None
    source: Optional[str] = None


class LayerRow(_Strict):
    """One row of a per-layer body table: Type / Stride, Filter Shape, Input Size."""
    type: str
    filter: str
    input: str
    layer: StrictBool = True          # false: the paper's row has no layer in the spec (softmax)
    note: Optional[str] = None


class LayerGroup(_Strict):
    """Rows the paper prints once with a repeat count ("5x")."""
    repeat: StrictInt = Field(..., ge=1)
    rows: list[LayerRow] = Field(..., min_length=1)


class TypeRow(_Strict):
    """One layer type with the paper's shares of mult-adds and parameters (%)."""
    type: str
    mult_adds_pct: Optional[Number] = None
    params_pct: Optional[Number] = None
    note: Optional[str] = None


class StageRow(_Strict):
    """One row of a stage table (input, operator, t, c, n, s) and the layers it covers."""
    input: str
    operator: str
    t: Optional[Scalar] = None
    c: Optional[Scalar] = None
    n: Optional[Scalar] = None
    s: Optional[Scalar] = None
    match: list[str] = Field(..., min_length=1, description="glob patterns over layer names")
    note: Optional[str] = None


ROW_MODELS: dict[str, type[BaseModel]] = {
    "results": ResultRow, "layers": LayerRow, "types": TypeRow, "stages": StageRow}


class TableDef(_Strict):
    title: str
    kind: Literal["results", "layers", "types", "stages"] = "results"
    source: str
    spec: Optional[str] = None                      # layers / types / stages: the one spec
    settings: dict[str, Scalar] = Field(default_factory=dict)
    accuracy: list[Literal["top1", "top5", "err", "acc"]] = Field(default_factory=list)
    mult_adds: CostColumn = Field(default_factory=lambda: CostColumn(label="Mult-Adds"))
    params: CostColumn = Field(default_factory=lambda: CostColumn(label="Params"))
    notes: list[str] = Field(default_factory=list)
    rows: list[Any]


class PaperFile(_Strict):
    paper: str
    citation: str
    tables: dict[str, Any]


@dataclass
class Row:
    data: Any              # ResultRow | LayerRow | TypeRow | StageRow
    file: str
    line: int | None


@dataclass
class Table:
    """One paper table of the registry, with the location of every row."""
    id: str                # "<paper>-<key>", e.g. "mobilenet_v1-table6"
    paper: str
    citation: str
    definition: TableDef
    rows: list[Row]
    file: str
    line: int | None

    @property
    def title(self) -> str:
        return self.definition.title

    @property
    def kind(self) -> str:
        return self.definition.kind

    def specs(self) -> list[tuple[str, dict, str, int | None, str]]:
        """(spec, settings, file, line, what) for every profile the table needs."""
        d = self.definition
        if d.kind == "results":
            return [(r.data.spec, r.data.settings, r.file, r.line, f"row {r.data.model!r}")
                    for r in self.rows if r.data.spec is not None]
        return [(d.spec, d.settings, self.file, self.line, f"table {self.id!r}")]


@dataclass
class Registry:
    tables: dict[str, Table] = field(default_factory=dict)
    directory: str | None = None

    def get(self, name: str) -> Table:
        if name not in self.tables:
            import difflib
            close = difflib.get_close_matches(name, list(self.tables), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"unknown table {name!r}{hint}; known tables: "
                            + ", ".join(self.tables), file=self.directory)
        return self.tables[name]


# --- loading -------------------------------------------------------------------------------

def _line(node: Any, loc: tuple, default: int | None) -> int | None:
    """The line of the deepest mapping key or list item named by a pydantic error location."""
    line = getattr(node, "line", None) or default
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            lines = getattr(node, "item_lines", None)
            line = lines[part] if lines else line
            node = node[part]
        else:
            break
    return line


def _validate(model: type[BaseModel], raw: Any, file: str, line: int | None, what: str):
    if not isinstance(raw, dict):
        raise SpecError(f"{what} must be a mapping, got {type(raw).__name__}", file=file,
                        line=getattr(raw, "line", line))
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        errors = exc.errors()
        err = next((e for e in errors if e["type"] in ("extra_forbidden", "missing")), errors[0])
        loc = err["loc"]
        where = ".".join(map(str, loc))
        if err["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields)
            msg = f"unknown field {where!r} (known: {known})"
        elif err["type"] == "missing":
            msg = f"missing field {where!r}"
        else:
            msg = f"field {where!r}: {err['msg'].lower()} (got {err.get('input')!r})"
        raise SpecError(f"{what}: {msg}", file=file, line=_line(raw, loc, line)) from None


def load_file(path: "str | os.PathLike") -> list[Table]:
    """Parse and validate one registry file (structure only: specs are checked by
    :func:`check_specs`)."""
    file = os.fspath(path)
    raw = read_spec_file(file)
    paper = _validate(PaperFile, raw, file, 1, "the registry file")
    tables_raw = raw["tables"]
    tables = []
    for key, traw in tables_raw.items():
        tline = tables_raw.line_of(key) if isinstance(tables_raw, LineDict) else None
        tdef = _validate(TableDef, traw, file, tline, f"table {key!r}")
        if tdef.kind != "results" and not tdef.spec:
            raise SpecError(f"table {key!r}: a {tdef.kind!r} table needs 'spec'", file=file,
                            line=tline)
        row_model = ROW_MODELS[tdef.kind]
        rows_raw = traw["rows"]
        lines = getattr(rows_raw, "item_lines", [tline] * len(rows_raw))
        rows = []
        for i, (r, ln) in enumerate(zip(rows_raw, lines)):
            model = row_model
            if tdef.kind == "layers" and isinstance(r, dict) and "rows" in r:
                model = LayerGroup
            rows.append(Row(_validate(model, r, file, ln, f"table {key!r}, row {i + 1}"), file, ln))
        tables.append(Table(f"{paper.paper}-{key}", paper.paper, paper.citation, tdef, rows,
                            file, tline))
    return tables


def load(directory: "str | os.PathLike | None" = None) -> Registry:
    """Every ``*.yaml`` of the registry directory, in file-name order."""
    folder = Path(directory) if directory is not None else REGISTRY_DIR
    if not folder.is_dir():
        raise SpecError("registry directory not found (pass --registry DIR)", file=str(folder))
    reg = Registry(directory=str(folder))
    for path in sorted(folder.glob("*.yaml")):
        for t in load_file(path):
            if t.id in reg.tables:
                raise SpecError(f"table {t.id!r} is defined twice (also in "
                                f"{reg.tables[t.id].file})", file=t.file, line=t.line)
            reg.tables[t.id] = t
    if not reg.tables:
        raise SpecError("no registry files (*.yaml) found", file=str(folder))
    return reg


# --- resolving specs -----------------------------------------------------------------------

class Resolver:
    """Spec names -> parsed specs -> profiles, cached; every failure located at the registry
    row that asked for it. With ``allow_missing``, a spec file that does not exist (yet) gives
    ``None`` (a blank computed cell) instead of an error."""

    def __init__(self, specs_dir: "str | os.PathLike | None" = None, allow_missing: bool = False):
        self.specs_dir = Path(specs_dir) if specs_dir is not None else SPECS_DIR
        self.allow_missing = allow_missing
        self._specs: dict[str, Any] = {}
        self._profiles: dict[tuple, Any] = {}
        self.missing: set[str] = set()

    def path(self, name: str) -> Path:
        return self.specs_dir / f"{name}.yaml"

    def known(self) -> list[str]:
        return sorted(p.stem for p in self.specs_dir.glob("*.yaml"))

    def spec(self, name: str, file: str, line: int | None, what: str):
        from costmodel.count.profile import Spec
        if name in self._specs:
            return self._specs[name]
        path = self.path(name)
        if not path.is_file():
            if self.allow_missing:
                self.missing.add(name)
                self._specs[name] = None
                return None
            import difflib
            close = difflib.get_close_matches(name, self.known(), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"{what}: spec {name!r} not found: {path} does not exist{hint}; "
                            f"known specs: {', '.join(self.known()) or 'none'}",
                            file=file, line=line)
        self._specs[name] = Spec.load(path)
        return self._specs[name]

    def profile(self, name: str, settings: dict, file: str, line: int | None, what: str):
        """The profile of ``name`` under ``settings``, or None when the spec is missing and
        that is allowed. Unknown settings or values are errors at the row's line."""
        key = (name, tuple(sorted((k, repr(v)) for k, v in settings.items())))
        if key in self._profiles:
            return self._profiles[key]
        spec = self.spec(name, file, line, what)
        if spec is None:
            return None
        try:
            spec.settings(settings)
        except SpecError as exc:
            raise SpecError(f"{what}: {exc.message}", file=file, line=line) from None
        self._profiles[key] = spec.profile(**settings)
        return self._profiles[key]


def check_specs(tables: list[Table], resolver: Resolver) -> None:
    """Resolve every spec and setting the tables name: raise at the first bad row."""
    for t in tables:
        for name, settings, file, line, what in t.specs():
            resolver.profile(name, settings, file, line, what)


def match_layers(patterns: list[str], names: list[str]) -> list[str]:
    """Layer names matched by any of the glob patterns (``features.3.*``), in order."""
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
