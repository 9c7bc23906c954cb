"""`extends:` v2 (issue 11): shipped names, patches of the base's layers, settings that must
be what they claim (no misspelt or unused new setting), variants not inherited blindly."""
from __future__ import annotations

import costmodel

BASE = """
name: base
settings:
  width: 1.0
  depth: {default: 2, choices: [1, 2, 3]}
input: [3, 8, 8]
variants:
  - {width: 0.5}
  - {depth: 3}
blocks:
  unit:
    args: [c]
    body: [{op: conv2d, name: conv, out: "int(c * width)", kernel: 3}, {op: relu, name: relu}]
layers:
  - {op: conv2d, name: stem, out: 8, kernel: 3}
  - block: unit
    name: body
    rows: [[8], [16], [32]]
  - {repeat: depth, name: more, body: [{op: relu}]}
  - {op: global_avg_pool, name: pool}
  - {op: flatten, name: flatten}
  - {op: linear, name: fc, out: 10}
"""


def check(result, *fragments):
    assert result.code == 2, result
    assert "Traceback" not in result.err
    for f in fragments:
        assert f in result.err, (f, result.err)


def test_patch_drop_replace_insert(write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("""
name: child
extends: base.yaml
patch:
  - drop: body.1                                   # the [16] row
  - replace: fc
    with: {op: linear, name: fc, out: 5}
  - insert_after: pool
    entries: [{op: dropout, name: drop, p: 0.1}]
  - insert_before: stem
    entries: [{op: relu, name: first}]
""", "child.yaml")
    p = costmodel.profile(child)
    names = [l.name for l in p.layers]
    assert names[0] == "first"
    assert [l.output_shape[0] for l in p.layers if l.name.endswith(".conv")] == [8, 32]
    assert "pool" in names and names[names.index("pool") + 1] == "drop"
    assert p.layers[-1].output_shape == (5,)
    # the base is untouched
    base = costmodel.profile(child.parent / "base.yaml")
    assert [l.output_shape[0] for l in base.layers if l.name.endswith(".conv")] == [8, 16, 32]


def test_patch_unknown_path_is_located(cli, write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\npatch:\n  - drop: body.7\n", "child.yaml")
    check(cli("profile", child), "child.yaml:4", "no entry '7'")
    child = write_spec("name: child\nextends: base.yaml\npatch:\n  - drop: nope\n", "child.yaml")
    check(cli("profile", child), "child.yaml:4", "no entry 'nope'", "stem")
    child = write_spec("name: child\nextends: base.yaml\npatch:\n  - remove: fc\n", "child.yaml")
    check(cli("profile", child), "child.yaml:4", "exactly one of drop")


def test_patch_needs_extends(cli, write_spec):
    path = write_spec("name: t\ninput: [3, 8, 8]\nlayers: [relu]\npatch: [{drop: 0}]\n")
    check(cli("profile", path), "spec.yaml:4", "extends none")


def test_misspelt_child_setting_is_an_error(cli, write_spec):
    # before: `widht` was a new, unused setting and the parent ran at width 1.0
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\nsettings: {widht: 0.5}\n", "child.yaml")
    check(cli("profile", child), "child.yaml:3", "'widht'", "one edit away from 'width'")


def test_unused_new_setting_is_an_error_unless_declared_new(cli, write_spec):
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\nsettings: {extra: 3}\n", "child.yaml")
    check(cli("profile", child), "child.yaml:3", "'extra' is new", "nothing uses it")
    child = write_spec("name: child\nextends: base.yaml\n"
                       "settings: {extra: {default: 3, new: true}}\n", "child.yaml")
    assert costmodel.profile(child).settings["extra"] == 3
    # a new setting the child uses is fine
    child = write_spec("name: child\nextends: base.yaml\nsettings: {classes: 7}\npatch:\n"
                       "  - replace: fc\n    with: {op: linear, name: fc, out: classes}\n",
                       "child.yaml")
    assert costmodel.profile(child).output_shape == (7,)


def test_changed_settings_drop_inherited_variants(write_spec):
    from costmodel.spec import variants as variants_mod
    from costmodel.count.profile import Spec
    write_spec(BASE, "base.yaml")
    child = write_spec("name: child\nextends: base.yaml\nsettings: {width: 0.75}\n", "child.yaml")
    keys = [k for k, _ in variants_mod.spec_variants(Spec.load(child))]
    assert keys == ["depth=2", "depth=3"]          # {width: 0.5} is not inherited
    child = write_spec("name: child\nextends: base.yaml\nsettings: {width: 0.75}\n"
                       "variants: inherit\n", "child.yaml")
    keys = [k for k, _ in variants_mod.spec_variants(Spec.load(child))]
    assert keys == ["depth=2,width=0.75", "depth=2,width=0.5", "depth=3,width=0.75"]


def test_extends_a_shipped_spec_by_name(write_spec):
    child = write_spec("name: mine\nextends: mobilenet_v1\nsettings: {width: 0.5}\n")
    p = costmodel.profile(child)
    # MobileNet v1 0.5 at 224: Table 6's 149 M
    assert round(p.mult_adds / 1e6) == 149


def test_extends_unknown_shipped_name(cli, write_spec):
    child = write_spec("name: mine\nextends: mobilenet_v9\n")
    check(cli("profile", child), "spec.yaml:2", "cannot extend 'mobilenet_v9'",
          "did you mean")
