"""Atomic file writes: a reader sees a file complete or not at all, even when a run is killed.

The one writer every layer uses (``sim/`` may import this module, as it imports the
vocabulary of :mod:`detectors.events`). A file is written under a hidden temporary name
in its own folder and renamed onto its final name when complete; the temporary file is
removed on any error or interrupt. Files get mode 0644 (readable by everyone, as results
that people share), not the 0600 of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import Iterator

FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``, else delete it.

    For writers that want a file name (Parquet, a video encoder): keep the real extension
    in ``suffix`` when the writer picks its format from it (``suffix=".mp4"``). The folder
    must exist; a missing folder raises :class:`FileNotFoundError` naming it, a folder that
    cannot be written an :class:`OSError` (``PermissionError``...) naming ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: folder {folder!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix)
    except OSError as exc:  # a read-only folder, a full disk: name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, path) from None
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
