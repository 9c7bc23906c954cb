"""Hostile suite, families "spec semantics" and "resource exhaustion": bad files and specs
give exit 2 and one line naming file:line, never a traceback, never a hang, never a number."""
from __future__ import annotations

import json
import os

import pytest

from conftest import run_cli
from hostile import assert_located, spec_text, timed_cli, write

CONV = "  - {op: conv2d, out: 4, kernel: 1}\n"


# --- files that are not files ----------------------------------------------------------------
@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


def test_fifo_spec_is_refused_without_blocking(fifo):
    r = timed_cli("profile", fifo)
    assert_located(r, fifo, words="FIFO")


def test_fifo_extends_is_refused_without_blocking(tmp_path, fifo):
    spec = write(tmp_path / "child.yaml", spec_text(CONV, extra=f"extends: {fifo.name}\n"))
    r = timed_cli("profile", spec)
    assert_located(r, spec, 3, "FIFO")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_device_extends_is_refused_before_reading(tmp_path, device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} on this system")
    spec = write(tmp_path / "child.yaml", spec_text(CONV, extra=f"extends: {device}\n"))
    r = timed_cli("profile", spec)
    assert_located(r, spec, 3, "a device")


def test_directory_extends(tmp_path):
    (tmp_path / "sub").mkdir()
    spec = write(tmp_path / "child.yaml", spec_text(CONV, extra="extends: sub\n"))
    assert_located(timed_cli("profile", spec), spec, 3, "directory")


def test_fifo_baseline_and_fifo_lock_target(tmp_path, fifo):
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs / "t.yaml", spec_text(CONV))
    assert_located(timed_cli("check", specs, "--baseline", fifo), fifo, words="FIFO")
    r = timed_cli("lock", specs, "--out", fifo)
    assert_located(r, fifo, words="FIFO")


def test_size_is_enforced_while_reading(tmp_path, monkeypatch):
    """A file that grows after stat (or lies in it) is still cut at the limit: read_bounded
    never reads more than limit + 1 bytes."""
    from costmodel.errors import SpecError
    from costmodel.spec import loader
    path = write(tmp_path / "big.yaml", "# " + "x" * 5000 + "\n")
    real_stat = os.stat

    class Lying:
        def __init__(self, st):
            self._st = st

        def __getattr__(self, name):
            return 10 if name == "st_size" else getattr(self._st, name)

    monkeypatch.setattr(loader.os, "stat", lambda p, *a, **k: Lying(real_stat(p, *a, **k)))
    with pytest.raises(SpecError, match="more than 1,000 bytes"):
        loader.read_bounded(path, 1000)


def test_oversized_spec(tmp_path):
    spec = write(tmp_path / "big.yaml", spec_text(CONV) + "#" * 1_000_001 + "\n")
    assert_located(timed_cli("profile", spec), spec, words="limited to 1,000,000 bytes")


# --- YAML as users write it ------------------------------------------------------------------
def test_merge_keys_and_anchors_work(tmp_path):
    """`<<: *base` copies the anchored mapping; the mapping's own keys win."""
    spec = write(tmp_path / "m.yaml", spec_text(
        "  - &c {op: conv2d, out: 4, kernel: 1}\n"
        "  - {<<: *c, out: 8}\n"
        "  - <<: [*c]\n"
        "    kernel: 3\n"
        "    padding: 1\n"))
    r = run_cli("profile", spec, "--format", "json")
    assert r.code == 0, r
    layers = json.loads(r.out)["layers"]
    # 3->4 1x1 on 8x8: 4*3*64; 4->8 1x1: 8*4*64; 8->4 3x3 pad 1: 4*8*9*64
    assert [l["mult_adds"] for l in layers] == [4 * 3 * 64, 8 * 4 * 64, 4 * 8 * 9 * 64]


def test_error_in_merged_key_names_the_anchor_line(tmp_path):
    spec = write(tmp_path / "m.yaml", spec_text(
        "  - &c {op: conv2d, out: 4, kernel: 1, bogus: 1}\n"
        "  - {<<: *c, out: 8}\n"))
    assert_located(run_cli("profile", spec), spec, 4, "bogus")


def test_bad_merge_value(tmp_path):
    spec = write(tmp_path / "m.yaml", spec_text("  - <<: 5\n    op: relu\n"))
    assert_located(run_cli("profile", spec), spec, 4, "merge key")


@pytest.mark.parametrize("value, tag", [
    ("!!omap [{op: relu}]", "!!omap"), ("!!set {a}", "!!set"), ("!!binary aGk=", "!!binary"),
    ("!!pairs [{op: relu}]", "!!pairs"), ("!!python/object:os.system {}", "!!python/object"),
    ("!custom relu", "!custom"),
])
def test_non_core_tags_are_refused_with_a_line(tmp_path, value, tag):
    spec = write(tmp_path / "t.yaml", spec_text(CONV + f"  - {value}\n"))
    assert_located(run_cli("profile", spec), spec, 5, tag)


def test_dates_stay_text(tmp_path):
    spec = write(tmp_path / "d.yaml", "citation: 2018-01-13\n" + spec_text(CONV))
    r = run_cli("profile", spec, "--format", "json")
    assert r.code == 0, r


# --- settings ----------------------------------------------------------------------------------
def test_default_outside_its_choices(tmp_path):
    spec = write(tmp_path / "s.yaml", spec_text(
        "  - {op: conv2d, out: w, kernel: 1}\n",
        extra="settings:\n  w:\n    default: 5\n    choices: [1, 2]\n"))
    assert_located(run_cli("profile", spec), spec, 3, "not one of its own choices")


@pytest.mark.parametrize("value", ["１６０", "1_60", "nan", "inf", "0x10", "160\x1b[2J", "1" * 50])
def test_set_takes_ascii_numbers_only(value):
    r = run_cli("profile", "mobilenet_v1", "--set", f"resolution={value}")
    assert r.code == 2 and "resolution" in r.err and r.err.count("\n") == 1, r
    assert "\x1b" not in r.err


# --- op fields: the ranges torch accepts ---------------------------------------------------------
@pytest.mark.parametrize("layer, words", [
    ("{op: dropout, p: 1.5}", "'p' must be in [0, 1]"),
    ("{op: dropout, p: -0.1}", "'p' must be in [0, 1]"),
    ("{op: batch_norm, eps: -1.0e-5}", "'eps' must be > 0"),
    ("{op: batch_norm, eps: 0}", "'eps' must be > 0"),
    ("{op: batch_norm, eps: .nan}", "'eps' must be > 0"),
    ("{op: batch_norm, momentum: .inf}", "'momentum' must be finite"),
])
def test_op_ranges(tmp_path, layer, words):
    spec = write(tmp_path / "o.yaml", spec_text(CONV + f"  - {layer}\n"))
    assert_located(run_cli("profile", spec), spec, 5, words)


def test_op_range_edges_accepted(tmp_path):
    spec = write(tmp_path / "o.yaml", spec_text(
        CONV + "  - {op: dropout, p: 0}\n  - {op: dropout, p: 1}\n  - {op: batch_norm, eps: 1.0e-12}\n"))
    r = run_cli("profile", spec, "--format", "json")
    assert r.code == 0, r


# --- messages ----------------------------------------------------------------------------------
def test_message_length_is_capped(tmp_path):
    """A 200,000-character value in a bad place: the message quotes an excerpt."""
    spec = write(tmp_path / "m.yaml", spec_text(CONV, name="x" * 10) + "  - " + "z" * 200_000 + "\n")
    r = run_cli("profile", spec)
    assert r.code == 2 and len(r.err) < 1000 and r.err.count("\n") == 1, len(r.err)
    assert f"{spec}:5:" in r.err


def test_excerpt_of_huge_values():
    from costmodel.errors import SpecError, excerpt
    assert excerpt(10 ** 5000).startswith("<an integer of about 5,001 digits")
    assert excerpt("a" * 1000).endswith("(1,002 characters)")
    text = str(SpecError("m" * 10_000, file="f.yaml", line=3))
    assert len(text) < 600 and "10,010 characters in all" in text


def test_big_numbers_format_safely():
    from costmodel.output.tabular import Tabular, Column, fmt_int
    assert fmt_int(12_345) == "12,345"
    assert fmt_int(3 * 10 ** 5000) == "~3.00e+5000"
    t = Tabular("t", [Column("n")])
    t.add([10 ** 6000])
    assert "~1.00e+6000" in t.to_markdown() and "~1.00e+6000" in t.to_csv()


# --- resource exhaustion -----------------------------------------------------------------------
def test_huge_table_renders_in_bounded_time():
    """99,000 rows: the terminal table shows the first 500 and says how many it left out."""
    import io
    import time
    from rich.console import Console
    from costmodel.output.tabular import Tabular, Column
    t = Tabular("big", [Column("Layer", "left"), Column("Mult-Adds")])
    for i in range(99_000):
        t.add([f"layer{i}", f"{i:,}"])
    start = time.monotonic()
    buf = io.StringIO()
    Console(file=buf, width=100).print(t.to_rich())
    assert time.monotonic() - start < 15
    text = buf.getvalue()
    assert "layer499 " in text and "layer500 " not in text
    assert "98,500 more rows not shown" in " ".join(text.split())


def test_lock_refuses_a_baseline_check_would_refuse(tmp_path, monkeypatch):
    from costmodel.guard import baseline
    import costmodel.guard as guard_pkg
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs / "t.yaml", spec_text(CONV))
    monkeypatch.setattr(guard_pkg, "MAX_BASELINE_BYTES", 100)
    monkeypatch.setattr(baseline, "MAX_BASELINE_BYTES", 100)
    out = tmp_path / "b.json"
    r = run_cli("lock", specs, "--out", out)
    assert_located(r, out, words="`costmodel check` reads at most 100")
    assert not out.exists()


def test_verify_refuses_deep_nesting_before_tracing(tmp_path):
    """A residual nested 160 deep: profile accepts it; verify refuses it with exit 2 (it
    used to report a MISMATCH on every layer: torch's recursion limit)."""
    from costmodel.count.profile import Spec
    from costmodel.errors import SpecError
    from costmodel.torch import crosscheck
    body = "[{op: relu}]"
    for _ in range(160):
        body = "[{residual: %s}]" % body
    spec = write(tmp_path / "deep.yaml", f"name: deep\ninput: [2, 4, 4]\nlayers: {body}\n")
    r = run_cli("profile", spec, "--format", "json")
    assert r.code == 0, r
    p = Spec.load(spec).profile()
    assert crosscheck.nesting_depth(p.root) == 2 * 160 + 2
    with pytest.raises(SpecError, match="nests 322 containers deep"):
        crosscheck.check_size(p)


def test_verify_refuses_too_many_layers(tmp_path):
    from costmodel.count.profile import Spec
    from costmodel.errors import SpecError
    from costmodel.torch import crosscheck
    spec = write(tmp_path / "long.yaml", spec_text("  - {repeat: 2, body: [{repeat: 10000, body: [relu]}]}\n"))
    p = Spec.load(spec).profile()
    assert len(p.layers) == 20_000
    with pytest.raises(SpecError, match="20,000 layers"):
        crosscheck.check_size(p)


def test_profile_of_a_long_spec_finishes(tmp_path):
    """10,000 layers through the whole table path (it was quadratic in the params column)."""
    spec = write(tmp_path / "long.yaml", spec_text("  - {repeat: 2, body: [{repeat: 5000, body: [relu]}]}\n"))
    r = timed_cli("profile", spec)
    assert r.code == 0 and "9,500 more rows not shown" in " ".join(r.out.split()), r


def test_ten_thousand_parallel_branches_finish(tmp_path):
    """Each branch used to re-sum the outputs of the branches before it (quadratic)."""
    branches = ", ".join(["[relu]"] * 10_000)
    spec = write(tmp_path / "par.yaml", spec_text(f"  - {{parallel: [{branches}], merge: add}}\n"))
    r = timed_cli("profile", spec, "--format", "json")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert len(data["layers"]) == 10_001 and data["totals"]["mult_adds"] == 0


@pytest.mark.parametrize("digits", [20, 400, 5000])
def test_huge_integer_literals_are_refused_with_a_line(tmp_path, digits):
    """5,000 digits used to hit Python's int-to-text limit, 400 a float overflow."""
    spec = write(tmp_path / "n.yaml", spec_text(f"  - {{op: conv2d, out: {'9' * digits}, kernel: 1}}\n"))
    assert_located(run_cli("profile", spec), spec, 4, f"integer of {digits:,} digits")


def test_nineteen_digit_counts_print_exactly(tmp_path):
    spec = write(tmp_path / "n.yaml", spec_text("  - {op: conv2d, out: 1000000000000000000, kernel: 1}\n"))
    r = run_cli("profile", spec, "--format", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["totals"]["mult_adds"] == 10 ** 18 * 3 * 64


def test_unexpected_exception_is_one_line(monkeypatch):
    from costmodel.count import profile as profile_mod

    def boom(*a, **k):
        raise ZeroDivisionError("simulated bug")
    monkeypatch.setattr(profile_mod.Spec, "load", classmethod(lambda cls, *a, **k: boom()))
    monkeypatch.delenv("COSTMODEL_DEBUG", raising=False)
    r = run_cli("profile", "mobilenet_v1")
    assert r.code == 3 and r.err.count("\n") == 1 and "internal error" in r.err, r
    assert "ZeroDivisionError: 'simulated bug'" in r.err
