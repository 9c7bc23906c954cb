"""costmodel: an analytical cost model and FLOPs/params profiler for efficient CNNs.

``costmodel.profile(path_or_name_or_dict, **settings)`` is the analytic path: it imports
neither torch nor fvcore. The package is laid out by concern, imports running one way:

    spec/ -> graph/ -> ops/, count/ -> output/, guard/, sweep/, papers/, latency/ -> torch/, cli/

The names below are loaded on first use (PEP 562), so that ``import costmodel.X`` (the CLI
importing only the command it runs) does not import the whole analytic path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["Profile", "Spec", "SpecError", "profile", "verify", "__version__"]

if TYPE_CHECKING:       # pragma: no cover
    from costmodel.count.profile import Profile, Spec, profile
    from costmodel.errors import SpecError
    from costmodel.version import __version__

_LAZY = {"Profile": "costmodel.count.profile", "Spec": "costmodel.count.profile",
         "profile": "costmodel.count.profile", "SpecError": "costmodel.errors",
         "__version__": "costmodel.version"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'costmodel' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})


def verify(source, **settings):
    """Build the spec as a torch module and cross-check it against fvcore and FlopCounterMode
    layer by layer (``costmodel.torch.crosscheck.verify``; imports torch, so only when called)."""
    from costmodel.torch.crosscheck import verify as _verify
    return _verify(source, **settings)
