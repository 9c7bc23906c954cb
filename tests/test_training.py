"""The training convention (forward + backward) against FlopCounterMode on a real backward
pass of the built module: equal to the unit on networks without grouped convolutions; on
grouped ones, FlopCounterMode is above by exactly its known grouped-conv weight-gradient
overcount (it multiplies C_in by C_out where the gradient has C_in/groups x C_out)."""
from __future__ import annotations

import pytest

from costmodel.count.profile import profile

torch = pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def flop_counter_training(p, batch: int) -> int:
    """FlopCounterMode's count of one forward and one backward pass (input without grad)."""
    from torch.utils.flop_counter import FlopCounterMode
    from costmodel.torch.builder import build, example_input
    model = build(p.root)
    x = example_input(p.input_shape, batch)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    return int(fc.get_total_flops())


@pytest.mark.parametrize("spec,settings,batch", [
    ("resnet50", {"resolution": 64}, 2),
    ("vgg16_cifar", {}, 1),
    ("squeezenet", {"resolution": 96}, 2),
])
def test_training_equals_flop_counter_forward_and_backward(spec, settings, batch):
    p = profile(spec, **settings)
    assert all(l.attrs.get("groups", 1) == 1 for l in p.layers)
    assert p.total("training", batch) == flop_counter_training(p, batch)


def test_grouped_convs_differ_by_flop_counters_weight_gradient_overcount():
    p = profile("mobilenet_v2", width=0.5, resolution=96)
    n = 2
    excess = sum(2 * n * (l.attrs["groups"] - 1) * l.mult_adds for l in p.layers
                 if l.op in ("conv2d", "depthwise", "pointwise"))
    assert excess > 0
    assert flop_counter_training(p, n) - p.total("training", n) == excess


def test_ghost_and_se_blocks_training_rule():
    """GhostNet: SE blocks and Ghost modules (whose cheap depthwise conv is grouped)."""
    p = profile("ghostnet", width=0.5, resolution=32)
    n = 1
    excess = 0
    for l in p.layers:
        if l.op in ("conv2d", "depthwise", "pointwise"):
            excess += 2 * n * (l.attrs["groups"] - 1) * l.mult_adds
        elif l.op == "ghost":
            d = l.attrs["dw_kernel"]
            cheap = l.attrs["cheap"] * d[0] * d[1] * l.output_shape[1] * l.output_shape[2]
            excess += 2 * n * (l.attrs["init"] - 1) * cheap
    assert flop_counter_training(p, n) - p.total("training", n) == excess


def test_only_the_first_conv_needs_no_input_gradient():
    p = profile("resnet50")
    assert p.gradient_free == {"conv1"}
    first = p.layers[0]
    assert p.layer_counts("training")[0] == 2 * 2 * first.mult_adds      # fwd + weight grad
    assert p.layer_counts("training")[1] == 0                              # batch norm
    l = p.layers[4]
    assert l.mult_adds and p.layer_counts("training")[4] == 6 * l.mult_adds


def test_training_scales_with_batch():
    p = profile("mobilenet_v1", width=0.25, resolution=128)
    assert p.total("training", 8) == 8 * p.total("training")
