"""A user's own ``nn.Module``: ``REF`` is ``package.module:factory`` or
``path/to/file.py:factory``; the factory is called with keyword arguments (``--args JSON``)
and must return an ``nn.Module``. Everything that can go wrong is one SpecError line (the CLI
exits 2): a REF that does not import, a missing factory, a factory that raises, a result
that is not a module, an input the module rejects, a model over the size limits.
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from costmodel.errors import SpecError

# The same memory limit as `costmodel verify` (torch/crosscheck.py).
MAX_PARAMS = 500_000_000
MAX_INPUT_ELEMENTS = 50_000_000          # C x H x W of one example input
MAX_ARGS_BYTES = 100_000


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def parse_args(text: str | None) -> dict[str, Any]:
    """``--args JSON``: the factory's keyword arguments (a JSON object)."""
    if not text:
        return {}
    if len(text) > MAX_ARGS_BYTES:
        raise SpecError(f"--args is longer than {MAX_ARGS_BYTES:,} characters")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"--args is not valid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        raise SpecError(f"--args must be a JSON object of keyword arguments, got {text!r:.60}")
    return value


def parse_input(text: str | None) -> tuple[int, ...] | None:
    """``--input CxHxW`` (or ``F`` for a flat vector), without the batch."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise SpecError(f"--input must be CxHxW such as 3x224x224, got {text!r}") from None
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise SpecError(f"--input must be CxHxW with positive sizes, got {text!r}")
    n = 1
    for d in shape:
        n *= d
    if n > MAX_INPUT_ELEMENTS:
        raise SpecError(f"--input {text} has {n:,} elements, above the limit of "
                        f"{MAX_INPUT_ELEMENTS:,}")
    return shape


def is_reference(text: str) -> bool:
    """Does ``text`` look like a REF (``module:factory`` / ``file.py:factory``)?"""
    if ":" not in text:
        return False
    head, _, tail = text.rpartition(":")
    return bool(head) and tail.isidentifier() and not (len(head) == 1 and head.isalpha())


def _import(where: str):
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise SpecError(f"{where}: no such Python file")
        name = f"costmodel_ref_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise SpecError(f"{where}: cannot be imported as a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        parent = str(path.resolve().parent)
        added = parent not in sys.path
        if added:
            sys.path.insert(0, parent)     # so the file may import its neighbours
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:       # noqa: BLE001 - the user's code: any failure is bad input
            sys.modules.pop(name, None)
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise SpecError(f"{where} does not import: {_first_line(exc)}") from None
        finally:
            if added:
                sys.path.remove(parent)
        return module
    try:
        return importlib.import_module(where)
    except BaseException as exc:           # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(f"module {where!r} does not import: {_first_line(exc)}") from None


def load_module(ref: str, kwargs: dict[str, Any] | None = None):
    """The ``nn.Module`` that ``ref``'s factory returns, in eval mode."""
    from torch import nn

    if not is_reference(ref):
        raise SpecError(f"{ref!r} is not a reference: write package.module:factory or "
                        "path/to/file.py:factory")
    where, _, factory_name = ref.rpartition(":")
    module = _import(where)
    factory = getattr(module, factory_name, None)
    if factory is None:
        raise SpecError(f"{where} has no {factory_name!r}")
    if not callable(factory):
        raise SpecError(f"{ref}: {factory_name!r} is a {type(factory).__name__}, not callable")
    try:
        model = factory(**(kwargs or {}))
    except BaseException as exc:           # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SpecError(f"{ref} raised {_first_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise SpecError(f"{ref} returned a {type(model).__name__}, not a torch.nn.Module")
    params = sum(p.numel() for p in model.parameters())
    if params > MAX_PARAMS:
        raise SpecError(f"{ref} has {params:,} parameters, above the limit of {MAX_PARAMS:,}")
    return model.eval()


def run_module(model, x, ref: str):
    """One forward pass; an input the module rejects is bad input (SpecError)."""
    import torch
    try:
        with torch.no_grad():
            return model(x)
    except Exception as exc:               # noqa: BLE001
        raise SpecError(f"{ref} rejects an input of shape {'x'.join(map(str, x.shape[1:]))}: "
                        f"{_first_line(exc)}") from None
