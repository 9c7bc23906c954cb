"""Normalisation: batch norm (inference mode) and layer norm."""
from __future__ import annotations

from costmodel.errors import SpecError
from costmodel.ops.base import F, Kernel, Op, Shape, numel, register


@register
class BatchNorm(Op):
    """Batch norm in eval mode: a per-channel scale and shift.

    params = 2 * C with affine (running statistics are buffers, not parameters).
    buffers (state_dict): running mean and variance, C each, and the int64 counter
    num_batches_tracked: 2 * C + 1 elements.
    mult-adds: 0 (the papers fold it into the conv). fvcore (eval mode): 2 per element with
    affine, 1 without. full: the same, 2 per element (scale, shift).
    """
    name = "batch_norm"
    aliases = ("bn",)
    fields = {
        "eps": F("float", 1e-5, "epsilon, added to the variance (> 0)", positive=True),
        "momentum": F("float", 0.1, "running-statistics momentum (training only)"),
        "affine": F("bool", True, "learn a scale and a shift"),
    }

    def params(self, a: dict, x: Shape) -> int:
        return 2 * x[0] if a["affine"] else 0

    def buffers(self, a: dict, x: Shape) -> int:
        return 2 * x[0] + 1

    def int64_buffers(self, a: dict, x: Shape) -> int:
        return 1

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x) * (2 if a["affine"] else 1)

    full = fvcore

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_normalization``: 2 per input element ("bn is by default fused in
        inference", says its comment), doubled with affine: 4 per element."""
        return n * numel(x) * (4 if a["affine"] else 2)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 ``bn_flops_counter_hook``: 1 per input element, 2 with affine."""
        return n * numel(x) * (2 if a["affine"] else 1)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: no rule for batch norm (only conv and matmul): 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8 ``calculate_macs``: N x the parameters (2 x C with affine), not the
        elements: its non-conv rule applied to batch norm."""
        return n * self.params(a, x)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_batch_norm_flops_compute`` in eval mode: 1 per input element, 2
        with affine."""
        return n * numel(x) * (2 if a["affine"] else 1)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``norm``: 1 per output element with affine, 0 without."""
        return n * numel(y) if a["affine"] else 0

    def type_key(self, a: dict, x: Shape) -> str:
        return "BatchNorm"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "BN", ""

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        cls = nn.BatchNorm2d if len(x) == 3 else nn.BatchNorm1d
        return cls(x[0], eps=a["eps"], momentum=a["momentum"], affine=a["affine"])

    # === memory traffic and latency kernels (issue 13) =========================================
    def kernels(self, a: dict, x: Shape, y: Shape) -> list[Kernel]:
        """Read the input and the per-channel running mean and variance (and scale and shift
        with affine: 4 values per channel, else 2), write the output."""
        stats = (4 if a["affine"] else 2) * x[0]
        return [Kernel("elementwise", self.full(a, x, y), numel(x), stats, numel(y))]

@register
class LayerNorm(Op):
    """Layer norm over the channels: channels-first on a C x H x W map (each position's C
    values normalised, as ConvNeXt's and LayerNorm2d do it: permute, ``nn.LayerNorm(C)``,
    permute back), or over a flat vector of F features.

    params = 2 * C with affine (weight and bias), 0 without. mult-adds: 0.
    fvcore's ``aten::layer_norm`` rule: 5 per input element with affine, 4 without.
    FlopCounterMode: 0 (it counts matrix products and convolutions only).
    full: per element 5 (mean's add, subtract, square, variance's add, multiply by 1/std)
    + 2 with affine (scale, shift); per position 2 (add eps, reciprocal square root).
    """
    name = "layer_norm"
    aliases = ("ln", "layernorm")
    fields = {
        "eps": F("float", 1e-5, "epsilon (> 0; ConvNeXt uses 1e-6)", positive=True),
        "affine": F("bool", True, "learn a per-channel scale and shift (elementwise_affine)"),
    }

    def resolve(self, a: dict, x: Shape) -> dict:
        if a["eps"] <= 0:
            raise SpecError(f"layer_norm eps must be positive, got {a['eps']}")
        return {**a, "channels": x[0]}

    def params(self, a: dict, x: Shape) -> int:
        return 2 * x[0] if a["affine"] else 0

    def fvcore(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x) * (5 if a["affine"] else 4)

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        positions = numel(x) // x[0]
        return numel(x) * (7 if a["affine"] else 5) + 2 * positions

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    # The module: ``nn.LayerNorm(C)`` on a flat vector, or LayerNorm2d on a map (permute to
    # channels-last, ``nn.LayerNorm(C)``, permute back: the permutes count 0 with every peer).
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1 ``count_normalization`` (registered for nn.LayerNorm too): 2 per input
        element, doubled when ``elementwise_affine``: 4 per element (2 without affine)."""
        return n * numel(x) * (4 if a["affine"] else 2)

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 maps nn.LayerNorm to ``bn_flops_counter_hook``: 1 per input element,
        doubled only if the module has a true ``affine`` attribute, which nn.LayerNorm lacks
        (it has ``elementwise_affine``): 1 per element, affine or not (its quirk).
        F.layer_norm is not patched: no second count."""
        return n * numel(x)

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: aten.native_layer_norm has no rule (only conv and
        matmul ops): 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8 ``calculate_macs``: a non-conv module's ``weight`` and ``bias`` times
        the batch (``output_size[0]``): N x 2 x C with affine, 0 without: the parameters, not
        the elements (as for batch norm)."""
        return n * self.params(a, x)

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2 ``_layer_norm_flops_compute`` (patched F.layer_norm): 5 per input
        element with a weight, 4 without ("estimation", says its comment); no MACs."""
        return n * numel(x) * (5 if a["affine"] else 4)

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``norm`` on aten::layer_norm: 1 per output element when the
        weight input is present (affine), 0 without."""
        return n * numel(y) if a["affine"] else 0

    def type_key(self, a: dict, x: Shape) -> str:
        return "LayerNorm"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "LN", ""

    def build(self, a: dict, x: Shape):
        import torch.nn as nn
        if len(x) == 1:
            return nn.LayerNorm(x[0], eps=a["eps"], elementwise_affine=a["affine"])
        from costmodel.torch.modules import LayerNorm2d
        return LayerNorm2d(x[0], eps=a["eps"], affine=a["affine"])


@register
class Scale(Op):
    """A learnable per-channel multiply (ConvNeXt's layer scale): y = gamma * x, gamma of C
    values. params = C; mult-adds: 0. fvcore: 0 (``aten::mul`` has no rule).
    FlopCounterMode: 0. full: one multiply per element."""
    name = "scale"
    aliases = ("layer_scale",)
    fields = {"init": F("float", 1e-6, "initial value of gamma (no effect on any count)")}

    def params(self, a: dict, x: Shape) -> int:
        return x[0]

    def full(self, a: dict, x: Shape, y: Shape) -> int:
        return numel(x)

    # --- peers' conventions (costmodel.count.conventions) ------------------------------------
    # The module: costmodel.torch.modules.Scale, a leaf with one parameter ``gamma``, whose
    # forward is ``self.gamma * x`` (Tensor.__mul__, aten::mul).
    def thop(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """thop 0.1.1: no rule for the module (not in ``register_hooks``): 0."""
        return 0

    def ptflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5: the module is not hooked, and ``gamma * x`` goes through
        Tensor.__mul__, not the patched torch.mul / Tensor.mul: 0."""
        return 0

    def ptflops_aten(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """ptflops 0.7.5 aten backend: aten.mul has no rule: 0."""
        return 0

    def torchinfo(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchinfo 1.8 ``calculate_macs`` counts parameters named ``weight`` or ``bias`` (or
        containing those words); the layer scale's parameter is ``gamma``: 0 (its quirk: a
        parameter of another name is no mult-add)."""
        return 0

    def calflops(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """calflops 0.3.2: ``gamma * x`` is Tensor.__mul__, not its patched torch.mul /
        Tensor.mul: 0."""
        return 0

    def torchprofile(self, a: dict, x: Shape, y: Shape, n: int) -> int:
        """torchprofile 0.0.4 ``mul`` on aten::mul: 1 per output element."""
        return n * numel(y)

    def type_key(self, a: dict, x: Shape) -> str:
        return "Scale"

    def describe(self, a: dict, x: Shape) -> tuple[str, str]:
        return "Scale", f"{x[0]}"

    def build(self, a: dict, x: Shape):
        from costmodel.torch.modules import Scale as M
        return M(x[0], len(x), a["init"])
