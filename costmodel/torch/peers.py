"""Running the real peer packages (thop, ptflops, torchinfo, calflops, torchprofile) on a built
network, to compare what each reports with the analytic convention named after it.

Each runner takes the built ``torch.nn.Module`` (eval mode) and the input shape with the batch
first, and returns a :class:`PeerCount`: the peer's total and, where the peer reports one, its
count per layer (keyed by the layer's dotted name, i.e. the graph's layer name). A peer that is
not installed raises :class:`PeerMissing`.

The peers are imported here only, inside the functions. calflops 0.3.2's package ``__init__``
imports ``transformers``, ``huggingface_hub`` and ``accelerate`` (for its Hugging Face entry
points) although its module counter needs only torch: when those are absent its counter is
loaded without the package ``__init__`` (see :func:`_calflops`).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import Callable

# The versions the conventions are written against (pyproject's `peers` and `test` extras).
VERSIONS = {
    "thop": ("thop", "0.1.1.post2209072238"),
    "ptflops": ("ptflops", "0.7.5"),
    "ptflops-aten": ("ptflops", "0.7.5"),
    "torchinfo": ("torchinfo", "1.8.0"),
    "calflops": ("calflops", "0.3.2"),
    "calflops-macs": ("calflops", "0.3.2"),
    "torchprofile": ("torchprofile", "0.0.4"),
}


class PeerMissing(Exception):
    """The peer package is not installed (or cannot be imported)."""


@dataclass
class PeerCount:
    convention: str
    total: int
    per_layer: dict[str, int] | None = None   # None: the peer reports no per-module count
    version: str = ""
    note: str = ""


def installed_version(dist: str) -> str | None:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import Version
        return Version(a) == Version(b)
    except Exception:
        return a == b


def _need(dist: str, module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PeerMissing(f"{dist} is not installed ({exc}); pip install "
                          f"'costmodel[peers]'") from None


@contextlib.contextmanager
def _silent():
    """Peers print their summaries and warnings; none of it is ours to show. No autograd
    graph is recorded (no peer's count depends on it; it only costs time)."""
    import torch
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        yield


def _leaves(model, attr: Callable) -> dict[str, int]:
    return {name: int(attr(m)) for name, m in model.named_modules() if name}


# -- thop ----------------------------------------------------------------------------------------
def run_thop(model, shape) -> PeerCount:
    thop = _need("thop", "thop")
    import torch
    x = torch.zeros(shape)
    with _silent():
        total, _params, info = thop.profile(model, inputs=(x,), verbose=False, ret_layer_info=True)
    per: dict[str, int] = {}

    def walk(prefix: str, d: dict) -> None:
        for name, (ops, _p, sub) in d.items():
            full = f"{prefix}{name}"
            per[full] = int(ops)
            walk(full + ".", sub)
    walk("", info)
    return PeerCount("thop", int(total), per)


# -- ptflops -------------------------------------------------------------------------------------
def _run_ptflops(model, shape, backend: str, convention: str) -> PeerCount:
    ptflops = _need("ptflops", "ptflops")
    with _silent():
        macs, _params = ptflops.get_model_complexity_info(
            model, tuple(shape[1:]), as_strings=False, print_per_layer_stat=False,
            backend=backend, input_constructor=_constructor(shape))
    if macs is None:
        raise RuntimeError(f"ptflops ({backend} backend) failed on the built module")
    return PeerCount(convention, int(macs))


def run_ptflops(model, shape) -> PeerCount:
    """ptflops' default (pytorch) backend: module hooks plus patched functionals."""
    return _run_ptflops(model, shape, "pytorch", "ptflops")


def run_ptflops_aten(model, shape) -> PeerCount:
    """ptflops' aten backend: conv and matmul aten ops only."""
    return _run_ptflops(model, shape, "aten", "ptflops-aten")


def _constructor(shape):
    import torch

    def make(_res):
        return {"x": torch.zeros(shape)}
    return make


# -- torchinfo -----------------------------------------------------------------------------------
def run_torchinfo(model, shape) -> PeerCount:
    torchinfo = _need("torchinfo", "torchinfo")
    with _silent():
        stats = torchinfo.summary(model, input_size=tuple(shape), verbose=0,
                                  device="cpu", mode="eval")
    per = {}
    for info in stats.summary_list:
        if info.is_leaf_layer and info.parent_info is not None:
            per[_dotted(model, info.module)] = int(info.macs)
    return PeerCount("torchinfo", int(stats.total_mult_adds), per)


def _dotted(model, module) -> str:
    for name, m in model.named_modules():
        if m is module:
            return name
    return "?"


# -- calflops ------------------------------------------------------------------------------------
def _calflops():
    """calflops' ``calculate_flops``. Its package ``__init__`` also imports the Hugging Face
    entry points (transformers, huggingface_hub, accelerate); without them, the package's
    torch-only modules are loaded under an empty package object instead."""
    try:
        from calflops import calculate_flops
        return calculate_flops
    except ImportError:
        pass
    spec = importlib.util.find_spec("calflops")
    if spec is None or not spec.submodule_search_locations:
        raise PeerMissing("calflops is not installed; pip install 'costmodel[peers]'")
    if "calflops.flops_counter" not in sys.modules:
        pkg = types.ModuleType("calflops")
        pkg.__path__ = list(spec.submodule_search_locations)
        saved = sys.modules.get("calflops")
        sys.modules["calflops"] = pkg
        try:
            importlib.import_module("calflops.flops_counter")
        except ImportError as exc:
            raise PeerMissing(f"calflops cannot be imported: {exc}") from None
        finally:
            if saved is not None:
                sys.modules["calflops"] = saved
    return sys.modules["calflops.flops_counter"].calculate_flops


def _run_calflops(model, shape):
    calculate_flops = _calflops()
    with _silent():
        flops, macs, _params = calculate_flops(model, input_shape=tuple(shape), print_results=False,
                                               print_detailed=False, output_as_string=False)
    return int(flops), int(macs)


def run_calflops(model, shape) -> PeerCount:
    return PeerCount("calflops", _run_calflops(model, shape)[0])


def run_calflops_macs(model, shape) -> PeerCount:
    return PeerCount("calflops-macs", _run_calflops(model, shape)[1])


# -- torchprofile --------------------------------------------------------------------------------
def run_torchprofile(model, shape) -> PeerCount:
    torchprofile = _need("torchprofile", "torchprofile")
    import torch
    with _silent():
        macs = torchprofile.profile_macs(model, args=(torch.zeros(shape),))
    return PeerCount("torchprofile", int(macs))


RUNNERS: dict[str, Callable] = {
    "thop": run_thop,
    "ptflops": run_ptflops,
    "ptflops-aten": run_ptflops_aten,
    "torchinfo": run_torchinfo,
    "calflops": run_calflops,
    "calflops-macs": run_calflops_macs,
    "torchprofile": run_torchprofile,
}


def run(convention: str, model, shape) -> PeerCount:
    """The real peer's count for ``model`` on an input of ``shape`` (batch first)."""
    dist, pinned = VERSIONS[convention]
    version = installed_version(dist)
    if version is None:
        raise PeerMissing(f"{dist} is not installed (pip install 'costmodel[peers]')")
    result = RUNNERS[convention](model, tuple(shape))
    result.version = version
    if not same_version(version, pinned):
        result.note = f"{dist} {version} installed; the convention is written for {pinned}"
    return result


# -- comparing with the analytic conventions ----------------------------------------------------
@dataclass
class PeerCheck:
    """One peer on one network: its total and per-layer counts next to the analytic ones."""
    convention: str
    version: str = ""                   # the installed peer's version
    analytic: int = 0
    measured: int | None = None         # None: not run (missing or failed)
    layers: list[tuple[str, int, int]] = field(default_factory=list)  # (layer, analytic, peer)
    missing: str = ""                   # why the peer is not available
    error: str = ""
    note: str = ""
    no_rule: str = ""                   # the convention has no rule for an op here: not run

    @property
    def per_layer(self) -> bool:
        return bool(self.layers)

    @property
    def layer_mismatches(self) -> list[tuple[str, int, int]]:
        return [row for row in self.layers if row[1] != row[2]]

    @property
    def ok(self) -> bool:
        """True when the peer ran and agrees to the unit (a missing peer is not ok, nor wrong:
        see ``missing``)."""
        return (not self.missing and not self.error and not self.no_rule
                and self.measured == self.analytic and not self.layer_mismatches)

    @property
    def failed(self) -> bool:
        """The peer ran (or crashed) and disagrees: a mismatch. A peer not installed, or a
        convention with no rule for an op of the network, is named, not failed."""
        return not self.ok and not self.missing and not self.no_rule

    def to_dict(self) -> dict:
        return {"convention": self.convention, "version": self.version,
                "analytic": self.analytic, "peer": self.measured,
                "delta": None if self.measured is None else self.measured - self.analytic,
                "match": self.ok, "missing": self.missing or None, "error": self.error or None,
                "note": self.note or None, "no_rule": self.no_rule or None,
                "layers_compared": len(self.layers),
                "layer_mismatches": [{"layer": n, "analytic": a, "peer": m}
                                     for n, a, m in self.layer_mismatches]}


def _per_layer(p, convention: str, per: dict[str, int], counts: list[int]):
    """(layer, analytic, peer) for every layer, the peer's module count being the one of the
    module named after the layer or, for peers that count leaves only, the sum of the leaves
    under it."""
    rows = []
    for layer, analytic in zip(p.layers, counts):
        if layer.name in per:
            got = per[layer.name]
        else:
            prefix = layer.name + "."
            got = sum(v for k, v in per.items() if k.startswith(prefix))
        rows.append((layer.name, analytic, got))
    return rows


def check_peers(p, conventions: list[str] | None = None, batch: int = 1,
                model=None) -> list[PeerCheck]:
    """Run every peer (or those named) on the network of profile ``p`` at batch ``batch`` and
    compare with the analytic convention of the same name, per layer where the peer reports
    per module (thop, torchinfo)."""
    from costmodel.count.conventions import PEERS
    if model is None:
        from costmodel.torch.builder import build
        model = build(p.root)
    shape = (batch, *p.input_shape)
    out = []
    cache: dict[str, tuple] = {}
    from costmodel.ops.base import NoRule
    for name in conventions or PEERS:
        try:
            counts = p.layer_counts(name, batch)
        except NoRule as exc:
            out.append(PeerCheck(name, no_rule=exc.message))
            continue
        check = PeerCheck(name, analytic=sum(counts))
        dist, _ = VERSIONS[name]
        try:
            if name.startswith("calflops"):
                if "calflops" not in cache:       # one run gives both FLOPs and MACs
                    cache["calflops"] = _run_calflops(model, shape)
                flops, macs = cache["calflops"]
                result = PeerCount(name, flops if name == "calflops" else macs)
                version = installed_version(dist)
                if version is None:
                    raise PeerMissing(f"{dist} is not installed")
                result.version = version
            else:
                result = run(name, model, shape)
        except PeerMissing as exc:
            check.missing = str(exc)
            out.append(check)
            continue
        except Exception as exc:  # the peer itself failed on the module: reported, not hidden
            check.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            out.append(check)
            continue
        check.version, check.measured, check.note = result.version, result.total, result.note
        if result.per_layer is not None:
            check.layers = _per_layer(p, name, result.per_layer, counts)
        out.append(check)
    return out
