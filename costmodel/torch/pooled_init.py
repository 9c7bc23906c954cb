"""Building a module for timing only: torch's default initialisers, their values from a pool.

Why. Building a module runs every layer's ``reset_parameters``, whose ``kaiming_uniform_`` and
``uniform_`` draw each value from torch's CPU generator: 7.7 ns a value on this project's
2-core Xeon, 57% of the time it takes to build the calibration networks, and 3 s of each of a
default calibration's five rounds. A kernel's time does not depend on its weights' values (the
dense fp32 kernels do the same work whatever the numbers; only denormals would slow them, and
these values are never denormal), so the timing worker (:mod:`costmodel.latency.rounds`)
builds inside :class:`PooledInit`: the same initialisers called with the same bounds, on the
same tensors allocated in the same order (so the same placement in memory), each tensor's
values copied from a fixed pool of uniform values (from where the previous tensor stopped, so
that no two layers get the same weights) and scaled to the bound, instead of drawn one by one.
Measured on 40 calibration networks in forked children, each timed against the reference in
the same rounds (``benchmarks/bench_pooled_init.py``): their builds took 2.9 s against 4.8 s,
and their times over torch's builds' had a median of 1.006 and 1.019 in two runs, inside the
noise of torch's builds against themselves (odd rounds over even: 1.007 and 1.015).

How. For the length of the ``with``, it puts its own two functions in ``torch.nn.init`` in
place of ``kaiming_uniform_`` and ``uniform_`` (where torch's layers look them up, at each call
of ``reset_parameters``), and puts torch's back on the way out. A torch function mode would do
the same without touching torch's namespace, but it sees every torch call of the build (each
parameter's creation, each attribute read): in forked children that cost a small network's
build more than its initialisation (median 11.0 ms against torch's 8.0 ms, where this takes
7.8 ms against 9.9 ms). A call that passes its own ``generator`` (asking for reproducible
values), or a tensor that is not contiguous, gets torch's own initialiser. What a user builds
(``costmodel bench``, ``build``) is never affected: only the timing worker enters it, around a
build, never around a timed call.
"""
from __future__ import annotations

import math

import torch

POOL_SIZE = 1 << 20         # 4 MiB of fp32: built once, before the worker forks its jobs
SEED = 20261203


# the two initialisers' parameters, in order, with their defaults (torch 2.13's signatures;
# tests/test_pooled_init.py checks them against torch's own): read by hand, since binding a
# signature costs more than the rest of a small layer's initialisation
KAIMING = (("tensor", None), ("a", 0), ("mode", "fan_in"), ("nonlinearity", "leaky_relu"),
           ("generator", None))
UNIFORM = (("tensor", None), ("a", 0.0), ("b", 1.0), ("generator", None))


def arguments(params: tuple, args: tuple, kwargs: dict) -> dict:
    """A call's arguments by name, defaults filled in (``params``: KAIMING or UNIFORM)."""
    out = dict(params)
    out.update(zip((name for name, _ in params), args))
    out.update(kwargs)
    return out


class PooledInit:
    """While entered, ``torch.nn.init.kaiming_uniform_`` and ``uniform_`` fill their tensor
    from the pool (module doc). Make one before forking (it warms itself up: its first use
    in a process costs a few ms more), then enter it around each build."""

    def __init__(self, size: int = POOL_SIZE):
        g = torch.Generator().manual_seed(SEED)
        self.pool = torch.rand(size, generator=g).mul_(2).sub_(1)      # uniform on [-1, 1)
        self.cursor = 0
        self._saved: tuple | None = None
        with self:
            torch.nn.Conv2d(2, 2, 3)
            torch.nn.Linear(2, 2)
        self.cursor = 0

    def __enter__(self) -> "PooledInit":
        if self._saved is not None:
            raise RuntimeError("PooledInit is already entered")
        init = torch.nn.init
        self._saved = (init.kaiming_uniform_, init.uniform_)
        init.kaiming_uniform_ = self._wrap(KAIMING, self._kaiming_bound, init.kaiming_uniform_)
        init.uniform_ = self._wrap(UNIFORM, self._uniform_bounds, init.uniform_)
        return self

    def __exit__(self, *exc) -> None:
        torch.nn.init.kaiming_uniform_, torch.nn.init.uniform_ = self._saved
        self._saved = None

    def _wrap(self, params: tuple, bounds, original):
        def pooled(*args, **kwargs):
            a = arguments(params, args, kwargs)
            t = a["tensor"]
            if a["generator"] is not None or not t.is_contiguous() or t.numel() == 0:
                return original(*args, **kwargs)
            lo, hi = bounds(t, a)
            with torch.no_grad():
                self.fill(t, lo, hi)
            return t
        pooled.__wrapped__ = original
        return pooled

    @staticmethod
    def _uniform_bounds(t: torch.Tensor, a: dict) -> tuple[float, float]:
        return float(a["a"]), float(a["b"])

    @staticmethod
    def _kaiming_bound(t: torch.Tensor, a: dict) -> tuple[float, float]:
        """torch's bound for ``kaiming_uniform_``: sqrt(3) x gain / sqrt(fan), the fan over
        the tensor's second (fan_in) or first (fan_out) dimension times its receptive field;
        any other mode is refused, as torch refuses it."""
        if t.dim() < 2:
            raise ValueError("kaiming_uniform_ needs a tensor of at least 2 dimensions")
        mode = str(a["mode"]).lower()
        if mode not in ("fan_in", "fan_out"):
            raise ValueError(f"kaiming_uniform_'s mode must be fan_in or fan_out, got {a['mode']!r}")
        field = math.prod(t.shape[2:])
        fan = (t.shape[1] if mode == "fan_in" else t.shape[0]) * field
        b = math.sqrt(3.0) * torch.nn.init.calculate_gain(a["nonlinearity"], a["a"]) / math.sqrt(fan)
        return -b, b

    def fill(self, t: torch.Tensor, lo: float, hi: float) -> None:
        """Copy the pool into ``t`` from the cursor on (wrapping round), scaled to [lo, hi)."""
        flat, n, done, size = t.view(-1), t.numel(), 0, self.pool.numel()
        while done < n:
            k = min(n - done, size - self.cursor)
            flat[done:done + k].copy_(self.pool[self.cursor:self.cursor + k])
            done += k
            self.cursor = (self.cursor + k) % size
        flat.mul_((hi - lo) / 2).add_((hi + lo) / 2)


__all__ = ["PooledInit", "POOL_SIZE"]
