"""Honest plots (issue 16): a row whose computed cost misses the printed one is hollow, carries
its footnote number and stays off the Pareto front; labels do not overlap; "no accuracy"
marks sit outside the data area; GhostNet's Table 7 accuracies are all in the registry."""
from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from costmodel.papers import plots, registry, tables  # noqa: E402


@pytest.fixture(scope="module")
def built():
    reg = registry.load(None)
    return tables.build_all(reg, registry.Resolver(None, False))


def test_unreproduced_rows_are_marked_and_off_the_front(built):
    pts = plots.points_from_tables(built)
    shallow = next(p for p in pts if p.label == "ShuffleNet 0.5x (shallow, g=3)")
    # printed 40 M, computed 21.6 M: beyond the rounding of "40"
    assert not shallow.reproduced and shallow.footnote is not None
    assert shallow.text.endswith(f"[{shallow.footnote}]")
    t5 = next(t for t in built if t.id == "shufflenet_v1-table5")
    assert t5.footnotes[shallow.footnote - 1].startswith("ShuffleNet 0.5x (shallow")
    front = plots.pareto(pts)
    assert shallow not in front and all(p.reproduced for p in front)
    # with it, it would be the front's left end: the cheapest point of all
    assert min(pts, key=lambda p: p.mult_adds) is shallow


def test_hollow_markers_and_legend(built):
    pts = plots.points_from_tables(built)
    files = plots.accuracy_vs_mult_adds(pts)
    assert set(files) == {"accuracy_vs_mult_adds.png", "accuracy_vs_mult_adds.svg"}
    svg = files["accuracy_vs_mult_adds.svg"].decode()
    assert "left out" in svg and "of the Pareto front" in svg
    assert "ShuffleNet 0.5x (shallow, g=3) [" in svg
    assert svg.count("fill: none") >= sum(1 for p in pts if not p.reproduced)


def test_labels_do_not_overlap():
    from matplotlib.figure import Figure
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    anchors = [(1.0, 1.0), (1.05, 1.0), (1.1, 1.02), (2.0, 2.0), (2.02, 2.01), (3.0, 1.5)]
    ax.scatter(*zip(*anchors))
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 3)
    anns = plots.place_labels(fig, ax, anchors, [f"a long label number {i}" for i in range(6)])
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    r = FigureCanvasAgg(fig).get_renderer()
    boxes = [a.get_window_extent(r) for a in anns]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not plots._overlaps(boxes[i], boxes[j], 0), (i, j)


def test_no_accuracy_marks_outside_the_data_area(monkeypatch):
    from matplotlib.axes import Axes
    calls = []
    original = Axes.plot

    def spy(self, *args, **kwargs):
        calls.append((args, kwargs))
        return original(self, *args, **kwargs)
    monkeypatch.setattr(Axes, "plot", spy)
    costs = {(w, r): (int(1e6 * w * r), int(1e5 * w)) for w in (1.0, 0.5) for r in (224, 160)}
    plots.mobilenet_grid(costs, {(1.0, 224): 70.6}, [1.0, 0.5], [224, 160])
    ticks = [(a, k) for a, k in calls if k.get("label", "").startswith("computed cost, no reported")]
    assert ticks
    (args, kwargs), = ticks
    assert all(y > 1.0 for y in args[1])              # axes fraction: above the axes
    assert kwargs["clip_on"] is False


def test_ghostnet_table7_has_every_printed_accuracy(built):
    t7 = next(t for t in built if t.id == "ghostnet-table7")
    assert len(t7.records) == 15
    assert all(r["top1_reported"] is not None for r in t7.records)
    assert all(r["source"] for r in t7.records)
    by = {r["model"]: r["top1_reported"] for r in t7.records}
    assert by["GhostNet 1.0x"] == 73.9 and by["GhostNet 1.3x"] == 75.7   # the seed's figures
