"""Hostile suite, family "CLI misuse and output": text from specs and paths reaches the
terminal escaped (no rich markup parsed, no control character), and closed, full or narrow
output streams give one line on stderr and a non-zero exit, never a traceback."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import run_cli
from hostile import assert_located, process, spec_text, write

CONV = "  - {op: conv2d, out: 4, kernel: 1, name: conv}\n"
NASTY = ["[/]", "[bold red]x", "exp[v2]", "a\x1b[2Jb", "tab\there", "cr\rlf", "rtl\u202eabc"]


def _yaml_str(s: str) -> str:
    return json.dumps(s)          # a JSON string is a YAML double-quoted scalar


@pytest.mark.parametrize("name", NASTY)
def test_model_name_is_printed_as_written(tmp_path, name):
    spec = write(tmp_path / "s.yaml", spec_text(CONV, name=_yaml_str(name)))
    r = run_cli("profile", spec)
    assert r.code == 0, r
    assert "\x1b" not in r.out and "\r" not in r.out and "\u202e" not in r.out
    shown = name.replace("\x1b", "\\x1b").replace("\t", "\\x09").replace("\r", "\\x0d") \
        .replace("\u202e", "\\u202e")
    assert shown in r.out, (shown, r.out[:400])


def test_bracketed_path_survives_in_messages(tmp_path):
    folder = tmp_path / "exp[v2]"
    folder.mkdir()
    spec = write(folder / "bad.yaml", spec_text("  - {op: conv2d, out: 0, kernel: 1}\n"))
    r = run_cli("profile", spec)
    assert_located(r, spec, 4)
    specs = tmp_path / "specs[1]"
    specs.mkdir()
    write(specs / "t.yaml", spec_text(CONV))
    r = run_cli("lock", specs, "--out", specs / "b[x].json")
    assert r.code == 0 and "b[x].json" in r.out, r


def test_markup_in_names_through_lock_check_sweep(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs / "t.yaml", spec_text("  - {op: conv2d, out: w, kernel: 1, name: conv}\n",
                                      name='"[/]\\e[31m"', extra="settings: {w: 4}\n"))
    out = tmp_path / "b.json"
    assert run_cli("lock", specs, "--out", out).code == 0
    r = run_cli("check", specs, "--baseline", out)
    assert r.code == 0 and "\x1b" not in r.out, r
    (specs / "t.yaml").write_text((specs / "t.yaml").read_text().replace("{w: 4}", "{w: 5}"))
    r = run_cli("check", specs, "--baseline", out)
    assert r.code == 1 and "[/]\\x1b[31m" in r.out and "\x1b" not in r.out, r
    r = run_cli("sweep", specs / "t.yaml", "--grid", "w=2,3")
    assert r.code == 0 and "[/]\\x1b[31m" in r.out and "\x1b" not in r.out, r


def test_control_characters_in_error_messages(tmp_path):
    spec = write(tmp_path / "s.yaml", spec_text("  - {op: \"conv\\e[2J\"}\n"))
    r = run_cli("profile", spec)
    assert_located(r, spec, 4)
    assert "\x1b" not in r.err


@pytest.mark.parametrize("args", [
    ["profile"], ["profile", "--format", "xml", "mobilenet_v1"], ["nosuchcommand"],
    ["[/]"], ["profile", "mobilenet_v1", "--set", "[/]=1"], ["profile", "mobilenet_v1", "--set"],
    ["check", "--tolerance", "[red]", "--baseline", "/nonexistent[x].json"],
    ["profile", "\x1b[2J"],
])
def test_cli_misuse_exits_2_without_a_traceback(args):
    r = run_cli(*args)
    assert r.code == 2, r
    assert "Traceback" not in r.err + r.out and "\x1b[2J" not in r.err + r.out, r


# --- streams that cannot take the output (real processes) ---------------------------------------
def test_closed_stdout_shell(tmp_path):
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh")
    import os
    import subprocess
    import sys
    env = {**os.environ, "PYTHONPATH": str(__import__("conftest").ROOT)}
    code = "import sys; from costmodel.cli.app import main; main(sys.argv[1:])"
    r = subprocess.run([sh, "-c", f'"{sys.executable}" -c "{code}" profile mobilenet_v1 >&-'],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "standard output is closed" in r.stderr


def test_full_disk_stdout():
    with open("/dev/full", "w") as full:
        r = process(["profile", "mobilenet_v1"], stdout=full, stderr=-1, capture_output=False,
                    text=True)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "No space left" in r.stderr


def test_ascii_terminal():
    r = process(["profile", "mobilenet_v1"], env={"PYTHONIOENCODING": "ascii"}, text=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "mobilenet_v1" in r.stdout


def test_pipe_closed_by_head_is_quiet():
    import os
    import subprocess
    import sys
    env = {**os.environ, "PYTHONPATH": str(__import__("conftest").ROOT)}
    code = "import sys; from costmodel.cli.app import main; main(sys.argv[1:])"
    p = subprocess.Popen([sys.executable, "-c", code, "profile", "mobilenet_v1", "--format", "csv"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.readline()
    p.stdout.close()                 # the reader goes away, as `head -1` does
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    # all of it may have fitted in the pipe's buffer before the close (exit 0); if not, the
    # broken pipe ends the run quietly, non-zero
    assert p.returncode in (0, 1, 141) and err == "", (p.returncode, err)
