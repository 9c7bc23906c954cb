"""The spec language: structure, names, shapes and counts, each worked out by hand."""
from __future__ import annotations

import pytest

import costmodel
from costmodel.errors import SpecError


def spec(layers, settings=None, blocks=None, input=(3, 8, 8)):
    d = {"name": "t", "input": list(input), "layers": layers}
    if settings:
        d["settings"] = settings
    if blocks:
        d["blocks"] = blocks
    return d


def names(p):
    return [l.name for l in p.layers]


def test_conv_counts_and_default_padding():
    # 3x8x8 -> conv 3x3, 16 out, stride 1, 'same' padding 1: 16 * 3 * 9 * 8 * 8 = 27,648 MACs,
    # 432 weights; with bias 16 more params.
    p = costmodel.profile(spec([{"op": "conv2d", "out": 16, "kernel": 3, "bias": True}]))
    l = p.layers[0]
    assert l.output_shape == (16, 8, 8)
    assert l.mult_adds == 27_648 and l.params == 448 and l.weights == 432
    assert l.full == 27_648 + 16 * 64          # one add per output element for the bias


@pytest.mark.parametrize("h, k, s, p, d, expected", [
    (224, 3, 2, 1, 1, 112),     # floor((224 + 2 - 2 - 1) / 2) + 1 = 112
    (7, 3, 1, 0, 1, 5),
    (8, 3, 1, 2, 2, 8),         # dilation 2: effective kernel 5, padding 2 keeps 8
    (227, 11, 4, 0, 1, 55),     # AlexNet's first layer: floor(216 / 4) + 1 = 55
    (224, 7, 2, 3, 1, 112),     # ResNet stem
])
def test_conv_output_size(h, k, s, p, d, expected):
    prof = costmodel.profile(spec([{"op": "conv2d", "out": 4, "kernel": k, "stride": s,
                                     "padding": p, "dilation": d}], input=(3, h, h)))
    assert prof.output_shape == (4, expected, expected)


@pytest.mark.parametrize("h, k, s, p, ceil, expected", [
    (112, 3, 2, 1, False, 56),  # ResNet max pool: floor((112 + 2 - 3) / 2) + 1 = 56
    (112, 3, 2, 0, True, 56),   # ceil((112 - 3) / 2) + 1 = ceil(54.5) + 1 = 56
    (112, 3, 2, 0, False, 55),  # floor(54.5) + 1 = 55
    (56, 3, 2, 0, True, 28),    # ceil(26.5) + 1 = 28
    (5, 2, 2, 1, True, 3),      # ceil((5 + 2 - 2) / 2) + 1 = 4, but the last window would start
                                # at 6 >= 5 + 1 (in the padding only): dropped -> 3
    (6, 2, 2, 1, True, 4),      # last window starts at 6 < 6 + 1: kept -> 4
])
def test_pool_output_size_with_ceil_mode(h, k, s, p, ceil, expected):
    prof = costmodel.profile(spec([{"op": "max_pool", "kernel": k, "stride": s, "padding": p,
                                     "ceil_mode": ceil}], input=(3, h, h)))
    assert prof.output_shape == (3, expected, expected)


def test_depthwise_pointwise_and_grouped():
    # 8x8x8: depthwise 3x3: 8 * 9 * 64 = 4,608; pointwise 8 -> 16 groups 2: 16 * 4 * 64 = 4,096.
    p = costmodel.profile(spec([{"op": "depthwise"}, {"op": "pointwise", "out": 16, "groups": 2}],
                               input=(8, 8, 8)))
    dw, pw = p.layers
    assert (dw.mult_adds, dw.params, dw.type_key) == (4_608, 72, "Conv DW 3x3")
    assert (pw.mult_adds, pw.params, pw.type_key) == (4_096, 64, "Group Conv 1x1")


def test_linear_batchnorm_pool_counts():
    # 4x2x2 -> BN (8 params; fvcore 2 * 16 elements) -> global pool (fvcore: 16 input elements)
    # -> flatten (4) -> linear 4 -> 10: 40 MACs, 50 params.
    p = costmodel.profile(spec(["bn", "global_avg_pool", "flatten", {"op": "linear", "out": 10}],
                               input=(4, 2, 2)))
    bn, gap, flat, fc = p.layers
    assert (bn.params, bn.mult_adds, bn.fvcore) == (8, 0, 32)
    assert (gap.output_shape, gap.fvcore) == ((4, 1, 1), 16)
    assert flat.output_shape == (4,)
    assert (fc.mult_adds, fc.params, fc.fvcore) == (40, 50, 40)
    assert p.total("fvcore") == 32 + 16 + 40
    assert p.total("flop_counter") == 80


def test_block_rows_repeat_and_names():
    blocks = {"sep": {"args": ["out", "stride"], "body": [
        {"op": "depthwise", "name": "dw", "stride": "stride"},
        {"op": "pointwise", "name": "pw", "out": "out"}]}}
    p = costmodel.profile(spec([{"block": "sep", "name": "features",
                                 "rows": [[8, 1], {"repeat": 2, "row": [16, 2]}, {"out": 4, "stride": 1}]}],
                               blocks=blocks, input=(4, 16, 16)))
    assert names(p) == [f"features.{i}.{n}" for i in range(4) for n in ("dw", "pw")]
    shapes = [l.output_shape for l in p.layers if l.name.endswith("pw")]
    # rows: [8, 1] keeps 16x16; two [16, 2] rows halve twice; the mapping row keeps 4x4
    assert shapes == [(8, 16, 16), (16, 8, 8), (16, 4, 4), (4, 4, 4)]


def test_missing_block_argument_is_an_error():
    blocks = {"b": {"args": ["out", "stride"], "body": [{"op": "pointwise", "out": "out"}]}}
    with pytest.raises(SpecError, match="needs argument 'stride'"):
        costmodel.profile(spec([{"block": "b", "out": 4}], blocks=blocks))


def test_block_defaults_let_and_in_channels():
    # hidden = in_channels * t = 4 * 6 = 24: pw 4 -> 24 (96 * 64 MACs) then pw 24 -> 8 (192 * 64)
    blocks = {"expand": {"args": {"out": None, "t": 6}, "let": {"hidden": "in_channels * t"},
                         "body": [{"op": "pointwise", "name": "up", "out": "hidden"},
                                  {"op": "pointwise", "name": "down", "out": "out"}]}}
    p = costmodel.profile(spec([{"block": "expand", "out": 8}], blocks=blocks, input=(4, 8, 8)))
    assert [l.output_shape[0] for l in p.layers] == [24, 8]
    assert p.mult_adds == 4 * 24 * 64 + 24 * 8 * 64


def test_repeat_binds_index_and_when_skips():
    # Stride 2 only on the first of three copies (MobileNet v2's `n, s` rule); `when` drops the
    # ReLU of the last copy.
    body = [{"op": "conv2d", "name": "conv", "out": 4, "kernel": 3, "stride": "2 if i == 0 else 1"},
            {"op": "relu", "name": "act", "when": "i < 2"}]
    p = costmodel.profile(spec([{"repeat": 3, "name": "stage", "body": body}], input=(4, 16, 16)))
    assert names(p) == ["stage.0.conv", "stage.0.act", "stage.1.conv", "stage.1.act", "stage.2.conv"]
    assert p.output_shape == (4, 8, 8)


def test_single_entry_repeat_is_not_nested():
    p = costmodel.profile(spec([{"repeat": 2, "name": "r", "body": ["relu"]}]))
    assert names(p) == ["r.0", "r.1"]


def test_residual_with_projection_shortcut():
    # 8x8x8 -> body conv 3x3 s2 -> 16x4x4: 16 * 8 * 9 * 16 = 18,432; shortcut 1x1 s2: 16 * 8 * 16
    # = 2,048; the add: 256 elements, no MACs; full counts 256 adds.
    p = costmodel.profile(spec([{"residual": [{"op": "conv2d", "out": 16, "kernel": 3, "stride": 2}],
                                 "shortcut": [{"op": "pointwise", "out": 16, "stride": 2}],
                                 "name": "res"}], input=(8, 8, 8)))
    assert names(p) == ["res.body.0", "res.shortcut.0", "res.add"]
    assert p.mult_adds == 18_432 + 2_048
    add = p.layers[-1]
    assert (add.op, add.output_shape, add.mult_adds, add.full) == ("add", (16, 4, 4), 0, 256)


def test_split_concat_shuffle_unit():
    # ShuffleNet v2 unit on 16x8x8: split 8/8; the right half pw 8->8 (4,096), dw 3x3 (8*9*64 =
    # 4,608), pw 8->8 (4,096); concat back to 16; shuffle with 2 groups. 12,800 MACs, 200 params.
    right = [{"op": "pointwise", "out": 8}, {"op": "depthwise"}, {"op": "pointwise", "out": 8}]
    p = costmodel.profile(spec([{"parallel": {"left": [], "right": right}, "split": 2,
                                 "merge": "concat", "name": "unit"},
                                {"op": "channel_shuffle", "groups": 2, "name": "shuffle"}],
                               input=(16, 8, 8)))
    assert names(p) == ["unit.split", "unit.right.0", "unit.right.1", "unit.right.2",
                        "unit.concat", "shuffle"]
    assert p.layers[1].input_shape == (8, 8, 8)
    assert p.output_shape == (16, 8, 8)
    assert (p.mult_adds, p.params) == (12_800, 200)


def test_split_sizes_must_add_up():
    with pytest.raises(SpecError, match="add up to 5, not the 8"):
        costmodel.profile(spec([{"parallel": [[], []], "split": [2, 3], "merge": "concat"}],
                               input=(8, 4, 4)))


def test_concat_of_branches_with_different_sizes():
    # Inception-like: 1x1 -> 4 channels, 3x3 -> 6 channels, pool -> 3 (input) channels: 13.
    p = costmodel.profile(spec([{"parallel": [[{"op": "pointwise", "out": 4}],
                                              [{"op": "conv2d", "out": 6, "kernel": 3}],
                                              [{"op": "max_pool", "kernel": 3, "stride": 1, "padding": 1}]],
                                 "merge": "concat"}]))
    assert p.output_shape == (13, 8, 8)


def test_activation_chosen_by_a_block_argument():
    blocks = {"b": {"args": ["nl"], "body": [
        {"op": "activation", "fn": "'hardswish' if nl == 'HS' else 'relu'", "name": "act"}]}}
    p = costmodel.profile(spec([{"block": "b", "rows": [["HS"], ["RE"]]}], blocks=blocks))
    assert [l.type_key for l in p.layers] == ["h-swish", "ReLU"]


def test_settings_in_expressions_and_overrides():
    s = spec([{"op": "conv2d", "out": "make_divisible(32 * width, 8)", "kernel": 3}],
             settings={"width": 1.0, "resolution": 8})
    s["input"] = [3, "resolution", "resolution"]
    assert costmodel.profile(s).output_shape == (32, 8, 8)
    assert costmodel.profile(s, width=0.35, resolution=4).output_shape == (16, 4, 4)
    with pytest.raises(SpecError, match="unknown setting 'depth'"):
        costmodel.profile(s, depth=2)
    with pytest.raises(SpecError, match="expects an integer"):
        costmodel.profile(s, resolution=7.5)


def test_ghost_and_se_ops():
    # Ghost, 16x8x8 -> 16 with s=2, k=1, d=3: m = 8 intrinsic maps (8*16 = 128 weights, 8,192 MACs)
    # and 8 ghost maps by a 3x3 depthwise (72 weights, 4,608 MACs); BN on 8 + 8 channels: 32.
    # SE on 16 channels squeezed to 4: 2 * 16 * 4 = 128 MACs; params 128 + 4 + 16 = 148;
    # fvcore adds the pool's 16 * 64 input elements.
    p = costmodel.profile(spec([{"op": "ghost", "out": 16}, {"op": "se", "squeeze": 4}],
                               input=(16, 8, 8)))
    ghost, se = p.layers
    assert (ghost.mult_adds, ghost.params) == (8_192 + 4_608, 128 + 72 + 32)
    assert ghost.fvcore == 8_192 + 4_608 + 2 * 16 * 64
    assert (se.mult_adds, se.params, se.fvcore) == (128, 148, 128 + 1_024)


def test_peak_activation_memory_of_a_chain_and_a_branch():
    # Chain: 3x8x8 (192) -> 4x8x8 (256): peak 448 elements = 1,792 bytes.
    p = costmodel.profile(spec([{"op": "pointwise", "out": 4}]))
    assert p.peak_activation_bytes == 448 * 4
    # Residual on 4x8x8 (256): the body's conv holds the input for the shortcut: 256 held +
    # 256 in + 256 out = 768; the add: 256 + 256 in + 256 out = 768.
    p = costmodel.profile(spec([{"residual": [{"op": "pointwise", "out": 4}]}], input=(4, 8, 8)))
    assert p.peak_activation_elements == 768


def test_dict_api_and_to_dict():
    p = costmodel.profile(spec([{"op": "conv2d", "out": 4, "kernel": 3}, "relu"]))
    d = p.to_dict()
    assert d["model"] == "t" and d["input_shape"] == [3, 8, 8]
    assert d["totals"]["mult_adds"] == p.mult_adds == 4 * 27 * 64
    assert d["totals"]["params"] == 108 and d["totals"]["activations"] == 2 * 256
    assert [l["name"] for l in d["layers"]] == ["0", "1"]
    assert set(d["layers"][0]) >= {"name", "op", "input_shape", "output_shape", "mult_adds",
                                   "params", "activations"}


def test_extends_changes_one_block(write_spec):
    # The base: two conv_bn blocks (3x3 convs, 3 -> 8 -> 8 at 8x8): 8*3*9*64 + 8*8*9*64 = 50,688.
    base = write_spec("""
        name: base
        input: [3, 8, 8]
        settings: {width: 1}
        blocks:
          unit:
            args: [out]
            body:
              - {op: conv2d, name: conv, out: out * width, kernel: 3}
              - {op: batch_norm, name: bn}
        layers:
          - {block: unit, name: a, out: 8}
          - {block: unit, name: b, out: 8}
        """, "base.yaml")
    # The variant swaps the block body for a ghost module (s=2, d=3): per unit m = 4 intrinsic
    # maps by a 3x3 conv (4 * C_in * 9 * 64) and 4 ghost maps by a 3x3 depthwise (4 * 9 * 64).
    child = write_spec("""
        name: child
        extends: base.yaml
        settings: {ratio: 2}
        blocks:
          unit:
            args: [out]
            body:
              - {op: ghost, name: conv, out: out * width, ratio: ratio, kernel: 3}
        """, "child.yaml")
    b, c = costmodel.profile(base), costmodel.profile(child)
    assert b.mult_adds == 8 * 3 * 9 * 64 + 8 * 8 * 9 * 64
    assert c.model == "child" and c.settings == {"width": 1, "ratio": 2}
    assert [l.name for l in c.layers] == ["a.conv", "b.conv"]
    assert c.mult_adds == (4 * 3 * 9 * 64 + 4 * 9 * 64) + (4 * 8 * 9 * 64 + 4 * 9 * 64)


def test_extends_errors_name_the_right_file(write_spec, cli):
    write_spec("name: base\ninput: [3, 8, 8]\nlayers:\n  - {op: conv2d, out: 4, kernel: 3, groups: 2}\n",
               "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\n", "child.yaml")
    r = cli("profile", child)
    assert r.code == 2 and "base.yaml:4: layer '0': groups (2)" in r.err
    loop = write_spec("name: loop\nextends: loop.yaml\n", "loop.yaml")
    r = cli("profile", loop)
    assert r.code == 2 and "cycle" in r.err
    missing = write_spec("name: m\nextends: nowhere.yaml\n", "m.yaml")
    r = cli("profile", missing)
    assert r.code == 2 and "cannot extend 'nowhere.yaml'" in r.err and "no such file" in r.err
