"""The variants of a spec (guarded by ``costmodel lock``, verified by ``costmodel verify --all``):
its defaults plus the setting
combinations it declares under ``variants:`` (a list of mappings, or ``{grid: {name: [values]}}``
for their cross product).

Each variant has a stable key: ``name=value`` pairs, sorted by name and joined by commas, over
the settings that *any* declared variant sets (so the defaults of MobileNet v1, whose grid
varies ``width`` and ``resolution``, are ``resolution=224,width=1.0``). Values are the coerced
settings (``width: 1`` and ``width: 1.0`` are the same variant), so duplicates collapse into
one. A spec that declares no variants has the single key ``default``.
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from costmodel.errors import SpecError
from costmodel.spec.records import Grid

if TYPE_CHECKING:                      # a parsed spec; the spec layer needs only its shape
    from costmodel.count.profile import Spec

DEFAULT_KEY = "default"
MAX_VARIANTS = 1000     # a grid is a handful of axes with a handful of values each


def _line(spec: Spec) -> int | None:
    """The line of the spec's ``variants:`` key, for error messages."""
    line_of = getattr(spec.raw, "line_of", None)
    return line_of("variants") if line_of else None


def format_value(value: Any) -> str:
    """A setting value as written in a variant key: ``true``, ``224``, ``0.5``, ``relu6``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def variant_key(settings: dict[str, Any], varied: list[str]) -> str:
    """``resolution=160,width=0.5``: the varied settings, sorted by name."""
    if not varied:
        return DEFAULT_KEY
    return ",".join(f"{k}={format_value(settings[k])}" for k in sorted(varied))


def declared_overrides(spec: Spec) -> list[dict[str, Any]]:
    """The declared variants as override mappings, in declaration order (grid: row-major
    over the grid's axes in the order written)."""
    variants = spec.model.variants
    if variants is None:
        return []
    if isinstance(variants, Grid):
        axes = list(variants.grid.items())
        for name, values in axes:
            if not values:
                raise SpecError(f"variants grid axis {name!r} has no values", file=spec.file,
                                line=_line(spec))
        size = 1
        for _, values in axes:
            size *= len(values)
        if size > MAX_VARIANTS:
            raise SpecError(f"the variants grid has {size:,} combinations; the limit is "
                            f"{MAX_VARIANTS:,}", file=spec.file, line=_line(spec))
        names = [n for n, _ in axes]
        return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in axes))]
    if len(variants) > MAX_VARIANTS:
        raise SpecError(f"{len(variants):,} variants declared; the limit is {MAX_VARIANTS:,}",
                        file=spec.file, line=_line(spec))
    return [dict(v) for v in variants]


def spec_variants(spec: Spec) -> list[tuple[str, dict[str, Any]]]:
    """``[(key, resolved settings), ...]``: the defaults first, then each declared variant not
    already listed. Unknown settings or values of the wrong type are a SpecError naming the
    variant."""
    overrides = declared_overrides(spec)
    varied = sorted({k for o in overrides for k in o})
    resolved = []
    for o in [{}, *overrides]:
        try:
            resolved.append(spec.settings(o))
        except SpecError as exc:
            shown = ", ".join(f"{k}={format_value(v)}" for k, v in o.items())
            exc.message = f"variant {{{shown}}}: {exc.message}"
            raise exc.located(file=spec.file, line=_line(spec)) from None
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for settings in resolved:
        key = variant_key(settings, varied)
        if key not in seen:
            seen.add(key)
            out.append((key, settings))
    return out
