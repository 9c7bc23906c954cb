"""The compiled sweep gives `costmodel profile`'s integers at every point.

Property test: random valid specs (test_property's generator) are given settings (a width
multiplier through int()/make_divisible, a channel factor, the input's height and width, a
repeat count, `when` conditions), then random grids over them. The expected side is the
expansion of the spec at each point (`costmodel profile`); the compiled side evaluates the
whole grid at once. No structure may need its safety net (a spot check that disagrees).
"""
from __future__ import annotations

import copy
import itertools

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from costmodel.count.profile import Spec
from costmodel.errors import SpecError
from costmodel.sweep.compile import Compiled, expand_point
from costmodel.sweep.space import Axis, Space
from costmodel.sweep.trace import METRICS

from test_property import specs

SCALED_OPS = ("conv2d", "conv", "pointwise", "pw", "linear", "fc", "ghost")
PRESERVING = ("relu", "relu6", "hardswish", "sigmoid", "identity", "batch_norm", "bn")


def parametrize(spec: dict, draw) -> dict:
    spec = copy.deepcopy(spec)
    c, h, w = spec["input"]
    spec["settings"] = {"width": 1.0, "h": h, "w": w, "k": 1, "flag": True}
    spec["input"] = [c, "h", "w"]

    def walk(node):
        if isinstance(node, list):
            for i, e in enumerate(node):
                if isinstance(e, str) and e in PRESERVING and draw(st.integers(0, 3)) == 0:
                    node[i] = {"op": e, "when": draw(st.sampled_from(
                        ["flag", "width > 0.8", "h % 2 == 0", "not flag or k > 1"]))}
                else:
                    walk(e)
        elif isinstance(node, dict):
            if node.get("op") in SCALED_OPS and type(node.get("out")) is int:
                form = draw(st.integers(0, 4))
                out = node["out"]
                if form == 1:
                    node["out"] = f"max(1, int({out} * width))"
                elif form == 2:
                    node["out"] = f"make_divisible({out} * width, 2)"
                elif form == 3:
                    node["out"] = f"{out} * k"
                elif form == 4:
                    node["out"] = f"max(1, round(0.5 * h)) if {out} > 6 else {out}"
            if "repeat" in node and type(node["repeat"]) is int and draw(st.booleans()):
                node["repeat"] = "k"
            for v in node.values():
                walk(v)

    walk(spec["layers"])
    if "blocks" in spec:
        walk(spec["blocks"])
    return spec


GRIDS = {
    "width": [0.3, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
    "h": [0, 1, 2, 5, -1],            # added to the spec's own height
    "w": [0, 3, -1, 8],
    "k": [1, 2, 0, 3],
    "flag": [True, False],
}


def expected(spec: Spec, space: Space):
    """Per point: the totals, or the error message of `costmodel profile`."""
    out = []
    for i in range(space.total):
        try:
            out.append(expand_point(spec, space.point(i)))
        except SpecError as exc:
            out.append(str(exc))
    return out


def compiled_rows(c: Compiled, blocks) -> list[dict]:
    rows = []
    for b in blocks:
        cols = c.evaluate(b)
        lists = {m: (cols[m].tolist() if hasattr(cols[m], "tolist") else cols[m]) for m in METRICS}
        rows += [{m: lists[m][j] for m in METRICS} for j in range(b.size)]
    return rows


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(base=specs(), data=st.data())
def test_compiled_counts_equal_profile_at_every_point(base, data):
    raw = parametrize(base, data.draw)
    spec = Spec.load(raw)
    names = data.draw(st.lists(st.sampled_from(sorted(GRIDS)), min_size=1, max_size=3, unique=True))
    axes = []
    for n in names:
        vals = data.draw(st.lists(st.sampled_from(GRIDS[n]), min_size=1, max_size=4, unique=True))
        if n in ("h", "w"):
            base_size = raw["settings"][n]
            vals = sorted({max(1, base_size + d) for d in vals})
        axes.append(Axis(n, vals))
    space = Space(axes)
    note(f"spec: {raw}\ngrid: {[(a.name, a.values) for a in axes]}")
    want = expected(spec, space)
    valid = [i for i, r in enumerate(want) if isinstance(r, dict)]
    for vector in (True, False):
        c = Compiled(spec, space.names, vector=vector)
        if valid:
            got = compiled_rows(c, [space.block_of(valid)])
            assert got == [want[i] for i in valid]
        assert c.stats["broken"] == 0, c.stats            # no formula needed its safety net
        if vector:
            event(f"valid points: {'none' if not valid else 'all' if len(valid) == space.total else 'some'}")
            event(f"structures: {min(c.stats['traced'], 3)}{'+' if c.stats['traced'] >= 3 else ''}")
    # the whole grid, block by block: the same rows, or the first point's error
    c = Compiled(spec, space.names)
    errors = [r for r in want if isinstance(r, str)]
    if errors:
        with pytest.raises(SpecError) as exc:
            compiled_rows(c, space.blocks(chunk=5))
        assert str(exc.value) == errors[0]
    else:
        assert compiled_rows(c, space.blocks(chunk=5)) == want


def _grid_rows(spec, grid, **kw):
    space = Space([Axis(k, v) for k, v in grid.items()])
    c = Compiled(spec, space.names, **kw)
    return c, compiled_rows(c, space.blocks()), [expand_point(spec, space.point(i))
                                                 for i in range(space.total)]


def test_mobilenet_v1_width_x_resolution_is_one_structure():
    spec = Spec.load("mobilenet_v1")
    c, got, want = _grid_rows(spec, {"width": [0.25, 0.5, 0.6, 0.75, 1.0, 1.4],
                                     "resolution": [96, 128, 160, 176, 192, 224]})
    assert got == want
    # one trace for the 36 points; the only expansions are the two spot checks
    assert c.stats["traced"] == 1 and c.stats["expanded"] == 2 and c.stats["broken"] == 0


def test_structure_changes_are_traced_again_and_cached(write_spec):
    path = write_spec("""
        name: s
        settings: {n: 1, width: 1.0, fast: false}
        input: [3, 32, 32]
        layers:
          - {op: conv2d, out: "int(16 * width)", kernel: 3}
          - {repeat: n, body: [{op: conv2d, out: "int(16 * width)", kernel: 3}]}
          - {op: relu, when: "not fast"}
          - {op: adaptive_avg_pool, size: n}
          - flatten
          - {op: linear, out: 10}
        """)
    spec = Spec.load(path)
    c, got, want = _grid_rows(spec, {"n": [1, 2, 3], "width": [0.5, 1.0, 2.0],
                                     "fast": [False, True]})
    assert got == want
    assert c.stats["traced"] == 6           # one per (n, fast): width stays inside a formula
    rows = compiled_rows(c, Space([Axis("n", [3, 1]), Axis("width", [0.25]),
                                   Axis("fast", [True])]).blocks())
    assert c.stats["traced"] == 6 and rows[0] == expand_point(spec, {"n": 3, "width": 0.25,
                                                                      "fast": True})


def test_a_plain_float_times_a_swept_int_stays_a_formula(write_spec):
    # 0.5 * resolution: Python would let the float read the traced int's value
    path = write_spec("""
        name: s
        settings: {resolution: 32}
        input: [3, resolution, resolution]
        layers:
          - {op: conv2d, out: "int(0.5 * resolution)", kernel: 3}
          - {op: conv2d, out: 8, kernel: 1, when: "0.25 * resolution > 9"}
        """)
    spec = Spec.load(path)
    c, got, want = _grid_rows(spec, {"resolution": [16, 24, 32, 40, 48, 64]})
    assert got == want and c.stats["broken"] == 0
    assert want[0]["params"] == 8 * 3 * 9          # 16 px: int(0.5*16) = 8 filters, no 2nd conv
    assert want[-1]["params"] == 32 * 3 * 9 + 8 * 32   # 64 px: 32 filters, then the 1x1 conv


def test_counts_beyond_int64_are_exact_python_integers(write_spec):
    path = write_spec("""
        name: huge
        settings: {m: 1, r: 8}
        input: [3, r, r]
        layers:
          - {op: conv2d, out: "1073741824 * m", kernel: 1}
          - {op: pointwise, out: "1073741824 * m"}
        """)
    spec = Spec.load(path)
    c, got, want = _grid_rows(spec, {"m": [1, 2, 4], "r": [8, 64]})
    assert got == want
    # m = 4, r = 64: the pointwise layer alone is (2**32)**2 * 64**2 = 2**76 mult-adds
    assert want[-1]["mult_adds"] == 2 ** 32 * 3 * 64 * 64 + 2 ** 64 * 64 * 64 > 2 ** 63
