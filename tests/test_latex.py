"""LaTeX that compiles (issue 16): every special character escaped, booktabs rules, the notes
and footnotes under the table, and every paper table compiled with pdflatex.

pdflatex is required, not optional: .ci/run installs it (texlive-latex-base and
texlive-latex-recommended, which has booktabs). Without it these tests fail."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from costmodel.output.latex import escape
from costmodel.output.tabular import Column, Tabular

PREAMBLE = (r"\documentclass{article}" "\n" r"\usepackage[T1]{fontenc}" "\n"
            r"\usepackage{booktabs}" "\n" r"\usepackage[margin=1cm,landscape]{geometry}" "\n"
            r"\begin{document}" "\n")

# Every character LaTeX treats specially, and what prints it.
SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
           "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
           "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
           "|": r"\textbar{}", '"': r"\textquotedbl{}"}


def pdflatex(body: str, tmp_path: Path) -> str:
    exe = shutil.which("pdflatex")
    assert exe, "pdflatex is missing: install texlive-latex-base texlive-latex-recommended (.ci/run does)"
    tex = tmp_path / "doc.tex"
    tex.write_text(PREAMBLE + body + "\n\\end{document}\n", encoding="utf-8")
    r = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    return r.stdout


@pytest.mark.parametrize("char, latex", sorted(SPECIAL.items()))
def test_each_special_character_is_escaped(char, latex):
    assert escape(char) == latex
    assert escape(f"a{char}b") == f"a{latex}b"


def test_escaping_is_single_and_unicode_is_typeset():
    assert escape(r"\%") == r"\textbackslash{}\%"          # not double-escaped
    assert escape("Δ") == r"$\Delta$" and escape("×") == r"$\times$"
    assert escape("é") == r"\'{e}"
    with pytest.raises(ValueError, match="U\\+4E2D"):
        escape("中")


def test_every_special_character_compiles(tmp_path):
    t = Tabular("all specials", [Column("Δ <h> %", "left"), Column("v")])
    for char in SPECIAL:
        t.add([f"x{char}y {char}{char}", 1234567])
    t.footer = ["Total ^ ~", 1]
    t.notes = ["[1] 50% of a_b & c #3 {x} ~ ^ \\ $5 <a|b> \"q\"."]
    latex = t.to_latex()
    assert r"\toprule" in latex and r"\midrule" in latex and r"\bottomrule" in latex
    assert r"\hline" not in latex and "1,234,567" in latex
    assert r"[1] 50\% of a\_b \& c \#3" in latex
    pdflatex(latex, tmp_path)


def test_every_paper_table_compiles_with_its_footnotes(cli, tmp_path):
    names = [line.split()[0] for line in cli("table", "--list").out.splitlines() if line.strip()]
    assert len(names) >= 5
    parts = []
    for name in names:
        r = cli("table", name, "--format", "latex")
        assert r.code == 0, (name, r)
        assert r.out.startswith(r"\begin{tabular}") and r"\bottomrule" in r.out
        md = cli("table", name, "--format", "markdown").out
        cited = [f"[{i}]" for i in range(1, 30) if f"[{i}]" in md]
        for mark in cited:                        # each footnote cited is printed under it
            assert mark + " " in r.out or mark + r"\ " in r.out or f"{mark}:" in r.out, (name, mark)
        parts.append(r.out)
    pdflatex("\n\\clearpage\n".join(parts), tmp_path)
