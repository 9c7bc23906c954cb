"""Reading spec files safely: size limits, ``yaml.safe_load`` semantics, line numbers,
and a guard against alias ("billion laughs") bombs."""
from __future__ import annotations

import os
from typing import Any

import yaml

from costmodel.errors import SpecError

MAX_FILE_BYTES = 1_000_000          # a spec is a page of YAML; 1 MB is generous
MAX_EXPANDED_NODES = 200_000        # YAML nodes after expanding aliases


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


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.source = getattr(loader, "source_file", None)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise SpecError("a mapping key must be a plain value",
                            line=key_node.start_mark.line + 1) from None
        if key in result:
            raise SpecError(f"duplicate key {key!r}", line=key_node.start_mark.line + 1)
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
        return loader.construct_document(node)
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
    finally:
        loader.dispose()


def read_spec_file(path: str | os.PathLike) -> Any:
    """Read and parse a spec file, with a clear error for every way it can be unusable."""
    file = os.fspath(path)
    if not os.path.exists(file):
        raise SpecError("no such file", file=file)
    if os.path.isdir(file):
        raise SpecError("is a directory, not a spec file", file=file)
    try:
        size = os.path.getsize(file)
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is {size:,} bytes; specs are limited to {MAX_FILE_BYTES:,} bytes",
                            file=file)
        with open(file, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=file) from None
    if b"\x00" in raw:
        raise SpecError("binary data, not a YAML text file", file=file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text (byte {exc.start}): is this a YAML spec?", file=file) from None
    if not text.strip():
        raise SpecError("the file is empty: a spec needs at least 'name' and 'layers'", file=file)
    return parse_yaml(text, file)
