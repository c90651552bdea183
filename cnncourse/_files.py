"""Safe file writing, shared by the downloads (:mod:`cnncourse.data`) and the checkpoints
(:mod:`cnncourse.train.checkpoint`).

- :func:`atomic_write`: write through a temporary file, then rename it over the target, so a
  reader never sees half a file.
- :func:`sha256_file`: the hex SHA-256 of a file, read in chunks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Any], Any],
    *,
    check: Callable[[Path], Any] | None = None,
) -> Path:
    """Write through ``write(file)`` into a temporary file, then rename it over ``path``.

    ``os.replace`` is atomic on POSIX and Windows: readers see the old file or the new one,
    never half of one, even if the process dies mid-write.

    Parameters
    ----------
    path : path
        The file to create or replace; its folder is created if needed.
    write : callable
        Called once with the open binary temporary file.
    check : callable, optional
        Called with the finished temporary file's path before the rename (e.g. to verify a
        download's checksum); if it raises, ``path`` is left untouched.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
