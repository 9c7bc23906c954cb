"""A small table model rendered five ways: rich (terminal), Markdown, CSV, LaTeX and records.
Every report of the tool (profile, verify, paper tables, check) is built as a Tabular.

Cells hold values, not text: an ``int`` is written with thousands separators for people and
as a plain integer in CSV; a :class:`Pct` as "3.60%" for people and "3.60" in CSV. The
terminal rendering never cuts a digit: when the table is wider than the terminal, it drops
the columns marked droppable (highest ``drop`` first), then shortens the cells of the column
marked ``abbreviate`` in their middle, and says so in a note under the table.
"""
from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any

from costmodel.output import text as _text

ELLIPSIS = "\u2026"
NAME_FLOOR = 24              # names are shortened to this before an important column is dropped
KEEP_BEFORE_SHORTENING = 2   # columns with drop <= this are dropped only after names shrink
TEXT_FLOOR = 12              # a wrapping text column gets no narrower
MAX_RICH_ROWS = 500       # a terminal table longer than this shows its head and says so


@dataclass
class Column:
    header: str
    justify: str = "right"   # left | right | center
    key: str | None = None   # CSV header (unique, snake_case); default: the header
    drop: int = 0            # > 0: may be dropped in a narrow terminal, highest first
    abbreviate: bool = False  # cells may be shortened in their middle in a narrow terminal
    machine: bool = True     # False: a derived, human-only column, left out of CSV


@dataclass(frozen=True)
class Pct:
    """part / whole as a percentage, 2 decimals."""
    part: int | float
    whole: int | float

    def __str__(self) -> str:
        return f"{100 * self.part / self.whole:.2f}%" if self.whole else "-"

    @property
    def machine(self) -> str:
        return f"{100 * self.part / self.whole:.2f}" if self.whole else ""


def human(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, int) and not isinstance(v, bool):
        return _text.fmt_int(v)
    return str(v)


def machine(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Pct):
        return v.machine
    if isinstance(v, int) and not isinstance(v, bool) and abs(v).bit_length() > 4 * 3000:
        return _text.fmt_int(v)     # no exact text for it (Python's 4,300-digit limit)
    return str(v)


def _shorten(text: str, width: int) -> str:
    """text in at most `width` characters, its middle replaced by an ellipsis; a dotted name
    keeps whole parts where it can (its first parts and its last, most specific ones)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    parts = text.split(".")
    if len(parts) > 2:
        head, tail = [parts[0]], [parts[-1]]
        rest = parts[1:-1]
        turn = 0
        while rest:
            nxt = rest[-1] if turn else rest[0]
            h, t = (head, [nxt] + tail) if turn else (head + [nxt], tail)
            if len(".".join(h)) + 2 + len(".".join(t)) + 1 > width:
                break
            head, tail = h, t
            rest = rest[:-1] if turn else rest[1:]
            turn ^= 1
        out = ".".join(head) + "." + ELLIPSIS + "." + ".".join(tail)
        if len(out) <= width:
            return out
    left = (width - 1) // 3
    right = width - 1 - left
    return text[:left] + ELLIPSIS + (text[-right:] if right else "")


@dataclass
class Tabular:
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    footer: list[Any] | None = None        # a totals row
    notes: list[str] = field(default_factory=list)
    styles: list[str | None] = field(default_factory=list)   # per-row rich style

    def add(self, row: list[Any], style: str | None = None) -> None:
        self.rows.append(row)
        self.styles.append(style)

    def _cells(self, row: list[Any]) -> list[str]:
        return [human(v) for v in row]

    # --- terminal ---------------------------------------------------------------------------
    def _needs(self, headers: bool = True) -> list[int]:
        cell_len = _text.cell_len
        body = [self._cells(r) for r in self.rows] + ([self._cells(self.footer)] if self.footer else [])
        return [max([cell_len(c.header) if headers else 1] + [cell_len(r[i]) for r in body if i < len(r)])
                for i, c in enumerate(self.columns)]

    def width_of(self, cols: list[int], short: dict[int, int]) -> int:
        """Characters the rich table takes with these columns (cells shortened per `short`)."""
        need = self._needs()
        return sum(short.get(i, need[i]) for i in cols) + 3 * len(cols) + 1

    def _floors(self) -> list[int]:
        """The narrowest a column gets when headers and text wrap: a number column keeps its
        widest cell, a text column wraps down to 12 characters; none is narrower than the
        longest word of its header."""
        cells_w = self._needs(headers=False)
        words = [max(len(word) for word in (c.header.split() or [""])) for c in self.columns]
        return [max(word, w if c.justify != "left" else min(w, TEXT_FLOOR))
                for w, word, c in zip(cells_w, words, self.columns)]

    def min_width_of(self, cols: list[int], short: dict[int, int]) -> int:
        if self.width_of(cols, short) <= 0:
            return 0
        floors = self._floors()
        return sum(min(short.get(i, floors[i]), floors[i]) for i in cols) + 3 * len(cols) + 1

    def _wrapped_widths(self, keep: list[int], short: dict[int, int], width: int) -> dict[int, int]:
        """Column widths that fit `width` when headers and text wrap: the widest column above
        its floor gives up a character, until the table fits (fit() made sure it can)."""
        need, floors = self._needs(), self._floors()
        w = {i: short.get(i, need[i]) for i in keep}
        low = {i: min(floors[i], w[i]) for i in keep}
        while sum(w.values()) + 3 * len(keep) + 1 > width:
            slack = [i for i in keep if w[i] > low[i]]
            if not slack:
                break
            j = max(slack, key=lambda i: (w[i] - low[i], w[i]))
            w[j] -= 1
        return w

    def fit(self, width: int | None) -> tuple[list[int], dict[int, int], list[str]]:
        """Which columns to show in `width` characters: (kept column indexes, {column: cell
        width it is shortened to}, notes saying what was left out)."""
        cell_len = _text.cell_len
        body = [self._cells(r) for r in self.rows] + ([self._cells(self.footer)] if self.footer else [])
        need = [max([cell_len(c.header)] + [cell_len(r[i]) for r in body if i < len(r)])
                for i, c in enumerate(self.columns)]
        keep = list(range(len(self.columns)))
        if width is None:
            return keep, {}, []

        def total(cols: list[int], short: dict[int, int]) -> int:
            return sum(short.get(i, need[i]) for i in cols) + 3 * len(cols) + 1

        dropped: list[int] = []
        short: dict[int, int] = {}
        droppable = sorted((i for i, c in enumerate(self.columns) if c.drop > 0),
                           key=lambda i: -self.columns[i].drop)
        names = next((i for i, c in enumerate(self.columns) if c.abbreviate), None)

        def shorten(floor: int) -> None:
            over = total(keep, short) - width
            if over > 0 and names is not None and names in keep:
                now = short.get(names, need[names])
                short[names] = min(now, max(floor, cell_len(self.columns[names].header), now - over))
                if short[names] >= need[names]:
                    del short[names]

        # the least useful columns go first, then long names are shortened (to no less than
        # NAME_FLOOR), then the other droppable columns, then names down to 8 characters
        for i in droppable:
            if total(keep, short) <= width:
                break
            if self.columns[i].drop <= KEEP_BEFORE_SHORTENING:
                shorten(NAME_FLOOR)
                if total(keep, short) <= width:
                    break
            keep.remove(i)
            dropped.append(i)
        shorten(NAME_FLOOR)
        shorten(8)
        # still too wide: headers and text cells will wrap; if even their narrowest layout
        # does not fit, the rightmost columns go (said in the note), never a digit
        while self.min_width_of(keep, short) > width and len(keep) > 1:
            dropped.append(keep.pop())
        notes = []
        if dropped:
            names = ", ".join(self.columns[i].header for i in sorted(set(dropped)))
            notes.append(f"Columns left out to fit {width} terminal columns: {names} "
                         "(widen the terminal, or use --format markdown, csv or json for all of them).")
        if short:
            names = ", ".join(self.columns[i].header for i in short)
            notes.append(f"{names}: long cells shortened in the middle ({ELLIPSIS}) to fit "
                         f"{width} terminal columns; numbers are never shortened.")
        return keep, short, notes

    def to_rich(self, width: int | None = None, max_rows: int = MAX_RICH_ROWS):
        """A rich Table fitted to ``width``; every text is shown as written (never parsed as
        markup, control characters escaped). More than ``max_rows`` rows: the first
        ``max_rows`` and a note saying how many were left out."""
        from rich.table import Table
        from rich.text import Text
        rt = _text.rich_text
        shown = self.rows[:max_rows]
        fitted = (self if len(shown) == len(self.rows) else
                  dataclasses.replace(self, rows=shown))
        keep, short, fit_notes = fitted.fit(width)
        t = Table(title=rt(self.title) if self.title else None,
                  show_footer=self.footer is not None, title_justify="left")
        foot = self._cells(self.footer) if self.footer else [""] * len(self.columns)
        # still too wide: headers and text (left-justified) cells wrap at spaces; a number
        # column keeps the width of its widest cell
        wrap = width is not None and fitted.width_of(keep, short) > width
        widths = fitted._wrapped_widths(keep, short, width) if wrap else {}
        for i in keep:
            col = self.columns[i]
            t.add_column(rt(col.header), justify=col.justify, footer=rt(foot[i]),  # type: ignore[arg-type]
                         no_wrap=not wrap, overflow="fold", width=widths.get(i))
        for row, style in zip(shown, self.styles or [None] * len(self.rows)):
            cells = self._cells(row)
            t.add_row(*(rt(_shorten(cells[i], short[i]) if i in short else cells[i]) for i in keep),
                      style=style)
        notes = self.notes + fit_notes
        if len(self.rows) > len(shown):
            notes = [f"... {len(self.rows) - len(shown):,} more rows not shown (the first "
                     f"{len(shown):,} of {len(self.rows):,}); --format csv, markdown or json "
                     "print them all", *notes]
        if notes:
            t.caption = Text("\n").join(rt(n) for n in notes)
            t.caption_justify = "left"
        return t

    def to_plain(self, width: int, max_rows: int = MAX_RICH_ROWS) -> str | None:
        """What rich prints for ``to_rich(width)`` where it prints no style (into a pipe or a
        file), written without rich; None where only rich can (output/plain.py)."""
        from costmodel.output import plain
        return plain.render(self, width, max_rows)

    # --- text formats -----------------------------------------------------------------------
    def to_markdown(self) -> str:
        def esc(s: str) -> str:
            return s.replace("|", "\\|")
        align = {"left": ":---", "right": "---:", "center": ":---:"}
        lines = [f"### {self.title}", ""] if self.title else []
        lines.append("| " + " | ".join(esc(c.header) for c in self.columns) + " |")
        lines.append("|" + "|".join(align[c.justify] for c in self.columns) + "|")
        body = self.rows + ([self.footer] if self.footer else [])
        for row in body:
            lines.append("| " + " | ".join(esc(c) for c in self._cells(row)) + " |")
        if self.notes:
            lines.append("")
            lines.extend(self.notes)
        return "\n".join(lines) + "\n"

    def csv_header(self) -> list[str]:
        return [c.key or c.header for c in self.columns if c.machine]

    def to_csv(self, total: bool = False) -> str:
        """Plain values (integers without separators), one header per column (unique), the
        human-only columns left out; the totals row only when asked for."""
        keys = self.csv_header()
        if len(set(keys)) != len(keys):
            raise ValueError(f"CSV columns of {self.title!r} are not unique: {keys}")
        import csv
        idx = [i for i, c in enumerate(self.columns) if c.machine]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(keys)
        for row in self.rows + ([self.footer] if (self.footer and total) else []):
            w.writerow([machine(row[i]) if i < len(row) else "" for i in idx])
        return buf.getvalue()

    def to_latex(self) -> str:
        """A booktabs table (needs \\usepackage{booktabs}), every cell escaped, the notes and
        footnotes under it as a paragraph of small text."""
        from costmodel.output.latex import escape
        spec = "".join({"left": "l", "right": "r", "center": "c"}[c.justify] for c in self.columns)
        out = [r"\begin{tabular}{" + spec + "}", r"\toprule",
               " & ".join(escape(c.header) for c in self.columns) + r" \\", r"\midrule"]
        for row in self.rows:
            out.append(" & ".join(escape(c) for c in self._cells(row)) + r" \\")
        if self.footer:
            out += [r"\midrule", " & ".join(escape(c) for c in self._cells(self.footer)) + r" \\"]
        out += [r"\bottomrule", r"\end{tabular}"]
        notes = [n for n in self.notes if n.strip()]
        if notes:
            out.append(r"\par\smallskip")
            out.append(r"{\footnotesize")
            out.extend(escape(n) + r"\par" for n in notes)
            out.append("}")
        return "\n".join(out) + "\n"


def fmt_int(n: int) -> str:
    return _text.fmt_int(n)


def fmt_pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"
