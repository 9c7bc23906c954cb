"""``extends:``: a spec built on another one, changing only what differs.

    name: ghost_vgg16_cifar
    extends: vgg16_cifar.yaml        # relative to this file; or a shipped spec: mobilenet_v1
    settings: {ratio: 2}             # merged with the base's settings (new or changed)
    blocks:
      conv_bn: {...}                 # replaces the base's block of that name
    patch:                           # edits of the base's layers, in order
      - {drop: features.6}           # a path of names or indexes (rows of a block call too)
      - {replace: fc, with: {op: linear, name: fc, out: 10}}
      - {insert_after: pool, entries: [{op: dropout, p: 0.2}]}

Mappings ``settings`` and ``blocks`` are merged key by key (this file wins); every other
top-level key given here replaces the base's (``layers``, ``input``, ``variants``...), and the
rest is inherited. Errors inside inherited parts name the base file and its line.

Guards against silent mistakes:

* a setting not in the base is an error when it is one edit away from a base setting (a typo:
  ``widht``) or when nothing in the spec uses it, unless it is declared ``{..., new: true}``;
* the base's variants that mention a setting this file changes are not inherited, unless this
  file says ``variants: inherit``.
"""
from __future__ import annotations

import os
from typing import Any

from costmodel.errors import SpecError
from costmodel.spec import zoo
from costmodel.spec.loader import LineDict, LineList, read_spec_file

MAX_CHAIN = 8
MAX_PATCHES = 1000
MERGED_KEYS = ("settings", "blocks")
PATCH_KINDS = ("drop", "replace", "insert_before", "insert_after")


def _merge_maps(base: Any, child: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(child, dict):
        return child
    out = LineDict({**base, **child})
    out.line = getattr(child, "line", None)
    out.key_lines = {**getattr(base, "key_lines", {}), **getattr(child, "key_lines", {})}
    out.source = getattr(child, "source", None)
    return out


def one_edit_apart(a: str, b: str) -> bool:
    """True when ``a`` becomes ``b`` by one insertion, deletion, substitution or swap of two
    neighbouring letters (``widht`` / ``width``)."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] \
            and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if la < lb else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1:] == short:
            return True
    return False


def _strings(node: Any, out: list[str], limit: int = 200_000) -> None:
    """Every string in a raw spec (iteratively; bounded)."""
    stack = [node]
    while stack and len(out) < limit:
        n = stack.pop()
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, dict):
            stack.extend(n.keys())
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def used_names(raw: dict, skip: tuple = ("settings", "variants", "name", "citation",
                                          "description", "extends")) -> set[str]:
    """Names the spec's expressions refer to (a generous reading: any word in any string)."""
    from costmodel.spec import expr
    texts: list[str] = []
    for k, v in raw.items():
        if k not in skip:
            _strings(v, texts)
    decls = raw.get("settings")
    if isinstance(decls, dict):       # settings computed from others use them too
        for d in decls.values():
            if isinstance(d, dict):
                for key in ("expr", "derived"):
                    if isinstance(d.get(key), str):
                        texts.append(d[key])
    names: set[str] = set()
    for t in texts:
        try:
            names |= expr.names_in(t)
        except SpecError:
            continue
    return names


def _target_file(target: str, file: str) -> str:
    if zoo.is_name(target):
        return str(zoo.path_of(target))
    here = os.path.dirname(file) if file != "<dict>" else os.getcwd()
    return os.path.normpath(os.path.join(here, target))


def resolve_extends(raw: Any, file: str, chain: tuple[str, ...] = ()) -> Any:
    """Return the spec with its ``extends`` chain merged in (the input if it has none)."""
    if not isinstance(raw, dict) or "extends" not in raw:
        if isinstance(raw, dict) and "patch" in raw:
            line = raw.line_of("patch") if isinstance(raw, LineDict) else None
            raise SpecError("'patch' edits the layers of the spec named by 'extends'; this spec "
                            "extends none", file=file, line=line)
        return raw
    target = raw["extends"]
    line = raw.line_of("extends") if isinstance(raw, LineDict) else None
    if not isinstance(target, str) or not target.strip():
        raise SpecError("'extends' must be the name of a shipped spec or the path of another "
                        "spec file", file=file, line=line)
    try:
        base_file = _target_file(target.strip(), file)
    except SpecError as exc:
        raise SpecError(f"cannot extend {target!r}: {exc.message}", file=file, line=line) from None
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
        if key in ("extends", "patch"):
            continue
        if key == "variants" and value == "inherit":
            continue
        merged[key] = _merge_maps(base.get(key), value) if key in MERGED_KEYS else value
        if isinstance(raw, LineDict) and key in raw.key_lines:
            merged.key_lines[key] = raw.key_lines[key]
    if "patch" in raw:
        merged["layers"] = apply_patches(merged.get("layers"), raw["patch"], file,
                                         raw.line_of("patch") if isinstance(raw, LineDict) else None)
    _check_settings(base, raw, merged, file)
    if "variants" not in raw:
        _filter_variants(base, raw, merged)
    merged.extends = base_file
    return merged


def _check_settings(base: dict, raw: dict, merged: dict, file: str) -> None:
    child = raw.get("settings")
    if not isinstance(child, dict):
        return
    parent = base.get("settings") if isinstance(base.get("settings"), dict) else {}
    used = None
    for name, decl in child.items():
        if name in parent or not isinstance(name, str):
            continue
        if isinstance(decl, dict) and decl.get("new") is True:
            continue
        line = child.line_of(name) if isinstance(child, LineDict) else None
        close = [p for p in parent if isinstance(p, str) and one_edit_apart(name, p)]
        if close:
            raise SpecError(f"setting {name!r} is not one of the base spec's settings but is one "
                            f"edit away from {close[0]!r}: a typo? (declare it as "
                            f"{{default: ..., new: true}} if it is a new setting)",
                            file=file, line=line)
        if used is None:
            used = used_names(merged)
        if name not in used:
            raise SpecError(f"setting {name!r} is new (the base spec has "
                            f"{', '.join(map(str, parent)) or 'no settings'}) and nothing uses "
                            "it (declare it as {default: ..., new: true} to keep it anyway)",
                            file=file, line=line)


def _filter_variants(base: dict, raw: dict, merged: dict) -> None:
    """Drop the inherited variants that mention a setting this spec changes."""
    child = raw.get("settings")
    variants = base.get("variants")
    if not isinstance(child, dict) or variants is None:
        return
    parent = base.get("settings") if isinstance(base.get("settings"), dict) else {}
    changed = {k for k in child if k in parent}
    if not changed:
        return
    if isinstance(variants, dict) and isinstance(variants.get("grid"), dict):
        grid = {k: v for k, v in variants["grid"].items() if k not in changed}
        if grid:
            merged["variants"] = {"grid": grid}
        else:
            merged.pop("variants", None)
    elif isinstance(variants, list):
        kept = [v for v in variants if not (isinstance(v, dict) and changed & set(v))]
        if kept:
            merged["variants"] = kept
        else:
            merged.pop("variants", None)


# -- patches ----------------------------------------------------------------------------------

def _copy_list(entries: list) -> LineList:
    out = LineList(entries)
    out.line = getattr(entries, "line", None)
    out.item_lines = list(getattr(entries, "item_lines", [out.line] * len(entries)))
    out.source = getattr(entries, "source", None)
    return out


def _copy_dict(d: dict) -> LineDict:
    out = LineDict(d)
    out.line = getattr(d, "line", None)
    out.key_lines = dict(getattr(d, "key_lines", {}))
    out.source = getattr(d, "source", None)
    return out


def _find(entries: list, part: str) -> int:
    for i, e in enumerate(entries):
        if isinstance(e, dict) and str(e.get("name")) == part:
            return i
    if part.isdigit() and int(part) < len(entries):
        return int(part)
    names = [str(e.get("name")) for e in entries if isinstance(e, dict) and "name" in e]
    raise SpecError(f"no entry {part!r} here (names: {', '.join(names) or 'none'}; or an index "
                    f"below {len(entries)})")


def _children_key(entry: dict, part: str | None) -> tuple[str, Any, bool]:
    """(key of the entry's list of children, sub-key for parallel branches, consumed part)."""
    if "seq" in entry:
        return "seq", None, False
    if "repeat" in entry:
        return "body", None, False
    if "residual" in entry:
        if part == "shortcut":
            return "shortcut", None, True
        return "residual", None, part == "body"
    if "parallel" in entry:
        return "parallel", part, True
    if "block" in entry and entry.get("rows") is not None:
        return "rows", None, False
    raise SpecError("this entry has no entries or rows inside it")


def apply_patches(layers: Any, patches: Any, file: str, line: int | None) -> Any:
    if not isinstance(layers, list):
        raise SpecError("'patch' needs the base spec's layers (a list)", file=file, line=line)
    if not isinstance(patches, list):
        raise SpecError("'patch' is a list of {drop: PATH}, {replace: PATH, with: ENTRY}, "
                        "{insert_before: PATH, entries: [...]} or {insert_after: PATH, "
                        "entries: [...]}", file=file, line=line)
    if len(patches) > MAX_PATCHES:
        raise SpecError(f"more than {MAX_PATCHES} patches", file=file, line=line)
    root = _copy_list(layers)
    plines = getattr(patches, "item_lines", [line] * len(patches))
    for n, p in enumerate(patches):
        pline = plines[n] if n < len(plines) else line
        try:
            root = _apply(root, p)
        except SpecError as exc:
            raise exc.located(file=file, line=pline) from None
    return root


def _apply(root: LineList, p: Any) -> LineList:
    if not isinstance(p, dict):
        raise SpecError(f"a patch is a mapping such as {{drop: features.6}}, got {p!r:.60}")
    kinds = [k for k in PATCH_KINDS if k in p]
    if len(kinds) != 1:
        raise SpecError(f"a patch has exactly one of {', '.join(PATCH_KINDS)}; got "
                        f"{', '.join(map(str, p)) or 'none'}")
    kind = kinds[0]
    allowed = {kind, "with"} if kind == "replace" else {kind} if kind == "drop" else {kind, "entries"}
    extra = set(p) - allowed
    if extra:
        raise SpecError(f"patch {kind}: unexpected key {sorted(map(str, extra))[0]!r}; it takes "
                        f"{', '.join(sorted(allowed))}")
    path = p[kind]
    if isinstance(path, bool) or not isinstance(path, (str, int)) or str(path) == "":
        raise SpecError(f"patch {kind}: a path such as 'features.6' or 'fc', got {path!r:.60}")
    parts = str(path).split(".")
    if kind == "replace":
        if "with" not in p:
            raise SpecError("patch replace needs 'with' (the new entry, or a list of entries)")
        new = p["with"] if isinstance(p["with"], list) else [p["with"]]
    elif kind == "drop":
        new = []
    else:
        if not isinstance(p.get("entries"), list) or not p["entries"]:
            raise SpecError(f"patch {kind} needs 'entries' (a list of entries)")
        new = list(p["entries"])
    # walk down, copying every list and entry on the way (the base stays untouched)
    holder: list = root
    i = 0
    while True:
        part = parts[i]
        idx = _find(holder, part)
        if i == len(parts) - 1:
            break
        entry = holder[idx]
        if not isinstance(entry, dict):
            raise SpecError(f"{'.'.join(parts[:i + 1])!r} has no entries inside it")
        key, branch, consumed = _children_key(entry, parts[i + 1])
        entry = _copy_dict(entry)
        holder[idx] = entry
        if key == "parallel":
            branches = entry["parallel"]
            if isinstance(branches, dict):
                if branch not in branches:
                    raise SpecError(f"no branch {branch!r} (branches: {', '.join(map(str, branches))})")
                branches = _copy_dict(branches)
                entry["parallel"] = branches
                branches[branch] = _copy_list(branches[branch])
                holder = branches[branch]
            else:
                if not str(branch).isdigit() or int(branch) >= len(branches):
                    raise SpecError(f"no branch {branch!r} (an index below {len(branches)})")
                branches = _copy_list(branches)
                entry["parallel"] = branches
                branches[int(branch)] = _copy_list(branches[int(branch)])
                holder = branches[int(branch)]
        else:
            if not isinstance(entry.get(key), list):
                entry[key] = LineList()
                entry[key].item_lines = []
            entry[key] = _copy_list(entry[key])
            holder = entry[key]
        i += 2 if consumed else 1
        if i >= len(parts):
            raise SpecError(f"path {path!r} names a list, not an entry in it")
    lines = holder.item_lines
    new_lines = [getattr(e, "line", None) for e in new]
    if kind == "drop" or kind == "replace":
        holder[idx:idx + 1] = new
        lines[idx:idx + 1] = new_lines
    elif kind == "insert_before":
        holder[idx:idx] = new
        lines[idx:idx] = new_lines
    else:
        holder[idx + 1:idx + 1] = new
        lines[idx + 1:idx + 1] = new_lines
    return root
