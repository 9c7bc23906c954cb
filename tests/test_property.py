"""Property tests: random valid specs, built as real torch modules, traced by fvcore and
FlopCounterMode. For every layer:

* analytic fvcore-convention count == fvcore's by_module() count (to the unit);
* 2 x analytic mult-adds == FlopCounterMode's count (2 FLOPs per conv/matmul MAC);
* analytic params == sum(p.numel()) of the layer's module;
* the analytic output shape == the shape torch's forward really produces (forward hooks):
  this checks our PyTorch output-size formulas (conv with padding/dilation/stride, pools
  with ceil_mode) independently of the counts.

The expected side of every comparison is produced by torch/fvcore tracing the built module,
never by this program. A failing example is printed as the YAML spec reproducing it
(``costmodel verify failing.yaml``).
"""
from __future__ import annotations

import logging
import math
import warnings

import pytest
import torch
import yaml
from fvcore.nn import FlopCountAnalysis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

import costmodel
from costmodel.torch.builder import build

ACTIVATIONS = ["relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "swish", "identity"]

# Blocks every random spec carries; block calls exercise args, defaults, let, rows, nesting.
BLOCKS = {
    "cbr": {"args": {"out": None, "k": 3, "s": 1},
            "body": [{"op": "conv2d", "name": "conv", "out": "out", "kernel": "k", "stride": "s"},
                     {"op": "batch_norm", "name": "bn"},
                     {"op": "relu", "name": "act"}]},
    "expand": {"args": ["out", "t"],
               "let": {"mid": "in_channels * t"},
               "body": [{"op": "pointwise", "name": "pw", "out": "mid"},
                        {"op": "depthwise", "name": "dw"},
                        {"op": "pointwise", "name": "pwl", "out": "out"}]},
    "unit": {"args": ["out"],
             "body": [{"block": "cbr", "name": "a", "out": "out"},
                      {"residual": [{"block": "cbr", "name": "b", "out": "out", "k": 1}]},
                      {"block": "expand", "out": "out", "t": 2}]},
}

MAX_C = 24


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def spatial(layers: list, shape: list[int]) -> tuple[int, ...]:
    """The output shape of a partial spec, from the analytic path (only used to keep the
    generated specs valid: a wrong formula makes torch fail or disagree below)."""
    # a trailing shape-preserving layer: a prefix of repeats of 0 or skipped entries alone
    # would expand to no layers, which is an error (issue 11)
    spec = {"name": "partial", "input": shape, "blocks": BLOCKS,
            "layers": [*layers, {"op": "relu", "name": "shape_probe"}]}
    return costmodel.profile(spec).output_shape


# -- shape-preserving entries (usable in branches and repeats) ------------------------------
@st.composite
def keep_conv(draw, c: int, out: int | None = None):
    """A conv keeping H x W: stride 1, odd kernel, default ('same') padding, any dilation."""
    kind = draw(st.sampled_from(["conv2d", "depthwise", "pointwise"])) if out is None else \
        draw(st.sampled_from(["conv2d", "pointwise"]))
    if kind == "depthwise":
        e = {"op": draw(st.sampled_from(["depthwise", "dw"])),
             "kernel": draw(st.sampled_from([1, 3, 5, [3, 1], [1, 5]])),
             "multiplier": draw(st.integers(1, 2))}
        if draw(st.booleans()):
            e["dilation"] = draw(st.integers(1, 3))
        return e, c * e["multiplier"]
    if out is None:
        out = draw(st.integers(1, MAX_C))
    g = draw(st.sampled_from(divisors(math.gcd(c, out))))
    if kind == "pointwise":
        return {"op": "pointwise", "out": out, "groups": g, "bias": draw(st.booleans())}, out
    e = {"op": "conv2d", "out": out, "kernel": draw(st.sampled_from([1, 3, 5, [1, 3], [3, 5]])),
         "groups": g, "dilation": draw(st.sampled_from([1, 2, [1, 3]])),
         "bias": draw(st.booleans())}
    return e, out


@st.composite
def keep_entry(draw, c: int):
    """Any entry keeping H x W; returns (entry, output channels)."""
    kind = draw(st.sampled_from(["conv", "conv", "bn", "act", "se", "ghost", "shuffle", "pool",
                                 "slice", "dropout"]))
    if kind == "conv":
        return draw(keep_conv(c))
    if kind == "bn":
        return {"op": draw(st.sampled_from(["batch_norm", "bn"])), "affine": draw(st.booleans())}, c
    if kind == "act":
        fn = draw(st.sampled_from(ACTIVATIONS))
        return (fn if draw(st.booleans()) else {"op": "activation", "fn": fn}), c
    if kind == "se":
        return {"op": "se", "squeeze": draw(st.integers(1, 8)),
                "gate": draw(st.sampled_from(["hardsigmoid", "sigmoid"]))}, c
    if kind == "ghost":
        out = draw(st.integers(1, MAX_C))
        return {"op": "ghost", "out": out, "ratio": draw(st.integers(1, 3)),
                "kernel": draw(st.sampled_from([1, 3])), "dw_kernel": draw(st.sampled_from([1, 3, 5])),
                "relu": draw(st.booleans())}, out
    if kind == "shuffle":
        return {"op": "channel_shuffle", "groups": draw(st.sampled_from(divisors(c)))}, c
    if kind == "pool":
        op = draw(st.sampled_from(["max_pool", "avg_pool"]))
        return {"op": op, "kernel": 3, "stride": 1, "padding": 1}, c
    if kind == "slice":
        k = draw(st.integers(1, c))
        return {"op": "slice", "channels": k}, k
    return {"op": "dropout", "p": 0.2}, c


@st.composite
def keep_path(draw, c: int, out: int | None = None, max_len: int = 3):
    """A list of shape-preserving entries from c channels (ending at ``out`` if given)."""
    entries = []
    for _ in range(draw(st.integers(0 if out in (None, c) else 0, max_len))):
        e, c = draw(keep_entry(c))
        entries.append(e)
    if out is not None and c != out:
        e, c = draw(keep_conv(c, out))
        entries.append(e)
    return entries, c


# -- trunk entries (may change H x W) -----------------------------------------------------
@st.composite
def trunk_conv(draw, c: int, h: int, w: int):
    kh = draw(st.integers(1, min(5, h)))
    kw = draw(st.integers(1, min(5, w)))
    dh = draw(st.integers(1, max(1, (h - 1) // max(kh - 1, 1))))
    dw_ = draw(st.integers(1, max(1, (w - 1) // max(kw - 1, 1))))
    small = min(h, w) < 6
    e: dict = {"kernel": kh if kh == kw and draw(st.booleans()) else [kh, kw],
               "stride": 1 if small else draw(st.sampled_from([1, 2, 3, [2, 1], [1, 2]])),
               "dilation": dh if dh == dw_ else [dh, dw_]}
    if draw(st.booleans()):
        e["padding"] = draw(st.sampled_from([0, 1, 2, [0, 1], [2, 0]]))
    kind = draw(st.sampled_from(["conv2d", "conv2d", "depthwise"]))
    if kind == "depthwise":
        m = draw(st.integers(1, 2))
        return {"op": "depthwise", "multiplier": m, **e}, c * m
    out = draw(st.integers(1, MAX_C))
    g = draw(st.sampled_from(divisors(math.gcd(c, out))))
    return {"op": "conv2d", "out": out, "groups": g, "bias": draw(st.booleans()), **e}, out


@st.composite
def trunk_pool(draw, c: int, h: int, w: int):
    op = draw(st.sampled_from(["max_pool", "avg_pool"]))
    kh, kw = draw(st.integers(1, min(4, h))), draw(st.integers(1, min(4, w)))
    e: dict = {"op": op, "kernel": kh if kh == kw else [kh, kw],
               "padding": [draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))],
               "ceil_mode": draw(st.booleans())}
    if draw(st.booleans()):
        e["stride"] = draw(st.sampled_from([1, 2, 3, [1, 2]]))
    if op == "max_pool" and draw(st.booleans()):
        d = draw(st.integers(1, 2))
        if d * (max(kh, kw) - 1) + 1 <= min(h, w):
            e["dilation"] = d
    if op == "avg_pool":
        e["count_include_pad"] = draw(st.booleans())
    return e, c


@st.composite
def trunk_entry(draw, c: int, h: int, w: int, depth: int):
    """(entry, output channels, whether H x W may have changed)."""
    kinds = ["conv", "conv", "pool", "keep", "keep", "residual", "concat", "add", "split",
             "block", "rows", "repeat", "ghost", "adaptive", "pad"]
    if depth < 2:
        kinds.append("seq")
    kind = draw(st.sampled_from(kinds))
    small = min(h, w) < 6
    if kind == "conv":
        e, c = draw(trunk_conv(c, h, w))
        return e, c, True
    if kind == "pool":
        e, c = draw(trunk_pool(c, h, w))
        return e, c, True
    if kind == "keep":
        e, c = draw(keep_entry(c))
        return e, c, False
    if kind == "adaptive":
        # any output size, also larger than the input (PyTorch's windows then overlap)
        hs, ws = draw(st.integers(1, h + 2)), draw(st.integers(1, w + 2))
        return {"op": "adaptive_avg_pool", "size": hs if hs == ws else [hs, ws]}, c, True
    if kind == "pad":
        # the CIFAR ResNet option-A shortcut, alone or as a residual's shortcut
        t = draw(st.integers(c, c + 8))
        s = 1 if small else draw(st.sampled_from([1, 2, [2, 1]]))
        pad = {"op": "channel_pad", "out": t, "stride": s}
        if s == 1 or draw(st.booleans()):
            return pad, t, True
        return {"residual": [{"op": "conv2d", "out": t, "kernel": 3, "stride": 2}, "bn"],
                "shortcut": [{**pad, "stride": 2}]}, t, True
    if kind == "ghost":
        out = draw(st.integers(1, MAX_C))
        return {"op": "ghost", "out": out, "ratio": draw(st.integers(2, 3)),
                "kernel": draw(st.sampled_from([1, 2, 3])), "stride": 1 if small else draw(
                    st.sampled_from([1, 2])), "dw_kernel": 3}, out, True
    if kind == "residual":
        t = draw(st.integers(1, MAX_C))
        s = 1 if small else draw(st.sampled_from([1, 2]))
        g = draw(st.sampled_from(divisors(math.gcd(c, t))))
        tail, _ = draw(keep_path(t, t, 2))
        body = [{"op": "conv2d", "out": t, "kernel": 3, "stride": s, "groups": g}, "bn", *tail]
        e: dict = {"residual": body}
        if s != 1 or t != c or draw(st.booleans()):
            e["shortcut"] = [{"op": "pointwise", "out": t, "stride": s}, {"op": "bn"}]
        return e, t, s != 1
    if kind in ("concat", "add"):
        n = draw(st.integers(2, 3))
        t = draw(st.integers(1, MAX_C))
        paths, outs = [], []
        for _ in range(n):
            p, o = draw(keep_path(c, t if kind == "add" else None))
            paths.append(p)
            outs.append(o)
        if draw(st.booleans()):
            paths = {f"p{i}": p for i, p in enumerate(paths)}
        return {"parallel": paths, "merge": kind}, (t if kind == "add" else sum(outs)), False
    if kind == "split":
        if c < 2:
            return {"op": "identity"}, c, False
        if c % 2 == 0 and draw(st.booleans()):
            split: object = 2
            sizes = [c // 2, c // 2]
        else:
            first = draw(st.integers(1, c - 1))
            sizes = [first, c - first]
            split = sizes
        paths, out = [], 0
        for size in sizes:
            p, o = draw(keep_path(size))
            paths.append(p)
            out += o
        return {"parallel": paths, "merge": "concat", "split": split}, out, False
    if kind == "block":
        name = draw(st.sampled_from(["cbr", "expand", "unit"]))
        out = draw(st.integers(1, MAX_C))
        if name == "cbr":
            e = {"block": "cbr", "out": out, "k": draw(st.sampled_from([1, 3]))}
            if not small and draw(st.booleans()):
                e["s"] = 2
            return e, out, True
        if name == "expand":
            return {"block": "expand", "out": out, "t": draw(st.integers(1, 3))}, out, False
        return {"block": "unit", "out": out}, out, False
    if kind == "rows":
        rows = []
        for _ in range(draw(st.integers(1, 3))):
            out = draw(st.integers(1, MAX_C))
            rows.append([out, draw(st.sampled_from([1, 3])), 1])
        if draw(st.booleans()):
            rows.append({"repeat": draw(st.integers(0, 2)), "row": [rows[-1][0], 3, 1]})
        return {"block": "cbr", "rows": rows}, rows[-1]["row"][0] if isinstance(rows[-1], dict) \
            else rows[-1][0], False
    if kind == "repeat":
        n = draw(st.integers(0, 3))
        var = draw(st.sampled_from(["i", "j"]))
        body, out = draw(keep_path(c, c, 2))
        t = draw(st.integers(1, MAX_C))
        body = [{"op": "conv2d", "out": t, "kernel": 3}, *([] if t != c else body),
                {"op": "relu", "when": f"{var} > 0"}]
        e = {"repeat": n, "as": var, "body": body}
        return e, (t if n else c), False
    # nested seq of trunk entries
    entries, ch, hh, ww = [], c, h, w
    for _ in range(draw(st.integers(1, 3))):
        e, ch, changed = draw(trunk_entry(ch, hh, ww, depth + 1))
        entries.append(e)
        if changed:
            _, hh, ww = spatial(entries, [c, h, w])
    return {"seq": entries}, ch, True


@st.composite
def specs(draw) -> dict:
    c = draw(st.integers(1, 8))
    h, w = draw(st.integers(4, 20)), draw(st.integers(4, 20))
    shape = [c, h, w]
    layers: list = []
    for i in range(draw(st.integers(1, 6))):
        e, c, changed = draw(trunk_entry(c, h, w, 0))
        if draw(st.booleans()):
            e = {"op": e} if isinstance(e, str) else e
            e["name"] = f"n{i}"
        layers.append(e)
        if changed:
            _, h, w = spatial(layers, shape)
    head = draw(st.sampled_from(["none", "gap", "flatten"]))
    if head != "none":
        if head == "gap":
            layers.append({"op": "global_avg_pool", "name": "pool"})
        layers.append({"op": "flatten", "name": "flatten"})
        if draw(st.booleans()):
            layers.append({"op": "batch_norm", "name": "bn1d"})
        layers.append({"op": "linear", "name": "fc", "out": draw(st.integers(1, 12)),
                       "bias": draw(st.booleans())})
        if draw(st.booleans()):
            layers += ["relu", {"op": "fc", "out": draw(st.integers(1, 5))}]
    else:
        # a spec that expands to no layers is an error (issue 11): end on a real layer
        layers.append({"op": "relu", "name": "last"})
    spec = {"name": "random", "input": shape, "blocks": BLOCKS, "layers": layers}
    if "block" not in repr(layers):
        del spec["blocks"]   # shorter failing examples
    return spec


# -- the checks ----------------------------------------------------------------------------
def trace(spec: dict):
    """(profile, module, {layer: torch output shape}, fvcore by_module, FlopCounterMode per
    module) for a spec: the expected side comes from torch and fvcore only."""
    p = costmodel.profile(spec)
    model = build(p.root)
    modules = dict(model.named_modules())
    x = torch.randn(1, *p.input_shape)
    shapes = {}

    def hook(name):
        def record(_m, _i, out):
            shapes[name] = ([tuple(t.shape[1:]) for t in out] if isinstance(out, tuple)
                            else tuple(out.shape[1:]))
        return record

    handles = [modules[l.name].register_forward_hook(hook(l.name)) for l in p.layers]
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        y = model(x)
    for hd in handles:
        hd.remove()
    shapes[""] = tuple(y.shape[1:])
    flop_counter = {k.split(".", 1)[1] if "." in k else "": sum(v.values())
                    for k, v in fc.get_flop_counts().items() if k.startswith("Network")}
    logging.getLogger("fvcore").setLevel(logging.CRITICAL)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        fa = FlopCountAnalysis(model, x).unsupported_ops_warnings(False) \
            .uncalled_modules_warnings(False)
        fv = dict(fa.by_module())
    return p, model, modules, shapes, fv, flop_counter


def check_spec(spec: dict) -> None:
    p, model, modules, shapes, fv, fc = trace(spec)
    assert shapes[""] == p.output_shape
    assert sum(t.numel() for t in model.parameters()) == p.params
    for l in p.layers:
        where = f"layer {l.name!r} ({l.op}, input {l.input_shape})"
        if l.op == "split":
            want = [(s, *l.input_shape[1:]) for s in l.attrs["sizes"]]
        else:
            want = l.output_shape
        assert shapes[l.name] == want, f"{where}: torch shape {shapes[l.name]} != analytic {want}"
        assert fv.get(l.name, 0) == l.fvcore, f"{where}: fvcore {fv.get(l.name, 0)} != {l.fvcore}"
        assert fc.get(l.name, 0) == 2 * l.mult_adds, \
            f"{where}: FlopCounterMode {fc.get(l.name, 0)} != 2 x {l.mult_adds}"
        got = sum(t.numel() for t in modules[l.name].parameters())
        assert got == l.params, f"{where}: module params {got} != analytic {l.params}"
    assert fv.get("", 0) == p.total("fvcore")
    assert fc.get("", 0) == 2 * p.mult_adds


@settings(max_examples=500, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(specs())
def test_random_specs_match_fvcore_flop_counter_and_torch(spec):
    note("failing spec (save as failing.yaml, run `costmodel verify failing.yaml`):\n"
         + yaml.safe_dump(spec, sort_keys=False))
    check_spec(spec)


# Hand-picked specs that the random search might reach rarely: each exercises one formula
# at its edge (ceil_mode's last-window rule, asymmetric padding/dilation, ratio-1 ghost).
EDGE_SPECS = [
    # ceil_mode: 5 + 2*1 - 3 + 1 = 5 -> ceil(5/2)+1 = 4 windows, but the 4th starts at 6 >= 5+1:
    # PyTorch drops it -> 3x3 (the rule in pooling_output_shape).
    [{"op": "max_pool", "kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}],
    [{"op": "avg_pool", "kernel": 2, "stride": 2, "ceil_mode": True, "count_include_pad": False}],
    [{"op": "conv2d", "out": 6, "kernel": [2, 5], "stride": [3, 1], "padding": [0, 2],
      "dilation": [1, 2], "groups": 2, "bias": True}],
    [{"op": "ghost", "out": 5, "ratio": 1}, {"op": "ghost", "out": 7, "ratio": 3, "stride": 2}],
    [{"parallel": [[], []], "merge": "add"}, {"parallel": [["relu"], []], "merge": "concat",
                                             "split": [1, 3]}],
]


@pytest.mark.parametrize("layers", EDGE_SPECS)
def test_edge_specs(layers):
    check_spec({"name": "edge", "input": [4, 5, 5], "layers": layers})


def test_ceil_mode_last_window_rule_matches_torch():
    # Hand derivation (PyTorch pooling_output_shape): H=5, k=3, s=2, p=1, ceil_mode:
    # (5 + 2 - 3 + 1) / 2 = 2.5 -> 3, +1 = 4; (4-1)*2 = 6 >= 5+1 -> 3. Without ceil: 3.
    p = costmodel.profile({"name": "t", "input": [1, 5, 6], "layers": [
        {"op": "max_pool", "kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True}]})
    assert p.output_shape == (1, 3, 4)   # W=6: (6+2-3+1)/2 = 3 -> +1 = 4; 6 < 7 keeps it
    y = torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)(torch.zeros(1, 1, 5, 6))
    assert tuple(y.shape[1:]) == (1, 3, 4)
