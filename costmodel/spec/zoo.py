"""The zoo: the specs shipped with costmodel (package data in ``costmodel/zoo/``), and how a
command-line argument resolves to a spec file.

A bare name (``mobilenet_v2``) is a shipped spec; anything with a path separator or a ``.yaml``
/ ``.yml`` ending is a file. A bare name that is also a file in the current folder is ambiguous
and refused: ``./NAME`` picks the file.
"""
from __future__ import annotations

import difflib
import os
from pathlib import Path

from costmodel.errors import SpecError

ZOO_DIR = Path(__file__).resolve().parent.parent / "zoo"
BASELINE = ZOO_DIR / "baseline.json"      # the guard's committed baseline of the zoo


def names() -> list[str]:
    """The shipped specs, by name."""
    return sorted(p.stem for p in ZOO_DIR.glob("*.yaml"))


def path_of(name: str) -> Path:
    """The file of a shipped spec; a SpecError naming the known ones otherwise."""
    p = ZOO_DIR / f"{name}.yaml"
    if p.is_file():
        return p
    known = names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise SpecError(f"no shipped spec named {name!r}{hint}; shipped: {', '.join(known)} "
                    "(`costmodel zoo` lists them; a file path needs a '/' or a .yaml ending)")


def is_name(source: str) -> bool:
    """True when ``source`` is written as a zoo name rather than a path."""
    return bool(source) and os.sep not in source and "/" not in source \
        and not source.endswith((".yaml", ".yml")) and source not in (".", "..")


def resolve(source: "str | os.PathLike") -> str:
    """A spec argument as a file path: a shipped spec for a bare name, else the path itself."""
    text = os.fspath(source)
    if not is_name(text):
        return text
    if os.path.lexists(text):
        raise SpecError(f"{text!r} is both a file here and the name of a shipped spec: "
                        f"write ./{text} for the file", file=text) if (ZOO_DIR / f"{text}.yaml").is_file() \
            else SpecError("a spec file needs a .yaml ending, or write it as ./NAME", file=text)
    return str(path_of(text))
