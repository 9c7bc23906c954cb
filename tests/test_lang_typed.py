"""Spec language v2 (issue 11): typed values, bounds, derived settings, scoping, lists.

Every "trap" of the issue is here: each gave a wrong number with exit 0, a traceback or a hang
before, and must now exit 2 quickly with one located line."""
from __future__ import annotations

import time

import pytest

import costmodel
from costmodel.errors import SpecError
from costmodel.spec.expr import evaluate

HEADER = "name: t\ninput: [3, 8, 8]\n"


def check(result, *fragments, seconds: float = 5.0, started: float | None = None):
    if started is not None:
        assert time.monotonic() - started < seconds
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = [l for l in result.err.splitlines() if l.strip()]
    assert len(lines) == 1, result.err
    assert len(lines[0]) < 2000
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def run_timed(cli, *args):
    t = time.monotonic()
    r = cli(*args)
    return r, t


# -- wrong numbers with exit 0, before ---------------------------------------------------------

def test_string_setting_is_not_a_condition(cli, write_spec):
    # settings: {big: "depth >= 50"} was a truthy string: 256 at depth 18.
    path = write_spec(HEADER + """
settings: {depth: 18, big: "depth >= 50"}
layers: [{op: conv2d, out: "256 if big else 64", kernel: 1}]
""")
    check(cli("profile", path), "spec.yaml:4", "big", "needs choices")


def test_string_choice_in_a_condition_is_an_error(cli, write_spec):
    path = write_spec(HEADER + """
settings: {mode: {default: big, choices: [big, small]}}
layers:
  - {op: conv2d, out: "256 if mode else 64", kernel: 1}
""")
    check(cli("profile", path), "spec.yaml:6", "layer '0'", "needs true or false",
          "a string 'big'")


def test_when_and_conditional_agree(cli, write_spec):
    # 'when' and 'a if c else b' take booleans only: the same message for an integer.
    path = write_spec(HEADER + "settings: {n: 2}\nlayers: [{op: relu, when: n}, relu]\n")
    check(cli("profile", path), "'when' must be true or false")
    path = write_spec(HEADER + "settings: {n: 2}\nlayers: [{op: conv2d, out: '4 if n else 8', "
                               "kernel: 1}]\n")
    check(cli("profile", path), "needs true or false", "an integer 2")


def test_string_times_int_is_an_error(cli, write_spec):
    path = write_spec(HEADER + """
settings: {expansion: {default: four, choices: [four, two]}}
layers: [{op: conv2d, out: "64 * expansion", kernel: 1}]
""")
    check(cli("profile", path), "'*' needs numbers", "a string 'four'")


@pytest.mark.parametrize("text, fragment", [
    ("'a' + 1", "'+' needs numbers"),
    ("1 and true", "'and' needs true or false"),
    ("not 0", "'not' needs true or false"),
    ("'a' < 'b'", "'<' needs a number"),
    ("1 == 'a'", "cannot compare an integer 1 with a string 'a'"),
    ("true + 1", "'+' needs numbers, got a boolean"),
    ("[1] * 3", "'*' needs numbers, got a list"),
    ("-'a'", "unary '-' needs a number"),
    ("int('3')", "int() needs a number"),
    ("1 if 'x' else 2", "needs true or false"),
    ("[1, 2][true]", "index must be an integer"),
    ("[1, 2][2]", "out of range"),
    ("len(3)", "len() needs a list"),
    ("sum([1, 'a'])", "sum() needs a number"),
    ("log(0)", "not positive"),
    ("sqrt(-1)", "negative"),
    ("'a' in 'abc'", "'in' needs a list"),
])
def test_typed_operations(text, fragment):
    with pytest.raises(SpecError) as info:
        evaluate(text, {})
    assert fragment in str(info.value), str(info.value)


def test_misspelled_setting_with_set_is_an_error(cli):
    check(cli("profile", "mobilenet_v1", "--set", "widht=0.5"), "unknown setting 'widht'",
          "did you mean 'width'")


def test_full_width_digits_are_not_numbers(cli):
    check(cli("profile", "mobilenet_v1", "--set", "resolution=\uff11\uff16\uff10"),
          "setting 'resolution' expects an integer")


# -- bounds: refused quickly, never a traceback or a hang -----------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ("((9 ** 64) ** 64) ** 64", "exceeds the limit of 1e30"),
    ("(((9 ** 64) ** 64) ** 64) ** 64", "exceeds the limit of 1e30"),
    ("'x' * 100000000", "'*' needs numbers"),
    ("10 ** 31", "exceeds the limit of 1e30"),
    ("2.0 ** 64 * 2.0 ** 64", "exceeds the limit of 1e30"),
    ("range(100000000)", "exceeds the limit of 10,000"),
    ("len([i for i in range(9000) for j in range(9000)])", "one 'for NAME in LIST'"),
    ("sum([sum([j for j in range(9000)]) for i in range(9000)])", "evaluation steps"),
    ("range(5000) + range(5000) + range(5000)", "exceeds the limit of 10,000"),
    ("exp(1000)", "exceeds the limit of 1e30"),
    ("1e308 * 10", "exceeds the limit of 1e30"),
])
def test_expression_bounds(text, fragment):
    t = time.monotonic()
    with pytest.raises(SpecError) as info:
        evaluate(text, {})
    assert time.monotonic() - t < 1.0
    msg = str(info.value)
    assert fragment in msg, msg
    assert len(msg) < 500


def test_huge_power_in_a_field_exits_2_fast(cli, write_spec):
    path = write_spec(HEADER + 'layers: [{op: conv2d, out: "((9 ** 64) ** 64) ** 64", kernel: 1}]\n')
    r, t = run_timed(cli, "profile", path)
    check(r, "spec.yaml:3", "exceeds the limit", started=t)


def test_string_bomb_exits_2_fast_with_a_short_message(cli, write_spec):
    path = write_spec(HEADER + "layers: [{op: conv2d, out: \"'x' * 100000000\", kernel: 1}]\n")
    r, t = run_timed(cli, "profile", path)
    check(r, "needs numbers", started=t)


def test_integer_over_python_digit_limit(cli, write_spec):
    path = write_spec(HEADER + "settings: {n: " + "9" * 5000 + "}\nlayers: [relu]\n")
    check(cli("profile", path), "spec.yaml")
    path = write_spec(HEADER + "settings: {n: " + "9" * 40 + "}\nlayers: [relu]\n")
    check(cli("profile", path), "spec.yaml:3", "digits")
    path = write_spec(HEADER + "layers: [{op: conv2d, out: " + "9" * 40 + ", kernel: 1}]\n")
    check(cli("profile", path), "spec.yaml:3", "digits")
    # within the loader's digits, an expression still cannot pass 1e30
    path = write_spec(HEADER + "layers: [{op: conv2d, out: '999999999 ** 4', kernel: 1}]\n")
    check(cli("profile", path), "spec.yaml:3", "exceeds the limit")


@pytest.mark.parametrize("layers", [
    "[{repeat: 0, body: [relu]}]",
    "[{seq: [{op: relu, when: false}, {op: bn, when: false}]}]",
    "[{seq: []}]",
])
def test_graph_with_no_layers_is_an_error(cli, write_spec, layers):
    path = write_spec(HEADER + f"layers: {layers}\n")
    for fmt in ("table", "csv", "json"):
        check(cli("profile", path, "--format", fmt), "expands to no layers")
    check(cli("verify", path), "expands to no layers")     # no vacuous pass


def test_nested_skipped_repeats_are_counted(cli, write_spec):
    # 10^12 iterations around a skipped body: refused after the step limit, in seconds.
    path = write_spec(HEADER + """
layers:
  - relu
  - repeat: 10000
    body:
      - repeat: 10000
        body:
          - repeat: 10000
            body: [{op: relu, when: false}]
""")
    r, t = run_timed(cli, "profile", path)
    check(r, "more than 300,000 entries", started=t, seconds=30)


def test_nested_empty_repeats_are_counted(cli, write_spec):
    path = write_spec(HEADER + """
layers:
  - relu
  - repeat: 10000
    body: [{repeat: 10000, body: [{repeat: 10000, body: [{seq: []}]}]}]
""")
    r, t = run_timed(cli, "profile", path)
    check(r, "more than 300,000 entries", started=t, seconds=30)


def test_deep_nesting_is_capped(cli, write_spec):
    text = "relu"
    for _ in range(250):
        text = "{seq: [" + text + "]}"
    path = write_spec(HEADER + f"layers: [{text}]\n")
    check(cli("profile", path), "spec.yaml:3")
    text = "[relu]"
    for _ in range(250):
        text = "[{residual: " + text + "}]"
    path = write_spec(HEADER + f"layers: {text}\n")
    check(cli("profile", path), "spec.yaml:3")


# -- reserved names --------------------------------------------------------------------------------

def test_in_channels_is_the_input_of_the_entry():
    # Top level: after a conv to 16 channels, in_channels is 16 (it was the network's 3).
    p = costmodel.profile({"name": "t", "input": [3, 8, 8], "layers": [
        {"op": "conv2d", "out": 16, "kernel": 1},
        {"op": "conv2d", "out": "2 * in_channels", "kernel": 1},
        {"op": "global_avg_pool", "when": "in_h == 8 and in_w == 8"}]})
    assert [l.output_shape for l in p.layers] == [(16, 8, 8), (32, 8, 8), (32, 1, 1)]
    # Inside a block: the op's input too; in a let: the block's input.
    p = costmodel.profile({"name": "t", "input": [3, 8, 8], "blocks": {"b": {
        "let": {"c0": "in_channels"},
        "body": [{"op": "conv2d", "out": 10, "kernel": 1},
                 {"op": "conv2d", "out": "in_channels + c0", "kernel": 1}]}},
        "layers": [{"block": "b"}]})
    assert p.output_shape == (13, 8, 8)


@pytest.mark.parametrize("part, fragment", [
    ("settings: {in_channels: 3}\nlayers: [relu]", "reserved"),
    ("let: {in_h: 3}\nlayers: [relu]", "reserved"),
    ("blocks: {b: {args: [in_channels], body: [relu]}}\nlayers: [{block: b, in_channels: 4}]",
     "reserved"),
    ("blocks: {b: {let: {in_w: 4}, body: [relu]}}\nlayers: [{block: b}]", "reserved"),
    ("layers: [{repeat: 2, as: in_channels, body: [relu]}]", "reserved"),
])
def test_reserved_names_cannot_be_redefined(cli, write_spec, part, fragment):
    path = write_spec(HEADER + part + "\n")
    check(cli("profile", path), "spec.yaml", fragment)


# -- derived settings, let, scoping ------------------------------------------------------------------

FAMILY = """
name: fam
settings:
  variant: {default: b0, choices: [b0, b3]}
  width: {expr: "1.2 if variant == 'b3' else 1.0"}
  depth: {derived: "2 if variant == 'b3' else 1"}
let:
  c: "int(10 * width)"
input: [3, 8, 8]
blocks:
  outer:
    let: {d: "c + 1"}
    body: [{block: inner}]
  inner:
    body: [{op: conv2d, out: "c + d", kernel: 1}]
layers:
  - {repeat: depth, body: [{block: outer}]}
"""


def test_derived_and_expression_settings(write_spec):
    path = write_spec(FAMILY)
    # b0: width 1.0, c 10, d 11: out 21; once.
    p = costmodel.profile(path)
    assert p.settings == {"variant": "b0", "width": 1.0, "depth": 1}
    assert [l.output_shape for l in p.layers] == [(21, 8, 8)]
    # b3: width 1.2, c 12, d 13: out 25, twice.
    p = costmodel.profile(path, variant="b3")
    assert p.settings["width"] == 1.2 and p.settings["depth"] == 2
    assert [l.output_shape[0] for l in p.layers] == [25, 25]
    # an expression setting is overridable: width 0.5 -> c 5, d 6 -> 11
    p = costmodel.profile(path, variant="b3", width=0.5)
    assert [l.output_shape[0] for l in p.layers] == [11, 11]


def test_derived_setting_is_not_overridable(cli, write_spec):
    path = write_spec(FAMILY)
    check(cli("profile", path, "--set", "depth=3"), "setting 'depth' is derived")


def test_let_cannot_redefine_a_setting(cli, write_spec):
    path = write_spec(HEADER + "settings: {w: 1}\nlet: {w: 2}\nlayers: [relu]\n")
    check(cli("profile", path), "spec.yaml:4", "let 'w' redefines the setting")


def test_block_let_is_invisible_outside(cli, write_spec):
    path = write_spec(HEADER + """
blocks:
  a: {let: {k: 4}, body: [relu]}
layers: [{block: a}, {op: conv2d, out: k, kernel: 1}]
""")
    check(cli("profile", path), "unknown name 'k'")


def test_setting_default_outside_its_choices(cli, write_spec):
    path = write_spec(HEADER + "settings: {r: {default: 5, choices: [2, 3]}}\nlayers: [relu]\n")
    check(cli("profile", path), "not one of its own choices")


# -- lists ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("[1, 2, 3][1]", 2),
    ("[1, 2, 3][-1]", 3),
    ("[10, 20, 30, 40][1:3]", [20, 30]),
    ("len([1, 2, 3])", 3),
    ("sum([1, 2, 3])", 6),
    ("max([4, 9, 2])", 9),
    ("min([4, 9, 2])", 2),
    ("2 in [1, 2]", True),
    ("'b3' not in ['b0', 'b1']", True),
    ("[i * i for i in range(4)]", [0, 1, 4, 9]),
    ("[i for i in range(10) if i % 3 == 0]", [0, 3, 6, 9]),
    ("range(2, 8, 3)", [2, 5]),
    ("index(['b0', 'b1', 'b2'], 'b2')", 2),
    ("log2(8)", 3.0),
    ("log(100, 10)", 2.0),
    ("sqrt(16)", 4.0),
    ("exp(0)", 1.0),
    ("[1] + [2]", [1, 2]),
    ("1 == 1.0", True),
])
def test_list_expressions(text, expected):
    assert evaluate(text, {}) == expected


def test_list_let_drives_a_repeat():
    p = costmodel.profile({"name": "t", "input": [3, 8, 8],
                           "let": {"widths": "[8 * (i + 1) for i in range(3)]"},
                           "layers": [{"repeat": "len(widths)", "as": "k", "body": [
                               {"op": "conv2d", "out": "widths[k]", "kernel": 1}]}]})
    assert [l.output_shape[0] for l in p.layers] == [8, 16, 24]


# -- optional arguments and spec-wide defaults ------------------------------------------------------

def test_pytorch_default_padding_for_a_whole_spec():
    # Inception v3's stem: 3x3 stride-2 conv on 299x299. PyTorch's default padding is 0:
    # floor((299 - 3) / 2) + 1 = 149; the spec language's 'same' default (1) gives 150.
    stem = [{"op": "conv2d", "out": 32, "kernel": 3, "stride": 2}]
    same = costmodel.profile({"name": "t", "input": [3, 299, 299], "layers": stem})
    torch_like = costmodel.profile({"name": "t", "input": [3, 299, 299],
                                    "defaults": {"padding": 0}, "layers": stem})
    assert same.output_shape == (32, 150, 150)
    assert torch_like.output_shape == (32, 149, 149)
    # an explicit padding still wins
    explicit = costmodel.profile({"name": "t", "input": [3, 299, 299], "defaults": {"padding": 0},
                                  "layers": [{**stem[0], "padding": 1}]})
    assert explicit.output_shape == (32, 150, 150)


def test_defaults_name_real_fields(cli, write_spec):
    path = write_spec(HEADER + "defaults: {paddnig: 0}\nlayers: [relu]\n")
    check(cli("profile", path), "no op has a field 'paddnig'", "did you mean 'padding'")


def test_optional_argument_takes_the_op_default():
    blocks = {"b": {"args": {"k": None, "s": {"optional": True}, "g": {"default": 1}},
                    "body": [{"op": "conv2d", "out": 8, "kernel": "k", "stride": "s",
                              "groups": "g"}]}}
    p = costmodel.profile({"name": "t", "input": [8, 8, 8], "blocks": blocks, "layers": [
        {"block": "b", "k": 3},                 # stride: conv2d's default 1
        {"block": "b", "k": 3, "s": 2, "g": 2}]})
    assert [l.output_shape for l in p.layers] == [(8, 8, 8), (8, 4, 4)]
    assert [l.attrs["groups"] for l in p.layers] == [1, 2]


def test_optional_argument_in_arithmetic_is_an_error(cli, write_spec):
    path = write_spec(HEADER + """
blocks:
  b:
    args: {s: {optional: true}}
    body: [{op: conv2d, out: 8, kernel: 3, stride: "s * 2"}]
layers: [{block: b}]
""")
    check(cli("profile", path), "'*' needs numbers", "op's default")
