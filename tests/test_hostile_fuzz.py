"""Hostile suite, family "fuzz": a bounded hypothesis fuzzer over spec structure, expressions
and CLI arguments. Every case ends in exit 0 with whole-number counts, or exit 2 (exit 1 for
`check`) with one line naming the file (and line, for spec content); no traceback, a time
bound per case, and no file changed outside the temporary folder given as --out."""
from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import ROOT, run_cli
from hostile import TIME_BOUND_S, snapshot

# COSTMODEL_FUZZ_EXAMPLES=2000 COSTMODEL_FUZZ_RANDOM=1 for a longer hunt (not in the suite)
FUZZ = settings(max_examples=int(os.environ.get("COSTMODEL_FUZZ_EXAMPLES", 40)), deadline=None,
                derandomize=not os.environ.get("COSTMODEL_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- spec structure --------------------------------------------------------------------------
HOSTILE_TEXT = ["[/]", "exp[v2]", "\x1b[2J", "a\nb", "", " ", "é", "１６", "${x}", "{{x}}",
                "__import__('os')", "x" * 300]
INTS = st.one_of(st.integers(-3, 70), st.sampled_from([0, 1, 2, 10 ** 6, 2 ** 63, 10 ** 30]))
VALUES = st.one_of(INTS, st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.none(), st.sampled_from(HOSTILE_TEXT),
                   st.sampled_from(["w", "w * 2", "in_channels", "int(w / 0)", "w ** 64",
                                    "max(", "1 if w else 2", "i", "make_divisible(w, 0)"]))
OPS = ["conv2d", "pointwise", "depthwise", "relu", "batch_norm", "dropout", "max_pool",
       "avg_pool", "linear", "flatten", "global_avg_pool", "channel_shuffle", "nosuchop"]
FIELDS = ["out", "kernel", "stride", "padding", "groups", "p", "eps", "name", "when", "size",
          "bogus"]


def _op():
    return st.builds(lambda op, kv: {"op": op, **kv}, st.sampled_from(OPS),
                     st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=3))


def _entries(depth: int):
    leaf = st.one_of(_op(), st.sampled_from(["relu", "flatten", "nosuch", 5, None]))
    if depth == 0:
        return st.lists(leaf, max_size=4)
    inner = _entries(depth - 1)
    structural = st.one_of(
        st.builds(lambda b: {"seq": b}, inner),
        st.builds(lambda n, b: {"repeat": n, "body": b}, INTS, inner),
        st.builds(lambda b, s: {"residual": b, **({"shortcut": s} if s is not None else {})},
                  inner, st.none() | inner),
        st.builds(lambda ps, m: {"parallel": ps, "merge": m}, st.lists(inner, max_size=3),
                  st.sampled_from(["add", "concat", "mul"])),
        st.builds(lambda b, w: {"seq": b, "when": w}, inner, VALUES),
    )
    return st.lists(st.one_of(leaf, structural), max_size=4)


SPECS = st.fixed_dictionaries({
    "name": st.one_of(st.just("fuzz"), st.sampled_from(HOSTILE_TEXT)),
    "input": st.one_of(st.just([3, 16, 16]), st.lists(INTS, max_size=4)),
    "settings": st.one_of(st.just({"w": 8}), st.dictionaries(st.sampled_from(["w", "i", "in_channels"]),
                                                            VALUES, max_size=2)),
    "layers": _entries(2),
})


def _yaml(spec: dict) -> str:
    """One top-level entry per line (JSON is YAML), so errors have distinct lines."""
    head = {k: v for k, v in spec.items() if k != "layers"}
    lines = [f"{k}: {json.dumps(v)}" for k, v in head.items()]
    if isinstance(spec["layers"], list):
        lines.append("layers:")
        lines += [f"  - {json.dumps(e)}" for e in spec["layers"]]
        if not spec["layers"]:
            lines[-1] = "layers: []"
    return "\n".join(lines) + "\n"


def _assert_handled(r, file: str, took: float, line_needed: bool) -> None:
    assert took < TIME_BOUND_S, f"took {took:.1f} s"
    assert "Traceback" not in r.err + r.out, r
    if r.code == 0:
        data = json.loads(r.out)
        for k, v in data["totals"].items():
            assert not isinstance(v, float) or k.endswith(("bytes", "mib")) or v == v, (k, v)
        return
    assert r.code == 2, r
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r
    assert file in r.err, r
    if line_needed:
        assert re.search(re.escape(file) + r":\d+", r.err), r


@FUZZ
@given(SPECS)
def test_fuzz_spec_structure(spec):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.yaml"
        path.write_text(_yaml(spec), encoding="utf-8")
        start = time.monotonic()
        r = run_cli("profile", path, "--format", "json")
        _assert_handled(r, str(path), time.monotonic() - start, line_needed=False)


# --- expressions ---------------------------------------------------------------------------------
ATOMS = st.one_of(st.integers(0, 10 ** 6).map(str), st.sampled_from(
    ["w", "in_channels", "in_h", "0.5", "1e308", "nosuch", "True", "None", "'s'", "[1, 2]",
     "x.y", "__class__", "(1)", "-1", "1.5", "10 ** 64"]))
BINOPS = st.sampled_from([" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " < ", " and ",
                          " or ", " if ", " else ", ", "])
FUNCS = st.sampled_from(["", "int", "max", "min", "make_divisible", "round", "ceil", "abs",
                         "eval", "open", "lambda: "])


@st.composite
def expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(ATOMS)
    left, right = draw(expressions(depth=depth - 1)), draw(expressions(depth=depth - 1))
    fn = draw(FUNCS)
    body = f"{left}{draw(BINOPS)}{right}"
    return f"{fn}({body})" if fn else body


@FUZZ
@given(expressions(), st.sampled_from(["out", "kernel", "stride", "padding", "p", "when"]))
def test_fuzz_expressions(expr, field):
    text = (f"name: fuzz\ninput: [3, 16, 16]\nsettings: {{w: 8}}\nlayers:\n"
            f"  - {{op: conv2d, out: 8, kernel: 3, padding: 1}}\n"
            f"  - {{op: {'dropout' if field == 'p' else 'conv2d'}, "
            + ("" if field in ("out", "p") else "out: 8, ") + ("" if field == "kernel" or field == "p" else "kernel: 1, ")
            + f"{field}: {json.dumps(expr)}}}\n")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "expr.yaml"
        path.write_text(text)
        start = time.monotonic()
        r = run_cli("profile", path, "--format", "json")
        _assert_handled(r, str(path), time.monotonic() - start, line_needed=True)


# --- CLI arguments -------------------------------------------------------------------------------
WORDS = st.sampled_from(["mobilenet_v1", "shufflenet_v1", "nosuch", "--set", "width=0.5",
                         "width=１", "resolution=-1", "--format", "json", "csv", "xml", "--by",
                         "type", "--grid", "width=0.5,0.25", "width=", "=", "[/]", "\x1b[2J",
                         "--tolerance", "1%", "params=-1", "nan", "--convention", "fvcore",
                         "--help", "-", "--", "x" * 500])
COMMANDS = st.sampled_from(["profile", "sweep", "check", "lock", "schema", "zoo", "ops"])


@FUZZ
@given(COMMANDS, st.lists(WORDS, max_size=6))
def test_fuzz_cli_arguments(command, words):
    watched = [ROOT / "costmodel" / "zoo", ROOT / "reports"]
    before = [snapshot(p) for p in watched]
    with tempfile.TemporaryDirectory() as d:
        args = [command, *words]
        if command == "lock":                  # its default target is the zoo's baseline
            args = [command, str(ROOT / "costmodel" / "zoo"), "--out", os.path.join(d, "b.json")]
            args += [w for w in words if not w.startswith("-")][:1]
        cwd = os.getcwd()
        os.chdir(d)
        try:
            start = time.monotonic()
            r = run_cli(*args)
            took = time.monotonic() - start
        finally:
            os.chdir(cwd)
        assert took < TIME_BOUND_S, (args, took)
        assert "Traceback" not in r.err + r.out, (args, r)
        assert r.code in (0, 1, 2), (args, r)
        assert "\x1b[2J" not in r.out + r.err, (args, r)
        if r.code == 2:
            assert r.err.strip(), (args, r)
    assert [snapshot(p) for p in watched] == before, args
