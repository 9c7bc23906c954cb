"""The spec file format, validated with pydantic.

A spec is a header (``name``, ``citation``, ``input``, ``settings``, optional ``variants``),
named reusable ``blocks`` and a list of ``layers``. Each layer entry is one of:

* ``relu`` or ``{op: conv2d, out: 32, kernel: 3, stride: 2}``: a primitive op;
* ``{block: NAME, arg: value, ...}``: a block instance, or with ``rows: [[...], ...]`` one
  instance per row, written like the paper's table;
* ``{seq: [...]}``: a named sequence;
* ``{repeat: n, as: i, body: [...]}``: n copies, with the index bound to ``i``;
* ``{parallel: [[...], [...]], merge: add|mul|concat, split: 2}``: branches (optionally fed by a
  channel split) merged by addition, multiplication or concatenation;
* ``{residual: [...], shortcut: [...]}``: ``body(x) + shortcut(x)`` (identity by default).

A spec may start from another with ``extends: base.yaml`` (or a shipped spec's name): its
``settings`` and ``blocks`` are merged into the base's (so a variant such as a Ghost network
changes one block definition), every other key given replaces the base's, and ``patch`` edits
the base's layers (see ``extends.py``).

Every entry may carry ``name`` (default: its index) and ``when`` (an expression; the entry is
skipped when false); in a block, ``name: $arg`` names it by the value of the argument ``arg``.
A structural entry may carry ``flat: true`` instead of a name: it adds no
name level, so its layers are named in the enclosing level (with rows: neither the rows nor
the instances add a level; a flat residual's body and shortcut add none either, so the spec
names every layer itself). This is how a spec matches another model's ``state_dict`` keys. Numeric fields take numbers or expressions over settings (``expr.py``).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, create_model
from pydantic.functional_validators import field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from costmodel.ops import OPS, Op
from costmodel.spec import records
from costmodel.spec.records import (NAME_PATTERN, NAME_RE, RESERVED_CALL_KEYS,  # noqa: F401
                                    RESERVED_DOC, RESERVED_NAMES, check_name)

Scalar = Union[StrictBool, StrictInt, StrictFloat, str]
LetValue = Union[StrictBool, StrictInt, StrictFloat, str, list[Any]]
Expr = Annotated[Union[StrictInt, StrictFloat, str],
                 Field(description="a number or an expression over settings, e.g. '32 * width'")]
BoolExpr = Union[StrictBool, str]
_ENTRY_MARK = "x-costmodel-entry"
EntryList = Annotated[list[Any], WithJsonSchema({"type": "array", "items": {_ENTRY_MARK: True}})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check(*fields: str, mode: str = "after"):
    """A field validator that is a plain function of records.py (no cls): the generated
    validators call the same function."""
    return lambda fn: field_validator(*fields, mode=mode)(staticmethod(fn))  # type: ignore[call-overload]


class SettingDecl(_Strict):
    """A setting: a value with a default (``default``), optionally restricted to ``choices``;
    or computed from the settings declared before it, overridable (``expr``) or not
    (``derived``). A string value needs ``choices``: strings are names, never numbers."""
    default: Optional[Scalar] = None
    expr: Optional[str] = Field(None, description="overridable expression over earlier settings")
    derived: Optional[str] = Field(None, description="expression over earlier settings; "
                                                      "not overridable")
    choices: Optional[list[Scalar]] = None
    doc: Optional[str] = None
    new: Optional[StrictBool] = Field(None, description="in a spec that extends another: this "
                                      "setting is new on purpose (not a misspelt parent setting)")

    _one_source = model_validator(mode="after")(records.setting_one_source)


class ArgDecl(_Strict):
    """A block argument in the long form: a default, or ``optional: true`` (when not given,
    a field that is just this argument takes the op's own default)."""
    default: Optional[Scalar] = None
    optional: StrictBool = False
    doc: Optional[str] = None

    _one = model_validator(mode="after")(records.arg_one)


REQUIRED_ARG = None


class BlockDef(_Strict):
    """A reusable block: named arguments (null default = required; ``{optional: true}``: the
    op's default), local ``let`` definitions (they see the settings, the spec's ``let``, the
    ``let`` of the calling blocks, the arguments and ``in_channels``, ``in_h``, ``in_w``: the
    block's input), and a body."""
    args: Union[list[str], dict[str, Union[ArgDecl, StrictBool, StrictInt, StrictFloat, str, None]]] \
        = Field(default_factory=dict)
    let: dict[str, LetValue] = Field(default_factory=dict)
    body: EntryList
    doc: Optional[str] = None

    _no_reserved = _check("args")(records.block_args)
    _let_names = _check("let")(records.let_names)

    def arg_defaults(self) -> dict[str, Any]:
        """Argument name -> default (None: required; expr.UNSET: the op's default), in
        declaration order."""
        return records.arg_defaults(self)


class Grid(_Strict):
    grid: dict[str, list[Scalar]]


class SpecFile(_Strict):
    """A network architecture spec."""
    name: str = Field(description="model name")
    citation: str = Field("", description="paper and table the spec follows")
    extends: Optional[str] = Field(
        None, description="a shipped spec's name or the path of a base spec: its settings and "
                          "blocks are merged with these, its other keys inherited unless given "
                          "here")
    description: Optional[str] = None
    input: list[Expr] = Field(description="input shape [C, H, W], e.g. [3, resolution, resolution]")
    settings: dict[str, Union[Scalar, SettingDecl]] = Field(
        default_factory=dict, description="named settings with defaults, overridable with --set")
    variants: Optional[Union[list[dict[str, Scalar]], Grid]] = Field(
        None, description="setting combinations worth guarding (costmodel lock)")
    let: dict[str, LetValue] = Field(
        default_factory=dict, description="values computed from the settings, in order; seen "
                                          "by every entry and block (not overridable)")
    defaults: dict[str, Union[StrictBool, StrictInt, StrictFloat, str]] = Field(
        default_factory=dict, description="op field defaults for the whole spec, e.g. "
                                          "{padding: 0} for PyTorch's own default padding")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: EntryList

    _names = _check("settings", "let")(records.word_names)
    _typed_settings = _check("settings", mode="before")(records.typed_settings)
    _defaults = _check("defaults")(records.known_defaults)
    _input_len = _check("input")(records.input_len)


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
    as_: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        "i", alias="as", description="loop variable name")
    body: EntryList

    _as = _check("as_")(records.loop_var)


class ParallelEntry(_Structural):
    parallel: Union[Annotated[list[EntryList], Field()], dict[str, EntryList]]
    merge: Literal["add", "concat", "mul"]
    split: Optional[Union[Expr, list[Expr]]] = Field(
        None, description="split the input's channels: a number of equal chunks or the sizes")


class ResidualEntry(_Structural):
    residual: EntryList
    shortcut: Optional[EntryList] = None


STRUCTURAL = {"block": BlockCall, "seq": SeqEntry, "repeat": RepeatEntry,
              "parallel": ParallelEntry, "residual": ResidualEntry}
assert tuple(STRUCTURAL) == records.STRUCTURAL_KINDS

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
    for name in models:
        _op_fields(defs[f"op_{name}"], OPS[name])
    _tighten(schema, defs)
    schema = _link_entries(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "costmodel architecture spec"
    return schema


# -- what the loader checks, said in JSON Schema where it can be said ----------------------------

_WORD = r"^[A-Za-z_][A-Za-z0-9_]*$"
_EXPR = {"type": "string", "minLength": 1, "description": "an expression"}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"


def typos(word: str) -> set[str]:
    """Every word one edit away from ``word`` (a misspelt choice is refused, not taken for a
    name)."""
    out = set()
    for i in range(len(word) + 1):
        if i < len(word):
            out.add(word[:i] + word[i + 1:])
            for c in _ALPHABET:
                out.add(word[:i] + c + word[i + 1:])
        if i < len(word) - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2:])
        for c in _ALPHABET:
            out.add(word[:i] + c + word[i:])
    return out - {word}


def _int_schema(minimum: int | None) -> dict:
    i: dict = {"type": "integer"}
    if minimum is not None:
        i["minimum"] = minimum
    return i


def _field_schema(f: Any) -> dict:
    desc = f.doc + (f" (one of: {', '.join(f.choices)})" if f.choices else "")
    if f.kind == "int":
        body: dict = {"anyOf": [_int_schema(f.minimum), _EXPR]}
    elif f.kind == "pair":
        one = {"anyOf": [_int_schema(f.minimum), _EXPR]}
        body = {"anyOf": [_int_schema(f.minimum), _EXPR,
                          {"type": "array", "items": one, "minItems": 2, "maxItems": 2}]}
    elif f.kind == "float":
        num: dict = {"type": "number"}
        if f.minimum is not None:
            num["minimum"] = f.minimum
        if getattr(f, "positive", False):
            num["exclusiveMinimum"] = 0
        if getattr(f, "maximum", None) is not None:
            num["maximum"] = f.maximum
        body = {"anyOf": [num, _EXPR]}
    elif f.kind == "bool":
        body = {"anyOf": [{"type": "boolean"}, _EXPR]}
    else:   # a choice: one of the names, or an expression / a bound name that is no typo
        bad = sorted(set().union(*(typos(c) for c in f.choices)) - set(f.choices))
        body = {"anyOf": [{"enum": list(f.choices)},
                          {"type": "string", "minLength": 1, "not": {"enum": bad}}]}
    body["description"] = desc
    if f.required:
        return body
    return {"anyOf": [*body.pop("anyOf"), {"type": "null"}], **body}


def _op_fields(model: dict, op: Any) -> None:
    props = model.setdefault("properties", {})
    for fname, f in op.fields.items():
        props[fname] = _field_schema(f)


def _names(extra: dict | None = None) -> dict:
    return {"pattern": _WORD, "not": {"enum": list(RESERVED_NAMES)}, **(extra or {})}


def _tighten(schema: dict, defs: dict) -> None:
    props = schema["properties"]
    # a spec that extends another may leave out input and layers; patch edits the base's
    schema["required"] = ["name"]
    schema["anyOf"] = [{"required": ["extends"]}, {"required": ["input", "layers"]}]
    props["extends"] = {"type": "string", "minLength": 1,
                        "description": "a shipped spec's name (mobilenet_v1) or the path of a "
                                       "spec file, relative to this one"}
    path = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}]}
    entries = {"type": "array", "items": {_ENTRY_MARK: True}}
    props["patch"] = {
        "type": "array", "description": "edits of the base spec's layers (with extends)",
        "items": {"oneOf": [
            {"type": "object", "properties": {"drop": path}, "required": ["drop"],
             "additionalProperties": False},
            {"type": "object", "properties": {"replace": path, "with": {
                "anyOf": [{_ENTRY_MARK: True}, entries]}},
             "required": ["replace", "with"], "additionalProperties": False},
            {"type": "object", "properties": {"insert_before": path, "entries": entries},
             "required": ["insert_before", "entries"], "additionalProperties": False},
            {"type": "object", "properties": {"insert_after": path, "entries": entries},
             "required": ["insert_after", "entries"], "additionalProperties": False},
        ]}}
    props["variants"] = {"anyOf": [*props["variants"]["anyOf"], {"const": "inherit"}],
                         "description": props["variants"].get("description", "")}
    props["input"] = {"type": "array", "minItems": 1, "maxItems": 3,
                      "items": {"anyOf": [{"type": "integer", "minimum": 1}, _EXPR]},
                      "description": "input shape [C, H, W] (or [F])"}
    scalar = [{"type": "boolean"}, {"type": "integer"}, {"type": "number"}]
    props["settings"] = {"type": "object", "propertyNames": _names(),
                         "additionalProperties": {"anyOf": [*scalar,
                                                            {"$ref": "#/$defs/SettingDecl"}]},
                         "description": props["settings"].get("description", "")}
    props["let"]["propertyNames"] = _names()
    props["defaults"]["propertyNames"] = {
        "enum": sorted({f for op in OPS.values() for f in op.fields})}
    sd = defs["SettingDecl"]
    sd["oneOf"] = [{"required": ["default"]}, {"required": ["expr"]}, {"required": ["derived"]}]
    sd["allOf"] = [{"if": {"properties": {"default": {"type": "string"}}, "required": ["default"]},
                    "then": {"required": ["choices"]}}]
    bd = defs["BlockDef"]["properties"]
    bd["args"] = {"anyOf": [
        {"type": "array", "items": {"type": "string", **_names()}, "uniqueItems": True},
        {"type": "object", "propertyNames": _names(),
         "additionalProperties": {"anyOf": [{"$ref": "#/$defs/ArgDecl"}, *scalar,
                                            {"type": "string"}, {"type": "null"}]}}]}
    bd["let"]["propertyNames"] = _names()
    rep = defs["RepeatEntry"]["properties"]
    rep["repeat"] = {"anyOf": [{"type": "integer", "minimum": 0}, _EXPR]}
    rep["as"] = {"type": "string", **_names()}
    par = defs["ParallelEntry"]["properties"]
    par["split"] = {"anyOf": [{"type": "integer", "minimum": 2}, _EXPR,
                              {"type": "array", "items": {"anyOf": [
                                  {"type": "integer", "minimum": 1}, _EXPR]}}, {"type": "null"}]}
    # a block call's other keys are the block's arguments: words, and no typo of its own keys
    call = defs["BlockCall"]
    call["propertyNames"] = {"pattern": _WORD, "not": {"enum": sorted(
        set().union(*(typos(k) for k in ("block", "name", "when", "rows")))
        - {"block", "name", "when", "rows"})}}


def _link_entries(node: Any) -> Any:
    """Replace the placeholder of nested entry lists by a reference to ``Entry``."""
    if isinstance(node, dict):
        if node.get(_ENTRY_MARK):
            return {"$ref": "#/$defs/Entry"}
        return {k: _link_entries(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_link_entries(v) for v in node]
    return node
