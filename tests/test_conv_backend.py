"""The dense conv latency classes follow what torch really runs: at batch 1 and one thread, a
1x1 conv at stride 1 runs torch's native GEMM (conv1x1); any other dense convolution runs the
native im2col kernel when its input holds at most 20,480 elements and its kernel does not
exceed 3 in both directions (conv_small), and oneDNN otherwise (conv), strided 1x1 convs
included. Checked with torch's profiler, which names the kernel it ran."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from costmodel.ops.conv import NATIVE_CONV_MAX_INPUT, dense_class  # noqa: E402
from costmodel.count.profile import Spec  # noqa: E402
from costmodel.latency.traffic import layer_traffic  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (input channels, height, width, kernel, stride): inputs just under, at and over the bound
CASES = [
    (16, 32, 32, (3, 3), 1),      # 16,384 elements: ResNet-CIFAR's first stage
    (20, 32, 32, (3, 3), 1),      # 20,480: the bound itself
    (21, 32, 32, (3, 3), 1),      # 21,504
    (64, 8, 8, (3, 3), 1),
    (512, 7, 7, (3, 3), 1),       # 25,088: ResNet-50's last stage
    (16, 32, 32, (3, 3), 2),
    (8, 16, 16, (5, 5), 1),       # a kernel over 3 both ways: oneDNN at any size
    (8, 16, 16, (1, 5), 1),       # over 3 one way only: native when small
    (3, 224, 224, (7, 7), 2),
    (64, 56, 56, (1, 1), 1),      # a 1x1 conv at stride 1: the native GEMM at any size
    (8, 4, 4, (1, 1), 1),
    (64, 56, 56, (1, 1), 2),      # ResNet-50's strided projections: oneDNN
    (1024, 14, 14, (1, 1), 2),
    (20, 32, 32, (1, 1), 2),      # strided 1x1 on a small input: native (im2col)
    (21, 32, 32, (1, 1), 2),
]


def _ran(c, h, w, k, s) -> str:
    conv = torch.nn.Conv2d(c, 8, k, stride=s, padding=(k[0] // 2, k[1] // 2), bias=False).eval()
    x = torch.randn(1, c, h, w)
    with torch.no_grad(), torch.autograd.profiler.profile() as prof:
        conv(x)
    names = {e.name for e in prof.function_events}
    if "aten::mkldnn_convolution" in names:
        return "conv"
    assert "aten::_slow_conv2d_forward" in names, names
    return "conv1x1" if k == (1, 1) and s == 1 else "conv_small"


@pytest.mark.parametrize("c,h,w,k,s", CASES)
def test_the_class_is_the_kernel_torch_runs(c, h, w, k, s):
    assert dense_class(k, (c, h, w), (s, s)) == _ran(c, h, w, k, s)


def test_the_bound_by_hand():
    assert NATIVE_CONV_MAX_INPUT == 20 * 32 * 32
    assert dense_class((3, 3), (20, 32, 32)) == "conv_small"
    assert dense_class((3, 3), (21, 32, 32)) == "conv"
    assert dense_class((1, 1), (8, 4, 4)) == "conv1x1"
    assert dense_class((1, 1), (64, 56, 56), (2, 2)) == "conv"
    assert dense_class((1, 1), (16, 16, 16), (2, 2)) == "conv_small"
    assert dense_class((1, 1), (64, 56, 56), (1, 1), (2, 2)) == "conv"      # dilated: oneDNN


def test_ops_give_their_kernels_that_class():
    spec = {"name": "t", "input": [16, 32, 32], "layers": [
        {"op": "conv2d", "out": 32, "kernel": 3, "stride": 2},        # 16x32x32 in: small
        {"op": "conv2d", "out": 64, "kernel": 3},                     # 32x16x16 in: small
        {"op": "conv2d", "out": 96, "kernel": 3},                     # 64x16x16 = 16,384: small
        {"op": "conv2d", "out": 8, "kernel": 3},                      # 96x16x16 = 24,576
        {"op": "ghost", "out": 16, "ratio": 2, "kernel": 3},          # 8x16x16 in: small
        {"op": "conv2d", "out": 96, "kernel": 1},                     # 1x1, stride 1
        {"op": "conv2d", "out": 32, "kernel": 1, "stride": 2},        # 96x16x16 in, strided
        {"op": "conv2d", "out": 32, "kernel": 1, "stride": 2},        # 32x8x8 in, strided
        {"op": "ghost", "out": 16, "ratio": 2, "kernel": 1, "stride": 2},   # 32x4x4 in
    ]}
    p = Spec.load(spec).profile()
    classes = [[k.cls for k in layer_traffic(l).kernels] for l in p.layers]
    assert [c[0] for c in classes] == ["conv_small", "conv_small", "conv_small", "conv", "conv_small",
                                       "conv1x1", "conv", "conv_small", "conv_small"]
    # the native kernel unfolds a strided 1x1 conv's input too: 32 x 1 x 1 x 4 x 4 elements
    assert layer_traffic(p.layers[7]).kernels[0].scratch == 32 * 4 * 4
    assert "depthwise" in classes[4]        # the ghost module's cheap operation
