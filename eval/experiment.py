"""Experiment files: a grid of scenarios x seeds x scenario variants x detectors, validated on load.

An experiment file (YAML) names what to run; :func:`load_experiment` validates it like a
scenario file (unknown keys rejected, every error names the key path, what was expected
and what came) and checks, before anything runs, that every scenario loads with every
variant's overrides and that every registry detector exists. :meth:`Experiment.cells`
expands the grid: one *cell* per (scenario, variant, seed) is simulated and rendered once
and feeds every detector; one *run* per (cell, detector) is scored. See the README
("Experiments") for the format::

    name: vendor_comparison
    scenarios: [platform_intrusion, concourse_quiet]
    seeds: [1, 2, 3]                      # or {first: 0, count: 10}; default: each scenario's own
    duration_s: 30                        # optional: only the first seconds of every run
    variants:                             # named sets of scenario overrides (default: one, "base")
      - {name: base}
      - {name: night, set: {render.lighting: night}}
    vary: {render.noise_std: [2, 8]}      # a Cartesian product on top of each variant
    detectors:
      - {name: builtin}                   # the registry's detectors the site supports
      - {name: vendor_x, command: ["{python}", "vendor.py", "{video}", "--site", "{site}", "--out", "{alerts}"],
         timeout_s: 120, types: [intrusion]}
    matching: {spatial: alert_time, early_s: 1.0}
    outputs: {video: false, thumbnails: errors}
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.events import EventType
from detectors.files import read_yaml
from eval.alert_readers import AlertFormat
from eval.matching import SpatialRule

EXPERIMENT_FORMAT = "stationwatch.experiment/1"

#: names of variants, detectors and cells go into folder names: keep them portable
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_EVENT_NAMES = tuple(e.value for e in EventType)


class ExperimentError(ValueError):
    """An experiment file that cannot be used; the message names the key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedRange(_Strict):
    """``count`` consecutive seeds from ``first``."""

    first: int = Field(0, ge=0, description="first seed")
    count: int = Field(ge=1, le=100_000, description="number of seeds")


class Variant(_Strict):
    """A named set of scenario overrides (dotted keys, as ``--set`` takes them)."""

    name: str = Field(pattern=_NAME, description="short name used in folder names")
    set: dict[str, Any] = Field(default_factory=dict, description="dotted key -> value, e.g. render.noise_std: 8")


class PolicySpec(_Strict):
    """An alert policy (:class:`detectors.policy.AlertPolicy`); unset fields keep the detector's defaults."""

    threshold: float | None = Field(None, description="score at or above which a frame counts as above")
    min_duration_s: float | None = Field(None, ge=0, description="[s] how long a run must last before it fires")
    cooldown_s: float | None = Field(None, ge=0, description="[s] minimum time between two alerts")

    @field_validator("threshold")
    @classmethod
    def _finite(cls, v):
        if v is not None and not math.isfinite(v):
            raise ValueError(f"must be a finite number; got {v!r}")
        return v


class CoreDetectorSpec(_Strict):
    """Detectors of the registry (built-in or entry-point plug-ins) run by the detection core."""

    kind: Literal["core"] = "core"
    name: str = Field(pattern=_NAME, description="label of this detector in the results")
    detectors: list[str] | None = Field(None, min_length=1, description="registry names (default: every built-in "
                                        "detector the camera's site supports; plug-ins by name)")
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="registry name -> keyword arguments "
                                              "of the detector's constructor")
    policies: dict[str, PolicySpec] = Field(default_factory=dict, description="event type -> alert policy")

    @field_validator("policies")
    @classmethod
    def _policy_types(cls, v):
        bad = sorted(k for k in v if k not in _EVENT_NAMES)
        if bad:
            raise ValueError(f"keys must be event types ({', '.join(_EVENT_NAMES)}); got {', '.join(map(repr, bad))}")
        return v


class ReaderSpec(_Strict):
    """How to read an alerts file another system wrote (:mod:`eval.alert_readers`)."""

    format: Literal["jsonl", "csv"] = "jsonl"
    columns: dict[str, str] = Field(default_factory=dict, description="CSV: field (camera, type, t, score, x, y, w, "
                                    "h, frame) -> column name")
    type_map: dict[str, str] = Field(default_factory=dict, description="the system's label -> event type")
    time_unit: Literal["s", "ms", "frame"] = Field("s", description="unit of the time column (frame: index / fps)")

    def to_format(self) -> AlertFormat:
        return AlertFormat(format=self.format, columns=dict(self.columns), type_map=dict(self.type_map),
                           time_unit=self.time_unit)

    @model_validator(mode="after")
    def _check(self) -> "ReaderSpec":
        self.to_format()  # raises naming the bad column or type
        return self


class CommandDetectorSpec(_Strict):
    """A black box: a command run once per camera on a video file and the site configuration.

    Placeholders in ``command``: ``{video}`` (the camera's footage), ``{site}`` (its site
    configuration, YAML), ``{alerts}`` (the file the command must write), ``{camera}``,
    ``{fps}``, ``{workdir}`` (a scratch folder of its own) and ``{python}`` (this Python).
    It runs in the experiment file's folder.
    """

    kind: Literal["command"] = "command"
    name: str = Field(pattern=_NAME, description="label of this detector in the results")
    command: list[str] = Field(min_length=1, description="argv with placeholders (a string is split like a shell)")
    timeout_s: float = Field(600.0, gt=0, le=7 * 24 * 3600, description="[s] per camera; the command is killed after")
    types: list[str] = Field(default_factory=lambda: list(_EVENT_NAMES), min_length=1,
                             description="event types the system claims to detect (its misses count for these only)")
    video: Literal["mp4", "avi_lossless"] = Field("mp4", description="container of the footage given to the command: "
                                                  "mp4 (MPEG-4 part 2, lossy) or avi_lossless (HuffYUV)")
    alerts: ReaderSpec = Field(default_factory=ReaderSpec, description="format of the alerts file it writes")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, v):
        if isinstance(v, str):
            import shlex

            return shlex.split(v)
        return v

    @field_validator("command")
    @classmethod
    def _placeholders(cls, v):
        for k, arg in enumerate(v):
            for name in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", arg):
                if name not in PLACEHOLDERS:
                    raise ValueError(f"[{k}] names an unknown placeholder {{{name}}} (known: "
                                     f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)}); got {arg!r}")
        if not any("{alerts}" in arg for arg in v):
            raise ValueError("must pass {alerts}, the file the command writes its alerts to; got " + repr(v))
        return v

    @field_validator("types")
    @classmethod
    def _types(cls, v):
        bad = [t for t in v if t not in _EVENT_NAMES]
        if bad:
            raise ValueError(f"must be event types ({', '.join(_EVENT_NAMES)}); got {', '.join(map(repr, bad))}")
        return v


#: placeholders a black-box command may use
PLACEHOLDERS = ("video", "site", "alerts", "camera", "fps", "workdir", "python")


def _detector_kind(v: Any) -> Any:
    if isinstance(v, dict) and "kind" not in v:
        return {**v, "kind": "command" if "command" in v else "core"}
    return v


DetectorSpec = Annotated[Union[CoreDetectorSpec, CommandDetectorSpec], Field(discriminator="kind")]


class MatchingSpec(_Strict):
    """How alerts are matched to ground truth (:func:`eval.matching.match`)."""

    spatial: Literal["alert_time", "onset", "none"] = Field("alert_time", description="which instance box the "
                                                            "alert's box must overlap (none: time only, as ActEV)")
    early_s: float = Field(1.0, ge=0, le=3600, description="[s] how long before t_start an alert still counts")
    grace_s: float | dict[str, float] | None = Field(None, description="[s] after t_end; a number, per event type, "
                                                     "or null for each type's max latency")

    @field_validator("grace_s")
    @classmethod
    def _grace(cls, v):
        values = v.values() if isinstance(v, dict) else [] if v is None else [v]
        if isinstance(v, dict):
            bad = sorted(k for k in v if k not in _EVENT_NAMES)
            if bad:
                raise ValueError(f"keys must be event types; got {', '.join(map(repr, bad))}")
        for x in values:
            if not (math.isfinite(x) and 0 <= x <= 3600):
                raise ValueError(f"must be within [0, 3600] s; got {x!r}")
        return v

    def grace(self) -> float | dict[EventType, float] | None:
        if isinstance(self.grace_s, dict):
            return {EventType(k): float(v) for k, v in self.grace_s.items()}
        return self.grace_s

    @property
    def rule(self) -> SpatialRule:
        return SpatialRule(self.spatial)


class OutputsSpec(_Strict):
    """What a grid keeps besides its tables (frames stay in memory otherwise)."""

    video: bool = Field(False, description="keep each cell's footage (CAMERA.mp4)")
    thumbnails: Literal["errors", "all", "none"] = Field("errors", description="thumbnails of the footage: around "
                                                         "each miss and false alarm, every one, or none")
    thumbnail_width_px: int = Field(160, ge=16, le=1920, description="[px] width of a thumbnail")
    thumbnail_every_s: float = Field(0.5, gt=0, le=60, description="[s] one thumbnail per camera this often")


class ExperimentSpec(_Strict):
    """The experiment file (see the module docstring)."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    scenarios: list[str] = Field(min_length=1, description="library names or paths (relative to this file)")
    seeds: list[int] | None = Field(None, description="seeds, or {first, count}; default: each scenario's own seed")
    duration_s: float | None = Field(None, gt=0, description="[s] run only the first seconds of each scenario")
    variants: list[Variant] = Field(default_factory=lambda: [Variant(name="base")], min_length=1)
    vary: dict[str, list[Any]] = Field(default_factory=dict, description="dotted key -> values; the Cartesian "
                                       "product is applied on top of every variant")
    detectors: list[Annotated[DetectorSpec, Field()]] = Field(min_length=1)
    matching: MatchingSpec = Field(default_factory=MatchingSpec)
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_range(cls, v):
        if isinstance(v, dict):  # {first, count}: checked here so that errors name seeds.first / seeds.count
            r = SeedRange.model_validate(v)
            return list(range(r.first, r.first + r.count))
        if isinstance(v, list):
            for k, x in enumerate(v):
                if isinstance(x, bool) or not isinstance(x, int) or x < 0:
                    raise ValueError(f"[{k}] must be an integer >= 0; got {x!r}")
        elif v is not None:
            raise ValueError(f"must be a list of seeds or {{first, count}}; got {v!r}")
        return v

    @field_validator("detectors", mode="before")
    @classmethod
    def _kinds(cls, v):
        return [_detector_kind(d) for d in v] if isinstance(v, list) else v

    @field_validator("vary")
    @classmethod
    def _vary(cls, v):
        for key, values in v.items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key}: expected a non-empty list of values; got {values!r}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> "ExperimentSpec":
        for what, names in (("variants", [v.name for v in self.variants]),
                            ("detectors", [d.name for d in self.detectors])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{what}: names must be unique; got {', '.join(map(repr, dupes))} more than once")
        if isinstance(self.seeds, list) and len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: must be distinct; got {self.seeds}")
        return self


# --- the expanded grid ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellSpec:
    """One simulation and rendering: a scenario with a variant's overrides at one seed."""

    cell_id: str
    scenario: str  #: the scenario's name
    scenario_ref: str  #: library name or absolute path, as load_scenario takes it
    scenario_hash: str  #: content hash of the scenario with the overrides applied
    variant: str
    overrides: dict  #: dotted key -> value
    seed: int
    duration_s: float | None

    def key(self, outputs: OutputsSpec) -> str:
        """Hash of everything the cell's frames and ground truth depend on (and what it keeps)."""
        return _hash({"scenario": self.scenario_hash, "seed": self.seed, "duration_s": self.duration_s,
                      "outputs": outputs.model_dump(mode="json")})


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: the spec, the file it came from, the expanded cells."""

    spec: ExperimentSpec
    path: Path | None
    cells: tuple[CellSpec, ...]

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths and black-box commands start from."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def detectors(self) -> list:
        return list(self.spec.detectors)

    def run_id(self, cell: CellSpec, detector) -> str:
        return f"{cell.cell_id}__{detector.name}"

    def run_key(self, cell: CellSpec, detector) -> str:
        """Hash of everything a run's numbers depend on."""
        return _hash({"cell": cell.key(self.spec.outputs), "detector": detector.model_dump(mode="json"),
                      "matching": self.spec.matching.model_dump(mode="json")})

    @property
    def n_runs(self) -> int:
        return len(self.cells) * len(self.spec.detectors)

    def content_hash(self) -> str:
        return _hash(self.spec.model_dump(mode="json"))


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_") or "x"


def _variants(spec: ExperimentSpec) -> list[tuple[str, dict]]:
    """(name, overrides) of every variant, each combined with every point of ``vary``."""
    keys = list(spec.vary)
    points = list(itertools.product(*(spec.vary[k] for k in keys))) if keys else [()]
    out = []
    for v in spec.variants:
        for point in points:
            name = v.name + "".join(f",{k.split('.')[-1]}={_value_name(x)}" for k, x in zip(keys, point))
            out.append((name, {**v.set, **dict(zip(keys, point))}))
    return out


def _value_name(x: Any) -> str:
    return json.dumps(x, separators=(",", ":")) if not isinstance(x, str) else x


def expand(spec: ExperimentSpec, path: Path | None = None) -> Experiment:
    """Check every scenario with every variant and every registry name; expand the cells.

    Raises :class:`ExperimentError` naming the key path of the first problem.
    """
    from sim.scenario import load_scenario

    where = spec.name
    base = path.parent if path is not None else Path.cwd()
    refs = []
    for k, ref in enumerate(spec.scenarios):
        candidate = base / ref
        is_path = ref.endswith((".yaml", ".yml")) or os.sep in ref or "/" in ref
        refs.append(str(candidate.resolve()) if is_path and candidate.exists() else ref)
    _check_detectors(spec, where)
    cells = []
    seen: dict[str, str] = {}
    for k, ref in enumerate(refs):
        try:
            plain = load_scenario(ref).model_dump(mode="json")
        except FileNotFoundError as exc:
            raise ExperimentError(f"experiment {where!r}: scenarios[{k}]: {exc}") from None
        except (ValueError, KeyError) as exc:
            raise ExperimentError(f"experiment {where!r}: scenarios[{k}]: {_one_line(exc.args[0] if exc.args else exc)}"
                                  ) from None
        for vname, overrides in _variants(spec):
            _check_override_paths(plain, overrides, f"experiment {where!r}: variant {vname!r}")
            try:
                sc = load_scenario(ref, overrides)
            except FileNotFoundError as exc:
                raise ExperimentError(f"experiment {where!r}: scenarios[{k}]: {exc}") from None
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                msg = _one_line(exc.args[0] if exc.args else repr(exc))
                raise ExperimentError(f"experiment {where!r}: scenarios[{k}] ({spec.scenarios[k]!r}) with variant "
                                      f"{vname!r}: {msg}") from None
            if spec.duration_s is not None and spec.duration_s > sc.duration_s:
                raise ExperimentError(f"experiment {where!r}: duration_s must be <= the duration of scenario "
                                      f"{sc.name!r} ({sc.duration_s:g} s); got {spec.duration_s:g}")
            seeds = [sc.seed] if spec.seeds is None else list(spec.seeds)
            for seed in seeds:
                cell_id = f"{_slug(sc.name)}__{_slug(vname)}__s{seed}"
                if cell_id in seen and seen[cell_id] != ref:
                    raise ExperimentError(f"experiment {where!r}: scenarios {seen[cell_id]!r} and {ref!r} are both "
                                          f"named {sc.name!r}; rename one (cells are named after the scenario)")
                if cell_id in seen:
                    continue
                seen[cell_id] = ref
                cells.append(CellSpec(cell_id=cell_id, scenario=sc.name, scenario_ref=ref,
                                      scenario_hash=sc.content_hash(), variant=vname, overrides=dict(overrides),
                                      seed=int(seed), duration_s=spec.duration_s))
    return Experiment(spec=spec, path=path, cells=tuple(cells))


def _check_override_paths(data: Any, overrides: dict, where: str) -> None:
    """List indices in dotted keys must exist (a mapping key is checked by the scenario's validation)."""
    for dotted in overrides:
        cur = data
        path = ""
        for part in str(dotted).split("."):
            if isinstance(cur, list):
                if not part.lstrip("-").isdigit():
                    raise ExperimentError(f"{where}: {dotted}: {path or 'the scenario'} is a list; expected an index "
                                          f"in [0, {len(cur) - 1}] instead of {part!r}")
                i = int(part)
                if not 0 <= i < len(cur):
                    raise ExperimentError(f"{where}: {dotted}: index {i} is out of range for {path} "
                                          f"({len(cur)} item{'s' if len(cur) != 1 else ''})")
                cur = cur[i]
            elif isinstance(cur, dict):
                cur = cur.get(part)
            else:
                break
            path = f"{path}.{part}" if path else part


def _check_detectors(spec: ExperimentSpec, where: str) -> None:
    from detectors.registry import DetectorRegistryError, UnknownDetectorError, get_detector

    for k, d in enumerate(spec.detectors):
        if not isinstance(d, CoreDetectorSpec):
            continue
        names = d.detectors or []
        for j, name in enumerate(names):
            try:
                get_detector(name)
            except (UnknownDetectorError, DetectorRegistryError) as exc:
                raise ExperimentError(f"experiment {where!r}: detectors[{k}].detectors[{j}]: {exc}") from None
        types = set()
        for name in names:
            types.add(get_detector(name).event_type.value)
        for key in d.params:
            if names and key not in names:
                raise ExperimentError(f"experiment {where!r}: detectors[{k}].params.{key}: not among this entry's "
                                      f"detectors ({', '.join(names)})")
            if not names:
                try:
                    get_detector(key)
                except (UnknownDetectorError, DetectorRegistryError) as exc:
                    raise ExperimentError(f"experiment {where!r}: detectors[{k}].params.{key}: {exc}") from None
        if names:
            extra = sorted(set(d.policies) - types)
            if extra:
                raise ExperimentError(f"experiment {where!r}: detectors[{k}].policies: {', '.join(extra)} is not "
                                      f"detected by {', '.join(names)}")


def load_experiment(path: str | os.PathLike | None = None, *, data: dict | None = None) -> Experiment:
    """Read, validate and expand an experiment file (or ``data``, a parsed one).

    Every error is an :class:`ExperimentError` naming the file, the key path, what was
    expected and what came.
    """
    p = Path(path) if path is not None else None
    if data is None:
        if p is None:
            raise ExperimentError("load_experiment: give a path or data")
        data = read_yaml(p, ExperimentError, "experiment file")
    where = os.fspath(p) if p is not None else "experiment"
    if not isinstance(data, dict):
        raise ExperimentError(f"experiment file {where!r}: expected a mapping of keys (name, scenarios, detectors, "
                              f"...); got {type(data).__name__}")
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError(_format_errors(exc, data.get("name") if isinstance(data.get("name"), str)
                                             else where)) from None
    return expand(spec, p.resolve() if p is not None else None)


def _loc(loc: tuple) -> str:
    out = ""
    for k, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("core", "command") and k > 0 and loc[0] == "detectors" and k == 2:
            continue  # the discriminator's tag pydantic inserts after detectors[i]
        elif isinstance(part, str) and ("[" in part or part in ("float", "int", "str")):
            continue  # the member of a plain union pydantic inserts (float, dict[str,float], ...)
        else:
            odd = isinstance(part, str) and (not part or any(c.isspace() for c in part))
            out += ("." if out else "") + (repr(part) if odd else str(part))  # a key '' or 'a\nb' stays visible, on one line
    return out


_PHRASES = ((r"Input should be greater than or equal to", "must be >="), (r"Input should be greater than", "must be >"),
            (r"Input should be less than or equal to", "must be <="), (r"Input should be less than", "must be <"),
            (r"Input should be", "must be"), (r"String should match pattern", "must match"),
            (r"List should have at least", "must have at least"))


def _phrase(msg: str) -> str:
    for old, new in _PHRASES:
        msg = re.sub(old, new, msg)
    return msg


def _format_errors(exc: ValidationError, where: str) -> str:
    lines = []
    seen = set()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        key = _loc(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            line = f"{key}: unknown key (check the spelling; the keys are in the README's experiment format)"
        elif etype == "missing":
            line = f"{key}: missing required key"
        elif etype in ("union_tag_invalid", "union_tag_not_found"):
            given = err.get("input")
            line = f"{key}.kind: must be core or command; got {given.get('kind') if isinstance(given, dict) else given!r}"
        else:
            msg = _phrase(err["msg"])
            for prefix in ("Value error, ", "Assertion failed, "):
                if msg.startswith(prefix):
                    msg = msg[len(prefix):]
            received = err.get("input")
            if not key:
                line = msg
            elif msg.startswith("["):  # an element of the key's list names itself
                line = f"{key}{msg}"
            elif "got " in msg or (etype == "value_error" and isinstance(received, (dict, list))):
                line = f"{key}: {msg}"
            else:
                line = f"{key}: {msg}; got {received!r}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    # one line, as the command line reports it
    return f"experiment {where!r}: " + "; ".join(lines)


def _one_line(msg) -> str:
    """A scenario error that lists several keys, one a line, as one line: ``first line key: why; key: why``."""
    lines = [line.strip() for line in str(msg).splitlines() if line.strip()]
    return " ".join(lines[:1] + (["; ".join(lines[1:])] if len(lines) > 1 else []))
