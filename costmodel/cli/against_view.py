"""What `costmodel verify SPEC --against REF` prints: the aligned pairs (spec layer next to
the reference's), the first divergence naming both, the state_dict report. Exit status 1 on
any divergence, 0 when every layer matches (the state_dict report does not decide)."""
from __future__ import annotations

from costmodel.output.tabular import Column, Tabular, fmt_int

from costmodel.cli.app import console, print_json

MISMATCH = "bold red"


def pairs_table(r) -> Tabular:
    t = Tabular(title=f"{r.model} against {r.reference}: leaf layers aligned in execution order",
                columns=[Column("#"), Column("Spec layer", "left"), Column("Reference layer", "left"),
                         Column("Layer", "left"), Column("Params"), Column("Mult-Adds (fvcore)"),
                         Column("", "left")])
    for i, p in enumerate(r.pairs):
        t.add([i, p.spec.name, p.ref.name, p.spec.summary(), fmt_int(p.spec.params),
               fmt_int(p.spec.flops),
               "ok" if not p.problems else "; ".join(f"{w}: {s} vs {v}" for w, s, v in p.problems)],
              style=MISMATCH if p.problems else None)
    for c in r.spec_extra:
        t.add(["", c.name, "-", c.summary(), fmt_int(c.params), fmt_int(c.flops), "spec only"],
              style=MISMATCH)
    for c in r.ref_extra:
        t.add(["", "-", c.name, c.summary(), fmt_int(c.params), fmt_int(c.flops), "reference only"],
              style=MISMATCH)
    t.footer = ["", "Total (spec)", "Total (reference)", "", f"{r.spec_params:,} / {r.ref_params:,}",
                f"{r.spec_flops:,} / {r.ref_flops:,}", "ok" if r.ok else "MISMATCH"]
    t.notes.extend(r.notes)
    t.notes.append(f"Glue modules not aligned (add, concat, split, shuffle, flatten...): "
                   f"{r.glue[0]} in the spec, {r.glue[1]} in the reference.")
    return t


def show(r, fmt: str) -> int:
    if fmt == "json":
        print_json(r.to_dict())
    else:
        c = console()
        c.print(pairs_table(r).to_rich())
        c.print(("state_dict: " if r.state_dict.loads else "[yellow]state_dict:[/] ")
                + r.state_dict.text(), highlight=False)
        first = r.first_divergence()
        if first:
            c.print(f"[{MISMATCH}]{r.model} differs from {r.reference}: {first}[/]", highlight=False)
        else:
            c.print(f"[bold green]{r.model} matches {r.reference}[/]: {len(r.pairs)} layers "
                    "(kind, kernel, stride, padding, dilation, groups, bias, shapes, params, "
                    "fvcore mult-adds)", highlight=False)
    return 0 if r.ok else 1
