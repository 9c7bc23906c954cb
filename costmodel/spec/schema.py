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

import difflib
import re
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, StrictBool, StrictFloat, StrictInt, create_model
from pydantic.functional_validators import field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from costmodel.ops import OPS, Op

Scalar = Union[StrictBool, StrictInt, StrictFloat, str]
LetValue = Union[StrictBool, StrictInt, StrictFloat, str, list[Any]]
Expr = Annotated[Union[StrictInt, StrictFloat, str],
                 Field(description="a number or an expression over settings, e.g. '32 * width'")]
BoolExpr = Union[StrictBool, str]
_ENTRY_MARK = "x-costmodel-entry"
EntryList = Annotated[list[Any], WithJsonSchema({"type": "array", "items": {_ENTRY_MARK: True}})]

NAME_PATTERN = r"^\$?[A-Za-z0-9_]+$"      # $arg: named by a block argument
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")   # a plain name (settings, lets, arguments)
RESERVED_CALL_KEYS = ("block", "name", "when", "rows", "flat")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


RESERVED_NAMES = ("in_channels", "in_h", "in_w")
RESERVED_DOC = ("in_channels, in_h and in_w are reserved: the channels, height and width of the "
                "input of the entry being evaluated (for a block's let and argument defaults: "
                "the block's input)")


def check_name(name: str, what: str) -> None:
    """A name a spec binds (setting, let, argument, loop variable) must not be reserved."""
    if name in RESERVED_NAMES:
        raise ValueError(f"{what} {name!r} redefines a reserved name; {RESERVED_DOC}")


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

    @model_validator(mode="after")
    def _one_source(self):
        given = [k for k in ("default", "expr", "derived") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a setting declares exactly one of default, expr, derived; got "
                             + (", ".join(given) or "none"))
        if self.choices is not None:
            if not self.choices:
                raise ValueError("choices is empty")
            if self.default is not None and not any(
                    type(c) is type(self.default) and c == self.default or
                    (isinstance(c, (int, float)) and isinstance(self.default, (int, float))
                     and not isinstance(c, bool) and not isinstance(self.default, bool)
                     and c == self.default) for c in self.choices):
                raise ValueError(f"the default {self.default!r} is not one of its own choices "
                                 f"({', '.join(map(repr, self.choices))})")
        elif isinstance(self.default, str):
            raise ValueError(f"a string default ({self.default!r}) needs choices: strings are "
                             "names, not numbers or expressions; to compute a setting from "
                             "others write {expr: ...} (overridable) or {derived: ...}")
        return self


class ArgDecl(_Strict):
    """A block argument in the long form: a default, or ``optional: true`` (when not given,
    a field that is just this argument takes the op's own default)."""
    default: Optional[Scalar] = None
    optional: StrictBool = False
    doc: Optional[str] = None

    @model_validator(mode="after")
    def _one(self):
        if self.optional and self.default is not None:
            raise ValueError("an argument is optional (the op's default) or has a default, "
                             "not both")
        return self


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

    @field_validator("args")
    @classmethod
    def _no_reserved(cls, v):
        names = list(v)
        if isinstance(v, list) and len(set(names)) != len(names):
            raise ValueError("an argument is named twice")
        for n in names:
            if not isinstance(n, str) or not NAME_RE.match(n) or n[0].isdigit():
                raise ValueError(f"argument name {n!r} must be a word (letters, digits, '_')")
            if n in RESERVED_CALL_KEYS:
                raise ValueError(f"argument name {n!r} is reserved ({', '.join(RESERVED_CALL_KEYS)})")
            check_name(n, "argument")
        return v

    @field_validator("let")
    @classmethod
    def _let_names(cls, v):
        for n in v:
            check_name(n, "let")
        return v

    def arg_defaults(self) -> dict[str, Any]:
        """Argument name -> default (None: required; expr.UNSET: the op's default), in
        declaration order."""
        from costmodel.spec.expr import UNSET
        if isinstance(self.args, list):
            return {a: None for a in self.args}
        out: dict[str, Any] = {}
        for k, v in self.args.items():
            if isinstance(v, ArgDecl):
                out[k] = UNSET if v.optional else v.default
            else:
                out[k] = v
        return out


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

    @field_validator("settings", "let")
    @classmethod
    def _names(cls, v):
        for n in v:
            if not isinstance(n, str) or not NAME_RE.match(n) or n[0].isdigit():
                raise ValueError(f"name {n!r} must be a word (letters, digits, '_')")
            check_name(n, "name")
        return v

    @field_validator("settings", mode="before")
    @classmethod
    def _typed_settings(cls, v):
        if not isinstance(v, dict):
            return v
        out = {}
        for n, d in v.items():
            if isinstance(d, dict):
                try:
                    out[n] = SettingDecl.model_validate(dict(d))
                except ValidationError as exc:
                    err = exc.errors()[0]
                    where = ".".join(map(str, err["loc"]))
                    msg = err["msg"]
                    if msg.startswith("Value error, "):
                        msg = msg[len("Value error, "):]
                    raise ValueError(f"setting {n!r}: " + (f"{where}: " if where else "")
                                     + msg) from None
                continue
            out[n] = d
            if isinstance(d, str):
                raise ValueError(
                    f"setting {n!r}: a string value ({d!r}) needs choices ({{default: "
                    f"{d}, choices: [...]}}): strings are names, not numbers or conditions; "
                    "to compute a setting from others write {expr: ...} (overridable) or "
                    "{derived: ...}")
        return out

    @field_validator("defaults")
    @classmethod
    def _defaults(cls, v):
        known = sorted({f for op in OPS.values() for f in op.fields})
        for k in v:
            if k not in known:
                close = difflib.get_close_matches(k, known, n=1)
                raise ValueError(f"defaults: no op has a field {k!r}"
                                 + (f" (did you mean {close[0]!r}?)" if close else "")
                                 + f"; fields: {', '.join(known)}")
        return v

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
    as_: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        "i", alias="as", description="loop variable name")
    body: EntryList

    @field_validator("as_")
    @classmethod
    def _as(cls, v):
        check_name(v, "loop variable")
        return v


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
