"""The table of ops. Importing this package registers every op."""
from costmodel.ops import activation, conv, ghost, linear, merge, norm, pad, pool, reshape, se, unknown  # noqa: F401
from costmodel.ops.base import ALIASES, F, OPS, Op, Shape, lookup, numel, register

__all__ = ["ALIASES", "F", "OPS", "Op", "Shape", "lookup", "numel", "register"]
