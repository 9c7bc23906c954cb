"""Help that teaches (issue 16): no value placeholder on flags, paragraphs not broken
mid-sentence, commands grouped under profile / papers / guard / torch, format options that
list only what they accept, one baseline option name for lock and check, whole op docs."""
from __future__ import annotations

import json
import re

import pytest

from costmodel.cli.app import COMMANDS

COMMAND_NAMES = list(COMMANDS)


def help_of(cli, monkeypatch, *words, width=100):
    monkeypatch.setenv("COLUMNS", str(width))
    r = cli(*words, "--help")
    assert r.code == 0, r
    return r.out


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_flags_show_no_value_placeholder(cli, monkeypatch, command):
    out = help_of(cli, monkeypatch, command)
    assert "<bool>" not in out and "BOOLEAN" not in out


def test_verify_all_is_a_flag(cli, monkeypatch):
    out = help_of(cli, monkeypatch, "verify")
    line = next(l for l in out.splitlines() if l.startswith("│ --all"))
    assert re.search(r"--all\s+Verify every spec", line), line


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_paragraphs_are_not_broken_mid_sentence(cli, monkeypatch, command):
    """A line of the description that ends mid-sentence (no full stop, colon...; the next
    line goes on in lowercase) must have been wrapped by the terminal: a long line, not a
    line break of the source."""
    out = help_of(cli, monkeypatch, command, width=200)
    head = out.split("╭")[0].splitlines()
    text = [l.strip() for l in head if l.strip() and not l.strip().startswith("Usage:")]
    for a, b in zip(text, text[1:]):
        assert a.endswith((".", ":", ")", "`")) or not b[:1].islower() or len(a) > 170, (a, b)


def test_commands_grouped_in_order(cli, monkeypatch):
    out = help_of(cli, monkeypatch)
    panels = re.findall(r"╭─ (\w+) ─", out)
    assert panels == ["Options", "profile", "papers", "guard", "torch"]
    assert "╭─ Commands" not in out
    order = [m for m in re.findall(r"│ (\w+)\s{2,}", out) if m in COMMANDS]
    assert order.index("profile") < order.index("table") < order.index("lock") < order.index("verify")


@pytest.mark.parametrize("command, formats", [
    ("profile", ["table", "json", "csv", "markdown"]),
    ("verify", ["table", "json"]),
    ("check", ["table", "json", "markdown"]),
    ("table", ["table", "markdown", "csv", "json", "latex"]),
    ("zoo", ["table", "json", "csv", "markdown"]),
    ("ops", ["text", "markdown", "json"]),
])
def test_format_options_list_only_what_they_accept(cli, monkeypatch, command, formats):
    out = help_of(cli, monkeypatch, command, width=200)
    listed = re.search(r"--format\s+-f\s+<([a-z|]+)>", out).group(1).split("|")
    assert sorted(listed) == sorted(formats)
    for fmt in listed:            # each one it lists, it accepts
        args = {"profile": ["mobilenet_v1"], "verify": ["no_such_spec.yaml"],
                "table": ["mobilenet_v1-table6"]}.get(command, [])
        r = cli(command, *args, "--format", fmt)
        assert "not " + fmt not in r.err and "Invalid value for '--format'" not in r.err, (fmt, r)


def test_lock_and_check_share_the_baseline_option(cli, monkeypatch, tmp_path):
    for command in ("lock", "check"):
        assert "--baseline" in help_of(cli, monkeypatch, command)
    from conftest import SPECS
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "m.yaml").write_text((SPECS / "mobilenet_v1.yaml").read_text())
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    assert cli("lock", specs, "--baseline", new).code == 0
    assert cli("lock", specs, "--out", old).code == 0          # the old name still works
    assert new.read_bytes() == old.read_bytes()
    assert cli("check", specs, "--baseline", new).code == 0


def test_ops_shows_whole_descriptions(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    r = cli("ops")
    assert r.code == 0
    for name in ("conv2d", "depthwise", "pointwise", "max_pool", "avg_pool"):
        block = r.out.split(f"\n{name}")[1].split("\n\n")[0]
        assert "mult-adds" in block or "No parameters" in block, name
    assert "…" not in r.out
    d = json.loads(cli("ops", "--format", "json").out)
    docs = {o["op"]: o for o in d["ops"]}
    from costmodel.ops import OPS
    import inspect
    for name, op in OPS.items():
        if op.kind == "layer":
            assert docs[name]["description"] == inspect.getdoc(type(op)) and docs[name]["description"]
    # the whole Ghost docstring, its last sentence included
    assert docs["ghost"]["description"].rstrip().endswith("one per ReLU element.")
