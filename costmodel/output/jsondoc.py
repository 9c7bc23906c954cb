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
