"""Atomic file writes: a temp file in the same folder, then a rename, so readers never see half a file. Files get
the mode a plain open() gives under the umask (temp files are created 0600), unless they are `private`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_bytes(path: Path, data: bytes, private: bool = False) -> None:
    """Replace `path` with `data` atomically."""
    write_with(path, lambda fh: fh.write(data), private)


def write_with(path: Path, writer: Callable[[BinaryIO], object], private: bool = False) -> None:
    """Let `writer` fill a temp file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
            if not private:
                os.fchmod(fh.fileno(), 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_default_mode(path: Path) -> None:
    """Give a folder made by tempfile.mkdtemp (0700) the mode a plain mkdir() gives under the umask."""
    os.chmod(path, 0o777 & ~umask())


def umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask can only set it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current
