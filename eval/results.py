"""Run-folder I/O: atomic writers (JSON, JSON Lines, Parquet), the run manifest, readers.

Every writer writes a temporary file in the destination folder and renames it into place
with :func:`os.replace`, so a reader never sees half a file, even when a run is killed.
JSON is written with sorted keys and a fixed layout so that the same content gives the
same bytes; ``nan`` and infinities (which JSON cannot hold) are written as ``null``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import platform
import sys
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from detectors.files import atomic_path, atomic_write_bytes
from eval.matching import Instance, instances_from_records

#: Distributions whose versions a manifest records (label -> distribution names, first found wins).
MANIFEST_PACKAGES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "scipy": ("scipy",),
    "opencv": ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless",
               "opencv-contrib-python"),
    "mesa": ("mesa",),
    "torch": ("torch",),
    "pyarrow": ("pyarrow",),
    "stationwatch": ("stationwatch",),
}

#: Columns every scores table has: time [s], event type value, detector score.
SCORE_COLUMNS: tuple[str, ...] = ("t", "type", "score")


#: Kept under its old name for callers of this module.
write_bytes_atomic = atomic_write_bytes


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values from numpy scalars and arrays, enums, paths, dataclasses, tuples, sets.

    Non-finite floats become ``None``. Objects with a ``to_dict()`` method are converted
    with it. Mapping keys become strings.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj.value if isinstance(obj, enum.Enum) else obj
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, Mapping):
        return {str(to_jsonable(k)) if not isinstance(k, str) else k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(to_jsonable(v) for v in obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON: {obj!r}")


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    """Deterministic JSON text (sorted keys, ``nan`` as ``null``)."""
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON (see :func:`dumps_json`) atomically, with a final newline."""
    write_bytes_atomic(path, (dumps_json(obj) + "\n").encode("utf-8"))


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    """Write one compact JSON object per line atomically; returns the number of lines.

    Records may be mappings or objects with ``to_dict()`` (alerts, instances).
    """
    n = 0
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for rec in records:
                fh.write(json.dumps(to_jsonable(rec), sort_keys=True, ensure_ascii=False, allow_nan=False,
                                    separators=(", ", ": ")) + "\n")
                n += 1
    return n


def write_parquet(path: str | os.PathLike, table: Any, *, compression: str = "zstd") -> None:
    """Write a ``pyarrow.Table`` (or a mapping of equal-length columns) as Parquet atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(table, Mapping):
        table = pa.table({k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else np.asarray(v))
                          for k, v in table.items()})
    elif not isinstance(table, pa.Table):
        raise TypeError(f"table must be a pyarrow.Table or a mapping of columns; got {type(table).__name__}")
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=compression)


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file; errors name the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{os.fspath(path)}: not JSON ({exc.msg} at line {exc.lineno})") from None


def iter_jsonl(path: str | os.PathLike):
    """Yield ``(line number, parsed value)`` of a JSON Lines file, blank lines skipped; errors name the line."""
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                text = line.strip()
                shown = repr(text) if len(text) <= 60 else repr(text[:60]) + "..."
                raise ValueError(f"{os.fspath(path)}:{n}: not JSON ({exc.msg}): {shown}") from None


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Parse a JSON Lines file (blank lines skipped); errors name the line."""
    return [value for _, value in iter_jsonl(path)]


def package_versions() -> dict[str, str | None]:
    """Versions of python and the packages in :data:`MANIFEST_PACKAGES` (``None`` if absent).

    Read from the installed distributions' metadata: nothing is imported.
    """
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for label, dists in MANIFEST_PACKAGES.items():
        out[label] = None
        for dist in dists:
            try:
                out[label] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def manifest(scenario_name: str, scenario_hash: str, seed: int, extra: Mapping[str, Any] | None = None,
             *, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The manifest record: scenario, seed, package versions, platform and command line.

    It carries no clock time, so reruns with the same inputs write the same bytes.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an integer; got {seed!r}")
    record: dict[str, Any] = {
        "scenario": {"name": str(scenario_name), "hash": str(scenario_hash)},
        "seed": int(seed),
        "versions": package_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "command": list(sys.argv if argv is None else argv),
    }
    if extra:
        clash = sorted(set(extra) & set(record))
        if clash:
            raise ValueError(f"extra must not redefine manifest key(s) {clash}")
        record.update(extra)
    return record


def write_manifest(path: str | os.PathLike, scenario_name: str, scenario_hash: str, seed: int,
                   extra: Mapping[str, Any] | None = None, *, argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Write the run manifest (see :func:`manifest`) as JSON atomically; returns the record."""
    record = manifest(scenario_name, scenario_hash, seed, extra, argv=argv)
    write_json(path, record)
    return record


def read_ground_truth(path: str | os.PathLike) -> list[Instance]:
    """Read ``ground_truth.json``: a list of instance records, or an object with key ``instances``."""
    data = read_json(path)
    where = os.fspath(path)
    if isinstance(data, Mapping):
        if "instances" not in data:
            raise ValueError(f"{where}: expected a list of instances or an object with key 'instances'; "
                             f"got keys {sorted(data)}")
        data = data["instances"]
        where += ": instances"
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected a list of instance records; got {type(data).__name__}")
    return instances_from_records(data, where=where)


def write_ground_truth(path: str | os.PathLike, instances: Iterable[Instance], extra: Mapping[str, Any] | None = None
                       ) -> None:
    """Write instances as ``{"instances": [...], **extra}`` JSON atomically."""
    record: dict[str, Any] = {"instances": [x.to_dict() for x in instances]}
    if extra:
        if "instances" in extra:
            raise ValueError("extra must not redefine key 'instances'")
        record.update(extra)
    write_json(path, record)


def read_scores(path: str | os.PathLike, *, columns: Sequence[str] | None = None):
    """Read ``scores.parquet`` as a ``pyarrow.Table``; it must have columns ``t``, ``type``, ``score``."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=None if columns is None else list(columns))
    need = SCORE_COLUMNS if columns is None else tuple(c for c in SCORE_COLUMNS if c in columns)
    missing = [c for c in need if c not in table.column_names]
    if missing:
        raise ValueError(f"{os.fspath(path)}: missing column(s) {missing} (expected {list(SCORE_COLUMNS)}); "
                         f"got {table.column_names}")
    return table


#: File names inside a run folder.
MANIFEST_FILE = "manifest.json"
GROUND_TRUTH_FILE = "ground_truth.json"
SCORES_FILE = "scores.parquet"
ALERTS_FILE = "alerts.jsonl"
METRICS_FILE = "metrics.json"
TIMING_FILE = "timing.parquet"
