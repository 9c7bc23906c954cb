"""The FLOP regression guard: ``costmodel lock`` snapshots the counts of every variant of
every spec of a folder into a baseline; ``costmodel check`` recomputes them (analytically, no
torch) and reports what moved. Which variants a spec has is ``costmodel.spec.variants``.

* ``snapshot``: the counts, per-layer records and digests of a folder of specs;
* ``baseline``: the baseline file format (validated with pydantic) and its reading (written
  with ``costmodel.output.atomic``);
* ``compare``: tolerances, the diff, and the first layer that differs.
"""
from __future__ import annotations

import os
from pathlib import Path

from costmodel.output.atomic import ensure_dir, write_atomic
from costmodel.errors import SpecError
from costmodel.guard.baseline import FORMAT_VERSION, MAX_BASELINE_BYTES, Baseline, dumps, read
from costmodel.guard.compare import Report, compare, parse_tolerance
from costmodel.guard.snapshot import snapshot_specs

__all__ = ["FORMAT_VERSION", "Baseline", "Report", "compare", "dumps", "lock", "check",
           "parse_tolerance", "read", "snapshot_specs", "write_atomic"]


def lock(specs_dir: "str | os.PathLike", out: "str | os.PathLike",
         recursive: bool = True) -> Baseline:
    """Snapshot ``specs_dir`` (and its subfolders) and write the baseline to ``out`` atomically."""
    base = snapshot_specs(specs_dir, recursive)
    if not base.specs:
        raise SpecError("no *.yaml specs here: nothing to lock", file=str(specs_dir))
    data = dumps(base).encode("utf-8")
    if len(data) > MAX_BASELINE_BYTES:      # check would refuse it: do not write it
        raise SpecError(f"the baseline would be {len(data):,} bytes; `costmodel check` reads at "
                        f"most {MAX_BASELINE_BYTES:,} (fewer variants, or shorter layer names)",
                        file=os.fspath(out))
    ensure_dir(Path(out).parent)
    write_atomic(out, data)
    return base


def check(specs_dir: "str | os.PathLike", baseline: "str | os.PathLike",
          tolerance: list[str] | None = None, recursive: bool = True,
          conventions: list[str] | None = None) -> Report:
    """Compare ``specs_dir`` (and its subfolders) with the baseline file. Bad input raises
    SpecError; every spec that fails to load is named in it. ``conventions``: guard the FLOP
    totals of these conventions only (mult-adds, params, activations, weights and the layers
    are always guarded)."""
    before = read(baseline)
    after = snapshot_specs(specs_dir, recursive)
    if conventions:
        from costmodel.count.conventions import get
        keys = {get(c).key for c in conventions}
        for base in (before, after):
            for entry in base.specs.values():
                for v in entry.variants.values():
                    v.totals = {k: t for k, t in v.totals.items()
                                if not k.startswith("flops_") or k in keys}
    metrics = sorted({m for e in [*before.specs.values(), *after.specs.values()]
                      for v in e.variants.values() for m in v.totals})
    return compare(before, after, parse_tolerance(tolerance, metrics))
