"""A small table model rendered four ways: rich (terminal), Markdown, CSV and LaTeX.
Every report of the tool (profile, verify, paper tables, check) is built as a Tabular."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Column:
    header: str
    justify: str = "right"   # left | right | center


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
        return ["" if v is None else str(v) for v in row]

    def to_rich(self):
        from rich.table import Table
        t = Table(title=self.title, show_footer=self.footer is not None, title_justify="left")
        foot = self._cells(self.footer) if self.footer else [""] * len(self.columns)
        for col, f in zip(self.columns, foot):
            t.add_column(col.header, justify=col.justify, footer=f)  # type: ignore[arg-type]
        for row, style in zip(self.rows, self.styles or [None] * len(self.rows)):
            t.add_row(*self._cells(row), style=style)
        if self.notes:
            t.caption = "\n".join(self.notes)
            t.caption_justify = "left"
        return t

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

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([c.header for c in self.columns])
        for row in self.rows + ([self.footer] if self.footer else []):
            w.writerow(self._cells(row))
        return buf.getvalue()

    def to_latex(self) -> str:
        def esc(s: str) -> str:
            for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                         ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
                s = s.replace(a, b)
            return s
        spec = "".join({"left": "l", "right": "r", "center": "c"}[c.justify] for c in self.columns)
        out = [r"\begin{tabular}{" + spec + "}", r"\hline",
               " & ".join(esc(c.header) for c in self.columns) + r" \\", r"\hline"]
        for row in self.rows:
            out.append(" & ".join(esc(c) for c in self._cells(row)) + r" \\")
        if self.footer:
            out += [r"\hline", " & ".join(esc(c) for c in self._cells(self.footer)) + r" \\"]
        out += [r"\hline", r"\end{tabular}"]
        return "\n".join(out) + "\n"


def fmt_int(n: int) -> str:
    return f"{n:,}"


def fmt_pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"

