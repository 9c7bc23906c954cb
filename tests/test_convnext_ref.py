"""ConvNeXt-T against an independent plain-torch ConvNeXt-T (written here from the paper and
torchvision's structure, not built from the spec), traced by fvcore.

The reference uses torchvision's layout: nn.Linear on channels-last tensors for the pointwise
layers, LayerNorm2d as permute + F.layer_norm + permute, the layer scale as a (C, 1, 1)
parameter. fvcore's rules: conv and linear multiply-accumulates, aten::layer_norm 5 per
element (affine), adaptive_avg_pool2d 1 per input element; gelu, mul and add are not counted."""
from __future__ import annotations

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torch.nn import functional as F

import costmodel


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pw2(self.act(self.pw1(self.norm(y)))).permute(0, 3, 1, 2)
        return x + self.gamma * y


class ConvNeXtT(nn.Module):
    def __init__(self, dims=(96, 192, 384, 768), depths=(3, 3, 9, 3), classes=1000):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6)]
        for i, (d, n) in enumerate(zip(dims, depths)):
            if i:
                layers += [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], d, 2, 2)]
            layers += [Block(d) for _ in range(n)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1),
                                  nn.Linear(dims[-1], classes))

    def forward(self, x):
        return self.head(self.pool(self.features(x)))


@pytest.fixture(scope="module")
def reference():
    return ConvNeXtT().eval()


def test_params_equal_the_reference(reference):
    assert sum(p.numel() for p in reference.parameters()) == 28_589_128
    assert costmodel.profile("convnext_t").params == 28_589_128


@pytest.mark.parametrize("resolution", [224])
def test_fvcore_count_equals_fvcore_on_the_reference(reference, resolution):
    x = torch.zeros(1, 3, resolution, resolution)
    flops = FlopCountAnalysis(reference, x)
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    with torch.no_grad():
        traced = flops.total()
    p = costmodel.profile("convnext_t", resolution=resolution)
    assert p.total("fvcore") == traced
    if resolution == 224:
        assert traced == 4_470_437_376            # issue 11's figure
        assert p.mult_adds == 4_455_531_264       # conv + linear, bias excluded
        assert flops.by_operator()["layer_norm"] == 5 * 2_973_696
