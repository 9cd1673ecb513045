"""Atomic file writes: a reader sees a file complete or not at all, even when a run is killed; strict YAML.

The one writer every layer uses (``sim/`` may import this module, as it imports the
vocabulary of :mod:`detectors.events`). A file is written under a hidden temporary name
in its own folder and renamed onto its final name when complete; the temporary file is
removed on any error or interrupt. Files get mode 0644 (readable by everyone, as results
that people share), not the 0600 of :func:`tempfile.mkstemp`.

:func:`load_yaml` reads the YAML files of every layer (scenarios, site configurations,
experiments) with one rule more than ``yaml.safe_load``: a key given twice is an error;
:func:`read_text` and :func:`read_yaml` read a user's file and raise the format's own error
class, in one line, for a file missing, unreadable, not UTF-8 or not YAML.
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


def check_writable(path: str | os.PathLike) -> None:
    """Raise now, before minutes of work, the error that writing ``path`` later would raise: a missing folder
    (:class:`FileNotFoundError`), a folder under that name (:class:`IsADirectoryError`), a folder that cannot be
    written (:class:`OSError` naming ``path``). A temporary file is made and removed to find out."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {os.fspath(path)}: it is a folder; expected a file name")
    try:
        with atomic_path(path):
            raise _Probed
    except _Probed:
        pass


class _Probed(Exception):
    """Raised inside :func:`check_writable`'s ``atomic_path``: its temporary file is deleted, not renamed."""


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


def read_text(path: str | os.PathLike, error: type[Exception], what: str) -> str:
    """The UTF-8 text of a file a user gave; a missing, unreadable or non-UTF-8 file raises ``error`` (the format's
    own class) in one line naming it as ``what`` ("site configuration", "ground-truth file")."""
    where = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise error(f"{what} {where!r} does not exist") from None
    except OSError as exc:
        raise error(f"{what} {where!r} cannot be read: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text (byte {exc.start})") from None


def read_yaml(path: str | os.PathLike, error: type[Exception], what: str):
    """:func:`read_text`, then :func:`load_yaml`: text that is not YAML (or a key given twice) raises ``error``
    naming the file, line and column."""
    import yaml

    text = read_text(path, error, what)
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        raise error(f"{os.fspath(path)}: not YAML {yaml_problem(exc)}") from None
    except RecursionError:
        raise error(f"{os.fspath(path)}: not YAML (nested too deeply)") from None


def load_yaml(text: str):
    """Parse YAML text like ``yaml.safe_load``, but a key given twice in one mapping is an error.

    PyYAML keeps the last of duplicate keys silently (``seed: 1`` then ``seed: 2`` gives 2):
    a typo or a pasted line would change a file's meaning unseen. Raises
    ``yaml.YAMLError`` (a ``ConstructorError`` naming the key and its line) for it, as for
    any text that is not YAML.
    """
    import yaml

    return yaml.load(text, Loader=_unique_key_loader())


def yaml_problem(exc: Exception) -> str:
    """One line saying where and what a YAML error is: ``at line 3, column 1 (found duplicate key 'seed')``."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow (a NUL byte, a control code)
        return f"at character {exc.position + 1} (character {exc.character!r} is not allowed in YAML)"
    mark = getattr(exc, "problem_mark", None)
    at = f"at line {mark.line + 1}, column {mark.column + 1} " if mark is not None else ""
    return at + "(" + " ".join(str(getattr(exc, "problem", None) or exc).split()) + ")"


_LOADER = None


def _unique_key_loader():
    global _LOADER
    if _LOADER is None:
        import yaml

        class UniqueKeyLoader(yaml.SafeLoader):
            def construct_mapping(self, node, deep=False):
                if isinstance(node, yaml.MappingNode):
                    seen = set()
                    for key_node, _ in node.value:
                        if key_node.tag == "tag:yaml.org,2002:merge":  # keys merged in (<<) may be overridden
                            continue
                        key = self.construct_object(key_node, deep=True)
                        try:
                            duplicate = key in seen
                            seen.add(key)
                        except TypeError:  # an unhashable key: SafeLoader's own error follows
                            duplicate = False
                        if duplicate:
                            raise yaml.constructor.ConstructorError(
                                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}",
                                key_node.start_mark)
                return super().construct_mapping(node, deep=deep)

        _LOADER = UniqueKeyLoader
    return _LOADER
