"""The ops of issue 11: layer_norm, gelu, silu (swish), scale, merge mul, se act, global pool
mode. Counts derived by hand from each convention's rule (fvcore's jit handles: aten::layer_norm
is 5 per element with affine, 4 without; adaptive_avg_pool2d 1 per input element; no rule for
gelu, silu, mul or mean), then checked against real torch modules by ``costmodel.verify``."""
from __future__ import annotations

import pytest

import costmodel


def spec(layers, input=(8, 4, 4)):
    return {"name": "t", "input": list(input), "layers": layers}


def test_layer_norm_channels_first_and_flat():
    # 8x4x4: 128 elements, 16 positions. affine: params 16; fvcore 5 * 128; full 7*128 + 2*16.
    p = costmodel.profile(spec([
        {"op": "layer_norm", "eps": 1e-6},
        {"op": "layer_norm", "affine": False},
        "flatten",
        {"op": "ln"}]))
    ln, ln_plain, _, ln_flat = p.layers
    assert (ln.params, ln.mult_adds, ln.fvcore, ln.full) == (16, 0, 640, 7 * 128 + 32)
    assert (ln_plain.params, ln_plain.fvcore, ln_plain.full) == (0, 512, 5 * 128 + 32)
    # flat vector of 128: one position; params 256; fvcore 640
    assert (ln_flat.params, ln_flat.fvcore, ln_flat.full) == (256, 640, 7 * 128 + 2)
    assert p.total("flop_counter") == 0


def test_activations_scale_and_mean_pool():
    p = costmodel.profile(spec([
        "gelu", "silu", "swish", {"op": "activation", "fn": "gelu"}, "scale",
        {"op": "global_avg_pool", "mode": "mean"}, {"op": "global_avg_pool"}]))
    gelu, silu, swish, act, scale, mean, gap = p.layers
    assert [l.op for l in (gelu, silu, swish)] == ["gelu", "silu", "silu"]   # swish = silu
    for l in (gelu, silu, swish, act):
        assert (l.params, l.mult_adds, l.fvcore, l.full) == (0, 0, 0, 128)
    assert (scale.params, scale.mult_adds, scale.fvcore, scale.full) == (8, 0, 0, 128)
    assert (mean.output_shape, mean.fvcore, mean.full) == ((8, 1, 1), 0, 128)
    assert (gap.fvcore, gap.full) == (8, 8)       # 8x1x1 input: one per element


def test_merge_mul_and_se_act():
    # a gate: (C,H,W) * (C,1,1): full = 128 multiplies; the gate branch: mean pool, 1x1 conv
    # 8 -> 8 with bias (64 MACs, 72 params), sigmoid.
    p = costmodel.profile(spec([
        {"parallel": [[], [{"op": "global_avg_pool", "mode": "mean"},
                          {"op": "pointwise", "out": 8, "bias": True}, "sigmoid"]],
         "merge": "mul"},
        {"op": "se", "squeeze": 2, "gate": "sigmoid", "act": "gelu"}]))
    mul = next(l for l in p.layers if l.op == "mul")
    se = p.layers[-1]
    assert (mul.output_shape, mul.full, mul.fvcore) == ((8, 4, 4), 128, 0)
    # se: 2*8*2 = 32 MACs; params 32 + 2 + 8; fvcore 32 + pool 128
    assert (se.mult_adds, se.params, se.fvcore) == (32, 42, 160)


def test_mul_shapes_must_broadcast(cli, write_spec):
    path = write_spec("""
name: t
input: [8, 4, 4]
layers:
  - {parallel: [[], [{op: pointwise, out: 4}]], merge: mul}
""")
    r = cli("profile", path)
    assert r.code == 2 and "mul needs equal shapes" in r.err


def test_new_ops_match_torch_modules():
    v = costmodel.verify(spec([
        {"op": "conv2d", "out": 16, "kernel": 3, "bias": True},
        {"op": "layer_norm", "eps": 1e-6}, "gelu",
        {"op": "layer_norm", "affine": False}, "silu", "swish", "scale",
        {"parallel": [[], [{"op": "global_avg_pool", "mode": "mean"},
                          {"op": "pointwise", "out": 16, "bias": True}, "sigmoid"]],
         "merge": "mul"},
        {"op": "se", "squeeze": 4, "gate": "sigmoid", "act": "silu"},
        {"op": "global_avg_pool", "mode": "mean"}, "flatten", "layer_norm", "scale",
        {"op": "linear", "out": 10}], input=(3, 8, 8)))
    assert v.ok, [c.problems() for c in v.layers if c.problems()]
    by_op = {c.op: c for c in v.layers}
    # fvcore's own counts, by hand: LayerNorm over 16x8x8 with affine: 5 * 1024
    ln = [c for c in v.layers if c.op == "layer_norm"]
    assert [c.fvcore for c in ln] == [5 * 1024, 4 * 1024, 5 * 16]
    assert by_op["gelu"].fvcore == 0 and by_op["mul"].fvcore == 0 and by_op["scale"].fvcore == 0


# -- the new specs -------------------------------------------------------------------------------

def test_convnext_t_matches_torchvision():
    # torchvision's convnext_tiny: 28,589,128 params; 4,455,531,264 conv + linear mult-adds;
    # fvcore 4,470,437,376 (issue 11).
    p = costmodel.profile("convnext_t")
    assert p.params == 28_589_128
    assert p.mult_adds == 4_455_531_264
    assert p.total("fvcore") == 4_470_437_376


def test_regnet_x_400mf_from_its_five_numbers():
    p = costmodel.profile("regnet", variant="x_400mf")
    assert (p.settings["depth"], p.settings["w0"], p.settings["wa"], p.settings["wm"],
            p.settings["group_width"]) == (22, 24, 24.48, 2.54, 16)
    assert (p.params, p.mult_adds) == (5_495_976, 413_812_608)
    # the same numbers given by hand instead of through the variant
    q = costmodel.profile("regnet", variant="y_3_2gf", depth=22, w0=24, wa=24.48, wm=2.54,
                          group_width=16, se_ratio=0.0)
    assert (q.params, q.mult_adds) == (5_495_976, 413_812_608)
    # stage widths by hand from torchvision's rule (u_j = 24 + 24.48 j; s_j = round(log(u_j /
    # 24) / log 2.54) is 0, 1, 1, 2 for j = 0..3 and 3 from j = 10 (u >= 24 * 2.54 ** 2.5);
    # widths round(24 * 2.54 ** s / 8) * 8 = 24, 64, 152, 392, made divisible by min(16, w):
    # 32, 64, 160, 400): depths 1, 2, 7, 12; groups w / 16 (j = 0: 32 / 16)
    convs = [l for l in p.layers if l.name.endswith(".res.body.b.conv")]
    assert [l.output_shape[0] for l in convs] == [32] + [64] * 2 + [160] * 7 + [400] * 12
    assert [l.attrs["groups"] for l in convs] == [2] + [4] * 2 + [10] * 7 + [25] * 12


@pytest.mark.parametrize("variant, params, macs", [
    ("b0", 5_288_548, 385_814_752),
    ("b3", 12_233_232, 962_708_240),       # at 224, as the issue gives it
])
def test_efficientnet_variants(cli, variant, params, macs):
    r = cli("profile", "efficientnet", "--set", f"variant={variant}", "--set", "resolution=224",
            "--format", "json")
    import json
    d = json.loads(r.out)
    assert (d["totals"]["params"], d["totals"]["mult_adds"]) == (params, macs)


def test_efficientnet_resolution_follows_the_variant():
    assert costmodel.profile("efficientnet", variant="b3").input_shape == (3, 300, 300)
    assert costmodel.profile("efficientnet").input_shape == (3, 224, 224)


def test_shallow_mobilenet_is_a_patch_of_mobilenet_v1():
    # Table 5: 307 M mult-adds, 2.9 M parameters. By hand: each of the five 14x14x512 separable
    # layers costs 196 * (9 * 512 + 512 * 512) = 52,283,392 mult-adds and 9*512 + 512*512
    # = 266,752 weights; MobileNet v1 is 568,740,352 / 4,209,088.
    p = costmodel.profile("mobilenet_v1_shallow")
    assert p.mult_adds == 568_740_352 - 5 * 52_283_392 == 307_323_392
    assert p.weights == 4_209_088 - 5 * 266_752
    assert round(p.mult_adds / 1e6) == 307 and round(p.weights / 1e6, 1) == 2.9
