"""Spearman's rank correlation, with ties: each value's rank is the mean of the positions it
shares (1-based, "fractional ranking"), and the coefficient is Pearson's correlation of the
two rank vectors. Pure Python (the analytic path imports no numpy or scipy)."""
from __future__ import annotations

import math
from typing import Sequence


def ranks(values: Sequence[float]) -> list[float]:
    """Fractional ranks: [10, 30, 20, 20] -> [1.0, 4.0, 2.5, 2.5]."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        mean = (i + j) / 2 + 1          # positions i..j (0-based) share rank mean(i..j) + 1
        for k in range(i, j + 1):
            out[order[k]] = mean
        i = j + 1
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman's rho of two equally long sequences; None when it is undefined (fewer than two
    pairs, or one side has all values tied)."""
    if len(a) != len(b):
        raise ValueError(f"spearman: {len(a)} values against {len(b)}")
    if len(a) < 2:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    sab = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    saa = sum((x - ma) ** 2 for x in ra)
    sbb = sum((y - mb) ** 2 for y in rb)
    if saa == 0 or sbb == 0:
        return None
    return sab / math.sqrt(saa * sbb)
