"""An ONNX model to the importers' graph (the ``onnx`` package, with its shape inference).
Conv, BatchNormalization, Relu, Clip(0, 6), HardSwish, HardSigmoid, Sigmoid, MaxPool,
AveragePool, GlobalAveragePool, ReduceMean over H and W, Flatten, Gemm, Add, Concat, Split,
Dropout, Identity and the Reshape/Transpose/Reshape of a channel shuffle map to spec ops; any
other op is an ``unknown`` node, named by its ONNX node."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from costmodel.errors import SpecError
from costmodel.importer.graph import GNode, Graph

MAX_BYTES = 2 * 2**30


def _attrs(node) -> dict[str, Any]:
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pair(v) -> Any:
    v = list(v)
    return v[0] if len(v) == 2 and v[0] == v[1] else v


def _module_name(node) -> str:
    """A readable name from the exporter's scoped node name, e.g.
    '/layer1/layer1.0/conv1/Conv' -> 'layer1.0.conv1'."""
    parts = [p for p in (node.name or "").split("/") if p]
    if len(parts) < 2:
        return node.name or node.op_type.lower()
    qual = ""
    for seg in parts[:-1]:
        if qual and seg.startswith(qual + "."):
            qual = seg
        else:
            qual = f"{qual}.{seg}" if qual else seg
    tail = parts[-1]
    if tail.split("_")[0] in ("Conv", "Gemm", "BatchNormalization", "MaxPool", "AveragePool"):
        return qual
    return f"{qual}.{tail}"


def load(path: str):
    import onnx
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{path}: no such file")
    if p.stat().st_size > MAX_BYTES:
        raise SpecError(f"{path} is larger than {MAX_BYTES // 2**30} GiB; refusing to read it")
    data = p.read_bytes()
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:                 # noqa: BLE001 - the file: bad input
        raise SpecError(f"{path} is not an ONNX model (truncated or another format): "
                        f"{type(exc).__name__}") from None
    if not model.graph.node:
        raise SpecError(f"{path} is not an ONNX model (truncated or another format): no graph nodes")
    try:
        return onnx.shape_inference.infer_shapes(model)
    except Exception as exc:                 # noqa: BLE001
        raise SpecError(f"{path}: ONNX shape inference fails: {type(exc).__name__}: "
                        f"{(str(exc).splitlines() or [''])[0]}") from None


_ARITH = {"Add": "__add__", "Sub": "__sub__", "Mul": "__mul__"}


def _fold_constants(graph, consts: dict, shapes: dict) -> None:
    """Evaluate the shape arithmetic exporters leave in (Shape, Gather, Unsqueeze, Concat,
    Add, Sub, Mul, Div, Cast on constants), so that slices and reshapes have constant
    arguments. The batch is 1."""
    import numpy as np
    for n in graph.node:
        op, ins = n.op_type, [i for i in n.input if i]
        try:
            if op == "Shape" and ins[0] in shapes:
                consts[n.output[0]] = np.array([1, *shapes[ins[0]]], dtype=np.int64)
            elif not ins or not all(i in consts for i in ins):
                continue
            elif op in _ARITH:
                consts[n.output[0]] = getattr(consts[ins[0]], _ARITH[op])(consts[ins[1]])
            elif op == "Div":
                a, b = consts[ins[0]], consts[ins[1]]
                consts[n.output[0]] = a // b if a.dtype.kind in "iu" else a / b
            elif op == "Gather":
                axis = _attrs(n).get("axis", 0)
                consts[n.output[0]] = np.take(consts[ins[0]], consts[ins[1]], axis=axis)
            elif op == "Unsqueeze":
                axes = _attrs(n).get("axes")
                if axes is None:
                    axes = list(consts[ins[1]])
                v = consts[ins[0]]
                for ax in sorted(int(a) for a in axes):
                    v = np.expand_dims(v, ax)
                consts[n.output[0]] = v
            elif op == "Concat":
                consts[n.output[0]] = np.concatenate([np.atleast_1d(consts[i]) for i in ins],
                                                     axis=_attrs(n).get("axis", 0))
            elif op == "Cast":
                consts[n.output[0]] = consts[ins[0]]
        except Exception:                    # noqa: BLE001 - left to the main pass
            continue


def _rewire(model, consts: dict) -> bool:
    """Point Slice and Reshape arguments computed by folded arithmetic at initializers."""
    from onnx import numpy_helper
    graph = model.graph
    known = {i.name for i in graph.initializer}
    made = False
    for n in graph.node:
        if n.op_type not in ("Slice", "Reshape"):
            continue
        for k in range(1, len(n.input)):
            name = n.input[k]
            if name and name in consts and name not in known:
                new = f"{name}__folded"
                if new not in known:
                    graph.initializer.append(numpy_helper.from_array(consts[name], new))
                    known.add(new)
                    consts[new] = consts[name]
                n.input[k] = new
                made = True
    return made


def _slice_groups(graph, consts: dict, shapes: dict) -> dict:
    """Slices of one tensor along the channels that partition it (a chunk or split):
    slice output -> (tensor, sizes in channel order, part index)."""
    groups: dict[str, list] = {}
    for n in graph.node:
        if n.op_type != "Slice" or len(n.input) < 4 or n.input[0] in consts:
            continue
        try:
            starts, ends, axes = (consts[n.input[i]] for i in (1, 2, 3))
            steps = consts[n.input[4]] if len(n.input) > 4 and n.input[4] else [1]
        except KeyError:
            continue
        if len(axes) != 1 or int(axes[0]) % 4 != 1 or int(steps[0]) != 1:
            continue
        groups.setdefault(n.input[0], []).append((int(starts[0]), int(ends[0]), n.output[0]))
    out = {}
    for base, parts in groups.items():
        c = shapes.get(base, (0,))[0]
        parts.sort()
        ends = [min(e, c) for _, e, _ in parts]
        if parts[0][0] != 0 or ends[-1] != c or any(
                parts[k + 1][0] != ends[k] for k in range(len(parts) - 1)):
            continue
        sizes = [e - s for (s, _, _), e in zip(parts, ends)]
        for k, (_, _, o) in enumerate(parts):
            out[o] = (base, sizes, k)
    return out


def from_onnx(path: str, input_shape: tuple | None = None) -> tuple[Graph, int]:
    """The graph and the model's parameter count (the weights of its Conv, Gemm and
    BatchNormalization nodes)."""
    from onnx import numpy_helper

    model = load(path)
    graph = model.graph
    consts: dict[str, Any] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:
        if n.op_type == "Constant":
            a = _attrs(n)
            if "value" in a:
                consts[n.output[0]] = numpy_helper.to_array(a["value"])
    shapes: dict[str, tuple] = {}
    for vi in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims[1:]):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims[1:])
    _fold_constants(graph, consts, shapes)
    if _rewire(model, consts):          # shape inference again, on constant arguments
        import onnx
        model = onnx.shape_inference.infer_shapes(model)
        graph = model.graph
        for vi in list(graph.value_info) + list(graph.output):
            dims = vi.type.tensor_type.shape.dim
            if dims and all(d.HasField("dim_value") for d in dims[1:]):
                shapes[vi.name] = tuple(int(d.dim_value) for d in dims[1:])
    slices = _slice_groups(graph, consts, shapes)
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise SpecError(f"{path} has {len(inputs)} inputs; the importer takes models with one")
    in_name = inputs[0].name
    shape = input_shape or shapes.get(in_name)
    if not shape:
        raise SpecError(f"{path}: the input's shape is not fixed; give --input CxHxW")
    g = Graph(tuple(shape))
    alias: dict[str, str] = {in_name: "input"}
    params = 0
    pending: dict[str, tuple] = {}        # shuffle pattern: tensor -> (stage, groups, source)
    for node in graph.node:
        op = node.op_type
        a = _attrs(node)
        data_in = [i for i in node.input if i and i not in consts]
        ins = [alias[i] for i in data_in if i in alias]
        out = node.output[0] if node.output else ""
        oshape = shapes.get(out)
        src = f"{op} node {node.name or out}"
        qual = _module_name(node)

        def add(opname, fields=None, shape=None, label=""):
            gn = GNode(g.unique(qual), opname, ins, shape if shape is not None else oshape,
                       fields or {}, source=src, label=label)
            alias[out] = g.add(gn).name
            return gn

        if op == "Constant" or (out and out in consts):
            continue                       # a constant, or shape arithmetic folded above
        if op in ("Identity", "Dropout"):
            if node.input[0] in consts:
                consts[out] = consts[node.input[0]]
            elif node.input[0] in alias:
                alias[out] = alias[node.input[0]]
            continue
        if not data_in and all(i in consts for i in node.input if i):
            continue                       # computes a constant (folded shapes)
        if op == "Slice" and out in slices:
            base, sizes, k = slices[out]
            key = ("split", base)
            if key not in alias:
                sp = g.add(GNode(g.unique(qual), "split", [alias[base]], g.nodes[alias[base]].shape,
                                 {"sizes": sizes}, source=src))
                alias[key] = sp.name
            sp = g.nodes[alias[key]]
            it = g.add(GNode(g.unique(f"{qual}_{k}"), "item", [sp.name],
                             (sizes[k], *sp.shape[1:]), source=src, index=k))
            alias[out] = it.name
            continue
        if oshape is None and op not in ("Split",):
            raise SpecError(f"{path}: no shape for the output of {src} (shape inference)")
        if op == "Conv":
            w = consts.get(node.input[1])
            pads = list(a.get("pads", [0, 0, 0, 0]))
            if w is None or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") \
                    or len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3] or w.ndim != 4:
                add("unknown", label=f"{op} (asymmetric padding, auto_pad or a computed weight)")
                continue
            bias = len(node.input) > 2 and bool(node.input[2])
            params += w.size + (consts[node.input[2]].size if bias else 0)
            add("conv2d", {"out": int(w.shape[0]), "kernel": _pair(w.shape[2:]),
                           "stride": _pair(a.get("strides", [1, 1])), "padding": _pair(pads[:2]),
                           "dilation": _pair(a.get("dilations", [1, 1])),
                           "groups": int(a.get("group", 1)), "bias": bias})
        elif op == "BatchNormalization":
            params += consts[node.input[1]].size + consts[node.input[2]].size
            add("batch_norm", {"eps": float(a.get("epsilon", 1e-5)),
                               "momentum": round(1 - float(a.get("momentum", 0.9)), 6)})
        elif op == "Relu":
            add("relu")
        elif op == "Clip":
            lo = a.get("min", consts.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None)
            hi = a.get("max", consts.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None)
            if lo is not None and hi is not None and float(lo) == 0.0 and float(hi) == 6.0:
                add("relu6")
            else:
                add("unknown", label=f"Clip({lo}, {hi})")
        elif op == "HardSwish":
            add("hardswish")
        elif op == "HardSigmoid" and abs(a.get("alpha", 0.2) - 1 / 6) < 1e-6 and a.get("beta", .5) == .5:
            add("hardsigmoid")
        elif op == "Sigmoid":
            add("sigmoid")
        elif op in ("MaxPool", "AveragePool"):
            pads = list(a.get("pads", [0, 0, 0, 0]))
            if pads[0] != pads[2] or pads[1] != pads[3]:
                add("unknown", label=f"{op} (asymmetric padding)")
                continue
            f = {"kernel": _pair(a["kernel_shape"]), "stride": _pair(a.get("strides", [1, 1])),
                 "padding": _pair(pads[:2]), "ceil_mode": bool(a.get("ceil_mode", 0))}
            if op == "MaxPool":
                f["dilation"] = _pair(a.get("dilations", [1, 1]))
                add("max_pool", f)
            else:
                f["count_include_pad"] = bool(a.get("count_include_pad", 0))
                add("avg_pool", f)
        elif op == "GlobalAveragePool":
            add("global_avg_pool")
        elif op == "ReduceMean" and ins:
            axes = a.get("axes")
            if axes is None and len(node.input) > 1:
                axes = consts.get(node.input[1])
            axes = sorted(int(x) % 4 for x in (axes if axes is not None else []))
            if axes == [2, 3]:
                keep = a.get("keepdims", 1)
                gn = GNode(g.unique(qual), "global_avg_pool", ins, (oshape[0], 1, 1), source=src)
                g.add(gn)
                if keep:
                    alias[out] = gn.name
                else:
                    ins = [gn.name]
                    add("flatten")
            else:
                add("unknown", label=f"ReduceMean(axes={axes})")
        elif op == "Flatten" and a.get("axis", 1) == 1:
            add("flatten")
        elif op == "Gemm":
            w = consts.get(node.input[1])
            if w is None or a.get("transA", 0) or not a.get("transB", 0) \
                    or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                add("unknown", label="Gemm (not x W^T + b)")
                continue
            bias = len(node.input) > 2 and bool(node.input[2])
            params += w.size + (consts[node.input[2]].size if bias else 0)
            add("linear", {"out": int(w.shape[0]), "bias": bias})
        elif op == "Add" and len(ins) == 2:
            add("add")
        elif op == "Concat" and len(ins) >= 2 and a.get("axis") in (1, -3):
            add("concat")
        elif op == "Split" and a.get("axis", 0) in (1, -3) and ins:
            c = g.nodes[ins[0]].shape[0]
            sizes = a.get("split")
            if sizes is None and len(node.input) > 1 and node.input[1]:
                sizes = consts.get(node.input[1])
            k = len(node.output)
            sizes = [int(s) for s in sizes] if sizes is not None else [c // k] * k
            sp = g.add(GNode(g.unique(qual), "split", ins, g.nodes[ins[0]].shape,
                             {"sizes": sizes}, source=src))
            for i, o in enumerate(node.output):
                it = g.add(GNode(g.unique(f"{qual}_{i}"), "item", [sp.name],
                                 (sizes[i], *sp.shape[1:]), source=src, index=i))
                alias[o] = it.name
        elif op == "Reshape" and ins:
            ishape = g.nodes[ins[0]].shape
            if len(ishape) == 3 and len(oshape) == 1:
                add("flatten")
            elif len(ishape) == 3 and len(oshape) == 4 and oshape[0] * oshape[1] == ishape[0]:
                pending[out] = ("view", oshape[0], ins[0])
            else:
                add("unknown", label=f"Reshape {ishape} -> {oshape}")
        elif op == "Reshape" and data_in and data_in[0] in pending:
            stage, groups, base = pending.pop(data_in[0])
            if stage == "transposed" and oshape == g.nodes[base].shape:
                ins = [base]
                add("channel_shuffle", {"groups": groups}, shape=g.nodes[base].shape)
            else:
                raise SpecError(f"{path}: {src}: an unsupported reshape sequence")
        elif op == "Transpose" and data_in and data_in[0] in pending:
            stage, groups, base = pending.pop(data_in[0])
            if stage == "view" and list(a.get("perm", [])) == [0, 2, 1, 3, 4]:
                pending[out] = ("transposed", groups, base)
            else:
                raise SpecError(f"{path}: {src}: an unsupported transpose")
        else:
            add("unknown", label=op)
    outs = [o.name for o in graph.output]
    if len(outs) != 1 or outs[0] not in alias:
        raise SpecError(f"{path} has {len(outs)} outputs; the importer takes models with one")
    g.output = alias[outs[0]]
    return g, int(params)
