"""Shared test helpers: run the CLI in-process and write small specs."""
from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "costmodel" / "zoo"


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"Result(code={self.code}, out={self.out[:300]!r}, err={self.err[:300]!r})"


def run_cli(*args: str) -> Result:
    """Run `costmodel ARGS` in-process, through the same entry point as the console script."""
    from costmodel.cli.app import main
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def write_spec(tmp_path):
    """write_spec(text, name='spec.yaml') -> path of a dedented YAML file in tmp_path."""
    def _write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        return path
    return _write


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module that runs torch (``pytestmark = pytest.mark.usefixtures
    ("one_torch_thread")``): on a loaded machine torch's thread pool spins and a small forward
    pass takes seconds instead of milliseconds. Counts do not depend on it."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_registry(tmp_path: Path, text: str) -> Path:
    """A registry folder holding one paper file (``text``, dedented) under ``tmp_path``."""
    folder = tmp_path / "reg"
    folder.mkdir(parents=True)
    (folder / "paper.yaml").write_text(textwrap.dedent(text).lstrip("\n"))
    return folder
