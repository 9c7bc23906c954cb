"""The synthetic networks `costmodel calibrate` times: small chains of one cell, never a zoo network.

Why chains and not lone ops. A lone op timed in a loop runs from a hot cache and reuses one
output buffer; inside a network, every layer writes a fresh tensor, the allocator recycles (or
returns and re-faults) memory of many sizes, and the dirty output of one layer is written back
while the next runs. Measured here: the 150 layers of MobileNetV2, each timed alone, add up to
about 70% of the network's time, and a MobileNetV2 pass takes about 4,400 page faults that no
lone-op loop sees. So each calibration sample is a chain of ``reps`` identical cells (an op
with the batch norm and activation that follow it in every efficient CNN), at one shape:

========  =====================================================================================
family    cell (all shape-preserving, so cells chain)
========  =====================================================================================
dense     KxK conv c -> c, BN, ReLU                                       (class conv)
pw        1x1 conv c -> c, BN, ReLU                                       (class conv1x1)
mb        residual: 1x1 c -> tc, BN, ReLU6, KxK depthwise, BN, ReLU6, 1x1 tc -> c, BN
dwsep     3x3 depthwise, BN, ReLU, 1x1 c -> c, BN, ReLU                   (MobileNet v1 style)
gshuffle  residual: grouped 1x1 c -> c/4, BN, ReLU, shuffle(g), 3x3 depthwise, BN,
          grouped 1x1 c/4 -> c, BN; ReLU                                  (class grouped)
split     split in halves; one half 1x1, BN, ReLU, 3x3 depthwise, BN, 1x1, BN, ReLU; concat;
          shuffle(2)                                                      (data movement)
========  =====================================================================================

``staged`` networks, drawn at random like a search space's samples (never a zoo network): a
stem, then three or four stages, each a stride-2 conv that doubles the channels followed by
1-4 cells of one random family, then a head; they mix shapes and ops the way real networks do,
which chains of one cell do not (every shape the same, the allocator recycling one size);
``mobile`` networks, whole mobile networks drawn from a MobileNet/ShuffleNet/GhostNet-like
search space (see ``_mobile``), each layer once a pass in 5-20 MB of weights, as in the zoo;
``mlp`` chains of wide linear layers (4-64 MB of weights each), the only samples where a
linear layer's time is streaming its weights;
plus single-layer networks for the classes no cell covers: a stem (3-channel KxK conv with
stride 2, BN, ReLU), a head (global average pooling, flatten, linear) and windowed pooling
(conv, BN, ReLU, max pool, twice); and ``tiny`` chains, every class at a 4x4 map of 8 or 16
channels, whose time is almost all per-kernel dispatch: they pin each class's overhead, which
the large networks alone leave to the bytes term (and then fragmenting a layer into many
small kernels, ShuffleNet V2's G3, would cost nothing).

Shapes: a fixed list spanning 7..224 pixels and 8..2048 channels, then ``RANDOM`` more drawn
with a fixed seed from the same ranges (the same on every run, so profiles are comparable).
``--quick`` keeps the fixed networks and drops the random ones. Nothing here is a network of the zoo: the zoo's
networks are the benchmark's test set (``benchmarks/bench_latency.py``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Synthetic:
    """One calibration network: a label, its family and its spec (a plain dict)."""
    label: str
    family: str
    spec: dict


def _bn_act(act: str = "relu") -> list:
    return [{"op": "batch_norm"}, {"op": act}]


def dense(c: int, k: int = 3) -> list:
    return [{"op": "conv2d", "out": c, "kernel": k}, *_bn_act()]


def pw(c: int) -> list:
    return [{"op": "pointwise", "out": c}, *_bn_act()]


def mb(c: int, t: int, k: int = 3) -> list:
    return [{"residual": [{"op": "pointwise", "out": c * t}, *_bn_act("relu6"),
                          {"op": "depthwise", "kernel": k}, *_bn_act("relu6"),
                          {"op": "pointwise", "out": c}, {"op": "batch_norm"}]}]


def dwsep(c: int) -> list:
    return [{"op": "depthwise", "kernel": 3}, *_bn_act(), {"op": "pointwise", "out": c}, *_bn_act()]


def gshuffle(c: int, g: int) -> list:
    m = max(c // 4 // g, 1) * g
    return [{"residual": [{"op": "conv2d", "out": m, "kernel": 1, "groups": g}, *_bn_act(),
                          {"op": "channel_shuffle", "groups": g}, {"op": "depthwise", "kernel": 3},
                          {"op": "batch_norm"},
                          {"op": "conv2d", "out": c, "kernel": 1, "groups": g},
                          {"op": "batch_norm"}]},
            {"op": "relu"}]


def split(c: int) -> list:
    h = c // 2
    return [{"parallel": [[], [{"op": "pointwise", "out": h}, *_bn_act(),
                               {"op": "depthwise", "kernel": 3}, {"op": "batch_norm"},
                               {"op": "pointwise", "out": h}, *_bn_act()]],
             "split": 2, "merge": "concat"},
            {"op": "channel_shuffle", "groups": 2}]


def ghost(c: int, t: int) -> list:
    """GhostNet's bottleneck at stride 1: a ghost module expanding to t x c maps (with ReLU),
    one projecting back (without), and the shortcut."""
    return [{"residual": [{"op": "ghost", "out": t * c}, {"op": "ghost", "out": c, "relu": False}]}]


def se_block(c: int, t: int) -> list:
    """MobileNetV3's block: 1x1 expand, h-swish, 3x3 depthwise, h-swish, squeeze-excite
    (hard-sigmoid gate), 1x1 project, and the shortcut."""
    e = c * t
    return [{"residual": [{"op": "pointwise", "out": e}, *_bn_act("hardswish"),
                          {"op": "depthwise", "kernel": 3}, *_bn_act("hardswish"),
                          {"op": "se", "squeeze": max(8, e // 4)},
                          {"op": "pointwise", "out": c}, {"op": "batch_norm"}]}]


def _chain(family: str, shape: tuple, cell: list, c: int, hw: int, reps: int) -> Synthetic:
    label = f"{family}({','.join(map(str, shape))}) x{reps} on {c}x{hw}x{hw}"
    return Synthetic(label, family, {"name": f"synthetic_{family}", "input": [c, hw, hw],
                                     "layers": [e for _ in range(reps) for e in cell]})


FAMILIES = ("dense", "pw", "mb", "dwsep", "gshuffle", "split")     # what _cell builds


def _cell(family: str, c: int, extra: tuple) -> list:
    if family == "dense":
        return dense(c, *extra)
    if family == "pw":
        return pw(c)
    if family == "mb":
        return mb(c, *extra)
    if family == "dwsep":
        return dwsep(c)
    if family == "gshuffle":
        return gshuffle(c, *extra)
    if family == "split":
        return split(c)
    if family == "ghost":
        return ghost(c, *extra)
    if family == "se":
        return se_block(c, *extra)
    raise ValueError(family)


# (family, channels, pixels, extra cell arguments)
FIXED = [
    ("dense", 16, 112, (3,)), ("dense", 32, 56, (3,)), ("dense", 64, 56, (3,)),
    ("dense", 64, 28, (3,)), ("dense", 128, 28, (3,)), ("dense", 256, 14, (3,)),
    ("dense", 512, 7, (3,)), ("dense", 48, 28, (5,)),
    # inputs of at most 20,480 elements: torch runs these with its native kernel, not oneDNN
    ("dense", 16, 32, (3,)), ("dense", 32, 16, (3,)), ("dense", 64, 8, (3,)),
    ("dense", 128, 8, (3,)), ("dense", 96, 14, (3,)), ("dense", 256, 8, (3,)),
    ("dense", 512, 4, (3,)), ("dense", 24, 28, (3,)),
    # 2x2 maps: the GEMM is 4 columns wide and the layer streams its weights
    ("dense", 512, 2, (3,)), ("dense", 256, 2, (3,)),
    ("pw", 32, 112, ()), ("pw", 64, 56, ()), ("pw", 128, 28, ()), ("pw", 256, 14, ()),
    ("pw", 512, 7, ()), ("pw", 1024, 7, ()), ("pw", 96, 28, ()),
    ("mb", 16, 112, (1, 3)), ("mb", 24, 56, (6, 3)), ("mb", 32, 28, (6, 3)),
    ("mb", 64, 14, (6, 3)), ("mb", 96, 14, (6, 3)), ("mb", 160, 7, (6, 3)), ("mb", 40, 28, (3, 5)),
    ("dwsep", 32, 112, ()), ("dwsep", 64, 112, ()), ("dwsep", 128, 56, ()),
    ("dwsep", 256, 28, ()), ("dwsep", 512, 14, ()), ("dwsep", 1024, 7, ()),
    ("gshuffle", 240, 28, (3,)), ("gshuffle", 480, 14, (3,)), ("gshuffle", 960, 7, (3,)),
    ("gshuffle", 384, 28, (8,)), ("gshuffle", 768, 14, (8,)), ("gshuffle", 200, 28, (2,)),
    ("gshuffle", 272, 28, (4,)), ("gshuffle", 144, 56, (1,)),
    ("split", 116, 28, ()), ("split", 232, 14, ()), ("split", 464, 7, ()), ("split", 48, 28, ()),
    ("split", 176, 28, ()), ("split", 352, 14, ()), ("split", 244, 28, ()),
    # GhostNet's and MobileNetV3's blocks (cells of their own, not in the random draws)
    ("ghost", 16, 112, (1,)), ("ghost", 24, 56, (3,)), ("ghost", 40, 28, (3,)),
    ("ghost", 80, 14, (2,)), ("ghost", 112, 14, (6,)), ("ghost", 160, 7, (6,)),
    ("se", 24, 56, (3,)), ("se", 40, 28, (3,)), ("se", 80, 14, (6,)), ("se", 112, 14, (6,)),
    ("se", 160, 7, (6,)), ("se", 48, 14, (3,)),
]
FIXED_REPS = 4
# deep chains, whose weights (2-51 MB) no longer stay in the cache from one pass to the next,
# as a zoo network's do not: (family, channels, pixels, extra, cells)
DEEP = [
    ("pw", 512, 7, (), 24), ("pw", 256, 14, (), 24), ("pw", 1024, 7, (), 8),
    ("dwsep", 512, 14, (), 16), ("dwsep", 1024, 7, (), 12),
    ("mb", 96, 14, (6, 3), 16), ("mb", 160, 7, (6, 3), 12), ("mb", 64, 14, (6, 3), 16),
    ("gshuffle", 480, 14, (3,), 16), ("gshuffle", 768, 14, (8,), 12),
    ("split", 232, 14, (), 16), ("split", 464, 7, (), 16),
    ("dense", 128, 28, (3,), 8), ("dense", 256, 14, (3,), 8),
]
RANDOM = 60
SEED = 0
_CHANNELS = (8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 320, 384, 512, 768, 1024)
_MAX_CHANNELS = {7: 1024, 14: 512, 28: 256, 56: 128, 112: 64}


def _random(n: int, seed: int, taken: set[str]) -> list[Synthetic]:
    """``n`` chains drawn with ``seed``, none repeating a label in ``taken`` or each other."""
    rng = random.Random(seed)
    out: list[Synthetic] = []
    i = 0
    while len(out) < n:
        family = FAMILIES[i % len(FAMILIES)]
        i += 1
        hw = rng.choice((7, 14, 28, 56, 112) if family in ("pw", "dwsep") else (7, 14, 28, 56))
        c = rng.choice([x for x in _CHANNELS if x <= _MAX_CHANNELS[hw]])
        reps = rng.choice((2, 3, 6))
        extra: tuple = ()
        if family == "dense":
            extra = (rng.choice((3, 3, 5)),)
        elif family == "mb":
            extra = (rng.choice((1, 3, 6)), rng.choice((3, 5)))
        elif family == "gshuffle":
            g = rng.choice((1, 2, 3, 4, 8))
            c = max(c // (4 * g), 1) * 4 * g
            extra = (g,)
        elif family == "split":
            c = max(c // 4 * 4, 8)
        net = _chain(family, (c, *extra), _cell(family, c, extra), c, hw, reps)
        if net.label not in taken:
            taken.add(net.label)
            out.append(net)
    return out


def _singles() -> list[Synthetic]:
    out = []
    for c, k in ((16, 3), (24, 3), (32, 3), (64, 7)):
        out.append(Synthetic(f"stem({c},{k}) on 3x224x224", "stem", {
            "name": "synthetic_stem", "input": [3, 224, 224],
            "layers": [{"op": "conv2d", "out": c, "kernel": k, "stride": 2}, *_bn_act()]}))
    for c, hw, n in ((576, 7, 1024), (1024, 7, 1000), (1280, 7, 1000), (2048, 7, 1000)):
        out.append(Synthetic(f"head({c},{n}) on {c}x{hw}x{hw}", "head", {
            "name": "synthetic_head", "input": [c, hw, hw],
            "layers": [{"op": "global_avg_pool"}, {"op": "flatten"}, {"op": "linear", "out": n}]}))
    for c, hw in ((64, 112), (96, 56), (192, 28)):
        pool = {"op": "max_pool", "kernel": 3, "stride": 2, "padding": 1}
        out.append(Synthetic(f"pool({c}) on {c}x{hw}x{hw}", "pool", {
            "name": "synthetic_pool", "input": [c, hw, hw],
            "layers": [*dense(c), pool, *dense(c), pool]}))
    # pooling alone, so that its cost per window element and per byte are told apart: the
    # window (3x3 or 2x2), the stride (1 or 2) and the kind (max or average) vary
    for kind, k, s, p, n, c, hw in (("max_pool", 3, 1, 1, 4, 192, 28), ("max_pool", 3, 1, 1, 2, 64, 56),
                                    ("max_pool", 2, 2, 0, 2, 64, 112), ("max_pool", 2, 2, 0, 2, 256, 28),
                                    ("max_pool", 3, 2, 1, 2, 96, 56),
                                    ("avg_pool", 3, 2, 1, 2, 24, 56), ("avg_pool", 3, 2, 1, 2, 240, 28),
                                    ("avg_pool", 3, 2, 1, 1, 480, 14), ("avg_pool", 3, 1, 1, 2, 64, 28)):
        pool = {"op": kind, "kernel": k, "stride": s, "padding": p}
        out.append(Synthetic(f"{kind}({k},{s}) x{n} on {c}x{hw}x{hw}", "pool", {
            "name": "synthetic_pool", "input": [c, hw, hw], "layers": [pool] * n}))
    return out


def _strided() -> list[Synthetic]:
    """Chains of downsampling steps (every step halves the map and doubles the channels), for
    the strided kernels a chain of cells never runs: ResNet's strided 1x1 projection, the
    inverted residual's stride-2 depthwise, the stride-2 3x3 conv."""
    def step(kind, c):
        if kind == "down_pw":
            return [{"op": "conv2d", "out": 2 * c, "kernel": 1, "stride": 2}, {"op": "batch_norm"}]
        if kind == "down_mb":
            return [{"op": "pointwise", "out": 6 * c}, *_bn_act("relu6"),
                    {"op": "depthwise", "kernel": 3, "stride": 2}, *_bn_act("relu6"),
                    {"op": "pointwise", "out": 2 * c}, {"op": "batch_norm"}]
        return [{"op": "conv2d", "out": 2 * c, "kernel": 3, "stride": 2}, *_bn_act()]
    out = []
    for kind, c, hw in (("down_pw", 64, 56), ("down_pw", 256, 56), ("down_pw", 128, 28),
                        ("down_mb", 16, 112), ("down_mb", 32, 56), ("down_mb", 64, 28),
                        ("down_dense", 32, 112), ("down_dense", 64, 56)):
        layers = [e for i in range(3) for e in step(kind, c << i)]
        out.append(Synthetic(f"{kind}({c}) x3 on {c}x{hw}x{hw}", "strided",
                             {"name": "synthetic_strided", "input": [c, hw, hw], "layers": layers}))
    return out


def _elementwise() -> list[Synthetic]:
    """Batch norm and ReLU alone, at sizes from 0.2 to 4.8 MB: in every other sample they follow
    a conv, and only these tell their time apart from the conv's."""
    out = []
    for op, c, hw in (("relu", 64, 56), ("relu", 144, 56), ("relu", 96, 112), ("relu", 256, 14),
                      ("batch_norm", 64, 56), ("batch_norm", 144, 56), ("batch_norm", 96, 112),
                      ("batch_norm", 256, 14)):
        out.append(Synthetic(f"{op} x8 on {c}x{hw}x{hw}", "elementwise",
                             {"name": "synthetic_elementwise", "input": [c, hw, hw],
                              "layers": [{"op": op}] * 8}))
    return out


def _tiny() -> list[Synthetic]:
    def chain(label, c, hw, layers):
        return Synthetic(f"tiny {label} on {c}x{hw}x{hw}" if hw else f"tiny {label} on {c}",
                         "tiny", {"name": "synthetic_tiny", "input": [c, hw, hw] if hw else [c],
                                  "layers": layers})
    pool = {"op": "max_pool", "kernel": 3, "stride": 1, "padding": 1}
    return [
        chain("dense x6", 8, 4, dense(8) * 6),
        chain("pw x6", 8, 4, pw(8) * 6),
        chain("gshuffle(16,2) x4", 16, 4, gshuffle(16, 2) * 4),
        chain("dwsep x6", 8, 4, dwsep(8) * 6),
        chain("relu x12", 8, 4, [{"op": "relu"}] * 12),
        chain("max_pool x8", 8, 4, [pool] * 8),
        chain("avg_pool x8", 8, 4, [{**pool, "op": "avg_pool"}] * 8),
        chain("split x6", 16, 4, split(16) * 6),
        chain("shuffle x12", 16, 4, [{"op": "channel_shuffle", "groups": 2}] * 12),
        chain("linear x8", 16, 0, [{"op": "linear", "out": 16}] * 8),
        chain("head", 16, 4, [{"op": "global_avg_pool"}, {"op": "flatten"}, {"op": "linear", "out": 8}]),
    ]


def _random_cells(rng: random.Random, family: str, c: int, k: int) -> tuple[list, str]:
    """``k`` cells of ``family`` at ``c`` channels, the cell's own arguments drawn from
    ``rng`` (an expansion ratio of 3 or 6; a group count that divides the bottleneck), and
    their description for a network's label."""
    if family == "dense":
        extra: tuple = (3,)
    elif family in ("mb", "ghost", "se"):
        extra = (rng.choice((3, 6)),) + ((3,) if family == "mb" else ())
    elif family == "gshuffle":
        extra = (next(g for g in (rng.choice((2, 3, 4, 8)), 2, 1) if c % (4 * g) == 0),)
    else:
        extra = ()
    return _cell(family, c, extra) * k, f"{family}{'/' + str(extra[0]) if extra else ''}x{k}@{c}"


STAGED = 30


def _staged(n: int, seed: int) -> list[Synthetic]:
    rng = random.Random(seed + 1)
    out = []
    for i in range(n):
        res = rng.choice((96, 128, 160, 224))
        c = rng.choice((16, 24, 32, 48))
        layers = [{"op": "conv2d", "out": c, "kernel": 3, "stride": 2}, *_bn_act()]
        desc = []
        for _ in range(rng.choice((3, 4))):
            c *= 2
            family = rng.choice(FAMILIES)
            k = rng.choice((1, 2, 3, 4))
            layers += [{"op": "conv2d", "out": c, "kernel": 3, "stride": 2}, *_bn_act()]
            cells, d = _random_cells(rng, family, c, k)
            layers += cells
            desc.append(d)
        layers += [{"op": "global_avg_pool"}, {"op": "flatten"}, {"op": "linear", "out": 1000}]
        out.append(Synthetic(f"staged#{i} {res}px: " + ", ".join(desc), "staged",
                             {"name": "synthetic_staged", "input": [3, res, res], "layers": layers}))
    return out


MOBILE = 30
# a mobile search space's stages: (output pixels at 224, channel choices); each stage opens with
# a depthwise-separable downsampling step
_MOBILE_STAGES = ((56, (16, 24, 32)), (28, (24, 32, 48)), (14, (48, 64, 96, 128)),
                  (7, (128, 160, 256, 320)))
_MOBILE_FAMILIES = ("mb", "dwsep", "gshuffle", "split", "ghost", "se", "pw")
# The families of whole networks (every other family is a chain of one cell or a single layer):
# calibration's fit weighs them together as much as all the rest (calibrate.sample_weights).
NETWORK_FAMILIES = ("staged", "mobile")


def _mobile(n: int, seed: int) -> list[Synthetic]:
    """Whole mobile networks drawn at random from a MobileNet/ShuffleNet/GhostNet-like search
    space (never a zoo network): a 3x3 stem at stride 2, four stages of 1-4 cells of one
    family each, a 1x1 expansion to 1024 or 1280 channels, pooling and a 1000-class linear
    layer. They run each layer once a pass in a network of 5-20 MB of weights, as the zoo's
    mobile networks do, where a chain of one cell repeats a shape: measured here, the zoo's
    last 1x1 convs and classifiers ran up to 2x slower than the same layers in a chain."""
    rng = random.Random(seed + 2)
    out = []
    for i in range(n):
        res = rng.choice((160, 192, 224))
        c = rng.choice((16, 24, 32))
        layers = [{"op": "conv2d", "out": c, "kernel": 3, "stride": 2}, *_bn_act()]
        desc = []
        for _, widths in _MOBILE_STAGES:
            c = rng.choice(widths)
            family = rng.choice(_MOBILE_FAMILIES)
            k = rng.choice((1, 2, 3, 4))
            layers += [{"op": "depthwise", "kernel": 3, "stride": 2}, *_bn_act(),
                       {"op": "pointwise", "out": c}, *_bn_act()]
            cells, d = _random_cells(rng, family, c, k)
            layers += cells
            desc.append(d)
        last = rng.choice((1024, 1280))
        layers += [{"op": "pointwise", "out": last}, *_bn_act(), {"op": "global_avg_pool"},
                   {"op": "flatten"}, {"op": "linear", "out": 1000}]
        out.append(Synthetic(f"mobile#{i} {res}px: " + ", ".join(desc) + f", 1x1 to {last}",
                             "mobile", {"name": "synthetic_mobile", "input": [3, res, res],
                                        "layers": layers}))
    return out


def _mlp() -> list[Synthetic]:
    out = []
    for w, reps in ((1024, 4), (2048, 3), (4096, 2), (3072, 2), (6144, 2)):
        out.append(Synthetic(f"mlp({w}) x{reps}", "mlp", {
            "name": "synthetic_mlp", "input": [w],
            "layers": [{"op": "linear", "out": w}, {"op": "relu"}] * reps}))
    return out


# The network every job is timed against (costmodel.latency.drift), never a calibration sample:
# a 3x3 conv, a depthwise and a 1x1 conv, each with its batch norm and ReLU, at 32 x 28 x 28.
REFERENCE = Synthetic("reference: dense(3) and dwsep on 32x28x28", "reference",
                      {"name": "synthetic_reference", "input": [32, 28, 28],
                       "layers": dense(32) + dwsep(32)})


def networks(quick: bool = False) -> list[Synthetic]:
    """The calibration set: fixed chains, single-layer networks, then seeded random chains
    (``quick``: no random ones)."""
    fixed = [_chain(f, (c, *e), _cell(f, c, e), c, hw, FIXED_REPS) for f, c, hw, e in FIXED]
    fixed += [_chain(f, (c, *e), _cell(f, c, e), c, hw, n) for f, c, hw, e, n in DEEP]
    singles = _singles() + _tiny() + _mlp() + _strided() + _elementwise()
    staged, mobile = _staged(STAGED, SEED), _mobile(MOBILE, SEED)
    if quick:
        return fixed + singles + staged[:6] + mobile[:6]
    return fixed + singles + staged + mobile + _random(RANDOM, SEED, {n.label for n in fixed + singles})


__all__ = ["Synthetic", "networks", "REFERENCE", "FIXED", "RANDOM", "STAGED", "MOBILE", "SEED"]
