"""``costmodel verify SPEC --against REF``: the spec-built module next to an independent one.

Both modules run once (batch 1, eval mode) with forward hooks on their leaf modules, which
record every call in execution order (a module called three times, such as torchvision's
shared ``relu``, gives three calls), and both are traced with fvcore
(``FlopCountAnalysis.by_module``) for each leaf's count. The calls are then aligned in
execution order by *family*, never by name:

* ``conv``, ``linear``, ``batch_norm`` and any module of another class: always aligned;
* ``activation``, ``pool``, ``global_pool``, ``dropout``: aligned when both sides have as
  many calls of that family (a model may apply them functionally, ``F.relu``, ``x.mean``);
  otherwise listed as not compared, with both counts;
* glue (``flatten``, ``identity``, the spec's ``add``/``concat``/``split``/``channel_shuffle``
  /``slice``/``pad`` modules): never aligned, references do these with functions.

Per aligned pair: the family and the module type, kernel, stride, padding, dilation, groups,
bias, channels, eps, input and output shapes, parameters and fvcore's count ("mult-adds",
fvcore's convention). The first divergence is reported with both sides' names. Whether the
reference's ``state_dict`` loads into the spec-built module (strict) is reported too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from costmodel.errors import SpecError
from costmodel.ops.base import fmt_shape

ALWAYS = ("conv", "linear", "batch_norm")
SOFT = ("activation", "pool", "global_pool", "dropout")
GLUE_CLASSES = {"Flatten", "Identity", "Add", "Concat", "Split", "ChannelShuffle",
                "ChannelSlice", "ChannelPad", "Unflatten"}
ACTIVATIONS = {"ReLU", "ReLU6", "Hardswish", "Hardsigmoid", "Sigmoid", "SiLU", "Tanh", "GELU",
               "LeakyReLU", "ELU", "Mish", "Softplus", "PReLU", "Hardtanh"}
CONSEQUENCES = ("input", "output", "params", "mult-adds (fvcore)")
# The order attributes are compared and reported in.
ATTR_ORDER = ("type", "kernel", "stride", "padding", "dilation", "groups", "bias",
              "in_channels", "out_channels", "in_features", "out_features", "affine", "eps",
              "output_size", "ceil_mode", "count_include_pad", "p")


@dataclass
class Call:
    """One call of a leaf module."""
    name: str
    family: str
    attrs: dict[str, Any]
    input_shape: tuple
    output_shape: tuple
    params: int
    flops: int = 0             # fvcore's count for this call

    def summary(self) -> str:
        a = self.attrs
        bits = [str(a.get("type", self.family))]
        if "kernel" in a:
            bits.append("x".join(map(str, a["kernel"])))
        if a.get("stride") not in (None, (1, 1), 1):
            bits.append(f"s{_fmt(a['stride'])}")
        if a.get("groups", 1) != 1:
            bits.append(f"g{a['groups']}")
        return " ".join(bits) + f" {_fmt(self.input_shape)} -> {_fmt(self.output_shape)}"


@dataclass
class Pair:
    spec: Call
    ref: Call
    problems: list[str]     # "what: spec value, reference value" (empty: the pair matches)


@dataclass
class StateDictReport:
    loads: bool
    missing: list[str]           # keys the spec-built module has and the reference lacks
    unexpected: list[str]        # keys of the reference the spec-built module lacks
    mismatched: list[tuple[str, tuple, tuple]]   # (key, spec shape, reference shape)

    def text(self) -> str:
        if self.loads:
            return "the reference's state_dict loads into the spec-built module (strict)"
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} key(s) only in the spec-built module "
                         f"(first {self.missing[0]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} key(s) only in the reference "
                         f"(first {self.unexpected[0]})")
        if self.mismatched:
            k, a, b = self.mismatched[0]
            parts.append(f"{len(self.mismatched)} shape mismatch(es) (first {k}: "
                         f"{_fmt(a)} vs {_fmt(b)})")
        return "the reference's state_dict does not load (strict): " + "; ".join(parts)

    def to_dict(self) -> dict:
        return {"loads": self.loads, "missing": self.missing, "unexpected": self.unexpected,
                "mismatched": [{"key": k, "spec": list(a), "reference": list(b)}
                               for k, a, b in self.mismatched]}


@dataclass
class Against:
    """The result: ``ok`` when every aligned pair matches and nothing is left unpaired."""
    model: str
    reference: str
    settings: dict[str, Any]
    input_shape: tuple
    pairs: list[Pair]
    spec_extra: list[Call]          # aligned families: calls past the end of the other side
    ref_extra: list[Call]
    structural: str | None          # the families diverge: the first such pair, in words
    not_compared: dict[str, tuple[int, int]]    # family -> (spec calls, reference calls)
    glue: tuple[int, int]
    state_dict: StateDictReport
    spec_params: int
    ref_params: int
    spec_flops: int
    ref_flops: int
    output_shapes: tuple[tuple, tuple]
    notes: list[str] = field(default_factory=list)

    @property
    def mismatches(self) -> list[Pair]:
        return [p for p in self.pairs if p.problems]

    def first_divergence(self) -> str | None:
        """The first difference, in words, naming both sides' layers."""
        for p in self.pairs:
            if p.problems:
                # the cause first: the attributes that differ (shapes and counts follow)
                probs = [x for x in p.problems if x[0] not in CONSEQUENCES] or p.problems
                if len(probs) == 1:
                    [(what, s, r)] = probs
                    return f"spec layer {p.spec.name}: {what} {s}, reference {p.ref.name}: {what} {r}"
                return (f"spec layer {p.spec.name}: "
                        + ", ".join(f"{w} {s}" for w, s, _ in probs)
                        + f"; reference {p.ref.name}: "
                        + ", ".join(f"{w} {r}" for w, _, r in probs))
        if self.structural:
            return self.structural
        if self.spec_extra:
            c = self.spec_extra[0]
            return (f"spec layer {c.name} ({c.summary()}) and {len(self.spec_extra) - 1} more have "
                    "no counterpart in the reference")
        if self.ref_extra:
            c = self.ref_extra[0]
            return (f"reference layer {c.name} ({c.summary()}) and {len(self.ref_extra) - 1} more "
                    "have no counterpart in the spec")
        if self.output_shapes[0] != self.output_shapes[1]:
            return (f"spec output {_fmt(self.output_shapes[0])}, reference output "
                    f"{_fmt(self.output_shapes[1])}")
        if self.spec_params != self.ref_params:
            return (f"spec params {self.spec_params:,}, reference params {self.ref_params:,} "
                    "(parameters outside the leaf modules?)")
        return None

    @property
    def ok(self) -> bool:
        return self.first_divergence() is None

    def to_dict(self) -> dict:
        def call(c: Call) -> dict:
            return {"name": c.name, "family": c.family,
                    "attrs": {k: _jsonable(v) for k, v in c.attrs.items()},
                    "input_shape": list(c.input_shape), "output_shape": list(c.output_shape),
                    "params": c.params, "flops_fvcore": c.flops}
        return {
            "model": self.model, "reference": self.reference, "settings": dict(self.settings),
            "input_shape": list(self.input_shape), "match": self.ok,
            "first_divergence": self.first_divergence(),
            "mismatched_pairs": len(self.mismatches), "pairs": [
                {"spec": call(p.spec), "reference": call(p.ref), "match": not p.problems,
                 "problems": [{"what": w, "spec": s, "reference": r} for w, s, r in p.problems]}
                for p in self.pairs],
            "spec_unpaired": [call(c) for c in self.spec_extra],
            "reference_unpaired": [call(c) for c in self.ref_extra],
            "not_compared": {k: {"spec": a, "reference": b} for k, (a, b) in self.not_compared.items()},
            "glue_calls": {"spec": self.glue[0], "reference": self.glue[1]},
            "state_dict": self.state_dict.to_dict(),
            "totals": {"spec_params": self.spec_params, "reference_params": self.ref_params,
                       "spec_flops_fvcore": self.spec_flops, "reference_flops_fvcore": self.ref_flops},
            "notes": self.notes,
        }


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        if len(v) == 2 and v[0] == v[1] and all(isinstance(x, int) for x in v):
            return str(v[0])
        return fmt_shape(v) if all(isinstance(x, int) for x in v) else str(list(v))
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


# -- what a leaf module is ------------------------------------------------------------------------
def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def describe(module) -> tuple[str, dict[str, Any]]:
    """(family, attributes) of a leaf module."""
    from torch import nn
    cls = type(module).__name__
    if isinstance(module, nn.Conv2d):
        return "conv", {"type": "conv2d", "kernel": _pair(module.kernel_size),
                        "stride": _pair(module.stride), "padding": _pair(module.padding),
                        "dilation": _pair(module.dilation), "groups": module.groups,
                        "bias": module.bias is not None, "in_channels": module.in_channels,
                        "out_channels": module.out_channels}
    if isinstance(module, nn.Linear):
        return "linear", {"type": "linear", "bias": module.bias is not None,
                          "in_features": module.in_features, "out_features": module.out_features}
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return "batch_norm", {"type": "batch_norm", "affine": module.affine, "eps": module.eps}
    if cls in ACTIVATIONS:
        return "activation", {"type": cls}
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        kind = "max_pool" if isinstance(module, nn.MaxPool2d) else "avg_pool"
        attrs = {"type": kind, "kernel": _pair(module.kernel_size),
                 "stride": _pair(module.stride), "padding": _pair(module.padding),
                 "ceil_mode": module.ceil_mode}
        if kind == "avg_pool":
            attrs["count_include_pad"] = module.count_include_pad
        return "pool", attrs
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return "global_pool", {"type": cls, "output_size": _pair(module.output_size)}
    if isinstance(module, nn.Dropout):
        return "dropout", {"type": "dropout"}
    if cls in GLUE_CLASSES:
        return "glue", {"type": cls}
    return "other", {"type": cls}


def _shape(t) -> tuple:
    import torch
    if isinstance(t, torch.Tensor):
        return tuple(t.shape[1:])
    if isinstance(t, (tuple, list)) and t and isinstance(t[0], torch.Tensor):
        return tuple(t[0].shape[1:])
    return ()


def trace_calls(model, x, what: str) -> tuple[list[Call], Any, int]:
    """Every call of a leaf module, in execution order, with its fvcore count; the output;
    fvcore's total."""
    import torch
    from costmodel.torch.crosscheck import fvcore_analysis, quiet

    calls: list[Call] = []
    inputs: list[tuple] = []
    leaves = [(n, m) for n, m in model.named_modules() if n and not list(m.children())]

    def hook(name, module):
        family, attrs = describe(module)
        params = sum(p.numel() for p in module.parameters())

        def record(_m, inp, out):
            calls.append(Call(name, family, attrs, _shape(inp[0] if inp else None), _shape(out),
                              params))
            inputs.append(tuple(inp))
        return record

    handles = [m.register_forward_hook(hook(n, m)) for n, m in leaves]
    try:
        from costmodel.torch.reference import run_module
        with quiet():
            y = run_module(model, x, what)
    finally:
        for h in handles:
            h.remove()
    with quiet(), torch.no_grad():
        try:
            fa = fvcore_analysis(model, x)
            per = {k: int(v) for k, v in fa.by_module().items()}
            total = int(fa.total())
        except Exception as exc:           # noqa: BLE001 - the user's module: bad input
            raise SpecError(f"fvcore cannot trace {what}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(calls):
        by_name.setdefault(c.name, []).append(i)
    modules = dict(leaves)
    for name, idx in by_name.items():
        count = per.get(name, 0)
        if len(idx) == 1:
            calls[idx[0]].flops = count
        elif len({calls[i].input_shape for i in idx}) == 1:
            for i in idx:           # the same module on the same shape: the same count each
                calls[i].flops = count // len(idx)
        elif count:                 # the same module on other shapes: traced call by call
            with quiet(), torch.no_grad():
                for i in idx:
                    calls[i].flops = int(fvcore_analysis(modules[name], inputs[i]).total())
    return calls, y, total


# -- alignment ------------------------------------------------------------------------------------
def compare_calls(a: Call, b: Call) -> list[tuple[str, str, str]]:
    problems = []
    keys = [k for k in ATTR_ORDER if k in a.attrs or k in b.attrs]
    keys += sorted((set(a.attrs) | set(b.attrs)) - set(keys))
    for k in keys:
        va, vb = a.attrs.get(k, "(none)"), b.attrs.get(k, "(none)")
        if va != vb:
            fmt = (lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else _fmt(v)) \
                if k == "kernel" else _fmt
            problems.append((k, fmt(va), fmt(vb)))
    if a.input_shape != b.input_shape:
        problems.append(("input", _fmt(a.input_shape), _fmt(b.input_shape)))
    if a.output_shape != b.output_shape:
        problems.append(("output", _fmt(a.output_shape), _fmt(b.output_shape)))
    if a.params != b.params:
        problems.append(("params", _fmt(a.params), _fmt(b.params)))
    if a.flops != b.flops:
        problems.append(("mult-adds (fvcore)", _fmt(a.flops), _fmt(b.flops)))
    return problems


def align(spec_calls: list[Call], ref_calls: list[Call]):
    """(pairs, spec extra, ref extra, structural divergence, not compared, glue counts)."""
    def count(calls, fam):
        return sum(1 for c in calls if c.family == fam)
    families = {c.family for c in spec_calls + ref_calls} - {"glue"}
    aligned = {f for f in families if f not in SOFT
               or count(spec_calls, f) == count(ref_calls, f)}
    not_compared = {f: (count(spec_calls, f), count(ref_calls, f))
                    for f in sorted(families - aligned)}
    sa = [c for c in spec_calls if c.family in aligned]
    ra = [c for c in ref_calls if c.family in aligned]
    pairs: list[Pair] = []
    structural = None
    for a, b in zip(sa, ra):
        if a.family != b.family:
            structural = (f"spec layer {a.name}: {a.summary()}, reference {b.name}: "
                          f"{b.summary()} (the layer sequences diverge here)")
            break
        pairs.append(Pair(a, b, compare_calls(a, b)))
    n = len(pairs)
    spec_extra = sa[n:] if structural is None else []
    ref_extra = ra[n:] if structural is None else []
    glue = (count(spec_calls, "glue"), count(ref_calls, "glue"))
    return pairs, spec_extra, ref_extra, structural, not_compared, glue


def state_dict_report(spec_module, ref_module) -> StateDictReport:
    sa, sb = spec_module.state_dict(), ref_module.state_dict()
    missing = [k for k in sa if k not in sb]
    unexpected = [k for k in sb if k not in sa]
    mismatched = [(k, tuple(sa[k].shape), tuple(sb[k].shape)) for k in sa
                  if k in sb and tuple(sa[k].shape) != tuple(sb[k].shape)]
    loads = not (missing or unexpected or mismatched)
    if loads:
        spec_module.load_state_dict(sb, strict=True)    # confirmed by torch itself
    return StateDictReport(loads, missing, unexpected, mismatched)


# -- the entry point ------------------------------------------------------------------------------
def profile_at(spec, settings: dict, input_shape: tuple | None):
    """The spec's profile under ``settings``, with its input replaced by ``input_shape``."""
    if input_shape is None:
        return spec.profile(**settings)
    from costmodel.count.profile import Spec
    raw = dict(spec.raw)
    raw["input"] = list(input_shape)
    return Spec(raw, spec.file).profile(**settings)


def verify_against(spec, ref: str, kwargs: dict | None = None, settings: dict | None = None,
                   input_shape: tuple | None = None) -> Against:
    from costmodel.torch.builder import build, example_input
    from costmodel.torch.crosscheck import check_size
    from costmodel.torch.reference import load_module

    p = profile_at(spec, settings or {}, input_shape)
    check_size(p)
    ref_module = load_module(ref, kwargs)
    try:
        net = build(p.root)
    except SpecError as exc:
        raise exc.located(file=p.file) from None
    x = example_input(p.input_shape)
    ref_calls, yr, ref_total = trace_calls(ref_module, x, ref)
    spec_calls, ys, spec_total = trace_calls(net, x, f"the spec-built {p.model}")
    pairs, sx, rx, structural, not_compared, glue = align(spec_calls, ref_calls)
    notes = []
    for fam, (a, b) in not_compared.items():
        notes.append(f"{fam}: {a} call(s) in the spec, {b} in the reference: not compared "
                     "layer by layer (a functional op on one side?)")
    if spec_total != ref_total:
        notes.append(f"fvcore totals differ: spec {spec_total:,}, reference {ref_total:,} "
                     "(ops outside modules, such as a functional pooling, counted on one side)")
    return Against(
        model=p.model, reference=ref, settings=dict(p.settings), input_shape=p.input_shape,
        pairs=pairs, spec_extra=sx, ref_extra=rx, structural=structural,
        not_compared=not_compared, glue=glue, state_dict=state_dict_report(net, ref_module),
        spec_params=sum(t.numel() for t in net.parameters()),
        ref_params=sum(t.numel() for t in ref_module.parameters()),
        spec_flops=spec_total, ref_flops=ref_total,
        output_shapes=(_shape(ys), _shape(yr)), notes=notes)
