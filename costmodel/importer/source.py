"""What `costmodel import` and `costmodel profile` accept besides a spec: a torch module
(``package.module:factory`` or ``file.py:factory``) or an ONNX file (``model.onnx``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from costmodel import extras
from costmodel.errors import SpecError

DEFAULT_INPUT = (3, 224, 224)


def is_onnx(text: str) -> bool:
    return str(text).lower().endswith(".onnx")


def is_importable(text: str) -> bool:
    from costmodel.torch.reference import is_reference    # no torch at import
    return is_onnx(text) or is_reference(str(text))


@dataclass
class Imported:
    spec: dict                 # the spec, a plain dict
    source: str
    params: int                # the source's own parameter count
    mult_adds: int | None      # fvcore's conv + linear count of the source (torch only)
    unknown: list[str]         # placeholders kept with allow_unknown: "name (op)"


def import_source(source: str, input_shape: tuple | None = None, kwargs: dict | None = None,
                  allow_unknown: bool = False, name: str | None = None) -> Imported:
    from costmodel.importer.structure import to_spec
    text = str(source)
    if is_onnx(text):
        extras.need("onnx", "importing an ONNX model")
        from costmodel.importer.from_onnx import from_onnx
        g, params = from_onnx(text, input_shape)
        model_name = name or _stem(text)
        macs = None
    else:
        extras.need("torch", "importing a torch module")
        from costmodel.importer.from_torch import from_module
        from costmodel.torch.reference import load_module
        module = load_module(text, kwargs)
        shape = input_shape or DEFAULT_INPUT
        g = from_module(module, shape, text)
        params = sum(p.numel() for p in module.parameters())
        macs = _fvcore_macs(module, shape)
        model_name = name or text.rpartition(":")[2]
    spec = to_spec(g, model_name, f"imported from {text}", allow_unknown)
    unknown = [f"{n.name} ({n.label}, {n.source})" for n in g.unknown()]
    return Imported(spec, text, params, macs, unknown)


def _stem(path: str) -> str:
    from pathlib import Path
    import re
    return re.sub(r"[^A-Za-z0-9_]+", "_", Path(path).stem) or "model"


def _fvcore_macs(module, shape) -> int:
    """fvcore's count of the conv and linear ops (one per multiply-accumulate)."""
    import torch
    from costmodel.torch.crosscheck import fvcore_analysis, quiet
    x = torch.randn((1, *shape), generator=torch.Generator().manual_seed(0))
    with quiet(), torch.no_grad():
        ops = fvcore_analysis(module, x).by_operator()
    return int(sum(v for k, v in ops.items() if k in ("conv", "linear", "addmm", "matmul", "bmm")))


def checked(imp: Imported):
    """Profile the imported spec and hold it to the source: the same parameters (and
    fvcore's conv + linear count for a torch module), else a SpecError: no wrong number."""
    from costmodel.count.profile import Spec
    p = Spec.load(imp.spec).profile()
    if p.params != imp.params:
        raise SpecError(f"the spec imported from {imp.source} has {p.params:,} parameters, the "
                        f"source {imp.params:,}: some parameters are used in a way the importer "
                        "does not follow")
    if imp.mult_adds is not None and p.mult_adds != imp.mult_adds and not imp.unknown:
        raise SpecError(f"the spec imported from {imp.source} has {p.mult_adds:,} mult-adds, "
                        f"fvcore counts {imp.mult_adds:,} conv/linear ones on the source")
    return p


def load_spec(source: Any, input_shape: tuple | None = None):
    """A Spec from a spec file/name, or imported from a torch module or an ONNX file."""
    from costmodel.count.profile import Spec
    if is_importable(str(source)):
        imp = import_source(str(source), input_shape)
        checked(imp)
        return Spec.load(imp.spec)
    return Spec.load(source)
