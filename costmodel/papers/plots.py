"""Plots of the paper tables (matplotlib, imported lazily; the Agg canvas, no pyplot state).

* :func:`accuracy_vs_mult_adds`: reported ImageNet top-1 against computed mult-adds (log x),
  one colour and marker per family, points labelled, the Pareto front drawn.
* :func:`accuracy_vs_latency`: reported top-1 against latency (log x): PREDICTED on a named
  device profile, or MEASURED on this machine (its own file), with the Pareto front.
* :func:`mobilenet_grid`: MobileNet v1's width x resolution grid, as the paper's Figures 4
  (accuracy vs mult-adds) and 5 (accuracy vs parameters), plus the computed cost of all 16
  grid points and a latency panel (accuracy vs predicted latency).

Each returns ``{file name: bytes}`` for PNG and SVG. The output is deterministic: a fixed SVG
hash salt, SVG text kept as text, no date or software version in the metadata.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

# family (the spec's name) -> (legend label, marker); colours follow this order (tab10/tab20).
FAMILIES: list[tuple[str, str, str]] = [
    ("mobilenet_v1", "MobileNet v1", "o"),
    ("mobilenet_v2", "MobileNet v2", "s"),
    ("mobilenet_v3_large", "MobileNet v3 Large", "D"),
    ("mobilenet_v3_small", "MobileNet v3 Small", "d"),
    ("shufflenet_v1", "ShuffleNet v1", "^"),
    ("shufflenet_v2", "ShuffleNet v2", "v"),
    ("ghostnet", "GhostNet", "*"),
    ("resnet50", "ResNet-50", "P"),
    ("ghost_resnet50", "Ghost-ResNet-50", "X"),
    ("vgg16", "VGG-16", "h"),
    ("googlenet", "GoogLeNet", "p"),
    ("alexnet", "AlexNet", "<"),
    ("squeezenet", "SqueezeNet", ">"),
]
RC = {
    "svg.hashsalt": "costmodel",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "figure.dpi": 100,
}
PNG_META = {"Software": None}
SVG_META = {"Date": None, "Creator": None}


@dataclass
class Point:
    family: str          # the spec's name
    label: str           # the model as printed
    mult_adds: int       # computed
    params: int          # computed (the table's convention)
    top1: float          # reported ImageNet top-1 (%), or 100 - reported error
    table: str
    settings: dict
    reproduced: bool = True       # computed mult-adds within the printed figure's rounding
    footnote: int | None = None   # the table's footnote on the gap, when not reproduced

    @property
    def text(self) -> str:
        return self.label if self.reproduced else f"{self.label} [{self.footnote}]"


def points_from_tables(tables) -> list[Point]:
    """Every row with a reported ImageNet top-1 (or top-1 error) and a computed cost; one
    point per (spec, settings), the first table's label wins."""
    seen: set = set()
    out: list[Point] = []
    for t in tables:
        if t.kind != "results":
            continue
        for r in t.records:
            top1 = r.get("top1_reported")
            if top1 is None and r.get("err_reported") is not None:
                top1 = round(100.0 - r["err_reported"], 4)
            if top1 is None or r.get("mult_adds_computed") is None or r.get("spec") is None:
                continue
            key = (r["spec"], tuple(sorted((k, repr(v)) for k, v in r["settings"].items())))
            if key in seen:
                continue
            seen.add(key)
            missed = r.get("mult_adds_within_rounding") is False
            out.append(Point(r["spec"], r["model"], r["mult_adds_computed"],
                             r["params_computed"], float(top1), t.id, dict(r["settings"]),
                             reproduced=not missed,
                             footnote=r.get("mult_adds_footnote") if missed else None))
    return out


def pareto(points: list[Point]) -> list[Point]:
    """The points no other point beats on both fewer mult-adds and higher accuracy; only rows
    whose computed cost reproduces the printed one (a cost we cannot reproduce could put a
    model on the front where it does not belong)."""
    front: list[Point] = []
    best = float("-inf")
    for p in sorted((p for p in points if p.reproduced), key=lambda p: (p.mult_adds, -p.top1)):
        if p.top1 > best:
            front.append(p)
            best = p.top1
    return front


def _figure(width: float, height: float):
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height))


def _plain_log_axis(axis) -> None:
    """Log-scale ticks as plain numbers (30, 100, 300), not 3 x 10^1."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _save(fig, stem: str) -> dict[str, bytes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    out = {}
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf, metadata=PNG_META)
    out[f"{stem}.png"] = buf.getvalue()
    buf = io.BytesIO()
    FigureCanvasSVG(fig).print_svg(buf, metadata=SVG_META)
    out[f"{stem}.svg"] = buf.getvalue()
    return out


def _style(family: str) -> tuple[str, str, Any]:
    import matplotlib
    names = [f for f, _, _ in FAMILIES]
    cmap = matplotlib.colormaps["tab20"]
    if family in names:
        i = names.index(family)
        _, label, marker = FAMILIES[i]
    else:
        i = len(FAMILIES) + sorted({family}).index(family)
        label, marker = family, "o"
    return label, marker, cmap((2 * i) % 20 / 20 + (0.05 if i >= 10 else 0.0))


OFFSETS = [(5, 4), (5, -11), (-5, 4), (-5, -11), (0, 9), (0, -16), (12, -3), (-12, -3),
           (10, 14), (10, -21), (-10, 14), (-10, -21), (0, 20), (0, -27), (24, 4), (-24, 4),
           (20, 26), (20, -33), (-20, 26), (-20, -33), (0, 34), (0, -41)]


def _overlaps(a, b, pad: float = 1.0) -> bool:
    return not (a.x1 + pad <= b.x0 or b.x1 + pad <= a.x0 or a.y1 + pad <= b.y0 or b.y1 + pad <= a.y0)


def place_labels(fig, ax, anchors: list[tuple[float, float]], texts: list[str],
                 fontsize: float = 7) -> list:
    """Annotate each anchor (data coordinates) with its text at the first offset (points)
    where the label overlaps no label already placed, no marker and stays inside the axes;
    a label that must move far gets a thin leader line. Deterministic (no randomness)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox
    canvas = FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    marks = []
    for x, y in anchors:
        px, py = ax.transData.transform((x, y))
        marks.append(Bbox.from_extents(px - 4, py - 4, px + 4, py + 4))
    placed: list = []
    out = []
    order = sorted(range(len(anchors)), key=lambda i: (anchors[i][0], anchors[i][1]))
    for i in order:
        best = None
        for dx, dy in OFFSETS:
            ha = "left" if dx > 0 else ("right" if dx < 0 else "center")
            ann = ax.annotate(texts[i], anchors[i], xytext=(dx, dy), textcoords="offset points",
                              fontsize=fontsize, ha=ha, zorder=4)
            box = ann.get_window_extent(renderer)
            inside = (box.x0 >= axes_box.x0 and box.x1 <= axes_box.x1 and
                      box.y0 >= axes_box.y0 and box.y1 <= axes_box.y1)
            clash = any(_overlaps(box, b, 2.0) for b in placed) or \
                any(_overlaps(box, m, 0) for j, m in enumerate(marks) if j != i)
            if inside and not clash:
                best = (ann, box, dx, dy)
                break
            ann.remove()
        if best is None:      # nowhere free: the first position, the overlap accepted
            dx, dy = OFFSETS[0]
            ann = ax.annotate(texts[i], anchors[i], xytext=(dx, dy), textcoords="offset points",
                              fontsize=fontsize, ha="left", zorder=4)
            best = (ann, ann.get_window_extent(renderer), dx, dy)
        ann, box, dx, dy = best
        if abs(dx) + abs(dy) > 20:
            ax.annotate("", anchors[i], xytext=(dx, dy), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": "0.5", "linewidth": 0.5,
                                    "shrinkA": 0, "shrinkB": 3}, zorder=3)
        placed.append(box)
        out.append(ann)
    return out


def accuracy_vs_mult_adds(points: list[Point], stem: str = "accuracy_vs_mult_adds") -> dict[str, bytes]:
    """Filled markers: rows whose computed mult-adds reproduce the printed figure. Hollow
    markers with the table's footnote number: rows whose computed cost misses the printed
    one beyond its rounding; they are left out of the Pareto front."""
    import matplotlib
    from matplotlib.lines import Line2D
    with matplotlib.rc_context(RC):
        fig = _figure(14, 7.5)
        ax = fig.add_subplot(1, 1, 1)
        families = sorted({p.family for p in points},
                          key=lambda f: ([x[0] for x in FAMILIES] + [f]).index(f))
        for fam in families:
            label, marker, colour = _style(fam)
            for ok in (True, False):
                ps = [p for p in points if p.family == fam and p.reproduced is ok]
                if not ps:
                    continue
                ax.scatter([p.mult_adds / 1e6 for p in ps], [p.top1 for p in ps], marker=marker,
                           s=70 if marker == "*" else 40,
                           facecolors=colour if ok else "none",
                           edgecolors="black" if ok else colour,
                           linewidths=0.5 if ok else 1.3, label=label if ok else None, zorder=3)
            if not any(p.reproduced for p in points if p.family == fam):
                ax.scatter([], [], marker=marker, s=40, facecolors="none", edgecolors=colour,
                           linewidths=1.3, label=label)
        front = pareto(points)
        if front:
            ax.step([p.mult_adds / 1e6 for p in front], [p.top1 for p in front], where="post",
                    color="0.35", linestyle="--", linewidth=1.2, zorder=2,
                    label="Pareto front (fewer mult-adds, higher top-1; reproduced rows only)")
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        xs = [p.mult_adds / 1e6 for p in points] or [1.0]
        ys = [p.top1 for p in points] or [50.0]
        ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
        ax.set_ylim(min(ys) - 2.5, max(ys) + 2.5)
        ax.set_xlabel("Mult-adds (millions, computed by costmodel: conv + linear MACs; log scale)")
        ax.set_ylabel("ImageNet top-1 accuracy (%, as reported by the papers)")
        ax.set_title("Reported ImageNet top-1 vs. computed mult-adds, every registry row with both",
                     loc="left")
        ax.grid(True, which="both", linewidth=0.4, alpha=0.5)
        handles, labels = ax.get_legend_handles_labels()
        if any(not p.reproduced for p in points):
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7,
                                  markerfacecolor="none", markeredgecolor="0.3"))
            labels.append("hollow, [n]: the computed cost misses\nthe printed one beyond its rounding\n"
                          "(footnote n of its table); left out\nof the Pareto front")
        # outside the axes: the legend hides no point and no label
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  framealpha=0.9, borderaxespad=0.0)
        fig.tight_layout()
        place_labels(fig, ax, [(p.mult_adds / 1e6, p.top1) for p in points],
                     [p.text for p in points])
        return _save(fig, stem)


def latency_front(items: list[tuple[Point, float]]) -> list[tuple[Point, float]]:
    """The (point, ms) pairs no other beats on both lower latency and higher accuracy."""
    front: list[tuple[Point, float]] = []
    best = float("-inf")
    for p, ms in sorted(items, key=lambda it: (it[1], -it[0].top1)):
        if p.top1 > best:
            front.append((p, ms))
            best = p.top1
    return front


def accuracy_vs_latency(items: list[tuple[Point, float]], label: str,
                        stem: str = "accuracy_vs_latency", measured: bool = False) -> dict[str, bytes]:
    """Reported top-1 against latency in ms (log x), one colour and marker per family, the
    Pareto front drawn. ``label`` names where the latency comes from (the device profile, or
    the machine); ``measured`` only changes the words: PREDICTED or MEASURED."""
    import matplotlib
    word = "MEASURED" if measured else "PREDICTED"
    with matplotlib.rc_context(RC):
        fig = _figure(14, 7.5)
        ax = fig.add_subplot(1, 1, 1)
        families = sorted({p.family for p, _ in items},
                          key=lambda f: ([x[0] for x in FAMILIES] + [f]).index(f))
        for fam in families:
            name, marker, colour = _style(fam)
            for ok in (True, False):
                ps = [(p, ms) for p, ms in items if p.family == fam and p.reproduced is ok]
                if ps:
                    ax.scatter([ms for _, ms in ps], [p.top1 for p, _ in ps], marker=marker,
                               s=70 if marker == "*" else 40,
                               facecolors=colour if ok else "none",
                               edgecolors="black" if ok else colour,
                               linewidths=0.5 if ok else 1.3, label=name if ok else None, zorder=3)
        front = latency_front([(p, ms) for p, ms in items if p.reproduced])
        if front:
            ax.step([ms for _, ms in front], [p.top1 for p, _ in front], where="post",
                    color="0.35", linestyle="--", linewidth=1.2, zorder=2,
                    label=f"Pareto front (lower {word.lower()} latency, higher top-1)")
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        xs = [ms for _, ms in items] or [1.0]
        ys = [p.top1 for p, _ in items] or [50.0]
        ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
        ax.set_ylim(min(ys) - 2.5, max(ys) + 2.5)
        ax.set_xlabel(f"Latency (ms, {word}, batch 1; log scale)")
        ax.set_ylabel("ImageNet top-1 accuracy (%, as reported by the papers)")
        ax.set_title(f"Reported ImageNet top-1 vs. {word} latency: {label}", loc="left",
                     fontsize=10)
        ax.grid(True, which="both", linewidth=0.4, alpha=0.5)
        handles, labels = ax.get_legend_handles_labels()
        if any(not p.reproduced for p, _ in items):
            from matplotlib.lines import Line2D
            handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7,
                                  markerfacecolor="none", markeredgecolor="0.3"))
            labels.append("hollow, [n]: the computed cost misses\nthe printed one (footnote n of\n"
                          "its table); left out of the front")
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  framealpha=0.9, borderaxespad=0.0)
        fig.tight_layout()
        place_labels(fig, ax, [(ms, p.top1) for p, ms in items], [p.text for p, _ in items])
        return _save(fig, stem)


def mobilenet_grid(costs: dict[tuple[float, int], tuple[int, int]],
                   top1: dict[tuple[float, int], float],
                   widths: list[float], resolutions: list[int],
                   stem: str = "mobilenet_v1_grid", latency: dict | None = None,
                   latency_label: str = "") -> dict[str, bytes]:
    """``costs[(width, resolution)] = (mult_adds, weights)`` for all grid points; ``top1``
    only where a paper table reports it; ``latency[(width, resolution)]``: PREDICTED ms on the
    device profile ``latency_label`` (the fourth panel; left out when empty)."""
    import matplotlib
    import numpy as np
    with matplotlib.rc_context(RC):
        if latency:
            fig = _figure(21, 5.4)
            ax1, ax2, ax3, ax4 = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1.15, 1.0, 0.95, 1.1]})
        else:
            fig = _figure(16, 5.4)
            ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.15, 1.0, 0.95]})
            ax4 = None
        cmap = matplotlib.colormaps["tab10"]
        markers = ["o", "s", "^", "D", "v", "P"]
        for i, w in enumerate(widths):
            colour = cmap(i)
            pts = [(costs[(w, r)], top1[(w, r)], r) for r in resolutions if (w, r) in top1]
            for ax, k in ((ax1, 0), (ax2, 1)):
                if len(pts) > 1:
                    ax.plot([c[k] / 1e6 for c, _, _ in pts], [a for _, a, _ in pts],
                            color=colour, linewidth=1, zorder=2)
                for c, a, r in pts:
                    ax.scatter([c[k] / 1e6], [a], color=colour, edgecolors="black",
                               linewidths=0.5, marker=markers[resolutions.index(r) % len(markers)],
                               s=45, zorder=3)
                    ax.annotate(f"{w}-{r}", (c[k] / 1e6, a), xytext=(4, -9),
                                textcoords="offset points", fontsize=7)
            ax1.scatter([], [], color=colour, marker="o", label=f"width {w}")
        for j, r in enumerate(resolutions):
            ax1.scatter([], [], color="0.6", edgecolors="black", linewidths=0.5,
                        marker=markers[j % len(markers)], label=f"resolution {r}")
        missing = [(w, r) for w in widths for r in resolutions if (w, r) not in top1]
        if missing:
            # above the axes, outside the data area: a tick is a cost, not an accuracy
            ax1.plot([costs[k][0] / 1e6 for k in missing], [1.025] * len(missing), "|",
                     color="0.3", markersize=9, transform=ax1.get_xaxis_transform(),
                     clip_on=False, label="computed cost, no reported accuracy (ticks above the plot)")
        ax1.set_xscale("log")
        _plain_log_axis(ax1.xaxis)
        ax1.set_xlabel("Mult-adds (millions, computed; log scale)")
        ax1.set_ylabel("ImageNet top-1 accuracy (%, reported: Tables 6, 7, 9)")
        ax1.set_title("Accuracy vs. mult-adds (cf. Figure 4)", pad=14)
        ax1.grid(True, which="both", linewidth=0.4, alpha=0.5)
        ax1.legend(loc="lower right", fontsize=7, framealpha=0.9)
        ax2.set_xscale("log")
        _plain_log_axis(ax2.xaxis)
        ax2.set_xlabel("Parameters (millions, computed: conv/linear weights; log scale)")
        ax2.set_ylabel("ImageNet top-1 accuracy (%, reported)")
        ax2.set_title("Accuracy vs. parameters (cf. Figure 5)")
        ax2.grid(True, which="both", linewidth=0.4, alpha=0.5)
        grid = np.array([[costs[(w, r)][0] / 1e6 for r in resolutions] for w in widths])
        im = ax3.imshow(np.log10(grid), cmap="viridis", aspect="auto")
        for i, w in enumerate(widths):
            for j, r in enumerate(resolutions):
                text = f"{grid[i, j]:.1f} M"
                if (w, r) in top1:
                    text += f"\n{top1[(w, r)]:.1f}%"
                light = im.norm(np.log10(grid[i, j])) < 0.55
                ax3.text(j, i, text, ha="center", va="center", fontsize=8,
                         color="white" if light else "black")
        ax3.set_xticks(range(len(resolutions)), [str(r) for r in resolutions])
        ax3.set_yticks(range(len(widths)), [str(w) for w in widths])
        ax3.set_xlabel("Input resolution (pixels)")
        ax3.set_ylabel("Width multiplier")
        ax3.set_title("Computed mult-adds, all 16 models\n(with the reported top-1 where known)")
        if ax4 is not None:
            for i, w in enumerate(widths):
                pts = [(latency[(w, r)], top1[(w, r)], r) for r in resolutions
                       if (w, r) in top1 and (w, r) in latency]
                if len(pts) > 1:
                    ax4.plot([x for x, _, _ in pts], [a for _, a, _ in pts], color=cmap(i),
                             linewidth=1, zorder=2)
                for x, a, r in pts:
                    ax4.scatter([x], [a], color=cmap(i), edgecolors="black", linewidths=0.5,
                                marker=markers[resolutions.index(r) % len(markers)], s=45, zorder=3)
                    ax4.annotate(f"{w}-{r}", (x, a), xytext=(4, -9), textcoords="offset points",
                                 fontsize=7)
            ax4.set_xscale("log")
            _plain_log_axis(ax4.xaxis)
            ax4.set_xlabel("Latency (ms, PREDICTED, batch 1; log scale)")
            ax4.set_ylabel("ImageNet top-1 accuracy (%, reported)")
            ax4.set_title("Accuracy vs. PREDICTED latency\n" + latency_label, fontsize=9)
            ax4.grid(True, which="both", linewidth=0.4, alpha=0.5)
        fig.suptitle("MobileNet v1: width x resolution (paper Figures 4 and 5)", fontsize=12)
        fig.tight_layout()
        return _save(fig, stem)
