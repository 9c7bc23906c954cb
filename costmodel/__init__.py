"""costmodel: an analytical cost model and FLOPs/params profiler for efficient CNNs.

``costmodel.profile(path_or_dict, **settings)`` is the analytic path: it imports neither
torch nor fvcore.
"""
from .errors import SpecError
from .profile import Profile, Spec, profile

__version__ = "0.1.0"
__all__ = ["Profile", "Spec", "SpecError", "profile", "verify", "__version__"]


def verify(source, **settings):
    """Build the spec as a torch module and cross-check it against fvcore and FlopCounterMode
    layer by layer (``costmodel.crosscheck.verify``; imports torch, so only when called)."""
    from .crosscheck import verify as _verify
    return _verify(source, **settings)
