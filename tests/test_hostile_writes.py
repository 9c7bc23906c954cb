"""Hostile suite, family "writes": nothing is lost or clobbered. The atomic writer refuses
anything but a regular file, never follows a symbolic link, leaves no temporary file on any
path it can catch and sweeps those of killed runs; `tables` writes its set as a set.
Kill tests SIGKILL `lock` and the `tables` writer at random moments (a forked child, so a
trial costs milliseconds) and check that each file is the old one or the new one, whole, and
that the next run leaves no temporary file behind."""
from __future__ import annotations

import json
import os
import random
import signal
import stat
import time
from pathlib import Path

import pytest

from conftest import run_cli
from costmodel.errors import SpecError
from costmodel.output import atomic
from hostile import assert_located, snapshot, spec_text, write

CONV = "  - {op: conv2d, out: 4, kernel: 1}\n"


def leftovers(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith((".tmp", ".staging")))


# --- targets that are not regular files --------------------------------------------------------
def test_symlink_target_is_refused_and_left_alone(tmp_path):
    real = write(tmp_path / "real.json", "old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(SpecError, match="symbolic link"):
        atomic.write_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "old" and leftovers(tmp_path) == []


def test_dangling_symlink_target_is_refused(tmp_path):
    link = tmp_path / "b.json"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(SpecError, match="symbolic link"):
        atomic.write_atomic(link, "new")
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


def test_fifo_and_directory_targets_are_refused(tmp_path):
    os.mkfifo(tmp_path / "p")
    (tmp_path / "d").mkdir()
    for name, kind in (("p", "FIFO"), ("d", "folder")):
        with pytest.raises(SpecError, match=kind):
            atomic.write_atomic(tmp_path / name, "x")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "p").st_mode) and (tmp_path / "d").is_dir()
    assert leftovers(tmp_path) == []


def test_device_target_is_refused():
    """`--out /dev/null` (run as root, as CI often is) must never replace /dev/null."""
    with pytest.raises(SpecError, match="a device"):
        atomic.check_target("/dev/null")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_lock_and_sweep_out_to_a_device_exit_2(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    write(specs / "t.yaml", spec_text("  - {op: conv2d, out: w, kernel: 1}\n",
                                      extra="settings: {w: 4}\n"))
    assert_located(run_cli("lock", specs, "--out", "/dev/null"), "/dev/null", words="device")
    r = run_cli("sweep", specs / "t.yaml", "--grid", "w=2,4", "--out", "/dev/null")
    assert_located(r, "/dev/null", words="device")
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_full_disk_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = write(tmp_path / "b.json", "old")
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(SpecError, match="No space left"):
        atomic.write_atomic(target, "new")
    monkeypatch.setattr(atomic.os, "fsync", real_fsync)
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_interrupt_leaves_no_temp(tmp_path, monkeypatch):
    target = write(tmp_path / "b.json", "old")
    monkeypatch.setattr(atomic.os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(target, "new")
    assert target.read_text() == "old" and leftovers(tmp_path) == []


def test_stale_temp_of_a_dead_process_is_swept_but_not_a_live_one(tmp_path):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)                       # a pid that is gone
    dead = tmp_path / f".b.json.costmodel-{pid}-abc.tmp"
    live = tmp_path / f".b.json.costmodel-{os.getppid()}-abc.tmp"   # our parent is alive
    other = tmp_path / ".b.json.someone-else.tmp"
    for p in (dead, live, other):
        p.write_text("partial")
    (tmp_path / f".costmodel-{pid}-xyz.staging").mkdir()
    atomic.write_atomic(tmp_path / "b.json", "new")
    assert not dead.exists() and live.exists() and other.exists()
    assert not (tmp_path / f".costmodel-{pid}-xyz.staging").exists()


# --- tables: the whole set or nothing -------------------------------------------------------------
def test_write_set_with_a_late_folder_target_writes_nothing(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    files = {f"t{i:02d}.md": f"new {i}".encode() for i in range(32)}
    for name in files:
        (out / name).write_text("old")
    (out / "t31.md").unlink()
    (out / "t31.md").mkdir()                 # the last target is a folder
    before = snapshot(out)
    with pytest.raises(SpecError, match="folder"):
        atomic.write_set(out, files)
    assert snapshot(out) == before and leftovers(out) == []


def test_write_set_failing_mid_move_puts_the_old_set_back(tmp_path, monkeypatch):
    out = tmp_path / "reports"
    out.mkdir()
    files = {f"t{i:02d}.md": f"new {i}".encode() for i in range(10)}
    for name in list(files)[:6]:
        (out / name).write_text("old")       # 6 old reports, 4 new ones
    before = snapshot(out)
    real_replace, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 8:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)
    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(SpecError, match="Input/output error"):
        atomic.write_set(out, files)
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert snapshot(out) == before and leftovers(out) == []
    atomic.write_set(out, files)
    assert snapshot(out) == files


# --- kill tests ---------------------------------------------------------------------------------
def _kill_trial(work, target: Path, at: "float | None", folder: Path) -> bool:
    """Fork; the child runs ``work()``; SIGKILL it after ``at`` seconds, or (``at`` None) as
    soon as a temporary file of ours appears in ``folder``."""
    pid = os.fork()
    if pid == 0:
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 1)
                os.dup2(null.fileno(), 2)
            work()
        finally:
            os._exit(0)
    deadline = time.monotonic() + 10
    if at is not None:
        time.sleep(at)
    else:
        while time.monotonic() < deadline:
            if leftovers(folder) or os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    return bool(leftovers(folder))


def test_sigkill_lock_old_or_new_and_swept(tmp_path):
    from costmodel.cli.app import main
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(4):
        write(specs / f"t{i}.yaml", spec_text(CONV.replace("out: 4", f"out: {4 + i}"), name=f"t{i}"))
    out = tmp_path / "base" / "b.json"
    out.parent.mkdir()
    old_text = json.dumps({"not": "a baseline, the old file"})
    rng = random.Random(18)
    # the new content, as an undisturbed run writes it
    assert run_cli("lock", specs, "--out", out).code == 0
    new = out.read_bytes()
    start = time.monotonic()
    trials = caught = 0
    for trial in range(10):
        out.write_text(old_text)
        at = None if trial % 2 else rng.uniform(0, 0.05)

        def work():
            try:
                main(["lock", str(specs), "--out", str(out)])
            except SystemExit:
                pass
        caught += _kill_trial(work, out, at, out.parent)
        trials += 1
        assert out.read_bytes() in (old_text.encode(), new), f"trial {trial}: torn file"
        # the next run sweeps what a killed one left
        assert run_cli("lock", specs, "--out", out).code == 0
        assert leftovers(out.parent) == [] and out.read_bytes() == new
        if time.monotonic() - start > 8:
            break
    assert trials >= 4
    print(f"lock: {trials} kills, {caught} with a temporary file left")


def test_sigkill_tables_writer_old_or_new_and_swept(tmp_path):
    """The writer of `costmodel tables` (papers.reports.write: write_set) killed at random
    moments: each report is the old one or the new one, and the next run sweeps."""
    from costmodel.papers import reports
    out = tmp_path / "reports"
    out.mkdir()
    old = {f"r{i:02d}.md": (f"old {i}\n" * 2000).encode() for i in range(24)}
    new = {name: (f"new {name}\n" * 4000).encode() for name in old}
    rng = random.Random(1818)
    start = time.monotonic()
    caught = 0
    for trial in range(10):
        for name, data in old.items():
            (out / name).write_bytes(data)
        at = None if trial % 2 else rng.uniform(0, 0.02)
        caught += _kill_trial(lambda: reports.write(new, out), out, at, out)
        for name in old:
            assert (out / name).read_bytes() in (old[name], new[name]), f"trial {trial}: {name}"
        reports.write(new, out)
        assert leftovers(out) == [] and snapshot(out) == new
        if time.monotonic() - start > 8:
            break
    print(f"tables: {trial + 1} kills, {caught} with temporary files left")
