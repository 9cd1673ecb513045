"""Loading scenario files: the library, ``extend`` chains, dotted overrides, layout and timetable expansion.

A scenario can ``extend`` another one (by library name or by path) and override keys:
mappings merge key by key, lists and scalars replace. The library lives in the
``scenarios`` folder of the repository (shipped as package data); files whose name starts
with ``_`` are bases that :func:`list_scenarios` does not show.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from detectors.files import read_yaml
from sim.errors import ScenarioError
from sim.scenario.keys import format_validation_error, set_dotted
from sim.scenario.layout import LayoutPiece, expand_layout
from sim.scenario.scenario import Scenario, validate_scenario
from sim.scenario.trains import TimetableSpec


def library_dir() -> Path:
    """The folder holding the scenario library (``scenarios/`` in the repository)."""
    # The repository keeps scenarios/ beside sim/ (this file is sim/scenario/loader.py); an installed wheel puts the data package
    # scenarios/ beside sim/ in site-packages, so the same relative path serves both.
    return Path(__file__).resolve().parent.parent.parent / "scenarios"


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every scenario in the library, sorted by name."""
    out = []
    for path in sorted(library_dir().glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        sc = load_scenario(path)
        out.append((sc.name, sc.description.strip().splitlines()[0] if sc.description.strip() else ""))
    return out


def _resolve_path(ref: str | os.PathLike, base_dir: Path | None = None) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_absolute() and base_dir is not None and (base_dir / p).exists():
            return base_dir / p
        if p.exists():
            return p
        lib = library_dir() / p.name
        if lib.exists():
            return lib
        raise ScenarioError(f"scenario file {os.fspath(ref)!r} does not exist")
    if p.exists() and (os.sep in os.fspath(ref) or p.suffix):  # a path, not a library name
        raise ScenarioError(f"{os.fspath(ref)!r} is not a scenario: scenario files end in .yaml or .yml, and a "
                            f"library scenario is given by its name (stationwatch scenarios lists them)")
    if base_dir is not None and (base_dir / f"{ref}.yaml").exists():
        return base_dir / f"{ref}.yaml"
    lib = library_dir() / f"{ref}.yaml"
    if lib.exists():
        return lib
    names = ", ".join(n for n, _ in list_scenarios())
    raise ScenarioError(f"no scenario named {os.fspath(ref)!r} in the library ({names})")


_PARSED_FILES = 64  #: scenario files whose parsed YAML the process keeps
_parsed: dict[bytes, dict] = {}  # SHA-256 of a file's bytes -> its mapping


def _read_yaml(path: Path) -> dict:
    """The file's mapping (a fresh copy: callers merge into it). The parse is kept per content of the
    file: a grid loads the same scenario for every cell, and the YAML parser costs about 0.1 s."""
    try:
        key = hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        key = None  # the reader says what is wrong
    data = _parsed.get(key) if key is not None else None
    if data is None:
        data = read_yaml(path, ScenarioError, "scenario file")
        if not isinstance(data, dict):
            raise ScenarioError(f"{path}: a scenario must be a mapping at the top level; got {type(data).__name__}")
        if key is not None:
            if len(_parsed) >= _PARSED_FILES:
                _parsed.pop(next(iter(_parsed)))
            _parsed[key] = data
    return copy.deepcopy(data)


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _raw_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if path.resolve() in chain:
        cycle = " -> ".join(p.stem for p in (*chain, path.resolve()))
        raise ScenarioError(f"scenario extends itself in a cycle: {cycle}")
    data = _read_yaml(path)
    parent_ref = data.pop("extend", None)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str):
        raise ScenarioError(f"{path}: extend must be a scenario name or file; got {parent_ref!r}")
    parent = _raw_with_extends(_resolve_path(parent_ref, path.parent), (*chain, path.resolve()))
    parent.pop("description", None) if "description" in data else None
    return _merge(parent, data)


def load_scenario(ref: str | os.PathLike, overrides: dict | None = None) -> Scenario:
    """Load a scenario by library name or file path, resolve ``extend``, apply overrides, validate.

    ``overrides`` maps dotted keys to values: ``{"seed": 3, "render.noise_std": 6}``.
    """
    path = _resolve_path(ref)
    data = _raw_with_extends(path)
    where = data.get("name") if isinstance(data.get("name"), str) else path.stem
    for dotted, value in (overrides or {}).items():
        try:
            set_dotted(data, dotted, value)
        except ScenarioError as exc:
            raise ScenarioError(f"scenario {where!r}: {exc}") from None
    return build_scenario(data, where=data.get("name") or path.stem)


def build_scenario(data: dict, *, where: str = "?") -> Scenario:
    """Validate a mapping as a scenario; raise :class:`ScenarioError` naming the bad key."""
    data = _with_layout_expanded(data, where)
    data = _with_timetable_expanded(data, where)
    return validate_scenario(data, where)


def _validate_section(raw, model, key: str, where: str):
    """Validate ``station.KEY`` (expanded before the scenario itself); errors name its path."""
    try:
        return TypeAdapter(model).validate_python(raw)
    except ValidationError as exc:
        msg = format_validation_error(exc, {"station": {key: raw}}, where)
        raise ScenarioError(msg.replace(f"scenario {where!r}: ", f"scenario {where!r}: station.{key}", 1)) from None


def _with_layout_expanded(data: dict, where: str) -> dict:
    """Replace ``station.layout`` by the walkable floor, obstacles, zones and portals it stands for."""
    station = data.get("station") if isinstance(data, dict) else None
    if not isinstance(station, dict) or "layout" not in station:
        return data
    pieces = _validate_section(station["layout"], list[LayoutPiece], "layout", where)
    try:
        derived = expand_layout(pieces)
    except ValueError as exc:
        raise ScenarioError(f"scenario {where!r}: station.layout: {exc}") from None
    station = {k: v for k, v in station.items() if k != "layout"}
    if derived["walkable"] is not None:
        if "walkable" in station:
            raise ScenarioError(f"scenario {where!r}: station: give walkable or floor pieces in layout, not both")
        station["walkable"] = derived["walkable"]
    for key in ("obstacles", "track_beds", "platform_edges", "zones", "entrances", "exits"):
        if derived[key]:
            station[key] = list(derived[key]) + list(station.get(key) or [])
    return {**data, "station": station}


def _with_timetable_expanded(data: dict, where: str) -> dict:
    """Replace ``station.timetable`` by the train arrivals it stands for."""
    station = data.get("station") if isinstance(data, dict) else None
    if not isinstance(station, dict) or "timetable" not in station:
        return data
    tables = _validate_section(station["timetable"], list[TimetableSpec], "timetable", where)
    duration = data.get("duration_s")
    trains = list(station.get("trains") or [])
    for i, tt in enumerate(tables):
        until = tt.until_s if tt.until_s is not None else duration
        if isinstance(duration, (int, float)):
            if tt.first_at_s > duration:
                raise ScenarioError(f"scenario {where!r}: station.timetable[{i}].first_at_s must be within "
                                    f"[0, duration_s={duration:g}]; got {tt.first_at_s:g}")
            if tt.until_s is not None and tt.until_s > duration:
                raise ScenarioError(f"scenario {where!r}: station.timetable[{i}].until_s: the timetable runs to "
                                    f"{tt.until_s:g} s, longer than the scenario (duration_s={duration:g}); "
                                    f"shorten it or lengthen the scenario")
        k = 0
        while until is not None and tt.first_at_s + k * tt.headway_s <= until:
            trains.append({"at_s": round(tt.first_at_s + k * tt.headway_s, 6), "entrance": tt.entrance,
                           "count": tt.count, "release_s": tt.release_s, "exit": tt.exit, "board": tt.board,
                           "dwell_s": tt.dwell_s, "vehicle": tt.vehicle.model_dump(mode="json")})
            k += 1
    station = {k: v for k, v in station.items() if k != "timetable"}
    station["trains"] = sorted(trains, key=lambda tr: tr["at_s"] if isinstance(tr, dict) else 0)
    return {**data, "station": station}
