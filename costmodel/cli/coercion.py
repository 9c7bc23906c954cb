"""Command-line values converted without building pydantic TypeAdapters (start-up, issue 16).

Typer (0.2x) converts every parameter's value through a pydantic ``TypeAdapter`` that it
builds when the command line is parsed: for ``costmodel profile`` that imports
``pydantic.main`` and builds a dozen adapters, about a third of the whole process's time.
:func:`install` makes typer convert the plain cases itself, with typer's own functions:

* a choice (an Enum): ``coerce_cli_choice``, the function typer's adapter calls;
* a path: ``coerce_cli_path`` given a ``Path`` (what the adapter hands it);
* a string, an integer (its bounds checked), a flag's bool, a list of those.

Anything else, and every value these do not take as it is (a bad choice, an integer out of
range, text that is not a plain integer), goes to typer's own adapter: errors are typer's,
word for word. ``tests/test_startup.py`` checks both give the same value for every parameter
of every command. Only the typer versions it was checked with are patched.
"""
from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Union

CHECKED_TYPER = ("0.29.",)       # typer versions whose internals this was checked against
_INT = re.compile(r"^-?[0-9]{1,30}$", re.ASCII)


class _Slow(Exception):
    """This value is left to typer's adapter."""


def _plain(annotation: Any, info: Any) -> Callable[[Any, Any, Any], Any] | None:
    """A converter for ``annotation`` (value, param, ctx -> value; raises _Slow), or None when
    typer's adapter should handle the parameter altogether."""
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer._typing import get_args, get_origin
    if getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None:
        return None
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Union and len(args) == 2 and type(None) in args:    # Optional[X]: None
        return _plain(next(a for a in args if a is not type(None)), info)  # never gets here
    if origin is list:
        inner = _plain(args[0], info) if len(args) == 1 else None
        if inner is None:
            return None
        return lambda v, p, c: [inner(x, p, c) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if origin is not None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        choices = list(annotation)
        sensitive = info.case_sensitive

        def choice(v, p, c):
            try:
                return coerce_cli_choice(v, choices=choices, case_sensitive=sensitive, ctx=c)
            except ValueError:
                raise _Slow from None
        return choice
    if annotation is str or annotation is bool:     # a string, a flag's bool: as they are
        def exact(v, p, c):
            if not isinstance(v, annotation):
                raise _Slow
            return v
        return exact
    if annotation is int:
        if getattr(info, "clamp", False):
            return None
        low, high = info.min, info.max

        def integer(v, p, c):
            if isinstance(v, str) and _INT.match(v):
                v = int(v)
            if type(v) is not int or (low is not None and v < low) or \
                    (high is not None and v > high):
                raise _Slow
            return v
        return integer
    if annotation is Path and getattr(info, "path_type", None) in (None, Path):
        def path(v, p, c):
            if isinstance(v, str) and v and "\x00" not in v:
                v = Path(v)
            if not isinstance(v, Path):
                raise _Slow
            return coerce_cli_path(v, info, path_type=Path, param=p, ctx=c)
        return path
    return None


def install() -> bool:
    """Patch typer's runtime conversion (once); False where the typer version is unchecked."""
    import typer
    from typer import core
    if not typer.__version__.startswith(CHECKED_TYPER) or getattr(core, "_costmodel_fast", False):
        return False
    from typer._coercion import RuntimeParam
    original = core.build_runtime_param

    class PlainRuntimeParam(RuntimeParam):      # (no @dataclass: building one costs 1.5 ms)
        def __init__(self, descriptor: Any, convert: Any) -> None:
            super().__init__(parameter_info=descriptor.parameter_info,
                             annotation=descriptor.annotation)
            object.__setattr__(self, "convert", convert)
            object.__setattr__(self, "descriptor", descriptor)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value, param, ctx)
            except _Slow:
                pass
            slow = self.__dict__.get("_slow")
            if slow is None:
                slow = original(self.descriptor)
                object.__setattr__(self, "_slow", slow)
            return slow._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        if descriptor.file_annotation is None:
            convert = _plain(descriptor.annotation, descriptor.parameter_info)
            if convert is not None:
                return PlainRuntimeParam(descriptor, convert)
        return original(descriptor)

    core.build_runtime_param = build_runtime_param
    core._costmodel_fast = True
    core._costmodel_original = original
    return True
