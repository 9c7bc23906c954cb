"""The head every JSON document of the tool starts with: the document format's version and
the tool's, so that a reader can tell what it parses."""
from __future__ import annotations

from typing import Any

FORMAT_VERSION = 2


def document(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with ``format_version``, ``tool`` and ``tool_version`` first."""
    if "format_version" in data:
        return data
    from costmodel.version import __version__
    return {"format_version": FORMAT_VERSION, "tool": "costmodel", "tool_version": __version__,
            **data}


def dumps(data: Any, indent: int = 2) -> str:
    """JSON laid out for reading: a mapping one key per line (indented), a list of plain
    values on one line, and a list of records (layers, rows) one record per line. Each line
    is written by json's C encoder (``indent=`` makes json use its pure-Python one, about ten
    times slower: a tenth of ``profile --format json``'s whole time for MobileNetV2)."""
    import json
    line = json.JSONEncoder(separators=(", ", ": ")).encode
    key = json.encoder.encode_basestring_ascii

    def name(k: Any) -> str:          # keys as json writes them (true, null, 1.5)
        return key(k) if isinstance(k, str) else line({k: 0})[1:-4]

    def walk(obj: Any, level: int) -> str:
        pad, inner = " " * (indent * level), " " * (indent * (level + 1))
        if isinstance(obj, dict) and obj:
            return "{\n" + ",\n".join(f"{inner}{name(k)}: {walk(v, level + 1)}"
                                      for k, v in obj.items()) + f"\n{pad}}}"
        if isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in obj):
            return "[\n" + ",\n".join(inner + line(v) for v in obj) + f"\n{pad}]"
        return line(obj)
    return walk(data, 0)
