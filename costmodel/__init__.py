"""costmodel: an analytical cost model and FLOPs/params profiler for efficient CNNs.

``costmodel.profile(path_or_name_or_dict, **settings)`` is the analytic path: it imports
neither torch nor fvcore. The package is laid out by concern, imports running one way:

    spec/ -> graph/ -> ops/, count/ -> output/, guard/, sweep/, papers/, latency/ -> torch/, cli/
"""
from costmodel.errors import SpecError
from costmodel.count.profile import Profile, Spec, profile
from costmodel.version import __version__

__all__ = ["Profile", "Spec", "SpecError", "profile", "verify", "__version__"]


def verify(source, **settings):
    """Build the spec as a torch module and cross-check it against fvcore and FlopCounterMode
    layer by layer (``costmodel.torch.crosscheck.verify``; imports torch, so only when called)."""
    from costmodel.torch.crosscheck import verify as _verify
    return _verify(source, **settings)
