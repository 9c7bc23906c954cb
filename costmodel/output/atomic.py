"""Atomic file writes: a temporary file in the target's folder, then ``os.replace``. A reader
(or a crash) sees the old file or the new one, never half of one; a folder that cannot be
written raises :class:`SpecError` and leaves whatever was there untouched."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from costmodel.errors import SpecError


def ensure_dir(folder: "str | os.PathLike") -> Path:
    """The output folder, created if needed; a clear error if it cannot be written."""
    path = Path(folder)
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


def write_atomic(path: "str | os.PathLike", data: "bytes | str") -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, flushed to disk,
    then ``os.replace``: a reader sees the old file or the new one, never half of one. The new
    file keeps the permissions of the one it replaces (else 0666 less the umask: ``mkstemp``
    alone would make a committed report 0600)."""
    target = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise SpecError(f"cannot write to the folder: {exc.strerror or exc}; existing reports "
                        "were left as they were", file=str(target.parent)) from None
    try:
        os.chmod(tmp, _mode_for(target))
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _remove_quietly(tmp)
        raise SpecError(f"cannot write: {exc.strerror or exc}; the previous file was left as it "
                        "was", file=str(target)) from None
    except BaseException:
        _remove_quietly(tmp)
        raise


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
        try:
            fd, self.tmp = tempfile.mkstemp(dir=self.target.parent, prefix=f".{self.target.name}.",
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
                os.replace(self.tmp, self.target)
                return False
        except OSError as err:
            _remove_quietly(self.tmp)
            raise SpecError(f"cannot write: {err.strerror or err}; the previous file was left "
                            "as it was", file=str(self.target)) from None
        _remove_quietly(self.tmp)
        return False
