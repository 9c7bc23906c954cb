"""The terminal table without rich, for output that is not a terminal (issue 16: rendering).

Into a pipe or a file rich prints no colour or style, only characters; building those
characters through rich's renderables took 0.3 s for MobileNetV2's 84-row profile. This
module writes the same characters directly: rich's default table (``box.HEAVY_HEAD``, one
space of padding, title and caption above and below, word-wrapped to the table's width as
rich wraps them). :func:`render` returns None where only rich knows the answer (cells that
must wrap, characters whose width rich measures itself), and the caller renders with rich.
``tests/test_outputs_plain.py`` compares both, character for character.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any

from costmodel.output import text as _text

_WORD = re.compile(r"\s*\S+\s*")
_TRAILING = re.compile(r"\s+$")


def width() -> int | None:
    """The width rich would use for stdout when it prints no style (stdout is no terminal),
    else None (a terminal: rich renders, with its styles)."""
    out = sys.stdout
    try:
        if out is None or out.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    env = os.environ
    if env.get("FORCE_COLOR") or env.get("TTY_COMPATIBLE", "") == "1" \
            or env.get("TTY_INTERACTIVE", "") == "1":
        return None
    columns = env.get("COLUMNS", "")
    return int(columns) if columns.isdigit() else 200


def _divide(text: str, width: int) -> list[int]:
    """Where rich's word wrap breaks ``text`` (characters of width 1): a word (with the spaces
    after it) goes on when it fits, else on a new line; a word longer than a line is cut."""
    breaks: list[int] = []
    offset = 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group(0)
        size = len(word.rstrip())
        if width - offset >= size:
            offset += len(word)
        elif size > width:
            chunks = [word[i:i + width] for i in range(0, len(word), width)] or [""]
            for k, chunk in enumerate(chunks):
                if start:
                    breaks.append(start)
                if k == len(chunks) - 1:
                    offset = len(chunk)
                else:
                    start += len(chunk)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def wrap(text: str, width: int, pad: bool = True) -> list[str]:
    """``text`` in lines of at most ``width`` characters as rich wraps it (each line padded
    to ``width`` when ``pad``: rich's left justification)."""
    out: list[str] = []
    for line in text.split("\n"):
        cuts = _divide(line, width)
        pieces = [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)])]
        for piece in pieces:
            if len(piece) > width:
                m = _TRAILING.search(piece)
                if m:
                    piece = piece[:len(piece) - min(len(m.group(0)), len(piece) - width)]
            piece = piece[:width]
            out.append(piece.ljust(width) if pad else piece)
    return out


def _cell(text: str, width: int, justify: str) -> str:
    gap = width - _text.cell_len(text)
    if justify == "right":
        text = " " * gap + text
    elif justify == "center":
        text = " " * (gap // 2) + text + " " * (gap - gap // 2)
    else:
        text = text + " " * gap
    return f" {text} "


def render(tab: Any, width: int, max_rows: int) -> str | None:
    """The characters rich prints for ``tab.to_rich(width)`` with no style, or None."""
    from costmodel.output.tabular import _shorten
    shown = tab.rows[:max_rows]
    import dataclasses
    fitted = tab if len(shown) == len(tab.rows) else dataclasses.replace(tab, rows=shown)
    keep, short, fit_notes = fitted.fit(width)
    if fitted.width_of(keep, short) > width:
        return None                     # headers and text wrap inside their cells: rich
    vis = _text.visible
    headers = [vis(tab.columns[i].header) for i in keep]
    foot = [vis(c) for c in tab._cells(tab.footer)] if tab.footer else None
    body = []
    for row in shown:
        cells = tab._cells(row)
        body.append([vis(_shorten(cells[i], short[i]) if i in short else cells[i]) for i in keep])
    texts = [*headers, *(c for r in body for c in r), *([foot[i] for i in keep] if foot else [])]
    if not all(_text.plain_width(t) for t in texts):
        return None                     # a character rich measures itself
    cols = [[h] + [r[j] for r in body] + ([foot[keep[j]]] if foot else []) for j, h in enumerate(headers)]
    widths = [max(len(c) for c in col) for col in cols]
    just = [tab.columns[i].justify for i in keep]
    total = sum(w + 2 for w in widths) + len(widths) + 1

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells: list[str], edge: str) -> str:
        return edge + edge.join(_cell(c, w, j) for c, w, j in zip(cells, widths, just)) + edge

    out: list[str] = []
    notes = tab.notes + fit_notes
    if len(tab.rows) > len(shown):
        notes = [f"... {len(tab.rows) - len(shown):,} more rows not shown (the first "
                 f"{len(shown):,} of {len(tab.rows):,}); --format csv, markdown or json "
                 "print them all", *notes]
    lines = [vis(n) for n in notes]
    if not all(_text.plain_width(t) for t in [vis(tab.title or ""), *lines]):
        return None
    caption = "\n".join(lines)
    if tab.title:
        out += wrap(vis(tab.title), total)
    out.append(line("┏", "━", "┳", "┓"))
    out.append(row(headers, "┃"))
    out.append(line("┡", "━", "╇", "┩"))
    out += [row(r, "│") for r in body]
    if foot is not None:
        out.append(line("├", "─", "┼", "┤"))
        out.append(row([foot[i] for i in keep], "│"))
    out.append(line("└", "─", "┴", "┘"))
    if caption:
        out += wrap(caption, total)
    return "\n".join(out) + "\n"
