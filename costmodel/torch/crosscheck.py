"""Cross-checking the analytic counts against real tracers, layer by layer.

``verify(path_or_dict, **settings)`` profiles a spec analytically, builds the same network
as a ``torch.nn.Module`` (``costmodel.torch``), runs it once in eval mode and traces it with
``fvcore.nn.FlopCountAnalysis`` and ``torch.utils.flop_counter.FlopCounterMode``. For every
layer it compares:

* the analytic fvcore-convention count with fvcore's ``by_module()`` count (equal to the unit);
* twice the analytic mult-adds with FlopCounterMode's count (2 FLOPs per conv/matmul MAC);
* the analytic params with ``sum(p.numel())`` of the layer's module;
* the analytic output shape with the shape torch's forward pass really produces.

Any difference is a mismatch (``Verification.ok`` is false). Ops fvcore does not support
are collected (``unsupported_ops``) and reported once; its warnings are silenced.

torch and fvcore are imported inside the functions: importing this module is cheap, but
``costmodel`` itself exports ``verify`` through a lazy wrapper anyway.
"""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

from costmodel.count.conventions import CONVENTIONS
from costmodel.errors import SpecError
from costmodel.ops.base import fmt_shape
from costmodel.count.profile import Profile, Spec

# The stated memory limit: a spec beyond either is refused before anything is built.
MAX_PARAMS = 500_000_000                 # 2 GB of fp32 weights
MAX_ACTIVATION_ELEMENTS = 2_000_000_000  # sum of every layer's output elements, batch 1
# Tracing is recursive (module calls, fvcore's JIT trace) and slow per module: a network
# nested deeper or with more layers than this is refused (exit 2) rather than reported as a
# mismatch on every layer, or traced for minutes.
MAX_VERIFY_DEPTH = 100                   # nested containers (a residual is two)
MAX_VERIFY_LAYERS = 3000

# The name of the root module; FlopCounterMode prefixes module names with it.
ROOT = "Network"


@dataclass
class LayerCheck:
    """One layer: the analytic counts next to what the tracers and the module report."""
    name: str
    op: str
    type: str
    input_shape: tuple
    output_shape: tuple            # analytic
    module_shape: Any              # what torch's forward produced (a list for a split)
    paper: int                     # analytic mult-adds
    analytic: int                  # analytic count under the fvcore convention
    fvcore: int                    # fvcore's by_module() count
    flop_counter: int              # FlopCounterMode's count for the module
    full: int
    params: int                    # analytic
    module_params: int             # sum(p.numel()) of the layer's module

    @property
    def delta(self) -> int:
        """fvcore - analytic (0 when they agree)."""
        return self.fvcore - self.analytic

    @property
    def expected_shape(self) -> Any:
        if self.op == "split":
            return None   # compared through the split sizes in problems()
        return self.output_shape

    def problems(self, split_sizes: list[int] | None = None) -> list[str]:
        out = []
        if self.delta:
            out.append(f"fvcore {self.fvcore:,} != analytic {self.analytic:,}")
        if self.flop_counter != 2 * self.paper:
            out.append(f"FlopCounterMode {self.flop_counter:,} != 2 x mult-adds {2 * self.paper:,}")
        if self.module_params != self.params:
            out.append(f"module params {self.module_params:,} != analytic {self.params:,}")
        want = self.output_shape if self.op != "split" else [
            (s, *self.input_shape[1:]) for s in (split_sizes or [])]
        if self.module_shape != want:
            out.append(f"torch output shape {_shape_str(self.module_shape)} != analytic "
                       f"{_shape_str(want)}")
        return out


@dataclass
class TypeTotal:
    """Per-layer-type totals under every convention."""
    type: str
    count: int = 0
    paper: int = 0
    analytic: int = 0      # fvcore convention
    fvcore: int = 0        # traced
    flop_counter: int = 0  # traced
    full: int = 0


@dataclass
class Verification:
    """The result of :func:`verify`: ``ok`` is true when every layer matches."""
    model: str
    file: str
    settings: dict[str, Any]
    input_shape: tuple
    output_shape: tuple
    module_output_shape: tuple | None
    layers: list[LayerCheck]
    analytic_totals: dict[str, int]        # per convention
    fvcore_total: int
    flop_counter_total: int
    params: int
    module_params: int
    fvcore_by_operator: dict[str, int] = field(default_factory=dict)
    unsupported_ops: dict[str, int] = field(default_factory=dict)
    split_sizes: dict[str, list[int]] = field(default_factory=dict)
    error: str | None = None
    peers: list | None = None              # verify --peers: torch.peers.PeerCheck, per peer

    def layer_problems(self, check: LayerCheck) -> list[str]:
        return check.problems(self.split_sizes.get(check.name))

    @property
    def mismatches(self) -> list[LayerCheck]:
        return [c for c in self.layers if self.layer_problems(c)]

    def problems(self) -> list[str]:
        """Every disagreement, one sentence each (empty when ok)."""
        out = [f"layer {c.name!r}: " + "; ".join(self.layer_problems(c)) for c in self.mismatches]
        if self.error:
            out.append(self.error)
        if self.module_output_shape != self.output_shape:
            out.append(f"network output {_shape_str(self.module_output_shape)} != analytic "
                       f"{_shape_str(self.output_shape)}")
        if self.module_params != self.params:
            out.append(f"module params {self.module_params:,} != analytic {self.params:,}")
        if self.fvcore_total != self.analytic_totals["fvcore"]:
            out.append(f"fvcore total {self.fvcore_total:,} != analytic "
                       f"{self.analytic_totals['fvcore']:,}")
        if self.flop_counter_total != self.analytic_totals["flop_counter"]:
            out.append(f"FlopCounterMode total {self.flop_counter_total:,} != analytic "
                       f"{self.analytic_totals['flop_counter']:,}")
        for c in self.peers or []:
            if c.error:
                out.append(f"peer {c.convention} failed: {c.error}")
            elif c.failed:
                bad = c.layer_mismatches
                out.append(f"peer {c.convention} {c.measured:,} != analytic {c.analytic:,}"
                           if c.measured != c.analytic else
                           f"peer {c.convention}: {len(bad)} layer(s) differ, first {bad[0][0]!r}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems()

    def by_type(self) -> list[TypeTotal]:
        rows: dict[str, TypeTotal] = {}
        for c in self.layers:
            r = rows.setdefault(c.type, TypeTotal(c.type))
            r.count += 1
            r.paper += c.paper
            r.analytic += c.analytic
            r.fvcore += c.fvcore
            r.flop_counter += c.flop_counter
            r.full += c.full
        return sorted(rows.values(), key=lambda r: (-r.analytic, -r.full, r.type))

    def totals(self) -> dict[str, Any]:
        return {"analytic": dict(self.analytic_totals), "fvcore": self.fvcore_total,
                "flop_counter": self.flop_counter_total, "params": self.params,
                "module_params": self.module_params}

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model": self.model, "file": self.file, "settings": dict(self.settings),
            "match": self.ok, "problems": self.problems(), "totals": self.totals(),
            "conventions": {c.name: c.doc for c in CONVENTIONS.values()},
            "by_type": [{("num_layers" if k == "count" else k): v for k, v in vars(r).items()}
                        for r in self.by_type()],
            "fvcore_by_operator": dict(self.fvcore_by_operator),
            "unsupported_ops": dict(self.unsupported_ops),
            "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "module_output_shape": _jsonable(self.module_output_shape),
        }
        if self.peers is not None:
            data["peers"] = [c.to_dict() for c in self.peers]
        if layers:
            data["layers"] = [{
                "name": c.name, "op": c.op, "type": c.type,
                "output_shape": list(c.output_shape), "module_shape": _jsonable(c.module_shape),
                "paper": c.paper, "analytic": c.analytic, "fvcore": c.fvcore, "delta": c.delta,
                "flop_counter": c.flop_counter, "full": c.full, "params": c.params,
                "module_params": c.module_params, "match": not self.layer_problems(c),
            } for c in self.layers]
        return data


def _jsonable(shape: Any) -> Any:
    if shape is None:
        return None
    if isinstance(shape, list):
        return [list(s) for s in shape]
    return list(shape)


def _shape_str(shape: Any) -> str:
    if shape is None:
        return "nothing"
    if isinstance(shape, list):
        return " + ".join(fmt_shape(s) for s in shape)
    return fmt_shape(shape)


# -- the limit ---------------------------------------------------------------------------------
def nesting_depth(root) -> int:
    """How deeply the graph's containers nest (iteratively: any depth is measurable)."""
    from costmodel.graph.nodes import Layer, Seq
    best, stack = 0, [(root, 1)]
    while stack:
        node, d = stack.pop()
        best = max(best, d)
        if isinstance(node, Seq):
            stack.extend((c, d + 1) for c in node.children)
        elif not isinstance(node, Layer):
            stack.extend((path, d + 1) for _, path in node.paths)
    return best


def check_size(p: Profile) -> None:
    """Refuse (SpecError) a network too large to build and trace in memory."""
    if len(p.layers) > MAX_VERIFY_LAYERS:
        raise SpecError(f"{p.model} has {len(p.layers):,} layers, above verify's limit of "
                        f"{MAX_VERIFY_LAYERS:,} (tracing takes seconds per hundred modules); "
                        "`costmodel profile` counts it analytically", file=p.file)
    depth = nesting_depth(p.root)
    if depth > MAX_VERIFY_DEPTH:
        raise SpecError(f"{p.model} nests {depth} containers deep, above verify's limit of "
                        f"{MAX_VERIFY_DEPTH} (torch and fvcore trace nested modules "
                        "recursively); `costmodel profile` counts it analytically", file=p.file)
    if p.params > MAX_PARAMS:
        raise SpecError(f"{p.model} has {p.params:,} parameters, above verify's limit of "
                        f"{MAX_PARAMS:,} ({MAX_PARAMS * 4 / 2**30:.1f} GiB of fp32 weights); "
                        "refusing to build it (choose smaller settings)", file=p.file)
    if p.activations > MAX_ACTIVATION_ELEMENTS:
        raise SpecError(f"{p.model} produces {p.activations:,} activation elements, above "
                        f"verify's limit of {MAX_ACTIVATION_ELEMENTS:,}; refusing to build it "
                        "(choose a smaller resolution or width)", file=p.file)


# -- tracing -----------------------------------------------------------------------------------
@contextlib.contextmanager
def quiet():
    """Silence fvcore's logger and Python/TorchScript warnings; their content is collected
    (``unsupported_ops``) and shown once instead."""
    loggers = [logging.getLogger(n) for n in ("fvcore", "fvcore.nn.jit_analysis", "iopath")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lvl in zip(loggers, levels):
            lg.setLevel(lvl)


def fvcore_analysis(model, x):
    """fvcore's FlopCountAnalysis of ``model`` on ``x``, with every warning turned off."""
    from fvcore.nn import FlopCountAnalysis
    fa = FlopCountAnalysis(model, x)
    fa.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    return fa


def flop_counter_counts(model, x, layer_names: list[str]) -> tuple[int, dict[str, int], Any]:
    """One forward pass under FlopCounterMode, with forward hooks recording the output shape
    of every layer. Returns (total FLOPs, {layer: FLOPs}, (output, {layer: shape}))."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    modules = dict(model.named_modules())
    shapes: dict[str, Any] = {}

    def hook(name):
        def record(_mod, _inp, out):
            if isinstance(out, (tuple, list)):
                shapes[name] = [tuple(t.shape[1:]) for t in out]
            else:
                shapes[name] = tuple(out.shape[1:])
        return record

    handles = [modules[n].register_forward_hook(hook(n)) for n in layer_names if n in modules]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            y = model(x)
    finally:
        for h in handles:
            h.remove()
    counts = fc.get_flop_counts()
    per: dict[str, int] = {}
    for key, ops in counts.items():
        if key == ROOT or key.startswith(ROOT + "."):
            per[key[len(ROOT) + 1:]] = int(sum(ops.values()))
    return int(fc.get_total_flops()), per, (y, shapes)


def _module_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "allocate" in text or "out of memory" in text


def _memory_error(p: Profile) -> SpecError:
    return SpecError(f"not enough memory to build and run {p.model} in torch "
                     f"({p.params:,} parameters, {p.activations:,} activation elements); choose "
                     "smaller settings (`costmodel profile` needs no memory for it)", file=p.file)


# -- the entry point ---------------------------------------------------------------------------
def verify_profile(p: Profile) -> Verification:
    """Build, run and trace the network of an analytic profile."""
    check_size(p)
    import torch
    from costmodel.torch.builder import NO_INIT_PARAMS, build, example_input

    try:
        model = build(p.root, init=p.params < NO_INIT_PARAMS)   # no count depends on a value
        x = example_input(p.input_shape)
    except SpecError as exc:
        raise exc.located(file=p.file) from None
    except (MemoryError, RuntimeError) as exc:
        if not _out_of_memory(exc):
            raise
        raise _memory_error(p) from None
    names = [l.name for l in p.layers]
    modules = dict(model.named_modules())
    split_sizes = {l.name: list(l.attrs["sizes"]) for l in p.layers if l.op == "split"}
    missing = p.available()      # conventions with no rule for some op here
    totals = {name: p.total(name) for name in CONVENTIONS if name not in missing}
    error = None
    fc_total, fc_per, shapes, fv_per, fv_total, by_op, unsupported = 0, {}, {}, {}, 0, {}, {}
    y_shape = None
    with quiet():
        try:
            fc_total, fc_per, (y, shapes) = flop_counter_counts(model, x, names)
            y_shape = tuple(y.shape[1:])
            with torch.no_grad():
                fa = fvcore_analysis(model, x)
                fv_per = {k: int(v) for k, v in fa.by_module().items()}
                fv_total = int(fa.total())
                by_op = {k: int(v) for k, v in fa.by_operator().items()}
                unsupported = {k: int(v) for k, v in fa.unsupported_ops().items()}
        except MemoryError:
            raise _memory_error(p) from None
        except RecursionError:
            raise SpecError(f"{p.model} nests too deeply for torch to run or trace it; "
                            "`costmodel profile` counts it analytically", file=p.file) from None
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            if _out_of_memory(exc):
                raise _memory_error(p) from None
            # The analytic graph accepted the spec but torch could not run it: an analytic
            # shape rule disagrees with PyTorch. A mismatch, never hidden.
            error = f"the built module failed to run: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    checks = [LayerCheck(
        name=l.name, op=l.op, type=l.type_key, input_shape=l.input_shape,
        output_shape=l.output_shape, module_shape=shapes.get(l.name), paper=l.mult_adds,
        analytic=l.fvcore, fvcore=fv_per.get(l.name, 0), flop_counter=fc_per.get(l.name, 0),
        full=l.full, params=l.params, module_params=_module_params(modules[l.name]))
        for l in p.layers]
    return Verification(
        model=p.model, file=p.file, settings=dict(p.settings), input_shape=p.input_shape,
        output_shape=p.output_shape, module_output_shape=y_shape, layers=checks,
        analytic_totals=totals, fvcore_total=fv_total, flop_counter_total=fc_total,
        params=p.params, module_params=_module_params(model), fvcore_by_operator=by_op,
        unsupported_ops=unsupported, split_sizes=split_sizes, error=error)


def verify(source: "str | os.PathLike | Mapping | Spec", **settings: Any) -> Verification:
    """Verify a spec (file path, parsed dict or Spec) under the given settings."""
    return verify_profile(Spec.load(source).profile(**settings))


def why_fvcore_differs(result: Verification) -> list[tuple[str, int]]:
    """(layer type, fvcore - paper) for every type where fvcore counts something the
    papers' mult-adds do not, largest first."""
    diffs = [(r.type, r.analytic - r.paper) for r in result.by_type() if r.analytic != r.paper]
    return sorted(diffs, key=lambda d: -abs(d[1]))
