"""The validated spec objects and the checks the spec format runs, without pydantic.

``schema.py`` declares the format as pydantic models (the one statement of it: its JSON
Schema, its fields, its types). Their validators are the plain functions below, so the
validators generated from those models (``_core_schemas.py``, written by ``coregen.py``) can
run them in pydantic-core alone: the analytic path never imports ``pydantic.main`` nor builds
a model class at start-up (issue 16). What a validator returns are the small classes below
(:class:`SpecFile`, :class:`BlockDef`, :class:`SettingDecl`, :class:`ArgDecl`, :class:`Grid`,
:class:`Entry`): plain objects whose attributes are the model's fields.
"""
from __future__ import annotations

import difflib
import re
from typing import Any

NAME_PATTERN = r"^\$?[A-Za-z0-9_]+$"      # $arg: named by a block argument
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")   # a plain name (settings, lets, arguments)
RESERVED_CALL_KEYS = ("block", "name", "when", "rows", "flat")
# the structural entry kinds, by the key that marks them (schema.STRUCTURAL: their models)
STRUCTURAL_KINDS = ("block", "seq", "repeat", "parallel", "residual")

RESERVED_NAMES = ("in_channels", "in_h", "in_w")
RESERVED_DOC = ("in_channels, in_h and in_w are reserved: the channels, height and width of the "
                "input of the entry being evaluated (for a block's let and argument defaults: "
                "the block's input)")


class Record:
    """A validated object: its fields are attributes (pydantic-core fills ``__dict__`` and the
    three slots it sets on every model instance)."""
    __slots__ = ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__",
                 "__pydantic_private__")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]


class SettingDecl(Record):
    """A setting: ``default``, ``expr``, ``derived``, ``choices``, ``doc``, ``new``."""


class ArgDecl(Record):
    """A block argument in the long form: ``default``, ``optional``, ``doc``."""


class BlockDef(Record):
    """A block: ``args``, ``let``, ``body``, ``doc``."""

    def arg_defaults(self) -> dict[str, Any]:
        return arg_defaults(self)


class Grid(Record):
    """``variants: {grid: {setting: [values]}}``."""


class SpecFile(Record):
    """A spec's header and its layers (the fields of schema.SpecFile)."""


class Entry(Record):
    """A checked layer entry (an op's or a structural one); the expander reads the raw
    mapping, so nothing reads these."""


# -- the checks (schema.py's validators are these functions) ------------------------------------

def check_name(name: str, what: str) -> None:
    """A name a spec binds (setting, let, argument, loop variable) must not be reserved."""
    if name in RESERVED_NAMES:
        raise ValueError(f"{what} {name!r} redefines a reserved name; {RESERVED_DOC}")


def setting_one_source(self):
    """SettingDecl: exactly one of default, expr, derived; a default among its choices; a
    string default only with choices."""
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


def arg_one(self):
    """ArgDecl: optional or a default, not both."""
    if self.optional and self.default is not None:
        raise ValueError("an argument is optional (the op's default) or has a default, "
                         "not both")
    return self


def block_args(v):
    """BlockDef.args: words, each once, none reserved."""
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


def let_names(v):
    """A block's let: no reserved name."""
    for n in v:
        check_name(n, "let")
    return v


def word_names(v):
    """The spec's settings and let: words, none reserved."""
    for n in v:
        if not isinstance(n, str) or not NAME_RE.match(n) or n[0].isdigit():
            raise ValueError(f"name {n!r} must be a word (letters, digits, '_')")
        check_name(n, "name")
    return v


def typed_settings(v):
    """The spec's settings, before their types are checked: a mapping is a SettingDecl whose
    own error is said with the setting's name; a string value needs choices."""
    if not isinstance(v, dict):
        return v
    from pydantic_core import ValidationError
    from costmodel.spec import validate
    for n, d in v.items():
        if isinstance(d, dict):
            try:
                validate.validate("SettingDecl", dict(d))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(map(str, err["loc"]))
                msg = err["msg"]
                if msg.startswith("Value error, "):
                    msg = msg[len("Value error, "):]
                raise ValueError(f"setting {n!r}: " + (f"{where}: " if where else "")
                                 + msg) from None
            continue
        if isinstance(d, str):
            raise ValueError(
                f"setting {n!r}: a string value ({d!r}) needs choices ({{default: "
                f"{d}, choices: [...]}}): strings are names, not numbers or conditions; "
                "to compute a setting from others write {expr: ...} (overridable) or "
                "{derived: ...}")
    return {n: dict(d) if isinstance(d, dict) else d for n, d in v.items()}


def known_defaults(v):
    """The spec's ``defaults``: fields some op has."""
    from costmodel.ops import OPS
    known = sorted({f for op in OPS.values() for f in op.fields})
    for k in v:
        if k not in known:
            close = difflib.get_close_matches(k, known, n=1)
            raise ValueError(f"defaults: no op has a field {k!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f"; fields: {', '.join(known)}")
    return v


def input_len(v):
    if len(v) not in (1, 3):
        raise ValueError("input must be [C, H, W] (or [F] for a flat vector)")
    return v


def loop_var(v):
    check_name(v, "loop variable")
    return v


def arg_defaults(block: Any) -> dict[str, Any]:
    """A block's argument name -> default (None: required; expr.UNSET: the op's default), in
    declaration order."""
    from costmodel.spec.expr import UNSET
    if isinstance(block.args, list):
        return {a: None for a in block.args}
    out: dict[str, Any] = {}
    for k, v in block.args.items():
        if isinstance(v, (ArgDecl,)) or type(v).__name__ == "ArgDecl":
            out[k] = UNSET if v.optional else v.default
        else:
            out[k] = v
    return out
