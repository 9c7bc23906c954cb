"""The spec file format, validated with pydantic.

A spec is a header (``name``, ``citation``, ``input``, ``settings``, optional ``variants``),
named reusable ``blocks`` and a list of ``layers``. Each layer entry is one of:

* ``relu`` or ``{op: conv2d, out: 32, kernel: 3, stride: 2}``: a primitive op;
* ``{block: NAME, arg: value, ...}``: a block instance, or with ``rows: [[...], ...]`` one
  instance per row, written like the paper's table;
* ``{seq: [...]}``: a named sequence;
* ``{repeat: n, as: i, body: [...]}``: n copies, with the index bound to ``i``;
* ``{parallel: [[...], [...]], merge: add|concat, split: 2}``: branches (optionally fed by a
  channel split) merged by addition or concatenation;
* ``{residual: [...], shortcut: [...]}``: ``body(x) + shortcut(x)`` (identity by default).

A spec may start from another with ``extends: base.yaml``: its ``settings`` and ``blocks`` are
merged into the base's (so a variant such as a Ghost network changes one block definition),
every other key given replaces the base's (see ``inherit.py``).

Every entry may carry ``name`` (default: its index) and ``when`` (an expression; the entry is
skipped when false); in a block, ``name: $arg`` names it by the value of the argument ``arg``.
A structural entry may carry ``flat: true`` instead of a name: it adds no
name level, so its layers are named in the enclosing level (with rows: neither the rows nor
the instances add a level; a flat residual's body and shortcut add none either, so the spec
names every layer itself). This is how a spec matches another model's ``state_dict`` keys. Numeric fields take numbers or expressions over settings (``expr.py``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, create_model
from pydantic.functional_validators import field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from costmodel.ops import OPS, Op

Scalar = Union[StrictBool, StrictInt, StrictFloat, str]
Expr = Annotated[Union[StrictInt, StrictFloat, str],
                 Field(description="a number or an expression over settings, e.g. '32 * width'")]
BoolExpr = Union[StrictBool, str]
_ENTRY_MARK = "x-costmodel-entry"
EntryList = Annotated[list[Any], WithJsonSchema({"type": "array", "items": {_ENTRY_MARK: True}})]

NAME_PATTERN = r"^\$?[A-Za-z0-9_]+$"      # $arg: named by a block argument
RESERVED_CALL_KEYS = ("block", "name", "when", "rows", "flat")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SettingDecl(_Strict):
    """A setting with a default and, optionally, the values it may take."""
    default: Scalar
    choices: Optional[list[Scalar]] = None
    doc: Optional[str] = None

    @model_validator(mode="after")
    def _default_among_choices(self):
        if self.choices is not None:
            if not self.choices:
                raise ValueError("'choices' is empty: list the values the setting may take")
            if not any(type(c) is type(self.default) and c == self.default for c in self.choices):
                raise ValueError(f"the default {self.default!r} is not one of its own choices "
                                 f"({', '.join(map(repr, self.choices))})")
        return self


class BlockDef(_Strict):
    """A reusable block: named arguments (null default = required), local ``let``
    definitions (may use ``in_channels``, ``in_h``, ``in_w``: the block's input), and a body."""
    args: Union[list[str], dict[str, Optional[Scalar]]] = Field(default_factory=dict)
    let: dict[str, Scalar] = Field(default_factory=dict)
    body: EntryList
    doc: Optional[str] = None

    @field_validator("args")
    @classmethod
    def _no_reserved(cls, v):
        names = list(v)
        for n in names:
            if n in RESERVED_CALL_KEYS:
                raise ValueError(f"argument name {n!r} is reserved ({', '.join(RESERVED_CALL_KEYS)})")
        return v

    def arg_defaults(self) -> dict[str, Any]:
        """Argument name -> default (None: required), in declaration order."""
        if isinstance(self.args, list):
            return {a: None for a in self.args}
        return dict(self.args)


class Grid(_Strict):
    grid: dict[str, list[Scalar]]


class SpecFile(_Strict):
    """A network architecture spec."""
    name: str = Field(description="model name")
    citation: str = Field("", description="paper and table the spec follows")
    extends: Optional[str] = Field(
        None, description="path of a base spec: its settings and blocks are merged with these, "
                          "its other keys inherited unless given here")
    description: Optional[str] = None
    input: list[Expr] = Field(description="input shape [C, H, W], e.g. [3, resolution, resolution]")
    settings: dict[str, Union[Scalar, SettingDecl]] = Field(
        default_factory=dict, description="named settings with defaults, overridable with --set")
    variants: Optional[Union[list[dict[str, Scalar]], Grid]] = Field(
        None, description="setting combinations worth guarding (costmodel lock)")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: EntryList

    @field_validator("input")
    @classmethod
    def _input_len(cls, v):
        if len(v) not in (1, 3):
            raise ValueError("input must be [C, H, W] (or [F] for a flat vector)")
        return v


class _EntryBase(_Strict):
    name: Optional[Union[StrictInt, Annotated[str, Field(pattern=NAME_PATTERN)]]] = Field(
        None, description="the layer's name in the graph (default: its index)")
    when: Optional[BoolExpr] = Field(None, description="expression; skip this entry when false")


class _Structural(_EntryBase):
    flat: Optional[StrictBool] = Field(
        None, description="true: the entry adds no name level (its layers are named in the "
                          "enclosing level, unnamed ones numbered on from the entry's index), "
                          "so built modules can match another model's state_dict keys")


class BlockCall(_Structural):
    model_config = ConfigDict(extra="allow")
    block: str
    rows: Optional[list[Any]] = Field(None, description="one block instance per row")


class SeqEntry(_Structural):
    seq: EntryList


class RepeatEntry(_Structural):
    repeat: Expr
    as_: str = Field("i", alias="as", description="loop variable name")
    body: EntryList


class ParallelEntry(_Structural):
    parallel: Union[Annotated[list[EntryList], Field()], dict[str, EntryList]]
    merge: Literal["add", "concat"]
    split: Optional[Union[Expr, list[Expr]]] = Field(
        None, description="split the input's channels: a number of equal chunks or the sizes")


class ResidualEntry(_Structural):
    residual: EntryList
    shortcut: Optional[EntryList] = None


STRUCTURAL = {"block": BlockCall, "seq": SeqEntry, "repeat": RepeatEntry,
              "parallel": ParallelEntry, "residual": ResidualEntry}

_PAIR = Union[StrictInt, str, Annotated[list[Union[StrictInt, str]], Field(min_length=2, max_length=2)]]
_KIND_TYPES: dict[str, Any] = {
    "int": Expr, "float": Expr, "bool": BoolExpr, "pair": _PAIR, "choice": str,
}


def _op_model(op: Op) -> type[BaseModel]:
    fields: dict[str, Any] = {"op": (Literal[(op.name, *op.aliases)], ...)}
    for fname, f in op.fields.items():
        typ = _KIND_TYPES[f.kind]
        desc = f.doc + (f" (one of: {', '.join(f.choices)})" if f.choices else "")
        if f.required:
            fields[fname] = (typ, Field(..., description=desc))
        else:
            fields[fname] = (Optional[typ], Field(f.default, description=desc))
    return create_model(f"op_{op.name}", __base__=_EntryBase, __doc__=type(op).__doc__, **fields)


@lru_cache(maxsize=None)
def op_model(name: str) -> type[BaseModel]:
    """The pydantic model of one op's entries, built on first use (keeps start-up fast)."""
    return _op_model(OPS[name])


def op_models() -> dict[str, type[BaseModel]]:
    return {n: op_model(n) for n, op in OPS.items() if op.kind == "layer"}


def json_schema() -> dict:
    """JSON Schema of the spec format, for editor completion of YAML files."""
    schema = SpecFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    models = op_models()
    variants: list[dict] = [{"type": "string", "enum": sorted(models)}]
    for model in [*models.values(), *STRUCTURAL.values()]:
        sub = model.model_json_schema(ref_template="#/$defs/{model}")
        for k, v in sub.pop("$defs", {}).items():
            defs.setdefault(k, v)
        defs[sub.get("title", model.__name__)] = sub
        variants.append({"$ref": f"#/$defs/{sub.get('title', model.__name__)}"})
    defs["Entry"] = {"anyOf": variants}
    schema = _link_entries(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "costmodel architecture spec"
    return schema


def _link_entries(node: Any) -> Any:
    """Replace the placeholder of nested entry lists by a reference to ``Entry``."""
    if isinstance(node, dict):
        if node.get(_ENTRY_MARK):
            return {"$ref": "#/$defs/Entry"}
        return {k: _link_entries(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_link_entries(v) for v in node]
    return node
