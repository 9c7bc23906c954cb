"""Optional extras: the core needs none of them; a command that does says which to install.

| extra | packages | commands |
|---|---|---|
| ``torch`` | torch, fvcore | verify, bench, calibrate, import |
| ``plots`` | matplotlib | tables (its plots), roofline |
| ``onnx`` | onnx | import of .onnx files |
| ``sweep`` | numpy | sweep (vectorised; without it, point by point) |
| ``parquet`` | pyarrow | sweep --format parquet |
| ``ray`` | ray | sweep / verify --all --backend ray |
"""
from __future__ import annotations

import importlib.util

from costmodel.errors import SpecError

EXTRAS = {"torch": ("torch", "fvcore"), "plots": ("matplotlib",), "onnx": ("onnx",),
          "sweep": ("numpy",), "parquet": ("pyarrow",), "ray": ("ray",)}


def missing(extra: str) -> list[str]:
    """The packages of an extra that are not installed."""
    gone = []
    for m in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):      # a broken or blocked install counts as missing
            found = False
        if not found:
            gone.append(m)
    return gone


def need(extra: str, what: str) -> None:
    """Raise a SpecError (exit 2) naming the extra to install when any of its packages is missing."""
    gone = missing(extra)
    if gone:
        pin = " -c constraints.txt" if extra == "torch" else ""
        raise SpecError(f"{what} needs the '{extra}' extra ({', '.join(gone)} not installed): "
                        f"pip install{pin} 'costmodel[{extra}]'")
