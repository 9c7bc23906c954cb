"""The roofline plot (matplotlib, the `plots` extra): every layer as a point under the roofs."""
from __future__ import annotations

import io
import os

from costmodel.ops.base import KERNEL_CLASSES
from costmodel.output.atomic import ensure_dir, write_atomic


def roofline_plot(pred, out: "str | os.PathLike") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dev = pred.device
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.get_cmap("tab10")
    pts = [l for l in pred.layers if l.traffic.traffic.flops > 0 and l.traffic.traffic.bytes > 0]
    xs = [l.traffic.traffic.intensity for l in pts] or [1.0]
    lo, hi = min(xs) / 2, max(xs) * 2
    for i, cls in enumerate(KERNEL_CLASSES):
        mine = [l for l in pts if l.traffic.op_class == cls]
        peak, bw = dev.cls(cls).peak_flops, dev.bandwidth(cls)
        knee = peak / bw
        grid = [lo, min(max(knee, lo), hi), hi]
        ax.plot(grid, [min(peak, g * bw) for g in grid], color=colours(i), lw=1, alpha=0.6)
        if mine:
            ax.scatter([l.traffic.traffic.intensity for l in mine],
                       [l.traffic.traffic.flops / l.time_s for l in mine], color=colours(i),
                       s=14, label=f"{cls} ({len(mine)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs / byte)")
    ax.set_ylabel("PREDICTED attained FLOP/s (with overheads)")
    ax.set_title(f"{pred.model}: roofline on {dev.name} ({dev.model} model, {dev.threads} "
                 f"thread(s), {pred.dtype}, batch {pred.batch}); lines: each class's roof "
                 "(peak, bandwidth)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.2)
    buf = io.BytesIO()
    fig.savefig(buf, format=os.fspath(out).rsplit(".", 1)[-1].lower(), dpi=120, bbox_inches="tight")
    plt.close(fig)
    folder = os.path.dirname(os.fspath(out)) or "."
    ensure_dir(folder)
    write_atomic(out, buf.getvalue())
