"""The one version string, read from the installed package's metadata (pyproject.toml).

The metadata file is found as ``importlib.metadata.version`` finds it (the first
``costmodel-*.dist-info`` or ``*.egg-info`` along ``sys.path``) but read directly: importing
importlib.metadata (and the email parser it loads) costs a tenth of a start-up (issue 16).
``tests/test_startup.py`` checks both give the same string."""
from __future__ import annotations

import os
import sys

NAME = "costmodel"


def _from_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    break                       # the headers end at the first blank line
                if line.startswith("Version:"):
                    return line[len("Version:"):].strip() or None
    except OSError:
        return None
    return None


def _scan() -> str | None:
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except (OSError, TypeError):
            continue
        for n in sorted(names):
            low = n.lower()
            if low.endswith(".dist-info") and low.startswith(NAME + "-"):
                found = _from_file(os.path.join(entry, n, "METADATA"))
            elif low.endswith(".egg-info") and (low == NAME + ".egg-info"
                                                or low.startswith(NAME + "-")):
                found = _from_file(os.path.join(entry, n, "PKG-INFO"))
            else:
                continue
            if found:
                return found
    return None


def _read() -> str:
    found = _scan()
    if found:
        return found
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(NAME)
    except PackageNotFoundError:      # running from a source tree that was never installed
        return "0+unknown"


__version__ = _read()
