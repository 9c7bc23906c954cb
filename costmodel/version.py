"""The one version string, read from the installed package's metadata (pyproject.toml)."""
from __future__ import annotations


def _read() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("costmodel")
    except PackageNotFoundError:      # running from a source tree that was never installed
        return "0+unknown"


__version__ = _read()
