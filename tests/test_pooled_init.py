"""The timing worker's builds: torch's initialisers with their values from a pool
(costmodel.torch.pooled_init). Bounds derived by hand from torch's documented rules."""
from __future__ import annotations

import inspect
import math

import pytest

torch = pytest.importorskip("torch")

from costmodel.torch.pooled_init import KAIMING, UNIFORM, PooledInit  # noqa: E402


@pytest.fixture(scope="module")
def pooled():
    return PooledInit()


def test_the_hand_read_parameters_are_torchs_own():
    for params, func in ((KAIMING, torch.nn.init.kaiming_uniform_), (UNIFORM, torch.nn.init.uniform_)):
        sig = inspect.signature(func).parameters
        assert [n for n, _ in params] == list(sig)
        assert [d for n, d in params][1:] == [p.default for p in sig.values()][1:]


def test_a_conv_and_a_linear_get_torchs_bounds(pooled):
    with pooled:
        conv = torch.nn.Conv2d(8, 16, 3)
        lin = torch.nn.Linear(40, 5)
    # kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + 5)), bound sqrt(3) x gain / sqrt(fan_in)
    # = 1 / sqrt(fan_in); the bias: 1 / sqrt(fan_in) too. fan_in: 8 x 3 x 3 = 72, and 40
    for w, b, bound in ((conv.weight, conv.bias, 1 / math.sqrt(72)), (lin.weight, lin.bias, 1 / math.sqrt(40))):
        assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound
        assert b.abs().max() <= bound
    # uniform on [-b, b): standard deviation b / sqrt(3)
    assert conv.weight.std().item() == pytest.approx(1 / math.sqrt(72) / math.sqrt(3), rel=0.1)
    assert len(set(conv.weight.flatten().tolist())) == conv.weight.numel()


def test_fan_out_and_relu_gain(pooled):
    t = torch.empty(6, 4, 3, 3)
    with pooled:
        torch.nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu")
    # gain sqrt(2), fan_out 6 x 9 = 54: bound sqrt(3) x sqrt(2) / sqrt(54) = 1/3
    assert t.abs().max() <= 1 / 3 and t.abs().max() > 0.9 / 3
    # a mode that is neither is refused, as torch refuses it, not read as fan_out
    with pooled, pytest.raises(ValueError, match="fan_in or fan_out"):
        torch.nn.init.kaiming_uniform_(t, mode="fan_sideways")
    with pytest.raises(ValueError):
        torch.nn.init.kaiming_uniform_(t, mode="fan_sideways")


def test_two_equal_layers_get_different_weights(pooled):
    with pooled:
        a, b = torch.nn.Conv2d(4, 4, 3), torch.nn.Conv2d(4, 4, 3)
    assert not torch.equal(a.weight, b.weight)


def test_the_pool_wraps_round_and_is_scaled_to_the_bounds():
    p = PooledInit(size=16)
    assert p.cursor == 0
    t = torch.empty(40)
    with p:
        torch.nn.init.uniform_(t, 2.0, 4.0)
    # 16 + 16 + 8 values from the pool, [-1, 1) mapped onto [2, 4): x + 3
    expect = torch.cat([p.pool, p.pool, p.pool[:8]]) + 3
    assert torch.allclose(t, expect) and p.cursor == 8


def test_torchs_own_initialisers_come_back_even_after_an_error(pooled):
    k, u = torch.nn.init.kaiming_uniform_, torch.nn.init.uniform_
    with pytest.raises(ZeroDivisionError):
        with pooled:
            assert torch.nn.init.kaiming_uniform_ is not k
            1 / 0
    assert torch.nn.init.kaiming_uniform_ is k and torch.nn.init.uniform_ is u
    with pooled:
        with pytest.raises(RuntimeError, match="already entered"):
            pooled.__enter__()


def test_a_call_with_its_own_generator_gets_torchs_values(pooled):
    t, ref = torch.empty(5, 3), torch.empty(5, 3)
    with pooled:
        torch.nn.init.uniform_(t, -1.0, 1.0, generator=torch.Generator().manual_seed(7))
    torch.nn.init.uniform_(ref, -1.0, 1.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(t, ref)
    nc = torch.zeros(4, 6).t()                      # not contiguous: torch's own, in place
    with pooled:
        torch.nn.init.uniform_(nc, 5.0, 6.0)
    assert nc.min() >= 5.0 and nc.max() < 6.0
