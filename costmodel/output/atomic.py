"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``. A reader
(or a crash) sees the old file or the new one, never half of one; a folder that cannot be
written raises :class:`SpecError` and leaves whatever was there untouched.

* Only a regular file is ever replaced (or a new one created): a symbolic link, a device
  node (``--out /dev/null`` run as root), a FIFO or a folder at the target is refused, not
  silently swapped for a regular file.
* The temporary file is removed on every path Python can catch (an error, a full disk,
  Ctrl-C). One left by a process that was killed (``SIGKILL``, a power cut) carries that
  process's id in its name, ``.<target>.costmodel-<pid>-<random>.tmp``; the next write into
  the same folder sweeps those whose process is gone.
* :func:`write_set` writes several files as a set (``costmodel tables``): every target is
  checked first, everything is staged in a temporary folder next to them, then moved into
  place; a failure puts back the files already replaced, so the folder holds the old set or
  the new one.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from costmodel.errors import SpecError

TAG = "costmodel"
_TEMP_RE = re.compile(rf"^\..*\.{TAG}-(\d+)-[^.]+\.tmp$")
_STAGING_RE = re.compile(rf"^\.{TAG}-(\d+)-[^.]+\.staging$")


def ensure_dir(folder: "str | os.PathLike") -> Path:
    """The output folder, created if needed; a clear error if it cannot be written."""
    path = Path(folder)
    if path.is_symlink() and not path.is_dir():
        raise SpecError("the output path is a broken symbolic link", file=str(path))
    if path.exists() and not path.is_dir():
        raise SpecError("the output path exists and is not a folder", file=str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create the output folder: {exc.strerror or exc}",
                        file=str(path)) from None
    if not path.is_dir():
        raise SpecError("the output path exists and is not a folder", file=str(path))
    if not os.access(path, os.W_OK | os.X_OK):
        raise SpecError("the output folder is not writable; existing reports were left as they "
                        "were", file=str(path))
    return path


def check_target(path: "str | os.PathLike") -> None:
    """Refuse any target but a regular file or nothing, without following a symbolic link."""
    target = os.fspath(path)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise SpecError(f"cannot inspect the output path: {exc.strerror or exc}",
                        file=target) from None
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISLNK(mode):
        try:
            dest = os.readlink(target)
        except OSError:
            dest = "?"
        raise SpecError(f"the output path is a symbolic link (to {dest}); refusing to replace "
                        "it: give the path of the file itself", file=target)
    kind = ("a folder" if stat.S_ISDIR(mode) else "a device" if stat.S_ISCHR(mode) or
            stat.S_ISBLK(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    raise SpecError(f"the output path is {kind}, not a regular file; refusing to replace it",
                    file=target)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True         # someone else's process, or we cannot tell: leave it
    return True


def sweep_stale(folder: "str | os.PathLike") -> list[str]:
    """Remove this tool's temporary files and staging folders in ``folder`` whose writing
    process is gone (killed mid-write). Returns the names removed."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_RE.match(name) or _STAGING_RE.match(name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
        except OSError:
            pass
    return removed


def _prefix(name: str) -> str:
    return f".{name}.{TAG}-{os.getpid()}-"


def _write_temp(folder: Path, name: str, raw: bytes, mode: int) -> str:
    """A flushed temporary file in ``folder`` holding ``raw``; removed again on any error."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_prefix(name), suffix=".tmp")
    except OSError as exc:
        raise SpecError(f"cannot write to the folder: {exc.strerror or exc}; existing files "
                        "were left as they were", file=str(folder)) from None
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        _remove_quietly(tmp)
        raise SpecError(f"cannot write: {exc.strerror or exc}; the previous file was left as it "
                        "was", file=str(folder / name)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def write_atomic(path: "str | os.PathLike", data: "bytes | str") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, flushed to disk,
    then ``os.replace``: a reader sees the old file or the new one, never half of one. The new
    file keeps the permissions of the one it replaces (else 0666 less the umask: ``mkstemp``
    alone would make a committed report 0600). Anything but a regular file at ``path`` is
    refused."""
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    check_target(target)
    sweep_stale(target.parent)
    tmp = _write_temp(target.parent, target.name, raw, _mode_for(target))
    try:
        check_target(target)        # again: it may have changed while we wrote
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise SpecError(f"cannot write: {exc.strerror or exc}; the previous file was left as it "
                        "was", file=str(target)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


def write_set(folder: "str | os.PathLike", files: "dict[str, bytes]") -> list[Path]:
    """Write every file of ``files`` (name -> content) into ``folder`` as a set: all targets
    are checked before anything is written, all contents are staged in a temporary folder,
    then moved into place. On any error the files already moved are put back as they were
    and a SpecError says so: the folder holds the old set or the new one."""
    out = ensure_dir(folder)
    for name in files:
        if not name or "/" in name or name in (".", ".."):
            raise SpecError(f"not a plain file name: {name!r}", file=str(out))
        check_target(out / name)
    sweep_stale(out)
    try:
        staging = Path(tempfile.mkdtemp(dir=out, prefix=f".{TAG}-{os.getpid()}-",
                                        suffix=".staging"))
    except OSError as exc:
        raise SpecError(f"cannot write to the folder: {exc.strerror or exc}; existing files "
                        "were left as they were", file=str(out)) from None
    done: list[tuple[Path, Path | None]] = []     # (target, backup of the old file or None)
    try:
        staged = {}
        for name in sorted(files):
            tmp = _write_temp(staging, name, files[name], _mode_for(out / name))
            staged[name] = tmp
        for name in sorted(files):
            target = out / name
            check_target(target)
            backup = None
            if target.exists():
                backup = staging / f"{name}.old"
                try:
                    os.link(target, backup)
                except OSError:          # no hard links here: a copy does as well
                    shutil.copy2(target, backup)
            os.replace(staged[name], target)
            done.append((target, backup))
    except BaseException as exc:
        _roll_back(done)
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise SpecError(f"cannot write: {exc.strerror or exc}; the previous files were left "
                            "as they were", file=str(out)) from None
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in sorted(files)]


def _roll_back(done: list[tuple[Path, "Path | None"]]) -> None:
    for target, backup in reversed(done):
        try:
            if backup is None:
                os.unlink(target)
            else:
                os.replace(backup, target)
        except OSError:
            pass


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class atomic_open:
    """``with atomic_open(path, "w") as fh:``: a streamed file written through a temporary
    file in the target's folder, flushed, then ``os.replace``d on a clean exit; on any
    exception the temporary file is removed and the old file stays."""

    def __init__(self, path: "str | os.PathLike", mode: str = "w"):
        self.target = Path(path)
        self.mode = mode

    def __enter__(self):
        check_target(self.target)
        sweep_stale(self.target.parent)
        try:
            fd, self.tmp = tempfile.mkstemp(dir=self.target.parent, prefix=_prefix(self.target.name),
                                            suffix=".tmp")
        except OSError as exc:
            raise SpecError(f"cannot write to the folder: {exc.strerror or exc}",
                            file=str(self.target.parent)) from None
        os.chmod(self.tmp, _mode_for(self.target))
        kwargs = {} if "b" in self.mode else {"encoding": "utf-8", "newline": ""}
        self.fh = os.fdopen(fd, self.mode, **kwargs)
        return self.fh

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            self.fh.close()
            if exc_type is None:
                check_target(self.target)       # it may have changed while we wrote
                os.replace(self.tmp, self.target)
                return False
        except SpecError:
            _remove_quietly(self.tmp)
            raise
        except OSError as err:
            _remove_quietly(self.tmp)
            raise SpecError(f"cannot write: {err.strerror or err}; the previous file was left "
                            "as it was", file=str(self.target)) from None
        _remove_quietly(self.tmp)
        return False
