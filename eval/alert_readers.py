"""Read alerts that any system recorded: the project's JSON Lines, or CSV with a column mapping.

JSON Lines is the alerts format of the README (``{"camera", "type", "t", "score", "bbox"}``
per line). A CSV file from another system is read through an :class:`AlertFormat`: which
column holds each field, how the system names the event types, and the unit of its time
column::

    fmt = AlertFormat(format="csv", columns={"camera": "cam_id", "type": "label", "t": "time_ms",
                                             "score": "confidence", "x": "x", "y": "y", "w": "w", "h": "h"},
                      type_map={"Intrusion": "intrusion", "Fall": "person_on_ground"}, time_unit="ms")
    alerts = read_alerts_file("vendor.csv", fmt)

Fields: ``camera`` (optional when ``camera=`` is given), ``type``, ``t`` or ``frame`` (with
``fps=``; ``time_unit="frame"`` reads ``t`` as a frame index), ``score`` (optional: 1.0),
and the box ``x, y, w, h`` (optional; all four or none; an empty cell means no box). Every
error is an :class:`AlertFileError` naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from typing import Literal, Mapping, Sequence

from detectors.events import Alert, EventType

#: fields a CSV column mapping may name
CSV_FIELDS = ("camera", "type", "t", "frame", "score", "x", "y", "w", "h")
_BOX = ("x", "y", "w", "h")


class AlertFileError(ValueError):
    """An alerts file that cannot be read; the message names the file, line and column."""


@dataclass(frozen=True)
class AlertFormat:
    """How to read an alerts file (see the module docstring)."""

    format: Literal["jsonl", "csv"] = "jsonl"
    columns: Mapping[str, str] = field(default_factory=dict)  #: field -> CSV column name
    type_map: Mapping[str, str] = field(default_factory=dict)  #: the system's label -> event type
    time_unit: Literal["s", "ms", "frame"] = "s"

    def __post_init__(self) -> None:
        if self.format not in ("jsonl", "csv"):
            raise AlertFileError(f"format must be jsonl or csv; got {self.format!r}")
        if self.time_unit not in ("s", "ms", "frame"):
            raise AlertFileError(f"time_unit must be s, ms or frame; got {self.time_unit!r}")
        unknown = sorted(set(self.columns) - set(CSV_FIELDS))
        if unknown:
            raise AlertFileError(f"columns: unknown field(s) {', '.join(map(repr, unknown))} (fields: "
                                 f"{', '.join(CSV_FIELDS)})")
        if self.columns and self.format != "csv":
            raise AlertFileError(f"columns: a column mapping is for format csv; got format {self.format!r}")
        box = [k for k in _BOX if k in self.columns]
        if box and len(box) != 4:
            raise AlertFileError(f"columns: the box needs all of x, y, w, h or none; got {', '.join(box)}")
        if "t" in self.columns and "frame" in self.columns:
            raise AlertFileError("columns: give t or frame, not both")
        for label, name in self.type_map.items():
            _parse_type(name, f"type_map[{label!r}]")


def _parse_type(name: str, where: str) -> EventType:
    try:
        return EventType.parse(name, field=where)
    except ValueError as exc:
        raise AlertFileError(str(exc)) from None


def parse_mapping(text: str | None, *, what: str) -> dict[str, str]:
    """``"a=b,c=d"`` as ``{"a": "b", "c": "d"}`` (command-line mappings); errors name ``what``."""
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise AlertFileError(f"{what} expects NAME=VALUE pairs separated by commas (e.g. camera=cam_id,t=time); "
                                 f"got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def read_alerts_file(path: str | os.PathLike, fmt: AlertFormat | None = None, *, camera: str | None = None,
                     fps: float | None = None) -> list[Alert]:
    """Read ``path`` (JSON Lines by default, or as ``fmt`` says).

    ``camera`` names the camera of alerts whose file gives none (a CSV without a camera
    column); ``fps`` converts frame indices to seconds (``t = frame / fps``).
    """
    fmt = fmt or AlertFormat(format="csv" if os.fspath(path).lower().endswith(".csv") else "jsonl")
    where = os.fspath(path)
    try:
        if fmt.format == "jsonl":
            return _read_jsonl(path, where, fmt, camera, fps)
        with open(path, encoding="utf-8", newline="") as fh:
            return _read_csv(fh, where, fmt, camera, fps)
    except FileNotFoundError:
        raise AlertFileError(f"alerts file {where!r} does not exist") from None
    except UnicodeDecodeError as exc:
        raise AlertFileError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise AlertFileError(f"alerts file {where!r} cannot be read: {exc.strerror}") from None


def _read_jsonl(path, where: str, fmt: AlertFormat, camera: str | None, fps: float | None) -> list[Alert]:
    from eval.results import iter_jsonl

    out = []
    lines = iter_jsonl(path)
    while True:
        try:
            n, d = next(lines)
        except StopIteration:
            break
        except ValueError as exc:  # not JSON: the message names the line
            raise AlertFileError(str(exc)) from None
        if not isinstance(d, dict):
            raise AlertFileError(f"{where}:{n}: expected an object {{camera, type, t, score, bbox}}; "
                                 f"got {type(d).__name__}")
        if camera is not None and "camera" not in d:
            d = {**d, "camera": camera}
        if fmt.type_map and d.get("type") in fmt.type_map:
            d = {**d, "type": fmt.type_map[d["type"]]}
        if fmt.time_unit != "s" and "t" in d:
            d = {**d, "t": _seconds(d["t"], fmt.time_unit, fps, f"{where}:{n}: t")}
        try:
            out.append(Alert.from_dict(d, where=f"{where}:{n}"))
        except (ValueError, TypeError) as exc:
            raise AlertFileError(str(exc)) from None
    return out


def _read_csv(fh, where: str, fmt: AlertFormat, camera: str | None, fps: float | None) -> list[Alert]:
    cols = dict(fmt.columns) or {k: k for k in CSV_FIELDS}
    try:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample.strip() else csv.excel
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(fh, dialect=dialect)
    header = reader.fieldnames or []
    if not fmt.columns:  # default mapping: the fields that are there under their own names
        cols = {k: k for k in CSV_FIELDS if k in header}
    missing = [f"{k} (column {c!r})" for k, c in cols.items() if c not in header]
    if missing:
        raise AlertFileError(f"{where}: missing column(s) {', '.join(missing)}; the header has {header}")
    if "type" not in cols:
        raise AlertFileError(f"{where}: no type column (map one with columns type=NAME); the header has {header}")
    if "t" not in cols and "frame" not in cols:
        raise AlertFileError(f"{where}: no time column (map t=NAME or frame=NAME); the header has {header}")
    if "camera" not in cols and camera is None:
        raise AlertFileError(f"{where}: no camera column; map camera=NAME or give the camera name")
    out = []
    for n, row in enumerate(reader, 2):
        if not any((v or "").strip() for v in row.values()):
            continue
        at = f"{where}:{n}"

        def cell(k: str) -> str:
            v = row.get(cols[k])
            return "" if v is None else v.strip()

        label = cell("type")
        etype = _parse_type(fmt.type_map.get(label, label), f"{at}: column {cols['type']!r}")
        if "frame" in cols:
            t = _seconds(cell("frame"), "frame", fps, f"{at}: column {cols['frame']!r}")
        else:
            t = _seconds(cell("t"), fmt.time_unit, fps, f"{at}: column {cols['t']!r}")
        score = _number(cell("score"), f"{at}: column {cols['score']!r}") if "score" in cols else 1.0
        bbox = None
        if "x" in cols:
            raw = [cell(k) for k in _BOX]
            if any(raw) and not all(raw):
                raise AlertFileError(f"{at}: the box needs all of {', '.join(cols[k] for k in _BOX)} or none; "
                                     f"got {raw}")
            if all(raw):
                bbox = tuple(_number(v, f"{at}: column {cols[k]!r}") for k, v in zip(_BOX, raw))
        cam = cell("camera") if "camera" in cols else camera
        if not cam:
            raise AlertFileError(f"{at}: column {cols.get('camera')!r} is empty; expected a camera name")
        try:
            out.append(Alert(camera=cam, type=etype, t=t, score=score, bbox=bbox))
        except ValueError as exc:
            raise AlertFileError(f"{at}: {exc}") from None
    return out


def _number(text, where: str) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise AlertFileError(f"{where}: expected a number; got {_short(text)}") from None
    if not math.isfinite(v):
        raise AlertFileError(f"{where}: expected a finite number; got {_short(text)}")
    return v


def _seconds(value, unit: str, fps: float | None, where: str) -> float:
    v = _number(value, where)
    if unit == "ms":
        return v / 1000.0
    if unit == "frame":
        if not fps:
            raise AlertFileError(f"{where}: frame indices need the stream's frame rate (fps)")
        return v / float(fps)
    return v


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def check_cameras(alerts: Sequence[Alert], known: Sequence[str], *, where: str) -> None:
    """Raise naming the first alert whose camera is not among ``known``."""
    known_set = set(known)
    for k, a in enumerate(alerts):
        if a.camera not in known_set:
            raise AlertFileError(f"{where}: alert {k} names camera {a.camera!r}; the cameras are "
                                 f"{', '.join(sorted(known_set))}")


def past_end(alerts: Sequence[Alert], duration_s: Mapping[str, float]) -> list[int]:
    """Indices of alerts later than their camera's footage (``t >= duration``)."""
    return [k for k, a in enumerate(alerts) if a.camera in duration_s and a.t >= duration_s[a.camera]]
