"""Reading spec files safely: size limits, ``yaml.safe_load`` semantics, line numbers,
and a guard against alias ("billion laughs") bombs."""
from __future__ import annotations

import os
import stat
import sys
from typing import Any

import yaml

from costmodel.errors import SpecError

MAX_FILE_BYTES = 1_000_000          # a spec is a page of YAML; 1 MB is generous
MAX_EXPANDED_NODES = 200_000        # YAML nodes after expanding aliases
MAX_YAML_DEPTH = 1000               # nested mappings and lists


class LineDict(dict):
    """A mapping that remembers the line (1-based) it and each of its keys started on."""
    line: int | None = None
    key_lines: dict
    source: str | None = None    # the file it was read from (specs may extend other files)

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)


class LineList(list):
    line: int | None = None
    item_lines: list
    source: str | None = None


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's parser when available


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader semantics (no arbitrary objects) that record line numbers."""


MERGE_TAG = "tag:yaml.org,2002:merge"


def _merge_pairs(node: yaml.MappingNode, seen: frozenset = frozenset()) -> tuple[list, list]:
    """``(own pairs, merged pairs)`` of a mapping node: YAML merge keys (``<<: *base`` or
    ``<<: [*a, *b]``) expanded, sources in order of precedence, recursively."""
    own, merged = [], []
    for key_node, value_node in node.value:
        if key_node.tag != MERGE_TAG:
            own.append((key_node, value_node))
            continue
        line = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.MappingNode):
            sources = [value_node]
        elif isinstance(value_node, yaml.SequenceNode) and all(
                isinstance(v, yaml.MappingNode) for v in value_node.value):
            sources = list(value_node.value)
        else:
            raise SpecError("a merge key '<<' takes a mapping (an alias such as *base) or a list "
                            "of them", line=line)
        for src in sources:
            if id(src) in seen or src is node:
                raise SpecError("a merge key '<<' merges a mapping into itself", line=line)
            s_own, s_merged = _merge_pairs(src, seen | {id(node)})
            merged.extend(s_own + s_merged)
    return own, merged


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    own, merged = _merge_pairs(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.source = getattr(loader, "source_file", None)

    def key_of(key_node):
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise SpecError("a mapping key must be a plain value",
                            line=key_node.start_mark.line + 1) from None
        return key

    for key_node, value_node in own:
        key = key_of(key_node)
        if key in result:
            raise SpecError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            result.key_lines[key] = key_node.start_mark.line + 1
    # Merged keys: the mapping's own keys win, then earlier sources over later ones.
    for key_node, value_node in merged:
        key = key_of(key_node)
        if key in result:
            continue
        result[key] = loader.construct_object(value_node, deep=True)
        if isinstance(key, str):
            result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    result.source = getattr(loader, "source_file", None)
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _refuse_tag(loader: _Loader, node: yaml.Node):
    short = node.tag.replace("tag:yaml.org,2002:", "!!")
    raise SpecError(f"unsupported YAML tag {short}: specs are plain data (mappings, lists, "
                    "numbers, strings, true/false, null)", line=node.start_mark.line + 1)


def _timestamp_as_text(loader: _Loader, node: yaml.ScalarNode) -> str:
    """``2018-01-13`` stays the text it is (a citation's date, not a datetime)."""
    return loader.construct_scalar(node)


MAX_INT_DIGITS = 19      # an integer literal in a spec is at most 19 digits (about 2**63)


def _bounded_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """YAML's integers, but no longer than MAX_INT_DIGITS digits (a 5,000-digit channel count
    would otherwise fail deep inside Python, or make every count meaningless)."""
    text = loader.construct_scalar(node)
    digits = sum(ch.isdigit() for ch in text)
    if digits > MAX_INT_DIGITS:
        raise SpecError(f"integer of {digits:,} digits; numbers in a spec have at most "
                        f"{MAX_INT_DIGITS} digits", line=node.start_mark.line + 1)
    return yaml.constructor.SafeConstructor.construct_yaml_int(loader, node)


_Loader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
for _tag in ("omap", "pairs", "set", "binary"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse_tag)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_Loader.add_constructor(None, _refuse_tag)      # any other tag (!foo, !!python/...)


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """Number of nodes the document has once aliases are expanded (memoised, bounded)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # cycles (recursive aliases) count once and are caught elsewhere
    total = 1
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            total += _expanded_size(child, memo, limit)
            if total > limit:
                break
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            total += _expanded_size(k, memo, limit) + _expanded_size(v, memo, limit)
            if total > limit:
                break
    memo[key] = total
    return total


def _depth(root: yaml.Node) -> int:
    """How deeply the document's mappings and lists nest (iteratively); over
    MAX_YAML_DEPTH is refused with the line where the limit is crossed."""
    best, stack, seen = 0, [(root, 1)], set()
    while stack:
        node, d = stack.pop()
        if d > MAX_YAML_DEPTH:
            raise SpecError(f"the YAML nests more than {MAX_YAML_DEPTH} mappings and lists deep",
                            line=node.start_mark.line + 1)
        best = max(best, d)
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [v for _, v in node.value]
        else:
            continue
        for child in children:
            if (id(child), d) not in seen:
                seen.add((id(child), d))
                stack.append((child, d + 1))
    return best


def parse_yaml(text: str, file: str) -> Any:
    """Parse YAML text into LineDict/LineList/scalars; every problem becomes a SpecError."""
    loader = _Loader(text)
    loader.source_file = file
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError("the file is empty: a spec needs at least 'name' and 'layers'", file=file)
        if _expanded_size(node, {}, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise SpecError(f"the YAML expands to more than {MAX_EXPANDED_NODES:,} nodes "
                            "(an alias bomb?); refusing to load it", file=file)
        depth = _depth(node)
        # Construction recurses once per level: make room for the depth allowed, whatever
        # the caller's own stack depth (the result must not depend on who calls).
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 6 * depth + 1000))
        try:
            return loader.construct_document(node)
        finally:
            sys.setrecursionlimit(old)
    except SpecError as exc:
        raise exc.located(file=file) from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        tag = getattr(getattr(exc, "problem", None), "strip", lambda: "")()
        raise SpecError(f"unsupported YAML tag: {tag or exc}; specs are plain data (mappings, "
                        "lists, numbers, strings)", file=file,
                        line=mark.line + 1 if mark else None) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError(f"YAML syntax error: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", file=file) from None
    except RecursionError:
        raise SpecError("the YAML nests too deeply", file=file) from None
    except ValueError as exc:   # e.g. an integer of more than 4,300 digits
        raise SpecError(f"a value cannot be read: {str(exc)[:120]}", file=file) from None
    finally:
        loader.dispose()


def read_bounded(path: "str | os.PathLike", limit: int, what: str = "a spec") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes. A FIFO, a device, a socket or
    a folder is refused *before* it is opened for reading (a FIFO would block, /dev/zero never
    ends), and the size is enforced while reading (a file that grows, or lies in ``stat``)."""
    file = os.fspath(path)
    try:
        st = os.stat(file)
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=file) from None
    _refuse_special(st.st_mode, file, what)
    if st.st_size > limit:
        raise SpecError(f"file is {st.st_size:,} bytes; {what} is limited to {limit:,} bytes",
                        file=file)
    try:
        # O_NONBLOCK: should the path have been swapped for a FIFO since the stat, opening
        # it does not wait for a writer; fstat below then refuses it.
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=file) from None
    try:
        _refuse_special(os.fstat(fd).st_mode, file, what)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise SpecError(f"file is more than {limit:,} bytes; {what} is limited to "
                                f"{limit:,} bytes", file=file)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=file) from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _refuse_special(mode: int, file: str, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise SpecError(f"is {kind}, not a regular file: {what} is read from a plain file",
                    file=file)


def read_spec_file(path: str | os.PathLike) -> Any:
    """Read and parse a spec file, with a clear error for every way it can be unusable."""
    file = os.fspath(path)
    raw = read_bounded(file, MAX_FILE_BYTES, "a spec")
    if b"\x00" in raw:
        raise SpecError("binary data, not a YAML text file", file=file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}): is this a YAML spec?", file=file) from None
    if not text.strip():
        raise SpecError("the file is empty: a spec needs at least 'name' and 'layers'", file=file)
    return parse_yaml(text, file)
