"""``extends:``: a spec built on another one, changing only what differs.

    name: ghost_vgg16_cifar
    extends: vgg16_cifar.yaml        # relative to this file
    settings: {ratio: 2}             # merged with the base's settings (new or changed)
    blocks:
      conv_bn: {...}                 # replaces the base's block of that name

Mappings ``settings`` and ``blocks`` are merged key by key (this file wins); every other
top-level key given here replaces the base's (``layers``, ``input``, ``variants``...), and the
rest is inherited. Errors inside inherited parts name the base file and its line.
"""
from __future__ import annotations

import os
from typing import Any

from costmodel.errors import SpecError
from costmodel.spec.loader import LineDict, read_spec_file

MAX_CHAIN = 8
MERGED_KEYS = ("settings", "blocks")


def _merge_maps(base: Any, child: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(child, dict):
        return child
    out = LineDict({**base, **child})
    out.line = getattr(child, "line", None)
    out.key_lines = {**getattr(base, "key_lines", {}), **getattr(child, "key_lines", {})}
    out.source = getattr(child, "source", None)
    return out


def resolve_extends(raw: Any, file: str, chain: tuple[str, ...] = ()) -> Any:
    """Return the spec with its ``extends`` chain merged in (the input if it has none)."""
    if not isinstance(raw, dict) or "extends" not in raw:
        return raw
    target = raw["extends"]
    line = raw.line_of("extends") if isinstance(raw, LineDict) else None
    if not isinstance(target, str) or not target.strip():
        raise SpecError("'extends' must be the path of another spec file", file=file, line=line)
    here = os.path.dirname(file) if file != "<dict>" else os.getcwd()
    base_file = os.path.normpath(os.path.join(here, target))
    seen = (*chain, os.path.normpath(file))
    if base_file in seen:
        raise SpecError("'extends' makes a cycle: " + " -> ".join((*seen, base_file)),
                        file=file, line=line)
    if len(seen) > MAX_CHAIN:
        raise SpecError(f"'extends' chains more than {MAX_CHAIN} files", file=file, line=line)
    try:
        base = read_spec_file(base_file)
    except SpecError as exc:
        raise SpecError(f"cannot extend {target!r}: {exc}", file=file, line=line) from None
    if not isinstance(base, dict):
        raise SpecError(f"cannot extend {target!r}: it is not a spec (a mapping)", file=file, line=line)
    base = resolve_extends(base, base_file, seen)
    merged = LineDict({k: v for k, v in base.items()})
    merged.line = getattr(raw, "line", None)
    merged.key_lines = dict(getattr(base, "key_lines", {}))
    merged.source = file
    for key, value in raw.items():
        if key == "extends":
            continue
        merged[key] = _merge_maps(base.get(key), value) if key in MERGED_KEYS else value
        if isinstance(raw, LineDict) and key in raw.key_lines:
            merged.key_lines[key] = raw.key_lines[key]
    merged.extends = base_file
    return merged
