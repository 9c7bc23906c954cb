"""Every kind of bad input exits with status 2 and one readable line naming the file and,
where there is one, the line and the layer; never a traceback."""
from __future__ import annotations

import pytest

from costmodel.spec.loader import MAX_FILE_BYTES

HEADER = "name: bad\ninput: [3, 16, 16]\n"


def check(result, *fragments):
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = [l for l in result.err.splitlines() if l.strip()]
    assert len(lines) == 1, result.err          # one message, one line
    assert lines[0].startswith("error: ")
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def test_missing_file(cli, tmp_path):
    check(cli("profile", tmp_path / "nope.yaml"), "nope.yaml", "no such file")


def test_directory(cli, tmp_path):
    check(cli("profile", tmp_path), str(tmp_path), "is a directory")


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_file(cli, write_spec, text):
    path = write_spec(text)
    check(cli("profile", path), "spec.yaml", "empty")


def test_binary_garbage(cli, tmp_path):
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    check(cli("profile", path), "garbage.yaml", "binary data")


def test_not_utf8(cli, tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    check(cli("profile", path), "latin.yaml", "not UTF-8")


def test_yaml_syntax_error(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, out: 4, kernel: 3\n  - relu\n")
    check(cli("profile", path), "spec.yaml:", "YAML syntax error")


@pytest.mark.parametrize("text, kind", [("- relu\n- relu\n", "a list"), ("42\n", "a single value")])
def test_top_level_not_mapping(cli, write_spec, text, kind):
    check(cli("profile", write_spec(text)), "spec.yaml:1:", "top level must be a mapping", kind)


def test_unknown_op(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - relu\n  - {op: convv2d, out: 4, kernel: 3}\n")
    check(cli("profile", path), "spec.yaml:5:", "layer '1'", "unknown op 'convv2d'",
          "did you mean 'conv2d'")


def test_misspelled_field(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, name: stem, out: 4, kernel: 3,\n"
                               "     strdie: 2}\n")
    check(cli("profile", path), "spec.yaml:5:", "layer 'stem'", "unknown field 'strdie'",
          "did you mean 'stride'")


def test_misspelled_header_field(cli, write_spec):
    path = write_spec("name: bad\ninput: [3, 8, 8]\nlayrs:\n  - relu\n")
    check(cli("profile", path), "spec.yaml:3:", "unknown field 'layrs'", "did you mean 'layers'")


def test_missing_required_field(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, kernel: 3}\n")
    check(cli("profile", path), "spec.yaml:4:", "missing the required field 'out'")


@pytest.mark.parametrize("field, value", [("out", "[4]"), ("out", "{a: 1}"), ("bias", "[1]")])
def test_wrong_type(cli, write_spec, field, value):
    fields = {"out": 4, "kernel": 3, field: value}
    body = ", ".join(f"{k}: {v}" for k, v in fields.items())
    path = write_spec(HEADER + f"layers:\n  - {{op: conv2d, {body}}}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer '0'", f"field '{field}'")


def test_wrong_type_from_expression(cli, write_spec):
    path = write_spec(HEADER + "settings: {width: 0.3}\n"
                      "layers:\n  - {op: conv2d, out: 32 * width, kernel: 3}\n")
    check(cli("profile", path), "spec.yaml:5:", "must be an integer", "9.6")


@pytest.mark.parametrize("field, value", [
    ("out", 0), ("out", -8), ("kernel", 0), ("kernel", -3), ("stride", 0), ("stride", -1),
])
def test_zero_or_negative(cli, write_spec, field, value):
    fields = {"out": 4, "kernel": 3, "stride": 1, field: value}
    body = ", ".join(f"{k}: {v}" for k, v in fields.items())
    path = write_spec(HEADER + f"layers:\n  - {{op: conv2d, name: c1, {body}}}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer 'c1'", f"'{field}' must be at least 1")


def test_zero_channels_in_linear_and_input(cli, write_spec):
    path = write_spec("name: bad\ninput: [0, 8, 8]\nlayers:\n  - relu\n")
    check(cli("profile", path), "spec.yaml:2:", "input must be at least 1")
    path = write_spec(HEADER + "layers:\n  - flatten\n  - {op: linear, out: 0}\n")
    check(cli("profile", path), "spec.yaml:5:", "'out' must be at least 1")


def test_groups_do_not_divide(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, out: 8, kernel: 3, groups: 2}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer '0'", "groups (2) must divide the input channels (3)")
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, out: 9, kernel: 1}\n"
                      "  - {op: pointwise, out: 10, groups: 3}\n")
    check(cli("profile", path), "spec.yaml:5:", "layer '1'", "must divide the output channels (10)")


def test_feature_map_shrinks(cli, write_spec):
    # 16 -> 8 -> 4 -> 2 -> 1 with 3x3/s2/p1, then a 3x3 unpadded conv on 1x1: (1 - 3)//1 + 1 = -1
    layers = "".join(f"  - {{op: conv2d, name: c{i}, out: 4, kernel: 3, stride: 2}}\n" for i in range(4))
    path = write_spec(HEADER + "layers:\n" + layers + "  - {op: conv2d, name: last, out: 4, kernel: 3, padding: 0}\n")
    check(cli("profile", path), "spec.yaml:8:", "layer 'last'", "shrinks to -1x-1")


def test_pool_shrinks(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: max_pool, name: p, kernel: 32}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer 'p'", "shrinks")


def test_unknown_setting(cli, write_spec):
    path = write_spec(HEADER + "settings: {width: 1.0}\nlayers:\n  - relu\n")
    check(cli("profile", path, "--set", "widht=0.5"), "spec.yaml", "unknown setting 'widht'",
          "did you mean 'width'")


@pytest.mark.parametrize("assignment, fragment", [
    ("width=abc", "setting 'width' expects a number, got 'abc'"),
    ("resolution=160.5", "setting 'resolution' expects an integer, got '160.5'"),
    ("resolution=big", "expects an integer"),
    ("flag=maybe", "expects true/false"),
    ("variant=huge", "must be one of small, large"),
    ("width", "--set expects NAME=VALUE"),
])
def test_setting_of_wrong_type(cli, write_spec, assignment, fragment):
    path = write_spec(HEADER + "settings:\n  width: 1.0\n  resolution: 16\n  flag: true\n"
                      "  variant: {default: small, choices: [small, large]}\nlayers:\n  - relu\n")
    check(cli("profile", path, "--set", assignment), fragment)


def test_undefined_block(cli, write_spec):
    path = write_spec(HEADER + "blocks:\n  sep:\n    body: [relu]\nlayers:\n  - {block: spe}\n")
    check(cli("profile", path), "spec.yaml:7:", "undefined block 'spe'", "did you mean 'sep'")


def test_block_includes_itself(cli, write_spec):
    path = write_spec(HEADER + "blocks:\n  a:\n    body:\n      - {block: b}\n  b:\n    body:\n"
                      "      - relu\n      - {block: a}\nlayers:\n  - {block: a, name: top}\n")
    line = check(cli("profile", path), "spec.yaml:", "block 'a' includes itself (a -> b -> a)")
    assert "layer 'top." in line


def test_block_unknown_argument(cli, write_spec):
    path = write_spec(HEADER + "blocks:\n  sep:\n    args: [out]\n    body:\n"
                      "      - {op: pointwise, out: out}\nlayers:\n  - {block: sep, otu: 8}\n")
    check(cli("profile", path), "spec.yaml:9:", "no argument 'otu'", "did you mean 'out'")


def test_alias_bomb(cli, write_spec):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    path = write_spec("\n".join(lines) + "\n")
    check(cli("profile", path), "spec.yaml", "alias bomb")


def test_file_over_size_limit(cli, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("name: x\n# " + "x" * MAX_FILE_BYTES + "\n")
    check(cli("profile", path), "huge.yaml", "limited to 1,000,000 bytes")


def test_python_tags_are_refused(cli, write_spec):
    path = write_spec(HEADER + 'layers:\n  - !!python/object/apply:os.system ["echo pwned"]\n')
    check(cli("profile", path), "spec.yaml:4:", "unsupported YAML tag")


def test_expression_cannot_escape(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: conv2d, out: \"__import__('os').getpid()\", kernel: 3}\n")
    check(cli("profile", path), "spec.yaml:4:", "not allowed")


def test_repeat_limit(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {repeat: 1000000000, body: [relu]}\n")
    check(cli("profile", path), "spec.yaml:4:", "exceeds the limit")


def test_linear_on_feature_map(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: linear, name: fc, out: 10}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer 'fc'", "add {op: flatten}")


def test_residual_shape_mismatch(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {residual: [{op: conv2d, out: 8, kernel: 3}], name: res}\n")
    check(cli("profile", path), "spec.yaml:4:", "layer 'res'", "equal shapes", "8x16x16 and 3x16x16")


def test_duplicate_layer_names(cli, write_spec):
    path = write_spec(HEADER + "layers:\n  - {op: relu, name: a}\n  - {op: relu, name: a}\n")
    check(cli("profile", path), "spec.yaml:5:", "two layers are named 'a'")


def test_error_in_a_repeated_bare_op_names_its_own_line(cli, write_spec):
    # `global_avg_pool` written twice as a bare word: the second one fails (its input is flat),
    # and the message must point at line 6, not at the first occurrence on line 4.
    path = write_spec(HEADER + "layers:\n  - global_avg_pool\n  - flatten\n  - global_avg_pool\n")
    check(cli("profile", path), "spec.yaml:6:", "layer '2'", "needs a C x H x W feature map")
