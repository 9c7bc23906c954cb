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
``types`` (cost shares per layer type, MobileNet's Table 2), ``stages`` (a body table whose
rows group the spec's layers, selected by name patterns, MobileNet v2's Table 2), ``speed``
(the paper's device timings per model, beside mult-adds, predicted and measured latency) and
``guidelines`` (ShuffleNet V2's Tables 1-4: groups of rows of one benchmark spec, each row's
speed as a ratio to its group's first row).

Speed fields. A ``speed`` or ``guidelines`` table declares its printed speed columns once,
each with the device, the unit, the batch and where the numbers come from::

    speeds:
      - {key: arm224, device: "Qualcomm Snapdragon 820, 1 thread", unit: ms, batch: 1,
         input: 224x224, source: "..."}
    rows:
      - {model: "ShuffleNet 0.5x (g=3)", spec: shufflenet_v1, settings: {...},
         speed: {arm224: 15.2}}

``unit`` is one of ``ms``, ``s`` (latencies: smaller is faster), ``images/s`` or
``batches/s`` (throughputs: larger is faster); ``batch`` is null when the paper does not
state it; ``source`` is required. ``claims`` restate a speed-up the paper makes in its text
("ShuffleNet 0.5x is about 13x faster than AlexNet"): ``{text, column, faster, slower}``,
``faster``/``slower`` naming rows by model; the table recomputes it as ratios.

Every row remembers its file and line: a row naming a missing spec or a setting the spec does
not declare is a :class:`SpecError` located there.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

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


SPEED_UNITS = {"ms": ("latency", 1e-3), "s": ("latency", 1.0), "images/s": ("rate", 1.0),
               "batches/s": ("rate", 1.0)}
Key = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class SpeedColumn(_Strict):
    """One printed speed column: the device, unit and batch it was measured at, and where the
    numbers come from (required)."""
    key: Key
    device: Text
    unit: Literal["ms", "s", "images/s", "batches/s"]
    batch: Optional[StrictInt] = Field(None, ge=1, le=65536,
                                       description="null: the paper does not state it")
    input: Optional[str] = None
    label: Optional[str] = None
    compare: StrictBool = Field(True, description=(
        "false: printed for reference only, no rank correlation (e.g. an input size the "
        "specs cannot express)"))
    source: Text


class SpeedRow(_Strict):
    """One model of a speed table: what the paper printed, and the spec that computes it."""
    model: str
    spec: Optional[str] = Field(..., description="spec name, or null: no spec")
    settings: dict[str, Scalar] = Field(default_factory=dict)
    speed: dict[str, Number] = Field(default_factory=dict)
    mult_adds: Optional[Number] = None
    top1: Optional[Number] = None
    err: Optional[Number] = None
    note: Optional[str] = None


class GuideRow(_Strict):
    """One row of a guideline experiment: the paper's label, the spec's settings, its speeds.
    ``computed: false`` keeps a printed row the spec cannot build (its ``note`` says why)."""
    label: str
    settings: dict[str, Scalar] = Field(default_factory=dict)
    speed: dict[str, Number] = Field(default_factory=dict)
    computed: StrictBool = True
    note: Optional[str] = None


class GuideGroup(_Strict):
    """Rows of one guideline experiment compared with each other (ratios to the first)."""
    experiment: str
    title: str
    spec: str
    rows: list[GuideRow] = Field(..., min_length=1)


class Claim(_Strict):
    """A speed-up the paper states, recomputed as ratios: paper, measured, predicted."""
    text: Text
    column: Key
    faster: str
    slower: str


ROW_MODELS: dict[str, type[BaseModel]] = {
    "results": ResultRow, "layers": LayerRow, "types": TypeRow, "stages": StageRow,
    "speed": SpeedRow, "guidelines": GuideGroup}


class TableDef(_Strict):
    title: str
    kind: Literal["results", "layers", "types", "stages", "speed", "guidelines"] = "results"
    source: str
    spec: Optional[str] = None                      # layers / types / stages: the one spec
    settings: dict[str, Scalar] = Field(default_factory=dict)
    accuracy: list[Literal["top1", "top5", "err", "acc"]] = Field(default_factory=list)
    mult_adds: CostColumn = Field(default_factory=lambda: CostColumn(label="Mult-Adds"))
    params: CostColumn = Field(default_factory=lambda: CostColumn(label="Params"))
    notes: list[str] = Field(default_factory=list)
    speeds: list[SpeedColumn] = Field(default_factory=list)
    claims: list[Claim] = Field(default_factory=list)
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
        if d.kind in ("results", "speed"):
            return [(r.data.spec, r.data.settings, r.file, r.line, f"row {r.data.model!r}")
                    for r in self.rows if r.data.spec is not None]
        if d.kind == "guidelines":
            return [(r.data.spec, g.settings, r.file, r.line, f"{r.data.experiment} row {g.label!r}")
                    for r in self.rows for g in r.data.rows if g.computed]
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
        if tdef.kind in ("layers", "types", "stages") and not tdef.spec:
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
        _check_speeds(key, tdef, traw, rows, file, tline)
        tables.append(Table(f"{paper.paper}-{key}", paper.paper, paper.citation, tdef, rows,
                            file, tline))
    return tables


def _check_speeds(key: str, tdef: TableDef, traw: Any, rows: list[Row], file: str,
                  tline: int | None) -> None:
    """Speed columns are declared once per table; every row's speed names a declared column,
    every claim a declared column and two rows of the table."""
    speedy = tdef.kind in ("speed", "guidelines")
    if not speedy:
        if tdef.speeds or tdef.claims:
            raise SpecError(f"table {key!r}: 'speeds' and 'claims' belong to a 'speed' or "
                            f"'guidelines' table, not a {tdef.kind!r} one", file=file,
                            line=_line(traw, ("speeds",), tline))
        return
    if not tdef.speeds:
        raise SpecError(f"table {key!r}: a {tdef.kind!r} table needs 'speeds' (the printed speed "
                        "columns: key, device, unit, batch, source)", file=file, line=tline)
    keys = [c.key for c in tdef.speeds]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise SpecError(f"table {key!r}: speed column {twice[0]!r} is declared twice", file=file,
                        line=_line(traw, ("speeds",), tline))
    for row, raw in zip(rows, traw["rows"]):
        if tdef.kind == "guidelines":
            entries = row.data.rows
            lines = getattr(raw.get("rows"), "item_lines", None) or [row.line] * len(entries)
        else:
            entries, lines = [row.data], [row.line]
        for entry, line in zip(entries, lines):
            for k in entry.speed:
                if k not in keys:
                    raise SpecError(f"table {key!r}: speed {k!r} is not a declared speed column "
                                    f"(declared: {', '.join(keys)})", file=file, line=line)
    models = [r.data.model for r in rows] if tdef.kind == "speed" else []
    for i, claim in enumerate(tdef.claims):
        line = _line(traw, ("claims", i), tline)
        if claim.column not in keys:
            raise SpecError(f"table {key!r}: claim {claim.text!r} names speed column "
                            f"{claim.column!r}; declared: {', '.join(keys)}", file=file, line=line)
        for m in (claim.faster, claim.slower):
            if m not in models:
                raise SpecError(f"table {key!r}: claim {claim.text!r} names model {m!r}, which is "
                                "no row of the table", file=file, line=line)


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
