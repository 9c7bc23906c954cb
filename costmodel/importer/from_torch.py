"""A torch module to the importers' graph, with ``torch.fx.symbolic_trace`` and shape
propagation (``torch.fx.passes.shape_prop``). Leaf modules (Conv2d, Linear, BatchNorm,
activations, pools, Dropout, Flatten) and the functions and methods networks use between them
(``+``, ``torch.cat``, ``chunk``, ``flatten``, ``mean``, ``F.relu``..., the view/transpose/view
of a channel shuffle) map to spec ops; anything else is an ``unknown`` node, named."""
from __future__ import annotations

from typing import Any

from costmodel.errors import SpecError
from costmodel.importer.graph import GNode, Graph

ACT_MODULES = {"ReLU": "relu", "ReLU6": "relu6", "Hardswish": "hardswish",
               "Hardsigmoid": "hardsigmoid", "Sigmoid": "sigmoid", "SiLU": "swish",
               "Identity": "identity"}


def _pair(v) -> Any:
    v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    return v[0] if v[0] == v[1] else list(v)


def _shape(node) -> tuple | None:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return None
    return tuple(int(d) for d in meta.shape[1:])


def module_node(g: Graph, name: str, mod, inputs: list[str], shape: tuple) -> GNode:
    from torch import nn
    cls = type(mod).__name__
    base = dict(name=g.unique(name), inputs=inputs, shape=shape, source=name)
    if isinstance(mod, nn.Conv2d):
        if mod.padding_mode != "zeros" or isinstance(mod.padding, str):
            return GNode(op="unknown", label=f"Conv2d(padding={mod.padding!r}, "
                         f"padding_mode={mod.padding_mode!r})", **base)
        return GNode(op="conv2d", fields={
            "out": mod.out_channels, "kernel": _pair(mod.kernel_size), "stride": _pair(mod.stride),
            "padding": _pair(mod.padding), "dilation": _pair(mod.dilation), "groups": mod.groups,
            "bias": mod.bias is not None}, **base)
    if isinstance(mod, nn.Linear):
        return GNode(op="linear", fields={"out": mod.out_features, "bias": mod.bias is not None},
                     **base)
    if isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return GNode(op="batch_norm", fields={"eps": mod.eps, "momentum": mod.momentum or 0.1,
                                              "affine": mod.affine}, **base)
    if cls in ACT_MODULES:
        return GNode(op=ACT_MODULES[cls], **base)
    if isinstance(mod, nn.MaxPool2d):
        f = {"kernel": _pair(mod.kernel_size), "stride": _pair(mod.stride),
             "padding": _pair(mod.padding), "dilation": _pair(mod.dilation),
             "ceil_mode": mod.ceil_mode}
        return GNode(op="max_pool", fields=f, **base)
    if isinstance(mod, nn.AvgPool2d):
        f = {"kernel": _pair(mod.kernel_size), "stride": _pair(mod.stride),
             "padding": _pair(mod.padding), "ceil_mode": mod.ceil_mode,
             "count_include_pad": mod.count_include_pad}
        return GNode(op="avg_pool", fields=f, **base)
    if isinstance(mod, nn.AdaptiveAvgPool2d):
        size = _pair(mod.output_size)
        if size == 1:
            return GNode(op="global_avg_pool", **base)
        return GNode(op="adaptive_avg_pool", fields={"size": size}, **base)
    if isinstance(mod, nn.Dropout):
        return GNode(op="dropout", fields={"p": mod.p}, **base)
    if isinstance(mod, nn.Flatten) and mod.start_dim == 1 and mod.end_dim == -1:
        return GNode(op="flatten", **base)
    return GNode(op="unknown", label=cls, **base)


FUNCTION_ACTS = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "hardswish": "hardswish",
                 "hardsigmoid": "hardsigmoid", "sigmoid": "sigmoid", "silu": "swish"}


def _fn_name(target) -> str:
    return getattr(target, "__name__", str(target))


def from_module(model, input_shape: tuple, what: str) -> Graph:
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as exc:                 # noqa: BLE001 - the user's module
        raise SpecError(f"torch.fx cannot trace {what}: {type(exc).__name__}: "
                        f"{(str(exc).splitlines() or [''])[0]}") from None
    x = torch.randn((1, *input_shape), generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(x)
    except Exception as exc:                 # noqa: BLE001
        raise SpecError(f"{what} rejects an input of shape {'x'.join(map(str, input_shape))}: "
                        f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}") from None
    g = Graph(input_shape)
    alias: dict[Any, str] = {}              # fx node -> graph node name
    skip: set = set()
    modules = dict(gm.named_modules())
    nodes = list(gm.graph.nodes)

    def tensor_args(node) -> list[str]:
        out = []
        for a in node.all_input_nodes:
            if a in alias:
                out.append(alias[a])
        return out

    for node in nodes:
        if node in skip:
            continue
        shape = _shape(node)
        if node.op == "placeholder":
            if alias:
                raise SpecError(f"{what} takes more than one input: not importable")
            alias[node] = "input"
            continue
        if node.op == "output":
            arg = node.args[0]
            if arg not in alias:
                raise SpecError(f"{what} returns {type(arg).__name__}, not one tensor: not importable")
            g.output = alias[arg]
            continue
        if node.op == "get_attr":
            continue
        if node.meta.get("tensor_meta") is None:
            continue                          # sizes and other non-tensor values
        ins = tensor_args(node)
        if node.op == "call_module":
            gn = module_node(g, node.target, modules[node.target], ins, shape)
            if len(ins) != 1:
                gn = GNode(g.unique(node.target), "unknown", ins, shape, source=node.target,
                           label=f"{type(modules[node.target]).__name__} with {len(ins)} inputs")
            alias[node] = g.add(gn).name
            continue
        name = _fn_name(node.target)
        src = f"{node.op} {name} ({node.name})"
        gn = _function(g, node, name, ins, shape, src, alias, skip, nodes)
        if gn is None:
            continue
        if isinstance(gn, str):               # an alias (a no-op such as contiguous)
            alias[node] = gn
            continue
        alias[node] = g.add(gn).name
    if g.output is None:
        raise SpecError(f"{what} has no output")
    return g


def _arg(node, i, key, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(key, default)


def _function(g: Graph, node, name, ins, shape, src, alias, skip, nodes):
    """A call_function / call_method node as a graph node (None: skipped; str: an alias)."""
    mk = lambda op, **kw: GNode(g.unique(node.name), op, ins, shape, source=src, **kw)
    first = node.all_input_nodes[0] if node.all_input_nodes else None
    in_shape = _shape(first) if first is not None else None
    if name in ("add", "iadd", "add_") and len(ins) == 2 and _arg(node, 2, "alpha", 1) == 1:
        return mk("add")
    if name == "cat":
        dim = _arg(node, 1, "dim", 0)
        if dim in (1, -3) and len(ins) >= 2:
            return mk("concat")
    if name in FUNCTION_ACTS and len(ins) == 1:
        return mk(FUNCTION_ACTS[name])
    if name in ("contiguous", "clone", "dropout", "identity") and len(ins) == 1:
        return ins[0]
    if name == "flatten" and len(ins) == 1 and _arg(node, 1, "start_dim", 0) == 1 \
            and len(shape) == 1:
        return mk("flatten")
    if name in ("view", "reshape") and len(ins) == 1 and in_shape is not None:
        if len(in_shape) == 3 and len(shape) == 1:
            return mk("flatten")
        sh = _shuffle(node, in_shape, shape, skip)
        if sh is not None:
            groups, last = sh
            gn = mk("channel_shuffle", fields={"groups": groups})
            gn.shape = in_shape
            alias[last] = gn.name
            return gn
    if name == "mean" and len(ins) == 1 and in_shape is not None and len(in_shape) == 3:
        dims = _arg(node, 1, "dim")
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
        if sorted(d % 4 for d in dims) == [2, 3]:
            keep = _arg(node, 2, "keepdim", False)
            pool = g.add(GNode(g.unique(node.name), "global_avg_pool", ins, (in_shape[0], 1, 1),
                               source=src))
            if keep:
                return pool.name
            return GNode(g.unique(node.name + "_flatten"), "flatten", [pool.name], shape, source=src)
    if name == "adaptive_avg_pool2d" and len(ins) == 1:
        size = _pair(_arg(node, 1, "output_size"))
        return mk("global_avg_pool") if size == 1 else mk("adaptive_avg_pool", fields={"size": size})
    if name in ("chunk", "split") and len(ins) == 1 and in_shape is not None:
        dim = _arg(node, 2, "dim", 0)
        arg = _arg(node, 1, "chunks" if name == "chunk" else "split_size_or_sections")
        c = in_shape[0]
        if dim in (1, -3):
            if name == "chunk" and isinstance(arg, int) and c % arg == 0:
                sizes = [c // arg] * arg
            elif name == "split" and isinstance(arg, int) and c % arg == 0:
                sizes = [arg] * (c // arg)
            elif name == "split" and isinstance(arg, (list, tuple)):
                sizes = list(arg)
            else:
                sizes = None
            if sizes:
                gn = GNode(g.unique(node.name), "split", ins, in_shape, source=src,
                           fields={"sizes": sizes})
                return gn
    if name == "getitem" and first is not None and first in alias:
        parent = g.nodes.get(alias[first])
        if parent is not None and parent.op == "split" and isinstance(node.args[1], int):
            k = node.args[1]
            return GNode(g.unique(node.name), "item", [parent.name],
                         (parent.fields["sizes"][k], *parent.shape[1:]), source=src, index=k)
    if shape is None:
        return None
    return mk("unknown", label=f"{node.op} {name}")


def _shuffle(node, in_shape, shape, skip):
    """view(N, g, C/g, H, W) -> transpose(1, 2) -> [contiguous] -> view(N, C, H, W): the
    groups and the last fx node, or None."""
    if len(in_shape) != 3 or len(shape) != 4:
        return None
    c, h, w = in_shape
    groups, per, hh, ww = shape
    if groups * per != c or (hh, ww) != (h, w):
        return None
    chain = [node]
    cur = node
    users = list(cur.users)
    if len(users) != 1:
        return None
    t = users[0]
    if _fn_name(t.target) != "transpose" or sorted(a % 5 for a in t.args[1:3]) != [1, 2]:
        return None
    chain.append(t)
    cur = t
    nxt = list(cur.users)
    if len(nxt) == 1 and _fn_name(nxt[0].target) == "contiguous":
        cur = nxt[0]
        chain.append(cur)
        nxt = list(cur.users)
    if len(nxt) != 1 or _fn_name(nxt[0].target) not in ("view", "reshape"):
        return None
    last = nxt[0]
    if _shape(last) != in_shape:
        return None
    skip.update(chain[1:])
    skip.add(last)
    return groups, last
