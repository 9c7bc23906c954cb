"""Layer names that can match another model's: ``flat: true`` entries (no name level) and
``name: $arg`` (a layer named by a block argument); the shipped MobileNetV2 and ResNet-50
specs load the state_dict of the torchvision-structured references in tests/."""
from __future__ import annotations

import pytest

import costmodel
from costmodel.errors import SpecError


def spec(layers, blocks=None, input=(4, 8, 8)):
    d = {"name": "t", "input": list(input), "layers": layers}
    if blocks:
        d["blocks"] = blocks
    return d


def names(p):
    return [l.name for l in p.layers]


RELU = {"op": "relu"}
BN = {"op": "batch_norm"}


def test_flat_seq_adds_no_level_and_numbering_continues():
    # [relu, {flat seq: [bn, relu]}, relu]: the flat seq's layers are 1 and 2, the last relu 3
    p = costmodel.profile(spec([RELU, {"seq": [BN, RELU], "flat": True}, RELU]))
    assert names(p) == ["0", "1", "2", "3"]
    # not flat: the seq is one level (1.0, 1.1) and the last relu is 2
    p = costmodel.profile(spec([RELU, {"seq": [BN, RELU]}, RELU]))
    assert names(p) == ["0", "1.0", "1.1", "2"]


def test_skipped_flat_entry_uses_no_index_but_a_skipped_plain_one_does():
    p = costmodel.profile(spec([{"seq": [BN], "flat": True, "when": False}, RELU]))
    assert names(p) == ["0"]
    p = costmodel.profile(spec([{"seq": [BN], "when": False}, RELU]))
    assert names(p) == ["1"]


def test_flat_rows_and_repeats_number_like_a_torch_sequential():
    blocks = {"unit": {"args": ["n"], "body": [{"repeat": "n", "flat": True,
                                                 "body": [{"block": "pair"}]}]},
              "pair": {"body": [BN, RELU]}}
    # rows [2], [1]: three pair instances numbered 1, 2, 3 after the first relu (0)
    p = costmodel.profile(spec([RELU, {"block": "unit", "flat": True, "rows": [[2], [1]]}, RELU],
                               blocks))
    assert names(p) == ["0", "1.0", "1.1", "2.0", "2.1", "3.0", "3.1", "4"]


def test_flat_residual_names_every_layer_itself():
    blocks = {"cb": {"args": {"conv": 0, "bn": 1},
                     "body": [{"op": "conv2d", "name": "$conv", "out": 4, "kernel": 3},
                              {"op": "batch_norm", "name": "$bn"}]}}
    layers = [{"residual": [{"block": "cb", "flat": True, "conv": "conv1", "bn": "bn1"},
                            {"op": "relu", "name": "relu"}],
               "shortcut": [{"block": "cb", "name": "downsample"}], "flat": True}]
    p = costmodel.profile(spec(layers, blocks))
    assert names(p) == ["conv1", "bn1", "relu", "downsample.0", "downsample.1", "add"]
    # counts are those of the same network named otherwise: 4*4*9*64 MACs per conv
    q = costmodel.profile(spec([{"residual": [{"block": "cb"}, RELU],
                                 "shortcut": [{"block": "cb"}]}], blocks))
    assert (p.mult_adds, p.params) == (q.mult_adds, q.params) == (2 * 9216, 2 * (144 + 8))
    assert [l.name for l in q.layers][:2] == ["0.body.0.0", "0.body.0.1"]


@pytest.mark.parametrize("layers, blocks, words", [
    ([{"seq": [RELU], "flat": True, "name": "x"}], None, "takes no name"),
    ([{"seq": [{"op": "relu", "name": "a"}], "flat": True}, {"op": "relu", "name": "a"}], None,
     "two layers are named 'a'"),
    ([{"op": "relu", "name": "a"}, {"seq": [{"seq": [RELU], "name": "a"}], "flat": True}], None,
     "named"),
    ([{"block": "b"}], {"b": {"body": [{"op": "relu", "name": "$nope"}]}}, "'nope' is not defined"),
    ([{"block": "b", "x": 1.5}], {"b": {"args": ["x"], "body": [{"op": "relu", "name": "$x"}]}},
     "not a name"),
    ([{"seq": [RELU], "flat": "yes"}], None, "flat"),
])
def test_bad_names_are_errors(layers, blocks, words):
    with pytest.raises(SpecError) as exc:
        costmodel.profile(spec(layers, blocks))
    assert words in str(exc.value)


def test_a_layer_may_not_also_be_a_name_level():
    # layer "a" and, through a flat entry, layer "a.0" (a seq named a): torch cannot hold both
    layers = [{"op": "relu", "name": "a"}, {"seq": [{"seq": [RELU], "name": "b"}], "flat": True},
              {"seq": [RELU], "name": "c"}]
    assert names(costmodel.profile(spec(layers))) == ["a", "b.0", "c.0"]
    bad = [{"seq": [{"op": "relu", "name": "a"}, {"seq": [RELU], "name": "a"}], "flat": True}]
    with pytest.raises(SpecError):
        costmodel.profile(spec(bad))


# -- the shipped specs load the references' state_dict -----------------------------------------
@pytest.mark.parametrize("name, factory", [("mobilenet_v2", "mobilenet_v2"),
                                           ("resnet50", "resnet50")])
def test_shipped_spec_loads_the_reference_state_dict(name, factory):
    import torch
    import reference_models as R
    from costmodel.torch.builder import build

    ref = getattr(R, factory)()
    p = costmodel.profile(name, resolution=64)
    net = build(p.root)
    assert list(net.state_dict()) == list(ref.state_dict())      # same keys, same order
    net.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(net(x), ref(x))       # the same network, bit for bit
    assert p.params == sum(t.numel() for t in ref.parameters())
