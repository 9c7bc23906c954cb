"""Spec problems as readable sentences: pydantic errors turned into one located message,
with "did you mean" suggestions."""
from __future__ import annotations

import difflib
from typing import Any

from pydantic_core import ValidationError

from costmodel.errors import SpecError
from costmodel.spec.loader import LineDict, LineList


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def line_of(container: Any, index: int | None = None, key: str | None = None) -> int | None:
    if key is not None and isinstance(container, LineDict):
        return container.line_of(key)
    if index is not None and isinstance(container, LineList) and index < len(container.item_lines):
        return container.item_lines[index]
    return getattr(container, "line", None)


def pydantic_part(part: Any) -> bool:
    """A union member's name in a pydantic error location (``SettingDecl``,
    ``function-after[...]``), not a key of the spec."""
    text = str(part)
    return text[:1].isupper() or text.startswith("function-")


_EXPECTS = {"int": "an integer or an expression", "float": "a number or an expression",
            "bool": "true/false or an expression", "pair": "an integer, [h, w] or an expression",
            "choice": "a name"}


def validation_error(exc: ValidationError, what: str, raw: Any, known: list[str],
                     kinds: dict[str, str] | None = None) -> SpecError:
    """The most telling pydantic error as one readable sentence, with the line of the bad key.
    Unknown fields come first: a typo otherwise shows up as a missing field."""
    errors = exc.errors()
    err = next((e for e in errors if e["type"] == "extra_forbidden"),
               next((e for e in errors if e["type"] == "value_error"), errors[0]))
    loc = [str(p) for p in err["loc"]]
    key = loc[0] if loc else None
    line = line_of(raw, key=key) if key else getattr(raw, "line", None)
    etype = err["type"]
    got = err.get("input")
    if etype == "extra_forbidden":
        msg = f"unknown field {key!r} in {what}{suggest(key, known)}; fields: {', '.join(known)}"
    elif etype == "value_error":
        # a validator's own sentence; the location without pydantic's union-member names
        path = [p for p in loc if not pydantic_part(p)]
        text = err["msg"].removeprefix("Value error, ")
        sub = raw.get(key) if isinstance(raw, dict) and key else None
        if len(path) > 1 and isinstance(sub, dict):
            line = line_of(sub, key=path[1]) or line
        msg = f"{what}: {'.'.join(path)}: {text}"
    elif etype == "missing":
        msg = f"{what} is missing the required field {'.'.join(loc)!r}"
    elif etype == "literal_error" and key == "merge":
        msg = f"{what}: merge must be 'add', 'mul' or 'concat', got {got!r}"
    elif kinds and key in kinds:
        msg = f"{what}: field {key!r} expects {_EXPECTS[kinds[key]]}, got {raw.get(key)!r}"
    else:
        msg = f"{what}: field {'.'.join(loc)!r}: {err['msg'].lower()} (got {got!r})"
    return SpecError(msg, line=line)


def nested_line(raw: Any, loc: tuple) -> int | None:
    """The line of the deepest mapping key or list item named by a pydantic error location."""
    line = getattr(raw, "line", None)
    node = raw
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.line_of(part) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            line = getattr(node, "item_lines", [line] * (part + 1))[part]
            node = node[part]
        else:
            break
    return line
