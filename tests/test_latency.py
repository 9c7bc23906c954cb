"""Memory traffic (rules derived by hand), the roofline and additive arithmetic on hand-made profiles,
device-profile validation, and the latency / calibrate / bench commands' output. No test
asserts a timing."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from costmodel.count.profile import profile
from costmodel.errors import SpecError
from costmodel.latency import devices
from costmodel.latency.predict import predict
from costmodel.latency.traffic import layer_traffic
from costmodel.latency.traffic import totals, traffic

HAND = ROOT / "tests" / "data" / "device_hand.yaml"
HAND_ADD = ROOT / "tests" / "data" / "device_hand_additive.yaml"


def one(entry: dict, shape, **kw):
    """The traffic rows of a one-layer network."""
    p = profile({"name": "t", "input": list(shape), "layers": [entry]})
    return traffic(p.layers, **kw)


# -- traffic, by hand --------------------------------------------------------------------------
def test_mac_of_a_1x1_conv_is_shufflenet_v2s_formula():
    # ShuffleNet V2, Section 2: MAC = hw(c1 + c2) + c1*c2; h = w = 28, c1 = c2 = 58
    (r,) = one({"op": "pointwise", "out": 58}, (58, 28, 28))
    assert r.mac_1x1 == 28 * 28 * (58 + 58) + 58 * 58 == 94_308
    # fp32 bytes: the two maps and the weights, 4 bytes each
    assert r.traffic.input_bytes == 58 * 784 * 4
    assert r.traffic.weight_bytes == 58 * 58 * 4
    assert r.traffic.output_bytes == 58 * 784 * 4
    assert r.traffic.bytes == 4 * 94_308
    # 2 FLOPs per multiply-accumulate: 2 * 58 * 58 * 784
    assert r.traffic.flops == 5_274_752
    assert r.traffic.intensity == pytest.approx(5_274_752 / (4 * 94_308))
    assert r.op_class == "conv1x1"


def test_mac_at_equal_flops_is_least_for_equal_widths():
    # G1: B = hw c1 c2 fixed (hw = 784, c1 c2 = 128^2); MAC >= 2 sqrt(hwB) + B/hw, equality at c1 = c2
    macs = {(c1, c2): one({"op": "pointwise", "out": c2}, (c1, 28, 28))[0].mac_1x1
            for c1, c2 in [(128, 128), (64, 256), (32, 512), (16, 1024)]}
    assert macs[(128, 128)] == 784 * 256 + 128 * 128
    assert macs[(16, 1024)] == 784 * 1040 + 16 * 1024
    assert sorted(macs, key=macs.get) == [(128, 128), (64, 256), (32, 512), (16, 1024)]


def test_grouped_1x1_mac_divides_the_weights_by_g():
    # G2: MAC = hw(c1 + c2) + c1 c2 / g; c1 = 240, c2 = 60, g = 3 at 28x28
    (r,) = one({"op": "pointwise", "out": 60, "groups": 3}, (240, 28, 28))
    assert r.mac_1x1 == 784 * 300 + 240 * 60 // 3 == 240_000
    assert r.op_class == "grouped"


def test_stride_2_pointwise_reads_the_input_and_writes_the_smaller_output():
    (r,) = one({"op": "pointwise", "out": 32, "stride": 2}, (16, 8, 8))
    assert r.mac_1x1 == 16 * 64 + 32 * 16 + 16 * 32


def test_depthwise_at_fp16_and_batch_4():
    # 3x3 depthwise, 32 x 112 x 112, stride 1: input and output 401,408 elements per sample,
    # 32 * 9 = 288 weights read once per batch; 2 bytes each
    (r,) = one({"op": "depthwise", "kernel": 3}, (32, 112, 112), batch=4, dtype="fp16")
    n = 32 * 112 * 112
    assert r.traffic.input_bytes == 4 * n * 2 and r.traffic.output_bytes == 4 * n * 2
    assert r.traffic.weight_bytes == 288 * 2
    assert r.traffic.flops == 4 * 2 * 288 * 112 * 112
    assert r.mac_1x1 is None and r.op_class == "depthwise"


def test_dense_3x3_with_bias():
    (r,) = one({"op": "conv2d", "out": 8, "kernel": 3, "bias": True}, (4, 10, 10))
    # weights 8 * 4 * 9 = 288 + 8 bias; output 8 * 100; FLOPs 2 * 288 * 100 + 800 bias adds
    assert r.traffic.weight_bytes == 296 * 4
    assert r.traffic.flops == 2 * 288 * 100 + 800
    # a 400-element input: torch runs it with its native kernel (tests/test_conv_backend.py)
    assert r.op_class == "conv_small" and r.mac_1x1 is None


def test_concat_add_and_views():
    p = profile({"name": "t", "input": [16, 8, 8], "layers": [
        {"parallel": [[], []], "merge": "concat", "name": "cat"},
        {"parallel": [[], [], []], "merge": "add", "name": "sum"},
        {"parallel": [[], []], "split": 2, "merge": "concat", "name": "halves"},
        {"op": "flatten", "name": "flatten"}]})
    rows = {r.name: r for r in traffic(p.layers)}
    n = 32 * 64
    cat = rows["cat.concat"].traffic
    assert (cat.input_bytes, cat.output_bytes, cat.flops) == (4 * n, 4 * n, 0)
    add = rows["sum.add"].traffic        # 3 branches: two pairwise adds, each 2 reads, 1 write
    assert add.input_bytes == 2 * 2 * n * 4 and add.output_bytes == 2 * n * 4 and add.flops == 2 * n
    assert rows["halves.split"].traffic.bytes == 0          # chunks are views
    assert rows["flatten"].traffic.bytes == 0 and rows["flatten"].op_class == "-"


def test_batch_norm_reads_four_statistics_per_channel():
    (r,) = one({"op": "batch_norm"}, (10, 4, 4))
    assert r.traffic.weight_bytes == 4 * 10 * 4
    (r,) = one({"op": "batch_norm", "affine": False}, (10, 4, 4))
    assert r.traffic.weight_bytes == 2 * 10 * 4


def test_totals_add_up_and_the_profile_command_shows_traffic(cli):
    p = profile("mobilenet_v2")
    rows = traffic(p.layers)
    t = totals(rows)
    assert t["bytes"] == sum(r.traffic.bytes for r in rows)
    # conv/linear FLOPs are twice the paper's mult-adds (plus bias adds of the classifier: 1000)
    conv_flops = sum(r.traffic.flops for r in rows if r.op_class in ("conv", "conv_small", "conv1x1", "depthwise", "linear"))
    assert conv_flops == 2 * p.mult_adds + 1000
    r = cli("profile", "mobilenet_v2", "--traffic", "--dtype", "int8", "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["dtype"] == "int8" and d["traffic"]["totals"]["bytes"] * 4 == t["bytes"]
    md = cli("profile", "shufflenet_v2", "--traffic", "--format", "markdown")
    assert md.code == 0 and "MAC 1x1" in md.out


# -- the roofline on a hand-made profile --------------------------------------------------------
def test_roofline_arithmetic_on_a_hand_made_profile():
    dev = devices.load_file(HAND)
    p = profile({"name": "t", "input": [58, 28, 28], "layers": [
        {"op": "pointwise", "out": 58, "name": "pw"},
        {"op": "relu", "name": "relu"},
        {"op": "global_avg_pool", "name": "gap"}, {"op": "flatten", "name": "flatten"},
        {"op": "linear", "out": 2, "name": "fc"}]})
    pred = predict(p, dev)
    t = {l.traffic.name: l for l in pred.layers}
    # pw: 5,274,752 FLOPs / 1e10 = 527.4752 us > 377,232 B / 1e10 = 37.7232 us; + 10 us
    assert t["pw"].time_s == pytest.approx(10e-6 + 527.4752e-6) and t["pw"].bound == "compute"
    # relu: 45,472 FLOPs / 1e10 = 4.5472 us < 363,776 B / 1e10 = 36.3776 us; + 10 us
    assert t["relu"].time_s == pytest.approx(10e-6 + 36.3776e-6) and t["relu"].bound == "memory"
    # gap: 45,472 FLOPs -> 4.5472 us < (45,472 + 58) * 4 B -> 18.212 us; + 10 us
    assert t["gap"].time_s == pytest.approx(10e-6 + 18.212e-6) and t["gap"].bound == "memory"
    # fc: 58*2*2 + 2 = 234 FLOPs, (58 + 116 + 2 + 2) * 4 = 712 B: 71.2 ns; overhead 10 us wins
    assert t["fc"].time_s == pytest.approx(10e-6 + 71.2e-9) and t["fc"].bound == "overhead"
    assert t["flatten"].time_s == 0 and t["flatten"].bound == "-"
    assert pred.time_s == pytest.approx(sum(l.time_s for l in pred.layers))
    d = pred.to_dict()
    assert d["kind"] == "predicted" and d["device"]["name"] == "hand"
    assert {"time_s", "flops", "bytes"} <= set(d["totals"])
    assert {"name", "op", "time_s", "bound", "flops", "bytes", "intensity"} <= set(d["layers"][0])


def test_additive_arithmetic_on_a_hand_made_profile():
    dev = devices.load_file(HAND_ADD)
    assert dev.model == "additive" and dev.format == 2
    p = profile({"name": "t", "input": [58, 28, 28], "layers": [
        {"op": "pointwise", "out": 58, "name": "pw"}, {"op": "relu", "name": "relu"},
        {"op": "global_avg_pool", "name": "gap"}]})
    t = {l.traffic.name: l for l in predict(p, dev).layers}
    # pw: 5,274,752 FLOPs / 1e10 = 527.4752 us PLUS 377,232 B / 2e10 (its own bandwidth)
    # = 18.8616 us, + 10 us overhead
    assert t["pw"].time_s == pytest.approx(10e-6 + 527.4752e-6 + 18.8616e-6)
    assert t["pw"].compute_s == pytest.approx(527.4752e-6) and t["pw"].bound == "compute"
    # relu: 45,472 FLOPs / 1e10 = 4.5472 us plus 363,776 B / 4e10 = 9.0944 us, + 10 us:
    # the overhead is the largest part
    assert t["relu"].time_s == pytest.approx(10e-6 + 4.5472e-6 + 9.0944e-6)
    assert t["relu"].bound == "overhead"
    # gap: the top-level 10 GB/s: 4.5472 us + 182,120 B / 1e10 = 18.212 us, + 10 us
    assert t["gap"].time_s == pytest.approx(10e-6 + 4.5472e-6 + 18.212e-6)
    assert t["gap"].bound == "memory"


def test_a_profile_without_conv_small_prices_it_as_conv(tmp_path):
    dev = devices.load_file(HAND_ADD)              # calibrated before conv_small existed
    assert dev.classes.conv_small is None and dev.cls("conv_small") == dev.cls("conv")
    p = profile({"name": "t", "input": [4, 10, 10], "layers": [
        {"op": "conv2d", "out": 8, "kernel": 3, "name": "c"}]})
    (l,) = predict(p, dev).layers
    assert l.traffic.op_class == "conv_small"
    # 57,600 FLOPs / 2e10 = 2.88 us, (400 + 800 + 288) x 4 B / 1e10 = 0.5952 us, + 10 us
    assert l.time_s == pytest.approx(10e-6 + 2.88e-6 + 0.5952e-6)
    # with a class of its own, its own constants
    own = tmp_path / "own.yaml"
    own.write_text(HAND_ADD.read_text().replace(
        "  conv1x1:", "  conv_small:    {peak_flops: 1e10, overhead_s: 5e-5}\n  conv1x1:"))
    (l,) = predict(p, devices.load_file(own)).layers
    assert l.time_s == pytest.approx(50e-6 + 5.76e-6 + 0.5952e-6)
    assert "conv_small:" in devices.dump(devices.load_file(own))
    assert "conv_small:" not in devices.dump(dev)      # a missing class is not invented


def test_format_1_profiles_have_no_model_or_class_bandwidth(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("threads: 1\n", "threads: 1\nmodel: additive\n"))
    with pytest.raises(SpecError, match="format 1 profiles have no 'model'") as exc:
        devices.load_file(bad)
    assert str(exc.value).startswith(f"{bad}:8:")
    for key in ("memory_bandwidth", "weight_bandwidth", "scratch_bandwidth"):
        bad.write_text(GOOD.replace("  conv1x1:       {", f"  conv1x1:       {{{key}: 1e9, "))
        with pytest.raises(SpecError, match=f"format 1 profiles .*'{key}'"):
            devices.load_file(bad)
    bad.write_text(HAND_ADD.read_text().replace("model: additive", "model: magic"))
    with pytest.raises(SpecError, match="model"):
        devices.load_file(bad)
    assert devices.load_file(HAND).model == "roofline"


def test_bounded_least_squares_by_hand():
    from costmodel.latency.calibrate import bounded_least_squares
    # y = 2 a + 3 b from rows (1, 0), (0, 1), (1, 1): unconstrained a = 2, b = 3
    rows, y = [[1, 0], [0, 1], [1, 1]], [2, 3, 5]
    assert bounded_least_squares(rows, y, [1, 1, 1], [0, 0]) == pytest.approx([2, 3])
    # b bounded below by 4: b = 4; then a minimises (a - 2)^2 + (a + 4 - 5)^2 -> a = 1.5
    assert bounded_least_squares(rows, y, [1, 1, 1], [0, 4]) == pytest.approx([1.5, 4])


def test_the_fit_recovers_hand_made_constants():
    """Noise-free samples made from known constants by hand (not by the predictor): the fit
    returns those constants."""
    from costmodel.latency import calibrate as cal
    from costmodel.ops.base import KERNEL_CLASSES, Kernel
    truth = {c: (1e-5 * (i + 1), 1e10 * (i + 1), 2e9 * (i + 2)) for i, c in enumerate(KERNEL_CLASSES)}
    samples = []
    for c, (o, peak, bw) in truth.items():
        for n, f, e in ((1, 2e6, 1e5), (3, 1e6, 4e5), (2, 8e6, 2e5), (5, 5e5, 1e6)):
            ks = tuple(Kernel(c, int(f), int(e), 0, 0) for _ in range(n))
            t = n * (o + f / peak + 4 * e / bw)        # fp32: 4 bytes per element
            samples.append(cal.Sample(None, ks, t))
    fit = cal.fit(samples)
    for c, (o, peak, bw) in truth.items():
        got = fit.classes[c]
        assert got.overhead_s == pytest.approx(o, rel=1e-6)
        assert got.peak_flops == pytest.approx(peak, rel=1e-6)
        assert got.memory_bandwidth == pytest.approx(bw, rel=1e-6)
        assert got.samples == 4
    assert fit.mape == pytest.approx(0, abs=1e-9) and fit.within_10 == 1


def test_the_fit_recovers_weight_and_scratch_bandwidths():
    """As above, with weights in every sample and scratch traffic in conv_small's: each class's
    three bandwidths come back apart."""
    from costmodel.latency import calibrate as cal
    from costmodel.ops.base import KERNEL_CLASSES, Kernel
    truth = {c: (1e-5 * (i + 1), 1e10 * (i + 1), 2e9 * (i + 2), 5e8 * (i + 1), 3e9)
             for i, c in enumerate(KERNEL_CLASSES)}
    shapes = ((1, 2e6, 1e5, 3e4, 2e5), (3, 1e6, 4e5, 1e4, 5e4), (2, 8e6, 2e5, 9e4, 1e5),
              (5, 5e5, 1e6, 2e3, 4e5), (4, 3e6, 7e4, 5e4, 3e5), (2, 1e5, 3e5, 6e4, 1e4))
    samples = []
    for c, (o, peak, bw, wbw, sbw) in truth.items():
        for n, f, e, w, sc in shapes:
            sc = sc if c == "conv_small" else 0
            ks = tuple(Kernel(c, int(f), int(e), int(w), 0, int(sc)) for _ in range(n))
            t = n * (o + f / peak + 4 * e / bw + 4 * w / wbw + 2 * 4 * sc / sbw)
            samples.append(cal.Sample(None, ks, t))
    fit = cal.fit(samples)
    for c, (o, peak, bw, wbw, sbw) in truth.items():
        got = fit.classes[c]
        assert got.overhead_s == pytest.approx(o, rel=1e-5)
        assert got.peak_flops == pytest.approx(peak, rel=1e-5)
        assert got.memory_bandwidth == pytest.approx(bw, rel=1e-5)
        assert got.weight_bandwidth == pytest.approx(wbw, rel=1e-5)
        assert (got.scratch_bandwidth == pytest.approx(sbw, rel=1e-5)) if c == "conv_small" \
            else got.scratch_bandwidth is None


def test_weights_and_scratch_at_their_own_bandwidths(tmp_path):
    p = profile({"name": "t", "input": [4, 10, 10], "layers": [
        {"op": "conv2d", "out": 8, "kernel": 3, "name": "c"}]})
    (k,) = layer_traffic(p.layers[0]).kernels
    # torch's native kernel unfolds the input: 4 channels x 3 x 3 rows, one column per output
    # position (10 x 10): 3,600 elements, written then read
    assert (k.cls, k.scratch, k.weights, k.reads, k.writes) == ("conv_small", 3600, 288, 400, 800)
    big = profile({"name": "b", "input": [32, 32, 32], "layers": [{"op": "conv2d", "out": 8, "kernel": 3}]})
    assert layer_traffic(big.layers[0]).kernels[0].scratch == 0          # oneDNN: no im2col
    own = tmp_path / "own.yaml"
    own.write_text(HAND_ADD.read_text().replace(
        "  conv1x1:", "  conv_small:    {peak_flops: 1e10, overhead_s: 5e-5, weight_bandwidth: 1e9, "
                      "scratch_bandwidth: 4e10}\n  conv1x1:"))
    dev = devices.load_file(own)
    (l,) = predict(p, dev).layers
    # 57,600 FLOPs / 1e10 = 5.76 us; activations (400 + 800) x 4 B / 1e10 = 0.48 us; weights
    # 288 x 4 B / 1e9 = 1.152 us; scratch 2 x 3,600 x 4 B / 4e10 = 0.72 us; + 50 us
    assert l.time_s == pytest.approx(50e-6 + 5.76e-6 + 0.48e-6 + 1.152e-6 + 0.72e-6)
    text = devices.dump(dev)
    assert "weight_bandwidth: 1.000000e+09" in text and "scratch_bandwidth: 4.000000e+10" in text


def test_calibration_networks_cover_every_class_and_are_not_zoo_networks():
    from costmodel.latency.synthetic import networks
    from costmodel.latency.traffic import layer_traffic
    from costmodel.ops.base import KERNEL_CLASSES
    from costmodel.spec.zoo import ZOO_DIR
    nets = networks()
    assert len(nets) == 251 and len(networks(quick=True)) == 143
    assert len({n.label for n in nets}) == len(nets)
    seen = set()
    zoo_names = {f.stem for f in ZOO_DIR.glob("*.yaml")}
    for n in nets:
        p = profile(n.spec)
        assert p.model.startswith("synthetic_") and p.model not in zoo_names
        seen |= {k.cls for l in p.layers for k in layer_traffic(l).kernels}
    assert seen == set(KERNEL_CLASSES)
    # a fixed seed: the same networks on every run
    assert [n.label for n in networks()] == [n.label for n in nets]


def test_batch_scales_activations_not_weights():
    dev = devices.load_file(HAND)
    p = profile({"name": "t", "input": [64], "layers": [{"op": "linear", "out": 1000, "bias": False}]})
    one_, eight = predict(p, dev, 1), predict(p, dev, 8)
    # batch 1: 128,000 FLOPs -> 12.8 us; bytes (64 + 64,000 + 1000) * 4 = 260,256 -> 26.0256 us
    assert one_.time_s == pytest.approx(10e-6 + 26.0256e-6)
    # batch 8: FLOPs 1,024,000 -> 102.4 us; bytes (8 * 1064 + 64,000) * 4 = 290,048 -> 29.0048 us
    assert eight.time_s == pytest.approx(10e-6 + 102.4e-6)
    assert eight.layers[0].bound == "compute" and one_.layers[0].bound == "memory"


def test_a_profile_holds_for_its_own_dtype():
    dev = devices.load_file(HAND)
    with pytest.raises(SpecError, match="calibrated at fp32, not fp16"):
        predict(profile("mobilenet_v1"), dev, 1, "fp16")


def test_ghost_and_se_kernels_follow_their_modules():
    p = profile({"name": "t", "input": [16, 8, 8], "layers": [
        {"op": "ghost", "out": 16, "name": "g"}, {"op": "se", "squeeze": 4, "name": "se"}]})
    g, se = traffic(p.layers)
    # ghost, ratio 2: primary 1x1 16 -> 8, bn, relu, cheap dw 8 -> 8, bn, relu, concat
    assert [k.cls for k in g.kernels] == ["conv1x1", "elementwise", "elementwise", "depthwise",
                                          "elementwise", "elementwise", "data_movement"]
    assert g.traffic.flops == 2 * 8 * 16 * 64 + 2 * 8 * 64 + 8 * 64 + 2 * 8 * 9 * 64 + 2 * 8 * 64 + 8 * 64
    assert [k.cls for k in se.kernels] == ["global_pool", "conv1x1", "elementwise", "conv1x1",
                                           "elementwise", "elementwise"]
    # the multiply reads the map and the 16 gates, writes the map
    assert se.kernels[-1].reads == 16 * 64 + 16 and se.kernels[-1].writes == 16 * 64


# -- device profiles: validation ---------------------------------------------------------------
GOOD = HAND.read_text()


@pytest.mark.parametrize("old,new,line,message", [
    ("memory_bandwidth: 1e10          # 10 GB/s\n", "", None, "missing field 'memory_bandwidth'"),
    ("{peak_flops: 1e9, overhead_s: 1e-5}", "{peak_flops: 0, overhead_s: 1e-5}", 16, "greater than 0"),
    ("{peak_flops: 5e9, overhead_s: 2e-5}", "{peak_flops: 5e9, overhead_s: -2e-5}", 12, "greater than 0"),
    ("  pooling:  ", "  poolng:   ", 16, "unknown op class 'poolng' (did you mean 'pooling'?)"),
    ("{peak_flops: 2e10, overhead_s: 1e-5}", "{peak_flops: fast, overhead_s: 1e-5}", 10, "must be a number"),
    ("threads: 1", "threads: one", 7, "threads"),
    ("format: 1", "format: 7", 2, "format 7 is newer"),
    ("kind: cpu", "kind: tpu", 5, "kind"),
])
def test_bad_profiles_exit_2_with_file_and_line(cli, tmp_path, old, new, line, message):
    assert old in GOOD
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(SpecError) as exc:
        devices.load_file(bad)
    assert message in str(exc.value)
    if line is not None:
        assert str(exc.value).startswith(f"{bad}:{line}:"), str(exc.value)
    r = cli("latency", "mobilenet_v1", "--device", bad)
    assert r.code == 2 and r.err.startswith(f"error: {bad}") and message in r.err
    assert "Traceback" not in r.err


def test_missing_class_and_unknown_device(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join(l for l in GOOD.splitlines() if not l.startswith("  linear:")) + "\n")
    r = cli("latency", "mobilenet_v1", "--device", bad)
    assert r.code == 2 and "missing field 'classes.linear'" in r.err
    r = cli("latency", "mobilenet_v1", "--device", "no_such_device")
    assert r.code == 2 and "unknown device 'no_such_device'" in r.err
    for name in devices.known():
        assert name in r.err
    r = cli("latency", "mobilenet_v1", "--device", tmp_path / "absent.yaml")
    assert r.code == 2 and "no such file" in r.err


def test_the_shipped_profiles_load_and_round_trip(tmp_path):
    assert devices.known(), "a calibrated profile of this machine is shipped"
    for name in devices.known():
        prof = devices.resolve(name)
        assert prof.name == name and prof.torch and prof.cpu and prof.threads >= 1
        again = tmp_path / f"{name}.yaml"
        again.write_text(devices.dump(prof))
        assert devices.load_file(again).model_dump() == prof.model_dump()


# -- the commands -------------------------------------------------------------------------------
def test_latency_command_formats(cli):
    r = cli("latency", "mobilenet_v2", "--device", HAND, "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["model"] == "mobilenet_v2" and d["kind"] == "predicted"
    assert d["device"]["name"] == "hand" and d["batch"] == 1 and d["dtype"] == "fp32"
    assert d["totals"]["time_s"] == pytest.approx(sum(l["time_s"] for l in d["layers"]))
    assert {l["bound"] for l in d["layers"]} <= {"compute", "memory", "overhead", "-"}
    table = cli("latency", "mobilenet_v2", "--device", HAND)
    assert table.code == 0 and "PREDICTED" in table.out and "hand" in table.out
    by_type = cli("latency", "mobilenet_v2", "--device", HAND, "--by", "type", "--format", "markdown")
    assert by_type.code == 0 and "| Conv 1x1 |" in by_type.out
    csv_ = cli("latency", "mobilenet_v2", "--device", HAND, "--format", "csv")
    assert csv_.code == 0 and csv_.out.splitlines()[0].startswith("name,op,type,class,time_s")
    assert cli("latency", "mobilenet_v2").code == 0      # the shipped default profile


def _cli_without(modules: tuple, *args: str) -> subprocess.CompletedProcess:
    """`costmodel ARGS` in a fresh process that exits non-zero if the command fails or
    imports any of ``modules``."""
    code = ("import sys; from costmodel.cli.app import main\n"
            f"try:\n    main({[str(a) for a in args]!r})\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            f"bad = [m for m in {modules!r} if m in sys.modules]\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def test_latency_imports_no_torch():
    r = _cli_without(("torch", "fvcore", "matplotlib", "onnx"), "latency", "mobilenet_v2", "--format", "json")
    assert json.loads(r.stdout)["kind"] == "predicted"


def test_calibrate_quick_writes_a_profile_that_predicts(cli, tmp_path):
    """In a process of its own, which never imports torch: the worker processes time the
    networks, and the profile names the worker's torch."""
    out = tmp_path / "quick.yaml"
    r = _cli_without(("torch",), "calibrate", "--quick", "--budget", "0.002", "--out", out)
    prof = devices.load_file(out)
    import torch
    assert prof.threads == 1 and prof.kind == "cpu" and prof.cpu
    assert prof.torch == torch.__version__      # reported by the worker that timed the networks
    assert prof.format == 2 and prof.model == "additive"
    from costmodel.latency.synthetic import networks
    assert "143 synthetic networks" in prof.description
    assert all(prof.cls(c).samples >= 1 and prof.cls(c).memory_bandwidth for c in ("conv", "depthwise", "data_movement"))
    assert "Fit MAPE" in r.stdout and "conv1x1" in r.stdout and "Bandwidth (GB/s)" in r.stdout
    assert "Working set:" in r.stdout and "Spill:" in r.stdout
    assert not list(tmp_path.glob(".*.tmp"))
    assert cli("latency", "mobilenet_v1", "--device", out).code == 0


def test_calibrate_interrupted_leaves_no_profile(tmp_path, monkeypatch):
    from costmodel.latency import calibrate as cal
    from conftest import run_cli

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(cal, "measure_all", boom)
    out = tmp_path / "p.yaml"
    r = run_cli("calibrate", "--quick", "--out", out)
    assert r.code == 130 and not out.exists() and not list(tmp_path.iterdir())


TINY = {"name": "tiny", "input": [3, 16, 16], "layers": [
    {"op": "conv2d", "out": 8, "kernel": 3, "stride": 2, "name": "conv"},
    {"op": "batch_norm", "name": "bn"}, {"op": "relu", "name": "relu"},
    {"residual": [{"op": "depthwise", "name": "dw"}], "name": "res"},
    {"op": "global_avg_pool", "name": "gap"}, {"op": "flatten", "name": "flat"},
    {"op": "linear", "out": 4, "name": "fc"}]}


def test_bench_on_a_tiny_spec(cli, tmp_path):
    import yaml
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    r = cli("bench", spec, "--repeat", "3", "--warmup", "1", "--format", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    p = profile(TINY)
    assert d["kind"] == "measured" and d["machine"]["threads"] == 1 and d["batch"] == 1
    assert [l["name"] for l in d["layers"]] == [l.name for l in p.layers]
    t = d["totals"]
    assert t["min_s"] <= t["p25_s"] <= t["time_s"] <= t["p75_s"] <= t["max_s"]
    assert all(l["time_s"] >= 0 for l in d["layers"])
    c = cli("bench", spec, "--repeat", "2", "--compare", HAND, "--format", "json")
    assert c.code == 0, c
    dc = json.loads(c.out)
    assert dc["predicted"]["device"]["name"] == "hand"
    assert {r["type"] for r in dc["predicted"]["by_type"]} >= {"Conv 3x3", "Conv DW 3x3"}
    table = cli("bench", spec, "--repeat", "2", "--compare", HAND)
    assert table.code == 0 and "MEASURED" in table.out and "PREDICTED" in table.out


def test_bench_refuses_models_over_the_size_limit_before_building(cli, write_spec):
    big = write_spec("""
        name: big
        input: [100000]
        layers:
          - {op: linear, out: 100000}
    """)
    r = cli("bench", big)
    assert r.code == 2 and "limit" in r.err


def test_roofline_plot(cli, tmp_path):
    out = tmp_path / "roof.svg"
    r = cli("roofline", "mobilenet_v2", "--device", HAND, "--out", out)
    assert r.code == 0, r
    assert out.read_text().lstrip().startswith(("<?xml", "<svg"))
    assert cli("roofline", "mobilenet_v2", "--device", HAND, "--out", tmp_path / "x.gif").code == 2


# -- ShuffleNet V2's guideline specs (Section 2) ------------------------------------------------
GUIDE = ROOT / "costmodel" / "zoo" / "shufflenet_v2_guidelines"


def test_g1_equal_flops_and_mac_grows_with_the_channel_ratio():
    spec = GUIDE / "g1_pointwise_ratio.yaml"
    pairs = [(128, 128), (90, 180), (52, 312), (36, 432)]
    macs, flops = [], []
    for c1, c2 in pairs:
        p = profile(spec, c1=c1, c2=c2)
        # 10 blocks of two 1x1 convs on 56 x 56: 2 * 10 * 3136 * c1 * c2 mult-adds
        assert p.mult_adds == 20 * 3136 * c1 * c2
        rows = traffic(p.layers)
        # each conv: MAC = hw(c1 + c2) + c1*c2 (Section 2)
        assert all(r.mac_1x1 == 3136 * (c1 + c2) + c1 * c2 for r in rows)
        macs.append(sum(r.mac_1x1 for r in rows))
        flops.append(p.mult_adds)
    assert max(flops) / min(flops) < 1.06              # "at equal FLOPs"
    assert macs == sorted(macs) and macs[0] == 20 * (3136 * 256 + 128 * 128)


def test_g2_mac_grows_with_the_groups_at_equal_flops():
    spec = GUIDE / "g2_group_conv.yaml"
    macs = []
    for g, c in [(1, 128), (2, 180), (4, 256), (8, 360)]:
        p = profile(spec, groups=g, channels=c)
        assert p.mult_adds == 10 * 3136 * c * c // g
        rows = traffic(p.layers)
        assert all(r.mac_1x1 == 3136 * 2 * c + c * c // g for r in rows)
        assert {r.op_class for r in rows} == ({"conv1x1"} if g == 1 else {"grouped"})
        macs.append(sum(r.mac_1x1 for r in rows))
    assert macs == sorted(macs) and macs[-1] == 10 * (3136 * 720 + 16200)


# -- the working set: a weight cache and the cold bandwidth --------------------------------------
def _with_cache(tmp_path, text=None, cache="1e6", cold="1e9", fields=None):
    f = tmp_path / "cache.yaml"
    fields = fields or {"weight_cache_bytes": cache, "cold_bandwidth": cold}
    extra = "".join(f"{k}: {v}\n" for k, v in fields.items() if v is not None)
    f.write_text((text or HAND_ADD.read_text()).replace("classes:\n", extra + "classes:\n", 1))
    return f


def test_a_network_whose_weights_exceed_the_cache_pays_the_cold_bandwidth(tmp_path):
    dev = devices.load_file(_with_cache(tmp_path))
    assert dev.weight_miss(4_004_000) == pytest.approx(1 - 1e6 / 4_004_000)
    assert dev.weight_miss(1e6) == 0 and devices.load_file(HAND_ADD).weight_miss(1e9) == 0
    big = profile({"name": "b", "input": [1000], "layers": [{"op": "linear", "out": 1000, "name": "fc"}]})
    (l,) = predict(big, dev).layers
    # weights 1,000 x 1,000 + 1,000 biases = 1,001,000 elements = 4,004,000 B > the 1e6 B cache:
    # m = 1 - 1e6 / 4,004,000, and m x (activations 8,000 B + weights 4,004,000 B) =
    # 4,012,000 - 1e6 x 4,012,000 / 4,004,000 = 3,010,002 B at the cold 1 GB/s = 3,010.002 us;
    # besides: 2,001,000 FLOPs / 1e10 = 200.1 us, 8,000 B / 1e10 = 0.8 us, 4,004,000 B / 1e10
    # (weights at the class's bandwidth) = 400.4 us, and the 10 us overhead
    assert l.time_s == pytest.approx((10 + 200.1 + 0.8 + 400.4 + 3010.002) * 1e-6)
    plain = predict(big, devices.load_file(HAND_ADD)).layers[0]
    assert plain.time_s == pytest.approx((10 + 200.1 + 0.8 + 400.4) * 1e-6)
    # a network whose weights fit (100 x 100 + 100 = 10,100 elements, 40,400 B) pays nothing more
    small = profile({"name": "s", "input": [100], "layers": [{"op": "linear", "out": 100}]})
    assert predict(small, dev).time_s == pytest.approx(predict(small, devices.load_file(HAND_ADD)).time_s)
    text = devices.dump(dev)
    assert "weight_cache_bytes: 1.000000e+06" in text and "cold_bandwidth: 1.000000e+09" in text
    again = tmp_path / "again.yaml"
    again.write_text(text)
    assert devices.load_file(again).model_dump() == dev.model_dump()


@pytest.mark.parametrize("cache,cold,line,message", [
    ("1e6", None, 10, "'weight_cache_bytes' needs 'cold_bandwidth' beside it"),
    (None, "1e9", 10, "'cold_bandwidth' needs 'weight_cache_bytes' beside it"),
    ("0", "1e9", 10, "greater than 0"),
    ("1e6", "fast", 11, "must be a number"),
    ("kernel", None, 10, "'kernel_cache_bytes' needs 'spill_bandwidth' beside it"),
    (None, "spill", 10, "'spill_bandwidth' needs 'kernel_cache_bytes' beside it"),
    ("llc", None, 10, "'llc_bytes' needs 'dram_bandwidth' beside it"),
    ("1e6", "null", 10, "'weight_cache_bytes' needs 'cold_bandwidth' beside it"),   # null: absent
    ("~", "6e10", 11, "'cold_bandwidth' needs 'weight_cache_bytes' beside it"),
])
def test_a_half_or_bad_weight_cache_is_refused(cli, tmp_path, cache, cold, line, message):
    if cache == "llc":
        bad = _with_cache(tmp_path, fields={"llc_bytes": "1e8"})
    elif "kernel" in (cache, cold) or "spill" in (cache, cold):
        bad = _with_cache(tmp_path, fields={"kernel_cache_bytes": "1e6" if cache else None,
                                            "spill_bandwidth": "1e9" if cold else None})
    else:
        bad = _with_cache(tmp_path, cache=cache, cold=cold)
    with pytest.raises(SpecError) as exc:
        devices.load_file(bad)
    assert message in str(exc.value) and str(exc.value).startswith(f"{bad}:{line}:")
    r = cli("latency", "mobilenet_v1", "--device", bad)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_a_kernel_whose_footprint_exceeds_the_kernel_cache_spills(tmp_path):
    dev = devices.load_file(_with_cache(tmp_path, fields={"kernel_cache_bytes": "1e6",
                                                          "spill_bandwidth": "1e9"}))
    p = profile({"name": "t", "input": [96, 56, 56], "layers": [{"op": "relu", "name": "big"}]})
    (l,) = predict(p, dev).layers
    # 96 x 56 x 56 = 301,056 elements read and written: 2,408,448 B > the 1e6 B kernel cache,
    # s = 1 - 1e6 / 2,408,448, so s x 2,408,448 = 1,408,448 B at the spill's 1 GB/s =
    # 1,408.448 us; besides: 301,056 FLOPs / 1e10 = 30.1056 us, 2,408,448 B / 4e10 (the
    # element-wise class's bandwidth) = 60.2112 us, and the 10 us overhead
    assert l.time_s == pytest.approx((10 + 30.1056 + 60.2112 + 1408.448) * 1e-6)
    # a 16 x 56 x 56 map (401,408 B read and written) fits: nothing more
    small = profile({"name": "s", "input": [16, 56, 56], "layers": [{"op": "relu"}]})
    assert predict(small, dev).time_s == pytest.approx(predict(small, devices.load_file(HAND_ADD)).time_s)
    assert "spill_bandwidth: 1.000000e+09" in devices.dump(dev)


def _hand_fit(shapes, extra):
    """Noise-free samples made by hand from known constants (per class: overhead, peak, and
    the activation and weight bandwidths), each kernel ``(n, FLOPs, activation elements,
    weight elements)`` of ``shapes``, plus ``extra(n, e, w)`` seconds per sample; the fit,
    after checking that it returns every class's constants."""
    from costmodel.latency import calibrate as cal
    from costmodel.ops.base import KERNEL_CLASSES, Kernel
    truth = {c: (1e-5 * (i + 1), 1e10 * (i + 1), 2e9 * (i + 2), 5e8 * (i + 1))
             for i, c in enumerate(KERNEL_CLASSES)}
    samples = []
    for c, (o, peak, bw, wbw) in truth.items():
        for n, f, e, w in shapes:
            ks = tuple(Kernel(c, int(f), int(e), int(w), 0) for _ in range(n))
            t = n * (o + f / peak + 4 * e / bw + 4 * w / wbw) + extra(n, e, w)
            samples.append(cal.Sample(None, ks, t))
    fit = cal.fit(samples)
    for c, (o, peak, bw, wbw) in truth.items():
        got = fit.classes[c]
        assert got.overhead_s == pytest.approx(o, rel=1e-5)
        assert got.peak_flops == pytest.approx(peak, rel=1e-5)
        assert got.memory_bandwidth == pytest.approx(bw, rel=1e-5)
        assert got.weight_bandwidth == pytest.approx(wbw, rel=1e-5)
    assert fit.mape == pytest.approx(0, abs=1e-6)
    return fit


def test_the_fit_finds_the_kernel_cache_and_the_spill_bandwidth():
    """A 1 MiB kernel cache (no weight cache): the fit picks that kernel cache, no weight
    cache, and returns the spill bandwidth."""
    from costmodel.latency import calibrate as cal
    cache, spill = float(1 << 20), 3e9
    assert cache in cal.SPILL_SIZES
    # per kernel: activations 4 x e bytes + weights 4 x w bytes = 0.52, 2.0, 4.0, 0.29, 1.4 and
    # 0.8 MB (over and under the cache); the networks' weights all under 256 KiB
    shapes = ((1, 2e6, 1.2e5, 1e4), (3, 1e6, 4.9e5, 1e4), (2, 8e6, 9.9e5, 1e4),
              (5, 5e5, 7e4, 2e3), (4, 3e6, 3.4e5, 1e4), (2, 1e5, 1.9e5, 1e4))
    fit = _hand_fit(shapes, lambda n, e, w: n * max(0.0, 1 - cache / (4 * (e + w))) * 4 * e / spill)
    assert fit.kernel_cache_bytes == cache and fit.weight_cache_bytes is None
    assert fit.spill_bandwidth == pytest.approx(spill, rel=1e-5)


def test_weights_past_the_last_level_cache_are_read_at_the_dram_bandwidth(tmp_path):
    dev = devices.load_file(_with_cache(tmp_path, fields={"llc_bytes": "1e6", "dram_bandwidth": "1e9"}))
    big = profile({"name": "b", "input": [1000], "layers": [{"op": "linear", "out": 1000}]})
    pred = predict(big, dev)
    # 4,004,000 B of weights past a 1e6 B last-level cache: d = 1 - 1e6 / 4,004,000, and
    # d x 4,004,000 B = 3,004,000 B at 1 GB/s = 3,004 us (weights only, not the activations);
    # besides: 200.1 + 0.8 + 400.4 us and the 10 us overhead, as without the cache
    assert pred.time_s == pytest.approx((10 + 200.1 + 0.8 + 400.4 + 3004) * 1e-6)
    assert pred.dram_share == pytest.approx(1 - 1e6 / 4_004_000) and pred.weight_miss == 0
    d = pred.to_dict()
    assert d["totals"]["dram_share"] == pytest.approx(0.750249750) and d["device"]["llc_bytes"] == 1e6
    small = profile({"name": "s", "input": [100], "layers": [{"op": "linear", "out": 100}]})
    assert predict(small, dev).time_s == pytest.approx(predict(small, devices.load_file(HAND_ADD)).time_s)


def test_the_caches_at_a_batch_together_and_under_the_roofline(tmp_path):
    """Weights are read once a batch, activations once a sample: at batch 2 the network's
    weight bytes (which set m and d) stay, a kernel's footprint (which sets s) doubles."""
    both = {"weight_cache_bytes": "1e6", "cold_bandwidth": "1e9", "llc_bytes": "2e6",
            "dram_bandwidth": "2e9", "kernel_cache_bytes": "1e6", "spill_bandwidth": "1e9"}
    dev = devices.load_file(_with_cache(tmp_path, fields=both))
    fc = profile({"name": "b", "input": [1000], "layers": [{"op": "linear", "out": 1000}]})
    # batch 2: 4,002,000 FLOPs / 1e10 = 400.2 us; activations 2 x 2,000 x 4 = 16,000 B / 1e10 =
    # 1.6 us; weights 4,004,000 B / 1e10 = 400.4 us; the weight cache: m x (16,000 + 4,004,000)
    # = 4,020,000 - 1e6 x 4,020,000 / 4,004,000 = 3,016,003.996 B at 1 GB/s; the last level:
    # (4,004,000 - 2e6) B at 2 GB/s = 1,002 us; the kernel cache: 4,020,000 B > 1e6, spilling
    # (1 - 1e6 / 4,020,000) x 16,000 B = 12,019.900... B at 1 GB/s
    spill = 16_000 * (1 - 1e6 / 4_020_000) / 1e9
    assert predict(fc, dev, batch=2).time_s == pytest.approx(
        (10 + 400.2 + 1.6 + 400.4 + 3016.003996 + 1002) * 1e-6 + spill)
    relu = profile({"name": "r", "input": [24, 56, 56], "layers": [{"op": "relu"}]})
    # 75,264 elements: 602,112 B read and written a sample fits the 1e6 B kernel cache; at
    # batch 2, 1,204,224 B spill 204,224 B at 1 GB/s = 204.224 us; besides 150,528 FLOPs / 1e10
    # = 15.0528 us, 1,204,224 B / 4e10 = 30.1056 us and 10 us (no weights: m and d are 0)
    assert predict(relu, dev, batch=1).time_s == pytest.approx((10 + 7.5264 + 15.0528) * 1e-6)
    assert predict(relu, dev, batch=2).time_s == pytest.approx((10 + 15.0528 + 30.1056 + 204.224) * 1e-6)
    roof = devices.load_file(_with_cache(tmp_path, HAND_ADD.read_text().replace(
        "model: additive", "model: roofline"), fields=both))
    # the roofline keeps the larger of compute and memory, the cache terms on the memory side
    (l,) = predict(relu, roof, batch=2).layers
    assert l.time_s == pytest.approx((10 + 30.1056 + 204.224) * 1e-6) and l.bound == "memory"


def test_format_1_profiles_have_no_weight_cache(tmp_path):
    bad = _with_cache(tmp_path, HAND.read_text())
    with pytest.raises(SpecError, match="format 1 profiles have no 'weight_cache_bytes'"):
        devices.load_file(bad)


def test_the_fit_finds_the_weight_cache_and_the_cold_bandwidth():
    """A 1 MiB weight cache (one of the sizes the fit tries): the fit picks that cache and
    returns the cold bandwidth."""
    from costmodel.latency import calibrate as cal
    cache, cold = float(1 << 20), 2e9
    assert cache in cal.CACHE_SIZES
    # the network's weights n x 4 x w bytes: 120 KB, 1.2 MB, 3.2 MB, 40 KB, 16 MB and 480 KB
    shapes = ((1, 2e6, 1e5, 3e4), (3, 1e6, 4e5, 1e5), (2, 8e6, 2e5, 4e5), (5, 5e5, 1e6, 2e3),
              (4, 3e6, 7e4, 1e6), (2, 1e5, 3e5, 6e4))
    fit = _hand_fit(shapes, lambda n, e, w: max(0.0, 1 - cache / (n * 4 * w)) * n * 4 * (e + w) / cold)
    assert fit.weight_cache_bytes == cache and fit.kernel_cache_bytes is None
    assert fit.cold_bandwidth == pytest.approx(cold, rel=1e-5)


def test_the_fit_finds_the_last_level_cache_and_the_dram_bandwidth():
    """A 64 MiB last-level cache (above every weight cache the fit tries), the weights past it
    read at 1 GB/s: the fit picks that cache and returns the DRAM bandwidth, and no other
    cache."""
    from costmodel.latency import calibrate as cal
    llc, dram = float(1 << 26), 1e9
    assert llc in cal.LLC_SIZES and llc > max(cal.CACHE_SIZES)
    # the network's weights n x 4 x w bytes: 32, 48, 80, 100, 160, 1.6 and 12 MB
    shapes = ((1, 2e6, 1e5, 8e6), (3, 1e6, 4e5, 4e6), (2, 8e6, 2e5, 1e7), (5, 5e5, 1e6, 5e6),
              (4, 3e6, 7e4, 1e7), (2, 1e5, 3e5, 2e5), (1, 4e6, 2e5, 3e6))
    fit = _hand_fit(shapes, lambda n, e, w: max(0.0, 1 - llc / (n * 4 * w)) * n * 4 * w / dram)
    assert fit.llc_bytes == llc and fit.weight_cache_bytes is None and fit.kernel_cache_bytes is None
    assert fit.dram_bandwidth == pytest.approx(dram, rel=1e-5)


def test_the_scan_ranks_by_short_fits_then_fits_its_choice_in_full(monkeypatch):
    """Every trial of the cache sizes' scan is a short fit (SCAN_SWEEPS); only the sizes it
    keeps are fitted in full (SWEEPS), and the same without each cache they price (at most
    four full fits); the profile is the one of a scan made of full fits."""
    from costmodel.latency import calibrate as cal
    cache, cold = float(1 << 20), 2e9
    shapes = ((1, 2e6, 1e5, 3e4), (3, 1e6, 4e5, 1e5), (2, 8e6, 2e5, 4e5), (5, 5e5, 1e6, 2e3),
              (4, 3e6, 7e4, 1e6), (2, 1e5, 3e5, 6e4))

    def extra(n, e, w):
        return max(0.0, 1 - cache / (n * 4 * w)) * n * 4 * (e + w) / cold

    calls = []
    solve = cal.bounded_least_squares

    def counted(rows, target, weights, lower, sweeps=cal.SWEEPS, start=None):
        calls.append(sweeps)
        return solve(rows, target, weights, lower, sweeps, start)

    monkeypatch.setattr(cal, "bounded_least_squares", counted)
    short = _hand_fit(shapes, extra)
    assert cal.SCAN_SWEEPS < cal.SWEEPS
    short_fits = [c for c in calls if c == cal.SCAN_SWEEPS]
    full_fits = len(calls) - len(short_fits)
    assert 2 <= full_fits <= 4 and calls[-full_fits:] == [cal.SWEEPS] * full_fits
    # the scan tries every size of the three lists (and none for each) at least once
    assert len(short_fits) >= len(cal.CACHE_SIZES) + len(cal.SPILL_SIZES) + len(cal.LLC_SIZES) + 1
    monkeypatch.setattr(cal, "SCAN_SWEEPS", cal.SWEEPS)
    full = _hand_fit(shapes, extra)
    assert (short.weight_cache_bytes, short.kernel_cache_bytes, short.llc_bytes) == \
        (full.weight_cache_bytes, full.kernel_cache_bytes, full.llc_bytes) == (cache, None, None)
    assert short.classes == full.classes and short.cold_bandwidth == full.cold_bandwidth


STEADY = r"""
import ctypes, resource, sys
sys.path.insert(0, sys.argv[1])
from costmodel.latency.bench import steady_allocator
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[2] == "steady":
    print(steady_allocator())
size = 64 << 20          # above glibc's largest mmap threshold: by default always mmap'ed
faults = []
for _ in range(4):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    p = libc.malloc(size)
    ctypes.memset(p, 1, size)
    libc.free(p)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(*faults)
"""


def test_the_steady_allocator_reuses_freed_memory_without_page_faults():
    """A 64 MiB block, written then freed four times: glibc's default maps it afresh every
    time (16,384 pages of 4 KiB, each faulted in when written); in the steady state only the
    first time."""
    def run(mode):
        out = subprocess.run([sys.executable, "-c", STEADY, str(ROOT), mode], capture_output=True,
                             text=True, check=True).stdout.split("\n")
        return out
    default = [int(x) for x in run("default")[0].split()]
    assert min(default) >= 16_000
    desc, faults = run("steady")[:2]
    assert desc == "glibc, steady (no mmap, no trim)"
    first, *rest = [int(x) for x in faults.split()]
    assert first >= 16_000 and max(rest) < 100


# -- timing rounds in fresh processes (costmodel.latency.rounds) ---------------------------------

def test_a_round_runs_in_a_fresh_process_and_reports_every_job():
    from costmodel.latency.rounds import job, run_round
    seen = []
    jobs = [job(TINY, budget_s=0.005, window_s=0.001),
            job(TINY, budget_s=0.005, window_s=0.001, median=True, per_layer=True)]
    out = run_round(jobs, 1, lambda i, r: seen.append(i))
    assert seen == [0, 1]
    assert len(out[0]["windows"]) >= 3 and all(w > 0 for w in out[0]["windows"])
    assert "median" not in out[0] and out[1]["median"] > 0
    assert [l["name"] for l in out[1]["layers"]] == [l.name for l in profile(TINY).layers]
    # each job in a child of its own, not in this process nor in one shared worker
    assert out[0]["pid"] != out[1]["pid"] and os.getpid() not in (out[0]["pid"], out[1]["pid"])
    import torch
    assert out[0]["torch"] == out[1]["torch"] == torch.__version__


def test_a_job_is_timed_against_the_reference_network_in_its_round():
    from costmodel.latency import drift
    from costmodel.latency.rounds import job, run_round
    out = run_round([job(TINY, budget_s=0.01, window_s=0.001),
                     job(TINY, budget_s=0.01, window_s=0.001, reference=False)], 1)
    with_ref, without = out
    # R J R J ... J R: one more reference window than windows, and the worker's ratio is
    # drift.ratio of the two
    assert len(with_ref["reference"]) == len(with_ref["windows"]) + 1 >= 4
    assert with_ref["ratio"] == drift.ratio(with_ref["windows"], with_ref["reference"])
    assert "reference" not in without and "ratio" not in without


def test_a_job_timed_against_the_reference_gets_short_windows_by_default():
    from costmodel.latency import bench, drift
    from costmodel.latency.rounds import job
    # between two reference windows the job's own must be short (10 ms), so both see one speed;
    # a job timed alone keeps bench's 30 ms windows
    assert job(TINY)["window_s"] == drift.WINDOW_S == 0.010
    assert job(TINY, reference=False)["window_s"] == bench.WINDOW_S == 0.03
    assert job(TINY, window_s=0.002)["window_s"] == 0.002


def test_the_reference_network_is_a_mixed_cell_and_no_calibration_sample():
    from costmodel.latency import calibrate as cal
    from costmodel.latency.synthetic import REFERENCE
    p = profile(REFERENCE.spec)
    # 3x3 conv 32 -> 32 at 28x28: 32*32*9*784 mult-adds; depthwise 3x3: 32*9*784; 1x1: 32*32*784
    convs = 32 * 32 * 9 * 784 + 32 * 9 * 784 + 32 * 32 * 784
    assert {l.op for l in p.layers} >= {"conv2d", "depthwise", "pointwise", "batch_norm", "relu"}
    assert p.mult_adds >= convs and p.mult_adds < convs * 1.01       # plus the BNs' and ReLUs' share
    assert REFERENCE.spec not in [n.spec for n in cal.networks(False)]


def test_a_failing_round_says_why():
    from costmodel.latency.rounds import job, run_round
    bad = {**TINY, "layers": [{"op": "no_such_op"}]}
    with pytest.raises(RuntimeError, match="timing worker.*exited with status 1") as e:
        run_round([job(TINY, budget_s=0.001, window_s=0.001), job(bad, budget_s=0.001, window_s=0.001)], 1)
    assert "no_such_op" in str(e.value) and "job 1 failed in its child process" in str(e.value)


def test_calibration_keeps_the_median_over_processes_of_each_rounds_ratio_to_the_reference(monkeypatch):
    from costmodel.latency import calibrate as cal
    from costmodel.latency import rounds
    nets = [n for n in cal.networks(True) if n.family == "tiny"][:2]
    # per round, each network's (windows, reference windows, ratio), found by its spec whatever
    # order the round runs in; the ratios are the worker's, taken as they come
    per_round = iter([[([3.0, 2.0, 4.0], [0.5, 0.6, 0.7, 0.8], 2.0), ([9.0, 8.0], [0.4, 0.5, 0.6], 8.0)],
                      [([5.0, 6.0, 7.0], [0.3, 0.5, 0.5, 0.5], 5.0), ([1.0, 1.5], [0.9, 0.9, 0.9], 1.0)],
                      [([1.0, 9.0, 9.0], [0.6, 0.6, 0.6, 0.6], 1.0), ([7.0, 6.0], [0.7, 0.7, 0.7], 6.0)]])
    extra = [rounds.job(TINY, budget_s=0.01)]
    extra_refs = iter([[0.5, 0.5], [0.25, 0.5], [0.5, 0.5]])     # the fastest of all: 0.25, round 2
    calls, seen = [], []

    def fake(jobs, threads, on_result=None):
        calls.append((len(jobs), threads, [j["reference"] for j in jobs]))
        timings = next(per_round) + [([0.5], next(extra_refs), 3.0)]
        specs = [n.spec for n in nets] + [TINY]
        out = []
        for k, j in enumerate(jobs):
            w, refs, ratio = timings[specs.index(j["spec"])]
            out.append({"i": k, "torch": "9.8.7", "windows": w, "reference": refs, "ratio": ratio})
        for r in out:
            on_result(r["i"], r)
        return out
    monkeypatch.setattr(rounds, "run_round", fake)
    timed = cal.measure_all(nets, 1, 0.3, 3, extra=lambda r: extra,
                            on_extra=lambda i, r, res: seen.append((i, r, res["ratio"])))
    assert calls == [(3, 1, [True] * 3)] * 3
    # the reference's fastest window over every job of every round, the extra one's included
    assert timed.reference_s == 0.25
    # medians of the ratios (2, 5, 1) and (8, 1, 6), in units of 0.25 s
    assert [s.time_s for s in timed.samples] == [0.5, 1.5]
    assert [s.rounds for s in timed.samples] == [(0.5, 1.25, 0.25), (2.0, 0.25, 1.5)]
    # and each round's uncorrected fastest window beside them
    assert [s.raw for s in timed.samples] == [(2.0, 5.0, 1.0), (8.0, 1.0, 6.0)]
    assert seen == [(0, 0, 3.0), (0, 1, 3.0), (0, 2, 3.0)]
    assert timed.torch == "9.8.7"           # the workers' torch, for the profile to name


def test_each_round_runs_its_jobs_in_its_own_shuffled_order():
    from costmodel.latency.calibrate import round_order
    orders = [round_order(40, r) for r in range(5)]
    assert all(sorted(o) == list(range(40)) for o in orders)
    assert len({tuple(o) for o in orders}) == 5            # no two rounds alike
    assert orders[0] != list(range(40))
    assert round_order(40, 3) == orders[3]                 # the same on every run


def test_whole_networks_weigh_as_much_as_the_chains_in_the_fit():
    from costmodel.latency import calibrate as cal
    nets = cal.networks(True)
    chains = [n for n in nets if n.family == "tiny"][:6]
    whole = [n for n in nets if n.family in ("staged", "mobile")][:2]
    samples = [cal.Sample(n, (), t) for n, t in zip(chains + whole, (1, 2, 1, 1, 4, 1, 2, 0.5))]
    w = cal.sample_weights(samples)
    # relative errors (1 / time), the two whole networks boosted by sqrt(6 / 2)
    assert w[:6] == [1.0, 0.5, 1.0, 1.0, 0.25, 1.0]
    assert w[6:] == pytest.approx([3 ** 0.5 / 2, 3 ** 0.5 / 0.5])
    # in the squared loss (w x time)^2, a relative error counts 1 per chain, 3 per network
    assert sum((wi * s.time_s) ** 2 for wi, s in zip(w[:6], samples)) == pytest.approx(
        sum((wi * s.time_s) ** 2 for wi, s in zip(w[6:], samples[6:])))
    # samples of one kind only (or hand-made ones without a network) are not boosted
    assert cal.sample_weights(samples[:6]) == w[:6]
    assert cal.sample_weights([cal.Sample(None, (), 2.0)]) == [0.5]


def _bench_latency():
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_latency", ROOT / "benchmarks" / "bench_latency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_benchmarks_noise_ceiling_scores_odd_rounds_against_even_rounds():
    b = _bench_latency()
    # odd rounds (1st, 3rd, 5th) 1, 3, 5 -> 3; even rounds 2, 4 -> 3
    assert b.halves([1.0, 2.0, 3.0, 4.0, 5.0]) == (3.0, 3.0)
    rep = b.repeatability([[1.0, 2.0, 3.0, 4.0, 5.0],       # 3 against 3: 0%
                           [10.0, 12.0, 10.0, 12.0],        # 10 against 12: 16.7%
                           [2.0, 2.1, 2.0],                 # 2 against 2.1: 4.8%
                           [7.0]])                          # one round: left out
    assert rep["mape"] == pytest.approx((0 + 2 / 12 + 0.1 / 2.1) / 3)
    assert rep["w10"] == pytest.approx(2 / 3)
    assert rep["w20"] == 1.0
    # slowest / fastest round: 5, 1.2, 1.05 -> median 1.2
    assert rep["spread"] == pytest.approx(1.2)
    assert b.repeatability([[7.0], [8.0]]) is None


def test_calibration_samples_keep_each_rounds_time():
    from costmodel.latency import calibrate as cal
    net = next(n for n in cal.networks(True) if n.family == "tiny")
    s = cal.sample(net, 2.0, [1.0, 2.0, 3.0])
    assert s.rounds == (1.0, 2.0, 3.0) and s.time_s == 2.0
    assert cal.sample(net, 2.0).rounds == ()


def test_without_fork_the_worker_runs_every_job_itself():
    # where the platform has no os.fork, jobs run one after another in the worker process
    from costmodel.latency.rounds import job
    code = ("import json, os, sys; del os.fork; from costmodel.latency import rounds; "
            "rounds._work(json.load(sys.stdin), sys.stdout); print(json.dumps({'worker': os.getpid()}))")
    req = {"threads": 1, "jobs": [job(TINY, budget_s=0.001, window_s=0.001)] * 2}
    res = subprocess.run([sys.executable, "-c", code], input=json.dumps(req), capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    *out, worker = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["i"] for r in out] == [0, 1]
    assert out[0]["pid"] == out[1]["pid"] == worker["worker"]
    assert all(r["windows"] and min(r["windows"]) > 0 for r in out)


# -- drift correction (costmodel.latency.drift) --------------------------------------------------

def test_drift_ratio_divides_each_window_by_the_reference_around_it():
    from costmodel.latency import drift
    # windows 6, 9, 4 between references 1, 2, 4, 4: 6/1.5 = 4, 9/3 = 3, 4/4 = 1 -> median 3
    assert drift.ratio([6.0, 9.0, 4.0], [1.0, 2.0, 4.0, 4.0]) == 3.0
    # a machine twice as slow throughout gives the same ratio
    assert drift.ratio([12.0, 18.0, 8.0], [2.0, 4.0, 8.0, 8.0]) == 3.0
    # a slow phase over one window only moves that window's quotient, not the median
    assert drift.ratio([6.0, 30.0, 6.0], [2.0, 2.0, 2.0, 2.0]) == 3.0
    with pytest.raises(ValueError, match="3 windows need 4 reference windows, got 3"):
        drift.ratio([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert drift.quiet([0.5, 0.4, 0.7]) == 0.4


def test_paired_windows_alternate_starting_and_ending_with_the_reference():
    from costmodel.latency import drift
    log = []
    windows, refs = drift.paired_windows(lambda: log.append("J"), lambda: log.append("R"),
                                         budget_s=0.0, window_s=0.0, ref_window_s=0.0)
    # with windows of no length, one call each: R J R J R J R (at least 3 windows)
    assert "".join(log) == "RJRJRJR"
    assert len(windows) == 3 and len(refs) == 4 and all(t >= 0 for t in windows + refs)
    log.clear()
    windows, refs = drift.paired_windows(lambda: log.append("J"), lambda: log.append("R"),
                                         budget_s=0.0, window_s=0.0, ref_window_s=0.0,
                                         min_windows=5)
    assert "".join(log) == "R" + "JR" * 5 and len(refs) == len(windows) + 1 == 6


def test_a_rounds_share_sets_the_window_length():
    """3 windows and the 4 reference windows of 5 ms around them fill a round's share of the
    budget: 10 ms windows from 50 ms on, shorter below, never under a twelfth of the share."""
    from costmodel.latency import drift
    assert drift.window_for(0.080) == drift.window_for(0.050) == 0.010
    assert drift.window_for(0.035) == pytest.approx((0.035 - 0.020) / 3)     # 5 ms
    # calibrate --quick: 0.05 s over 2 rounds = 25 ms a round: max(5 ms, 6.25 ms) / 3
    assert drift.window_for(0.025) == pytest.approx(0.025 / 4 / 3)
    assert drift.window_for(0.004) == pytest.approx(0.004 / 12)
