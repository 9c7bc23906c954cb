"""TorchScript traces without source locations: what makes fvcore's trace 3-4x faster.

For every node it adds to a traced graph, torch's tracer records where in the Python source the
node came from: it walks the whole Python stack, computes each frame's line number and builds a
source object from the result. A convolution adds 15 nodes (the op, 11 constants for its
arguments, 3 lists), so on this project's 2-core machine a traced 1x1 conv costs about 770 us
where the same conv runs in 33 us, and every further frame on the stack adds about 16 us per
conv (`python benchmarks/bench_verify.py --only-all` shows the effect on `verify --all`).

fvcore reads a traced graph's node kinds, scope names, inputs and tensor types, never a node's
source range, so its counts do not depend on it (tests/test_tracing.py checks that they are
equal with and without). :func:`drop_source_locations` replaces the tracer's recorder with a
no-op for the rest of the process. torch offers no Python switch for it; the C++ setter is
exported from libtorch_cpu (``torch::jit::tracer::setRecordSourceLocation``), and is called
through ctypes. Where the symbol is absent (another torch build) nothing changes and tracing
is only slower.

The change is process-wide and cannot be undone (torch keeps no getter for the recorder it
installs), so it is made only where costmodel owns the process: the runs of ``verify --all``
(:func:`costmodel.torch.batch.verify_run`, in its worker processes or, with one job, in the
command's own) and the ``costmodel verify`` command; never by the library function
:func:`costmodel.torch.crosscheck.verify_profile` itself.
"""
from __future__ import annotations

import ctypes
import os

_SETTER = "_ZN5torch3jit6tracer23setRecordSourceLocationEPFvPNS0_4NodeEE"
_RECORDER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_installed: list = []          # the no-op recorder, kept alive for the process's lifetime


def _noop(_node) -> None:
    return None


def drop_source_locations() -> bool:
    """Make the tracer record no source locations from now on in this process. True when it
    took effect (now or before), False where this torch build does not export the setter."""
    if _installed:
        return True
    import torch
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        setter = getattr(lib, _SETTER)
    except (OSError, AttributeError):
        return False
    setter.argtypes = [_RECORDER]
    setter.restype = None
    recorder = _RECORDER(_noop)
    setter(recorder)
    _installed.append(recorder)
    return True
