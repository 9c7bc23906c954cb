"""The table written without rich (output/plain.py) is what rich prints with no style: the
same characters, for the tool's tables at every width; and rich is asked where only it knows
(cells that wrap, characters it measures itself)."""
from __future__ import annotations

import io
import random

import pytest
from rich.cells import cell_len as rich_cell_len
from rich.console import Console
from rich.text import Text

from conftest import SPECS
from costmodel.count.profile import profile
from costmodel.count.report import layer_table, type_table
from costmodel.output import plain, text
from costmodel.output.tabular import Column, Pct, Tabular

WIDTHS = (200, 120, 90, 70)


def _rich(tab: Tabular, width: int) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, soft_wrap=False, color_system=None).print(tab.to_rich(width))
    return buf.getvalue()


def _tables() -> list[Tabular]:
    v2 = profile(SPECS / "mobilenet_v2.yaml")
    v1 = profile(SPECS / "mobilenet_v1.yaml", width=0.5)
    ghost = profile(SPECS / "ghostnet.yaml")
    return [layer_table(v2), layer_table(v1, depth=2, hide_zero=True),
            layer_table(ghost, "thop", top=5, batch=8, dtype="fp16"), type_table(v1),
            type_table(ghost, "training", 4)]


@pytest.fixture(scope="module")
def tables():
    return _tables()


def test_plain_table_is_rich_character_for_character(tables):
    fast = 0
    for tab in tables:
        for width in WIDTHS:
            got = tab.to_plain(width)
            if got is not None:
                fast += 1
                assert got == _rich(tab, width), (tab.title, width)
    # every table that fits 200 columns (all of them) is written without rich
    assert fast >= len(tables)
    assert all(tab.to_plain(200) is not None for tab in tables)


def test_footer_notes_justify_long_titles_and_shortened_names():
    tab = Tabular("A title long enough to wrap over the table's own width, which is narrow",
                  [Column("Layer", "left", abbreviate=True), Column("Count"),
                   Column("Share", "center", drop=1)], footer=["Total", 1234567, Pct(1, 1)],
                  notes=["a note " * 12, "x" * 70, "  leading spaces and a tab-free line"])
    for i in range(6):
        tab.add([f"features.{i}.conv.{i}.very_long_block_name_{i}", 10 ** (i + 2), Pct(i, 7)])
    checked = 0
    for width in range(20, 90, 3):
        got = tab.to_plain(width)
        if got is not None:
            checked += 1
            assert got == _rich(tab, width), width
    assert checked > 10


def test_wrap_is_richs_wrap():
    rng = random.Random(16)
    console = Console(file=io.StringIO(), width=80, color_system=None)
    words = ["a", "bb", "ccc", "dddddddddd", "e" * 25, " ", "  ", "f,", "(g)"]
    for _ in range(300):
        s = "".join(rng.choice(words) + rng.choice([" ", "", "  "]) for _ in range(rng.randint(0, 30)))
        w = rng.randint(1, 40)
        lines = Text(s).wrap(console, w, justify="left", overflow="fold")
        assert plain.wrap(s, w) == [line.plain for line in lines], (s, w)


def test_one_cell_characters_are_richs():
    chars = [chr(c) for c in range(0x20, 0x300) if text.plain_width(chr(c))] + \
        sorted(text._ONE_CELL)
    assert len(chars) > 600
    assert [c for c in chars if rich_cell_len(c) != 1] == []
    assert not text.plain_width("\u4e2d") and text.cell_len("\u4e2d") == 2   # wide: rich's


def test_a_wide_character_or_a_wrapping_cell_goes_to_rich():
    tab = Tabular("t", [Column("Layer", "left"), Column("N")])
    tab.add(["\u4e2d\u6587", 1])
    assert tab.to_plain(80) is None
    wide = Tabular("t", [Column("Layer", "left"), Column("Description", "left")])
    wide.add(["x", "words " * 30])
    assert wide.to_plain(200) is not None and wide.to_plain(60) is None


def test_width_is_richs_for_a_pipe(monkeypatch):
    monkeypatch.setenv("COLUMNS", "123")
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert plain.width() == 123
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert plain.width() is None        # styles are printed: rich renders
