"""From a validated spec to the layer graph: expansion of blocks, rows, repeats and branches,
with shape inference and the analytic counts of every layer (the node types are in
:mod:`costmodel.graph.nodes`, field values in :mod:`costmodel.graph.values`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from costmodel.errors import SpecError
from costmodel.graph.nodes import Layer, Node, Parallel, Seq, renamed
from costmodel.graph.values import LETS, NAME_RE, block_arg, field_value, input_env, to_int
from costmodel.ops import OPS, Op, Shape, lookup, numel
from costmodel.spec import expr
from costmodel.spec.loader import LineDict
from costmodel.spec.messages import line_of, suggest, validation_error
from costmodel.spec import validate
from costmodel.spec.records import RESERVED_CALL_KEYS, STRUCTURAL_KINDS as STRUCTURAL, BlockDef, SpecFile
from costmodel.spec.validate import ValidationError
from costmodel.ops.base import REQUIRED

MAX_LAYERS = 100_000
MAX_REPEAT = 10_000
MAX_DEPTH = 32          # blocks inside blocks
MAX_NESTING = 200       # entries inside entries (seq, repeat, residual, parallel, blocks)
MAX_STEPS = 300_000     # entries visited, skipped and empty ones included


@dataclass(frozen=True)
class Prepared:
    """A spec entry after its structural checks: what kind it is, its name (None: its index),
    its `when` condition and, for an op, the op and its fields (see `_split_fields`)."""
    kind: str
    raw: dict
    name: str | None
    when: Any
    op: Op | None
    fields: tuple
    line: int | None
    flat: bool = False


class _Flat(Seq):
    """What a ``flat: true`` entry expands to: layers named in the enclosing level, spliced
    into the enclosing sequence (never part of the finished graph). ``width`` is how many
    index names it used: the enclosing sequence's numbering continues after them."""

    def __init__(self, name: str, children: list[Node], width: int, line: int | None = None):
        super().__init__(name, children, line)
        self.width = width


def _frozen(v: Any) -> Any:
    return tuple(_frozen(i) for i in v) if isinstance(v, list) else v


def _memo_key(bname: str, given: dict, x: Shape, stack: tuple, lets: dict) -> tuple | None:
    """A hashable key for a block instance, or None when an argument is not hashable."""
    try:
        items = tuple(sorted((k, _frozen(v)) for k, v in given.items()))
        outer = tuple(sorted((k, _frozen(v)) for k, v in lets.items()))
        key = (bname, items, x, stack, outer)
        hash(key)
        return key
    except TypeError:
        return None


class Expander:
    """Expands a spec into the layer graph for one set of settings."""

    def __init__(self, spec: SpecFile, raw: LineDict, file: str, settings: dict[str, Any],
                 prepared: dict | None = None):
        self.spec = spec
        self.prepared = {} if prepared is None else prepared   # raw entry -> Prepared
        self.instances: dict = {}     # block instance key -> (node, output, peak, layer count)
        self.raw = raw
        self.file = file
        self.settings = settings
        self.count = 0
        self.peak = 0
        self.steps = 0
        self.nesting = 0
        self.defaults = dict(spec.defaults)
        self.flat_used = False
        self.block_lines = raw.get("blocks", {}) if isinstance(raw, LineDict) else {}

    # -- entry points ------------------------------------------------------------------------
    def run(self) -> tuple[Seq, Shape, Shape]:
        env = dict(self.settings)
        lets_raw = self.raw.get("let") if isinstance(self.raw, LineDict) else None
        lets: dict[str, Any] = {}
        for k, v in self.spec.let.items():
            kline = line_of(lets_raw, key=k) if lets_raw is not None else line_of(self.raw, key="let")
            if k in self.settings:
                raise SpecError(f"let {k!r} redefines the setting of that name", file=self.file,
                                line=kline)
            try:
                lets[k] = env[k] = expr.evaluate(v, env)
            except SpecError as exc:
                exc.message = f"let {k!r}: {exc.message}"
                raise exc.located(file=getattr(lets_raw, "source", None) or self.file,
                                  line=kline) from None
        env[LETS] = {}
        line = line_of(self.raw, key="input")
        try:
            shape = tuple(to_int(v, env, "input", minimum=1) for v in self.spec.input)
        except SpecError as exc:
            raise exc.located(file=self.file, line=line) from None
        self.base_env = env
        root = Seq("", line=line_of(self.raw, key="layers"))
        root.children, out = self.seq(self.raw["layers"], env, "", shape, 0, ())
        if self.count == 0:
            raise SpecError("the spec expands to no layers (check its repeat counts and when: "
                            "conditions)", file=self.file, line=root.line)
        if self.flat_used:
            self._check_names(root)
        return root, shape, out

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise SpecError(f"expanding the spec visits more than {MAX_STEPS:,} entries (nested "
                            "repeats, skipped or empty ones included); refusing to go on")

    def _check_names(self, root: Seq) -> None:
        """With flat entries, names are no longer unique per sequence by construction: every
        layer's name must be unique, and no layer's name may be the prefix of another's."""
        from costmodel.graph.nodes import iter_layers
        seen: dict[str, Layer] = {}
        for layer in iter_layers(root):
            if layer.name in seen:
                raise SpecError(f"two layers are named {layer.name!r}", file=self.file,
                                line=layer.line, layer=layer.name)
            seen[layer.name] = layer
        for name, layer in seen.items():
            parts = name.split(".")
            for k in range(1, len(parts)):
                head = ".".join(parts[:k])
                if head in seen:
                    raise SpecError(f"layer {head!r} is also the name level of layer {name!r}",
                                    file=self.file, line=layer.line, layer=name)

    # -- structure ---------------------------------------------------------------------------
    def seq(self, entries: Any, env: dict, prefix: str, x: Shape, held: int,
            stack: tuple[str, ...], start: int = 0) -> tuple[list[Node], Shape]:
        children, x, _ = self.seq_at(entries, env, prefix, x, held, stack, start)
        return children, x

    def seq_at(self, entries: Any, env: dict, prefix: str, x: Shape, held: int,
               stack: tuple[str, ...], start: int) -> tuple[list[Node], Shape, int]:
        """The nodes of a list of entries, the output shape and the next index name: an
        unnamed entry is named by its index (``start`` onwards); a flat entry's layers take
        as many indexes as they use."""
        if not isinstance(entries, list):
            raise SpecError(f"expected a list of layers, got {type(entries).__name__}",
                            file=self.file, line=getattr(entries, "line", None), layer=prefix or None)
        children: list[Node] = []
        seen: set[str] = set()
        file = getattr(entries, "source", None) or self.file
        lines = getattr(entries, "item_lines", None)
        pos = start
        for idx, entry in enumerate(entries):
            node, x = self.entry(entry, pos, env, prefix, x, held, stack,
                                 lines[idx] if lines else None, file)
            pos = self.emit(node, children, seen, prefix, file, pos)
        return children, x, pos

    def emit(self, node: Node | None, children: list[Node], seen: set[str], prefix: str,
             file: str, pos: int) -> int:
        """Append a node (a flat one: its children) to a sequence; the next index name."""
        if isinstance(node, _Flat):
            for child in node.children:
                self.emit(child, children, seen, prefix, file, 0)
            return pos + node.width
        if node is None:
            return pos + 1
        if node.name == prefix:     # a flat parallel: its layers' names are checked globally
            children.append(node)
            return pos + 1
        local = node.name[len(prefix) + 1:] if prefix else node.name
        if local in seen:
            raise SpecError(f"two layers are named {node.name!r}", file=file,
                            line=node.line, layer=node.name)
        seen.add(local)
        children.append(node)
        return pos + 1

    def prepare(self, e: Any, prefix: str, idx: int, file: str, line: int | None) -> "Prepared":
        """Check an entry's structure once per spec (not once per expansion): its kind, its
        name, its fields (pydantic), and for an op the op itself."""
        key = e if isinstance(e, str) else id(e)
        hit = self.prepared.get(key)
        if hit is not None:
            return hit
        where = f"{prefix}.{idx}" if prefix else str(idx)
        raw = {"op": e} if isinstance(e, str) else e
        if not isinstance(raw, dict):
            raise SpecError(f"a layer is an op name or a mapping such as {{op: conv2d, out: 32, "
                            f"kernel: 3}}, got {type(e).__name__} {e!r}",
                            file=file, line=line, layer=where)
        line = getattr(raw, "line", None) or line
        kinds = [k for k in ("op", *STRUCTURAL) if k in raw]
        if len(kinds) != 1:
            keys = ", ".join(map(str, raw)) or "nothing"
            raise SpecError(("a layer needs exactly one of op, block, seq, repeat, parallel, "
                             f"residual; this one has {keys}")
                            + (suggest(str(next(iter(raw))), ["op", *STRUCTURAL]) if raw else ""),
                            file=file, line=line, layer=where)
        name = raw.get("name")
        if name is not None and not NAME_RE.match(str(name)) and not (
                isinstance(name, str) and name[:1] == "$" and NAME_RE.match(name[1:])):
            raise SpecError(f"layer name {name!r} may hold only letters, digits and '_' (or be "
                            "$arg: the value of a block argument)", file=file, line=line, layer=where)
        kind = kinds[0]
        op = None
        fields: tuple = ({}, [])
        try:
            if kind == "op":
                op = self._check_op(raw)
                fields = self._split_fields(op, raw)
            else:
                try:
                    validate.validate(f"entry_{kind}", dict(raw))
                except ValidationError as exc:
                    raise validation_error(exc, f"{kind} entry", raw,
                                           list(validate.fields(f"entry_{kind}"))) from None
        except SpecError as exc:
            local = str(idx) if name is None else str(name)
            raise exc.located(file=file, line=line,
                              layer=f"{prefix}.{local}" if prefix else local) from None
        flat = raw.get("flat") is True
        if flat and name is not None:
            raise SpecError(f"a flat entry adds no name level, so it takes no name ({name!r}): "
                            "drop one of the two", file=file, line=line, layer=where)
        prep = Prepared(kind, raw, None if name is None else str(name), raw.get("when"), op,
                        fields, line, flat)
        self.prepared[key] = prep
        return prep

    def entry(self, e: Any, idx: int, env: dict, prefix: str, x: Shape, held: int,
              stack: tuple[str, ...], line: int | None,
              file: str | None = None) -> tuple[Node | None, Shape]:
        file = getattr(e, "source", None) or file or self.file
        prep = self.prepare(e, prefix, idx, file, line)
        name = str(idx) if prep.name is None else prep.name
        if name[0] == "$":
            name = self._name_arg(name, env, prefix, file, prep.line or line)
        full = f"{prefix}.{name}" if prefix else name
        if not isinstance(e, str):      # a bare op name is shared: keep the caller's line
            line = prep.line
        self.nesting += 1
        try:
            self.step()
            if self.nesting > MAX_NESTING:
                raise SpecError(f"entries nest deeper than {MAX_NESTING} levels")
            env = {**env, **input_env(x)}
            if prep.when is not None:
                cond = expr.evaluate(prep.when, env)
                if not isinstance(cond, bool):
                    raise SpecError(f"'when' must be true or false, got {cond!r}")
                if not cond:
                    return (_Flat(prefix, [], 0) if prep.flat else None), x
            if prep.kind == "op":
                return self.op_entry(prep, env, full, x, held, line)
            if prep.flat:       # named in the enclosing level, its indexes following idx
                self.flat_used = True
                return getattr(self, f"{prep.kind}_entry")(prep.raw, env, prefix, x, held, stack,
                                                           line, start=idx)
            return getattr(self, f"{prep.kind}_entry")(prep.raw, env, full, x, held, stack, line)
        except SpecError as exc:
            raise exc.located(file=file, line=line, layer=full) from None
        finally:
            self.nesting -= 1

    def _name_arg(self, name: str, env: dict, prefix: str, file: str, line: int | None) -> str:
        """``name: $arg``: the layer is named by the value of a block argument (or ``let``)."""
        value = env.get(name[1:])
        if isinstance(value, bool) or not isinstance(value, (str, int)) \
                or not NAME_RE.match(str(value)):
            what = "is not defined here" if name[1:] not in env else f"is {value!r}, not a name"
            raise SpecError(f"layer name {name}: {name[1:]!r} {what}", file=file, line=line,
                            layer=prefix or None)
        return str(value)

    def _split_fields(self, op: Op, raw: dict) -> tuple[dict, list]:
        """Constant fields, checked and converted once; and the expression fields, evaluated
        at every expansion: (constants, [(field, kind, expression, line)])."""
        consts: dict[str, Any] = {}
        exprs: list = []
        for fname, f in op.fields.items():
            value = self.field_default(f, fname) if raw.get(fname) is None else raw[fname]
            line = line_of(raw, key=fname)
            if isinstance(value, str) or (isinstance(value, list)
                                          and any(isinstance(v, str) for v in value)):
                exprs.append((fname, f, value, line))
                continue
            try:
                consts[fname] = field_value(f, fname, value, {})
            except SpecError as exc:
                raise exc.located(line=line) from None
        return consts, exprs

    def field_default(self, f, fname: str) -> Any:
        """A field's default: the spec's ``defaults:`` entry for it, else the op's own."""
        return self.defaults.get(fname, f.default)

    def _check_op(self, e: dict) -> Op:
        if not isinstance(e["op"], str):
            raise SpecError(f"op must be a name, got {e['op']!r}", line=line_of(e, key="op"))
        try:
            op = lookup(e["op"])
        except SpecError as exc:
            raise exc.located(line=line_of(e, key="op")) from None
        try:
            validate.validate(f"op_{op.name}", dict(e))
        except ValidationError as exc:
            raise validation_error(exc, f"op {op.name}", e, ["op", "name", "when", *op.fields],
                                   {k: f.kind for k, f in op.fields.items()}) from None
        return op

    def op_entry(self, prep: "Prepared", env: dict, full: str, x: Shape, held: int,
                 line: int | None) -> tuple[Layer, Shape]:
        op = prep.op
        consts, exprs = prep.fields
        values = dict(consts)
        for fname, f, raw, fline in exprs:
            try:
                if isinstance(raw, str) and env.get(raw.strip(), None) is expr.UNSET:
                    value = self.field_default(f, fname)   # an optional argument not given
                    if value is REQUIRED:
                        raise SpecError(f"field {fname!r} is required, but the optional "
                                        f"argument {raw.strip()!r} was not given")
                    if isinstance(value, str) or (isinstance(value, list) and any(
                            isinstance(v, str) for v in value)):
                        value = field_value(f, fname, value, env)
                    else:
                        value = field_value(f, fname, value, {})
                    values[fname] = value
                    continue
                values[fname] = field_value(f, fname, raw, env)
            except SpecError as exc:
                raise exc.located(line=fline) from None
        a = op.resolve(values, x)
        y = op.infer(a, x)
        layer = self.make_layer(op, a, x, y, full, line, held)
        return layer, y

    def make_layer(self, op: Op, a: dict, x: Shape, y: Shape, name: str, line: int | None,
                   held: int, inputs: list[Shape] | None = None) -> Layer:
        self.count += 1
        if self.count > MAX_LAYERS:
            raise SpecError(f"the network has more than {MAX_LAYERS:,} layers; refusing to expand it")
        out_elems = numel(y)
        live = held + (sum(map(numel, inputs)) if inputs else numel(x)) + out_elems
        if live > self.peak:
            self.peak = live
        return Layer(name, op.name, a, x, y, op.macs(a, x, y), op.params(a, x), op.weights(a, x),
                     out_elems, op.fvcore(a, x, y), op.full(a, x, y), line, inputs,
                     op.buffers(a, x), op.int64_buffers(a, x))

    def seq_entry(self, e, env, full, x, held, stack, line, start=None):
        if start is not None:
            children, y, end = self.seq_at(e["seq"], env, full, x, held, stack, start)
            return _Flat(full, children, end - start, line), y
        node = Seq(full, line=line)
        node.children, y = self.seq(e["seq"], env, full, x, held, stack)
        return node, y

    def repeat_entry(self, e, env, full, x, held, stack, line, start=None):
        n = to_int(e["repeat"], env, "repeat", minimum=0)
        if n > MAX_REPEAT:
            raise SpecError(f"repeat {n} exceeds the limit of {MAX_REPEAT:,}")
        var = e.get("as", "i")
        body = e["body"]
        flat = start is not None
        node = _Flat(full, [], 0, line) if flat else Seq(full, line=line)
        seen: set[str] = set()
        file = getattr(body, "source", None) or self.file
        pos = start or 0
        for k in range(n):
            self.step()
            env2 = {**env, var: k}
            if len(body) == 1 and not (isinstance(body[0], dict) and "name" in body[0]):
                child, x = self.entry(body[0], pos, env2, full, x, held, stack, line_of(body, 0),
                                      getattr(body, "source", None))
                pos = self.emit(child, node.children, seen, full, file, pos)
            else:
                sub = Seq(f"{full}.{pos}" if full else str(pos), line=line)
                sub.children, x = self.seq(body, env2, sub.name, x, held, stack)
                pos = self.emit(sub, node.children, seen, full, file, pos)
        if flat:
            node.width = pos - start
        return node, x

    def _block(self, name: Any) -> BlockDef:
        blocks = self.spec.blocks
        if not isinstance(name, str) or name not in blocks:
            known = ", ".join(blocks) or "none defined"
            raise SpecError(f"undefined block {name!r}{suggest(str(name), blocks)}; blocks: {known}")
        return blocks[name]

    def block_entry(self, e, env, full, x, held, stack, line, start=None):
        bname = e["block"]
        bdef = self._block(bname)
        if bname in stack:
            chain = " -> ".join((*stack[stack.index(bname):], bname))
            raise SpecError(f"block {bname!r} includes itself ({chain})")
        if len(stack) >= MAX_DEPTH:
            raise SpecError(f"blocks nest deeper than {MAX_DEPTH} levels")
        declared = bdef.arg_defaults()
        given = {k: v for k, v in e.items() if k not in RESERVED_CALL_KEYS}
        for k in given:
            if k not in declared:
                raise SpecError(f"block {bname!r} has no argument {k!r}{suggest(k, declared)}; "
                                f"arguments: {', '.join(declared) or 'none'}", line=line_of(e, key=k))
        given = {k: block_arg(v, env) for k, v in given.items()}
        if e.get("rows") is None:
            return self.instance(bname, bdef, given, full, x, held, stack, line, env, start)
        flat = start is not None
        node = _Flat(full, [], 0, line) if flat else Seq(full, line=line)
        seen: set[str] = set()
        rows = e["rows"]
        k = start or 0
        for r, row in enumerate(rows):
            row_line = line_of(rows, r)
            times = 1
            if isinstance(row, dict) and "repeat" in row:
                extra = set(row) - {"repeat", "row"}
                if extra or "row" not in row:
                    raise SpecError("a repeated row is {repeat: n, row: [...]}", line=row_line)
                times = to_int(row["repeat"], env, "row repeat", minimum=0)
                if times > MAX_REPEAT:
                    raise SpecError(f"row repeat {times} exceeds the limit of {MAX_REPEAT:,}",
                                    line=row_line)
                row = row["row"]
            values = self._row(bname, declared, row, {**env, **input_env(x)}, row_line)
            for _ in range(times):
                self.step()
                if flat:    # the rows and every instance add no name level
                    child, x = self.instance(bname, bdef, {**given, **values}, full, x, held,
                                             stack, row_line, env, k)
                else:
                    child, x = self.instance(bname, bdef, {**given, **values}, f"{full}.{k}", x,
                                             held, stack, row_line, env)
                k = self.emit(child, node.children, seen, full, self.file, k)
        if flat:
            node.width = k - start
        return node, x

    def _row(self, bname: str, declared: dict, row: Any, env: dict, line: int | None) -> dict:
        names = list(declared)
        if isinstance(row, list):
            if len(row) > len(names):
                raise SpecError(f"row has {len(row)} values but block {bname!r} takes "
                                f"{len(names)} ({', '.join(names)})", line=line)
            return {n: block_arg(v, env) for n, v in zip(names, row)}
        if isinstance(row, dict):
            for k in row:
                if k not in declared:
                    raise SpecError(f"block {bname!r} has no argument {k!r}{suggest(str(k), declared)}",
                                    line=line)
            return {k: block_arg(v, env) for k, v in row.items()}
        raise SpecError(f"a row is a list of values in argument order ({', '.join(names)}) "
                        f"or a mapping, got {row!r}", line=line)

    def instance(self, bname, bdef, given, full, x, held, stack, line, env, start=None):
        """One block instance. Its expansion depends only on the block, its arguments, its
        input shape and the blocks it is nested in (the body's environment is the settings,
        the arguments and the input: lexical scope), so a repeat of the same instance is a
        renamed copy of the first one instead of a new expansion. Each instance is expanded
        with nothing held, its peak memory then added to what the caller holds. A flat
        instance (``start`` given) names its layers in ``full`` from index ``start``."""
        lets = env.get(LETS, {})
        key = _memo_key(bname, given, x, stack, lets)
        if key is not None and start is not None:
            key = (*key, start, bool(full))
        hit = self.instances.get(key) if key is not None else None
        if hit is None:
            saved_peak, saved_count = self.peak, self.count
            self.peak = 0
            try:
                node, y = self._expand_instance(bname, bdef, given, full, x, stack, line, lets,
                                                start)
            finally:
                rel_peak, self.peak = self.peak, saved_peak
            hit = (node, y, rel_peak, self.count - saved_count)
            if key is not None:
                self.instances[key] = hit
        else:
            self.count += hit[3]
            if self.count > MAX_LAYERS:
                raise SpecError(f"the network has more than {MAX_LAYERS:,} layers; refusing to "
                                "expand it")
        template, y, rel_peak, _ = hit
        self.peak = max(self.peak, held + rel_peak)
        if isinstance(template, _Flat):
            node = template if template.name == full else _Flat(
                full, [renamed(c, template.name, full) for c in template.children],
                template.width)
        else:
            node = template if template.name == full else renamed(template, template.name, full)
        node.line = line
        return node, y

    def _expand_instance(self, bname, bdef, given, full, x, stack, line, lets, start=None):
        """The body's environment: the settings and the spec's let, the let of every calling
        block (lexical scope: inner definitions shadow outer ones), the arguments, the block's
        input (in_channels, in_h, in_w) and its own let. A flat instance (``start`` given)
        names its layers in ``full`` from index ``start``."""
        benv = {**self.base_env, **lets, **input_env(x)}
        for arg, default in bdef.arg_defaults().items():
            if arg in given:
                benv[arg] = given[arg]
            elif default is None:
                raise SpecError(f"block {bname!r} needs argument {arg!r}", line=line)
            elif default is expr.UNSET:
                benv[arg] = expr.UNSET
            else:
                benv[arg] = block_arg(default, benv)
        blk = self.block_lines.get(bname) if isinstance(self.block_lines, dict) else None
        inner = dict(lets)
        for k, v in bdef.let.items():
            try:
                benv[k] = inner[k] = block_arg(v, benv)
            except SpecError as exc:
                lets = blk.get("let") if isinstance(blk, LineDict) else None
                raise exc.located(file=getattr(lets, "source", None) or self.file,
                                  line=line_of(lets, key=k) if lets else None,
                                  layer=full) from None
        benv[LETS] = inner
        body = blk.get("body") if isinstance(blk, LineDict) else bdef.body
        if start is not None:
            children, y, end = self.seq_at(body, benv, full, x, 0, (*stack, bname), start)
            return _Flat(full, children, end - start, line), y
        node = Seq(full, line=line)
        node.children, y = self.seq(body, benv, full, x, 0, (*stack, bname))
        return node, y

    def parallel_entry(self, e, env, full, x, held, stack, line, start=None):
        spec_paths = e["parallel"]
        if isinstance(spec_paths, dict):
            paths = list(spec_paths.items())
        else:
            paths = [(str(i), p) for i, p in enumerate(spec_paths)]
        return self._branches(paths, e["merge"], e.get("split"), env, full, x, held, stack, line,
                              start=start)

    def residual_entry(self, e, env, full, x, held, stack, line, start=None):
        paths = [("body", e["residual"]), ("shortcut", e.get("shortcut") or [])]
        return self._branches(paths, "add", None, env, full, x, held, stack, line,
                              start=start, flat_paths=start is not None)

    def _branches(self, paths, merge, split, env, full, x, held, stack, line, start=None,
                  flat_paths=False):
        """Branches and their merge. ``start`` given: the entry adds no name level (``full`` is the
        enclosing level; the result is wrapped in a :class:`_Flat`); ``flat_paths``: neither do
        the paths (a flat residual: its layers are named by the spec alone, the body's and
        then the shortcut's unnamed entries numbered on from the entry's index)."""
        def join(local: str) -> str:
            return f"{full}.{local}" if full else local
        flat = start is not None
        if len(paths) < 2:
            raise SpecError("parallel needs at least two branches")
        for pname, _ in paths:
            if not NAME_RE.match(str(pname)) or pname in ("split", "add", "concat", "mul"):
                raise SpecError(f"branch name {pname!r} is not allowed")
        split_layer = None
        inputs = [x] * len(paths)
        if split is not None:
            c = x[0]
            if isinstance(split, list):
                sizes = [to_int(s, env, "split size", minimum=1) for s in split]
            else:
                parts = to_int(split, env, "split", minimum=2)
                if c % parts:
                    raise SpecError(f"cannot split {c} channels into {parts} equal parts")
                sizes = [c // parts] * parts
            if len(sizes) != len(paths):
                raise SpecError(f"split makes {len(sizes)} parts for {len(paths)} branches")
            if sum(sizes) != c:
                raise SpecError(f"split sizes {sizes} add up to {sum(sizes)}, not the {c} input channels")
            inputs = [(s, *x[1:]) for s in sizes]
            split_layer = self.make_layer(OPS["split"], {"sizes": sizes}, x, x, join("split"),
                                          line, held)
        outs: list[Shape] = []
        seqs: list[tuple[str, Seq]] = []
        held_outs = 0           # the outputs of the branches so far (a running sum: linear)
        pos = start or 0
        for (pname, entries), xin in zip(paths, inputs):
            path = Seq(full if flat_paths else join(str(pname)), line=line)
            path_held = held + numel(x) + held_outs
            path.children, y, pos = self.seq_at(entries, env, path.name, xin, path_held, stack,
                                                pos if flat_paths else 0)
            outs.append(y)
            held_outs += numel(y)
            seqs.append((str(pname), path))
        op = OPS[merge]
        y = op.merge(outs)
        merge_layer = self.make_layer(op, {"inputs": len(outs)}, outs[0], y, join(merge),
                                      line, held, inputs=outs)
        node = Parallel(full, seqs, merge_layer, split_layer, line=line)
        if flat:
            return _Flat(full, [node], pos - start if flat_paths else 0, line), y
        return node, y
