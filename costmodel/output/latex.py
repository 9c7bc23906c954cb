"""Escaping text for LaTeX (pdflatex, utf8 input): every special character of LaTeX, and the
non-ASCII symbols the reports use, as commands that compile without extra packages."""
from __future__ import annotations

import unicodedata

# The ten special characters of LaTeX, plus < > | (in OT1 text they print other glyphs) and
# the straight double quote (T1/OT1 ligatures).
SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}",
}

SYMBOLS = {
    "Δ": r"$\Delta$", "×": r"$\times$", "±": r"$\pm$", "≈": r"$\approx$", "≤": r"$\leq$",
    "≥": r"$\geq$", "−": r"$-$", "–": "--", "—": "---", "…": r"\ldots{}", "µ": r"$\mu$",
    "μ": r"$\mu$", "°": r"$^\circ$", "→": r"$\rightarrow$", "←": r"$\leftarrow$",
    "‘": "`", "’": "'", "“": "``", "”": "''", "\u00a0": "~", "·": r"$\cdot$", "²": r"$^2$",
}

ACCENTS = {"\u0301": "'", "\u0300": "`", "\u0308": '"', "\u0302": "^", "\u0303": "~",
           "\u0327": "c", "\u030c": "v", "\u0304": "="}


def _char(ch: str) -> str:
    if ch in SPECIAL:
        return SPECIAL[ch]
    if ch in SYMBOLS:
        return SYMBOLS[ch]
    if ord(ch) < 128:
        return ch
    base, *marks = unicodedata.normalize("NFD", ch)
    if marks and ord(base) < 128 and all(m in ACCENTS for m in marks):
        out = base
        for m in marks:
            out = f"\\{ACCENTS[m]}{{{out}}}"
        return out
    raise ValueError(f"no LaTeX for the character {ch!r} (U+{ord(ch):04X} "
                     f"{unicodedata.name(ch, '?')}); add it to costmodel/output/latex.py")


def escape(text: str) -> str:
    """`text` as LaTeX source that prints exactly `text`."""
    return "".join(_char(c) for c in str(text))
