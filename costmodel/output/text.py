"""Text from specs, registry files and paths, made safe to print.

* :func:`visible`: control characters (a terminal escape ``\\x1b[2J``, a carriage return, a
  bidirectional override) shown as escapes (``\\x1b``), so they cannot drive the terminal;
* :func:`markup`: that, escaped for rich markup, for interpolation into a rich string
  (``[/]`` or ``exp[v2]`` in a name is printed as written, never parsed);
* :func:`fmt_int`: an integer with thousands separators, whatever its size (Python refuses
  to turn an integer of more than 4,300 digits into text).
"""
from __future__ import annotations

import math

MAX_BITS = 200         # about 60 digits; more: shown as an order of magnitude


def _escape_char(ch: str) -> str:
    o = ord(ch)
    if o < 0x100:
        return f"\\x{o:02x}"
    return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def visible(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every control or format character written as an escape."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    import unicodedata
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == " " or ch.isprintable() or unicodedata.category(ch) == "Zs":
            out.append(ch)
        else:
            out.append(_escape_char(ch))
    return "".join(out)


def markup(text: object) -> str:
    """``text`` made visible and escaped for rich markup."""
    from rich.markup import escape
    return escape(visible(text))


def rich_text(text: object, style: str | None = None):
    """A rich ``Text`` of ``text`` made visible (never parsed as markup)."""
    from rich.text import Text
    return Text(visible(text), style=style or "")


def fmt_int(n: int) -> str:
    """``1,234,567``; an integer too long to be worth printing as ``~1.23e+4500``."""
    m = abs(n)
    if m.bit_length() <= MAX_BITS:
        return f"{n:,}"
    shift = m.bit_length() - 64
    log = math.log10(m >> shift) + shift * math.log10(2)
    exp = math.floor(log)
    return f"{'-' if n < 0 else ''}~{10 ** (log - exp):.2f}e+{exp}"


# characters one terminal cell wide, as rich measures them: printable Latin-1 and Latin
# Extended (not the soft hyphen) and the symbols the tool writes (tests/test_outputs_plain.py)
_ONE_CELL = frozenset("\u2026\u00d7\u0394\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u2248"
                      "\u2264\u2265\u2192\u2190\u2212\u03bc\u03b1\u03b2\u03b3\u03c3")


def plain_width(s: str) -> bool:
    """Whether every character of ``s`` is one cell wide (no need to ask rich)."""
    if s.isascii():
        return s.isprintable()
    return all((" " <= ch <= "~") or ("\u00a0" <= ch <= "\u02ff" and ch != "\u00ad")
               or ch in _ONE_CELL for ch in s)


def cell_len(s: str) -> int:
    """Terminal cells ``s`` takes (rich's measure; rich is asked only for rare characters)."""
    if plain_width(s):
        return len(s)
    from rich.cells import cell_len as rich_len
    return rich_len(s)
