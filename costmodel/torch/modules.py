"""The few torch modules that torch.nn lacks, for ops of the spec language."""
from __future__ import annotations

import torch
from torch import nn


class ChannelShuffle(nn.Module):
    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)


class ChannelSlice(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : self.channels]


class Add(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Concat(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=1)


class Split(nn.Module):
    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = list(sizes)

    def forward(self, x: torch.Tensor):
        return tuple(torch.split(x, self.sizes, dim=1))


class GhostModule(nn.Module):
    def __init__(self, inp: int, out: int, init: int, cheap: int, kernel, dw_kernel, stride,
                 relu: bool):
        super().__init__()
        self.out = out
        act = (lambda: nn.ReLU(inplace=True)) if relu else (lambda: nn.Identity())
        self.primary = nn.Sequential(
            nn.Conv2d(inp, init, kernel, stride, (kernel[0] // 2, kernel[1] // 2), bias=False),
            nn.BatchNorm2d(init), act())
        # ratio 1 leaves no ghost maps: no cheap operation at all (a zero-channel conv
        # cannot run).
        self.cheap = nn.Sequential(
            nn.Conv2d(init, cheap, dw_kernel, 1, (dw_kernel[0] // 2, dw_kernel[1] // 2),
                      groups=init, bias=False),
            nn.BatchNorm2d(cheap), act()) if cheap else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary(x)
        if self.cheap is None:
            return x1[:, : self.out]
        x2 = self.cheap(x1)
        return torch.cat([x1, x2], dim=1)[:, : self.out]


class Mul(nn.Module):
    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class LayerNorm2d(nn.Module):
    """Layer norm over the channels of an N x C x H x W tensor (ConvNeXt's LayerNorm2d)."""

    def __init__(self, channels: int, eps: float, affine: bool):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class Scale(nn.Module):
    """A learnable per-channel multiply (layer scale)."""

    def __init__(self, channels: int, dims: int, init: float):
        super().__init__()
        shape = (channels, 1, 1) if dims == 3 else (channels,)
        self.gamma = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * x


class SpatialMean(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean([2, 3], keepdim=True)


_ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "swish": nn.SiLU,
         "hardswish": nn.Hardswish, "gelu": nn.GELU}


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int, gate: str, act: str = "relu"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = _ACTS[act]()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Hardsigmoid() if gate == "hardsigmoid" else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class ChannelPad(nn.Module):
    """Option-A shortcut: x[:, :, ::s, ::s] with channels zero-padded (before, after)."""

    def __init__(self, before: int, after: int, stride):
        super().__init__()
        self.before, self.after, self.stride = before, after, tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride[0], :: self.stride[1]]
        return nn.functional.pad(x, (0, 0, 0, 0, self.before, self.after))
