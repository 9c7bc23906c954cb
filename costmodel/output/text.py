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
import unicodedata

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
