"""ShuffleNet V2's guideline experiments (Section 2, Tables 1 and 2) on this machine: for each
variant of the guideline specs (costmodel/zoo/shufflenet_v2_guidelines/), the mult-adds, the
MEASURED speed (torch eager, CPU, fp32, batch 1, --threads) and the PREDICTED one (the shipped
or given device profile), in images per second, with each speed's ratio to the first variant.

The paper's own GPU and ARM speeds are not printed here: the paper's text is not among this
repository's sources, so they are not transcribed (see the issue's closing note).

    python benchmarks/bench_guidelines.py [--threads 1] [--device epyc-1t] [--budget 1.0]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from costmodel.count.profile import Spec  # noqa: E402
from costmodel.latency import devices  # noqa: E402
from costmodel.latency.bench import measure  # noqa: E402
from costmodel.latency.predict import predict  # noqa: E402
from costmodel.output.tabular import Column, Tabular  # noqa: E402

FOLDER = ROOT / "costmodel" / "zoo" / "shufflenet_v2_guidelines"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default=None)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds of timed passes per variant")
    args = ap.parse_args()
    dev = devices.resolve(args.device or devices.default_name())
    con = Console(width=160)
    for path in sorted(FOLDER.glob("*.yaml")):
        spec = Spec.load(path)
        variants = [dict(v) for v in spec.model.variants] if isinstance(spec.model.variants, list) else []
        t = Tabular(title=f"{spec.name}: {spec.model.citation.split(':')[-1].strip()} — MEASURED "
                          f"({args.threads} thread(s), fp32, batch 1) and PREDICTED ({dev.name})",
                    columns=[Column("Settings", "left"), Column("Mult-adds (M)"),
                             Column("Measured (img/s)"), Column("ratio"),
                             Column("Predicted (img/s)"), Column("ratio")])
        first = None
        for v in variants:
            p = spec.profile(**v)
            one = measure(p, args.threads, 1, 1, per_layer=False).totals["time_s"]
            m = measure(p, args.threads, max(3, min(50, int(args.budget / max(one, 1e-4)))), 1,
                        per_layer=False).totals["min_s"]
            pr = predict(p, dev).time_s
            if first is None:
                first = (m, pr)
            t.add([", ".join(f"{k}={x}" for k, x in v.items()), f"{p.mult_adds / 1e6:,.1f}",
                   f"{1 / m:,.1f}", f"{first[0] / m:.2f}", f"{1 / pr:,.1f}", f"{first[1] / pr:.2f}"])
        t.notes = ["Measured: the fastest of the timed passes (other processes only add time). "
                   "ratio: speed relative to the first row."]
        con.print(t.to_rich())


if __name__ == "__main__":
    main()
