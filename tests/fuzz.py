"""One mutation engine for every format the testbed reads (scenario, site configuration, ground truth, alerts,
experiment): hypothesis strategies that break a valid document, and the check each format must pass.

A format's test gives a valid document and its loader::

    @settings(max_examples=1000, **FUZZ)
    @given(mutation(VALID))
    def test_site_mutations(mutated):
        loads_or_raises(lambda: SiteConfig.from_dict(mutated), SiteError, keys=keys_of(VALID))

A mutation picks a key path of the document and drops, duplicates, retypes, renames,
nests, empties, inflates (a huge list), pushes out of range or turns into NaN the value
there; :func:`corrupted` truncates a file's text and appends junk bytes (invalid UTF-8
among them) or repeats one of its lines (a key given twice). Every input must either load
or raise the format's own error class with a message naming a key; any other exception
fails the test, and nothing may be written.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st

#: the settings every fuzz test shares: no deadline (one example may validate a whole scenario), examples
#: derived from the test (derandomize) so that CI runs the same inputs every time
FUZZ = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.too_slow,
                                                                           HealthCheck.data_too_large]}

#: values of the wrong type or out of any range
ODD = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.sampled_from([10**400, -10**30, 2**63]),
                st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                st.lists(st.integers(-3, 3), max_size=3),
                st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))

HOWS = ("drop", "retype", "duplicate", "rename", "nest", "empty", "huge", "out_of_range", "nan")

#: the length of a "huge" list
HUGE = 2000


def key_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``obj`` (mapping keys and list indices), the root excluded."""
    out = []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        return out
    for k, v in items:
        out.append(prefix + (k,))
        out += key_paths(v, prefix + (k,))
    return out


def keys_of(obj: Any) -> set[str]:
    """Every mapping key of ``obj``, at any depth (the words an error message may name)."""
    return {str(p[-1]) for p in key_paths(obj) if isinstance(p[-1], str)}


def mutate(data: Any, path: tuple, how: str, value: Any) -> Any:
    """``data`` (a deep copy) with the value at ``path`` broken as ``how`` says (see :data:`HOWS`)."""
    data = copy.deepcopy(data)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    old = parent[key]
    if how == "drop":
        del parent[key]
    elif how == "retype":
        parent[key] = value
    elif how == "duplicate":
        if isinstance(parent, list):
            parent.insert(key, copy.deepcopy(old))
        else:
            parent[key] = [old, copy.deepcopy(old)]
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    elif how == "nest":
        parent[key] = {"value": old} if not isinstance(old, dict) else [old]
    elif how == "empty":
        parent[key] = [] if isinstance(old, list) else {} if isinstance(old, dict) else ""
    elif how == "huge":
        parent[key] = [copy.deepcopy(old[0]) if isinstance(old, list) and old else old] * HUGE
    elif how == "out_of_range":
        parent[key] = (-old * 10**6 - 1) if isinstance(old, (int, float)) and not isinstance(old, bool) else 10**9
    elif how == "nan":
        parent[key] = math.nan if not isinstance(old, list) else [math.nan] * max(1, len(old))
    return data


def mutation(valid: Any) -> st.SearchStrategy:
    """Documents ``valid`` broken once at one key path."""
    paths = key_paths(valid)
    return st.builds(lambda p, h, v: mutate(valid, p, h, v), st.sampled_from(paths), st.sampled_from(HOWS), ODD)


def corrupted(text: bytes) -> st.SearchStrategy:
    """``text`` cut anywhere, then junk appended (random bytes, invalid UTF-8 among them), or one of its lines
    repeated (a key given twice)."""
    lines = text.splitlines(keepends=True)

    def repeat(k: int) -> bytes:
        k %= max(1, len(lines))
        return b"".join(lines[:k + 1] + lines[k:])

    cut = st.builds(lambda n, junk: text[:n] + junk, st.integers(0, len(text)),
                    st.one_of(st.binary(max_size=8), st.sampled_from([b"\xff\xfe", b"\xc3", b"\x00", b"\t:"])))
    return st.one_of(cut, st.integers(0, len(lines)).map(repeat))


def loads_or_raises(load: Callable[[], Any], error: type[Exception], *, keys: set[str], prefix: str | tuple = "",
                    one_line: bool = True, watch: str | os.PathLike | None = None) -> Exception | None:
    """Run ``load``: it returns, or raises ``error`` whose message starts with ``prefix`` (or one of a tuple) and
    names one of ``keys`` (or the line or character, for text that does not parse); every other exception
    propagates. ``watch`` is a folder in which nothing may appear. Returns the error, if any."""
    before = sorted(os.listdir(watch)) if watch is not None else None
    raised = None
    try:
        load()
    except error as exc:
        raised = exc
        msg = str(exc)
        assert msg.startswith(prefix), msg
        assert not one_line or "\n" not in msg, msg
        assert any(k in msg for k in keys) or any(w in msg for w in ("line", "character", "UTF-8")), msg
    if watch is not None:
        assert sorted(os.listdir(watch)) == before, "the loader wrote a file"
    return raised


@pytest.fixture(scope="module", autouse=True)
def workdir(tmp_path_factory):
    """A folder for the inputs, also the working directory: nothing else may appear in it (a fuzz test module
    imports this fixture; autouse, it applies to the whole module)."""
    folder = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        yield folder


def write_bytes(folder: Path, name: str, data: bytes) -> Path:
    path = Path(folder) / name
    path.write_bytes(data)
    return path
