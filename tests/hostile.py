"""Helpers of the hostile-input suite (tests/test_hostile_*.py): what a handled failure looks
like, run in-process or as a real process, with a time bound."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, run_cli

TIME_BOUND_S = 20.0       # per case, generous for 2 shared cores; a hang is minutes


def spec_text(layers: str, extra: str = "", name: str = "t", inp: str = "[3, 8, 8]") -> str:
    return f"name: {name}\ninput: {inp}\n{extra}layers:\n{layers}"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def assert_located(r, file: "str | Path", line: int | None = None, words: str = "") -> None:
    """Exit 2, nothing on stdout, one line on stderr: ``error: FILE[:LINE]: ...``."""
    assert r.code == 2, r
    assert "Traceback" not in r.err and "Traceback" not in r.out, r
    assert r.err.startswith("error: ") and r.err.count("\n") == 1, r
    where = f"{file}:{line}:" if line is not None else f"{file}"
    assert where in r.err, (where, r)
    if words:
        assert words in r.err, (words, r)


def timed_cli(*args) -> "object":
    start = time.monotonic()
    r = run_cli(*args)
    took = time.monotonic() - start
    assert took < TIME_BOUND_S, f"costmodel {' '.join(map(str, args))} took {took:.1f} s"
    return r


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (to prove nothing changed outside --out)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def process(args: list[str], timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """``costmodel ARGS`` as a real process (for closed or failing standard streams)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **kw.pop("env", {})}
    code = "import sys; from costmodel.cli.app import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env,
                          timeout=timeout, capture_output=kw.pop("capture_output", True), **kw)
