"""Reading an experiment's results folder for the decisions made from it (sweep, tune, compare, report).

:class:`ResultsFolder` opens the gathered Parquet tables of :mod:`eval.grid` lazily and
answers the questions every decision asks: which detectors and event types it holds, which
(run, camera) streams score a type, the ground-truth instances of each, the alert policy each
run ran with, the matching rule, and which seeds are tuning or held-out seeds
(:mod:`sim.seeds`). :meth:`ResultsFolder.sweep_inputs` assembles what
:func:`eval.sweep.sweep_counts` needs for one detector and type.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from detectors.events import EventType
from eval import results
from eval.matching import Instance
from eval.sweep import ScoreRows, SweepError, SweepGroup, SweepPolicy


class ResultsError(ValueError):
    """A folder that is not a results folder, or a detector or type it does not hold."""


@dataclass(frozen=True)
class SweepInputs:
    """What one (detector, event type) sweep needs, read from a results folder."""

    detector: str
    event_type: EventType
    kind: str  #: "core": recorded instance scores replayed through the policy; "command": recorded alerts
    rows: ScoreRows
    groups: tuple[SweepGroup, ...]
    policy: SweepPolicy
    threshold_as_run: float | None  #: the threshold the runs ran with (None for a black box)
    matching: dict


class ResultsFolder:
    """An experiment's results folder (``stationwatch experiment``'s output)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not (self.path / "experiment.json").exists() or not (self.path / "runs.parquet").exists():
            raise ResultsError(f"{os.fspath(self.path)!r} is not an experiment results folder (no experiment.json "
                               f"and runs.parquet; run stationwatch experiment first)")

    def table(self, name: str, columns: list[str] | None = None):
        """A gathered table as a ``pyarrow.Table``, or None when the folder has none."""
        import pyarrow.parquet as pq

        p = self.path / f"{name}.parquet"
        return pq.read_table(p, columns=columns) if p.exists() else None

    @cached_property
    def experiment(self) -> dict:
        return results.read_json(self.path / "experiment.json")

    @property
    def name(self) -> str:
        return str(self.experiment.get("experiment", {}).get("name", self.path.name))

    @property
    def matching(self) -> dict:
        m = dict(self.experiment.get("experiment", {}).get("matching") or {})
        return {"spatial": m.get("spatial", "alert_time"), "early_s": float(m.get("early_s", 1.0)),
                "grace_s": m.get("grace_s")}

    def grace(self):
        g = self.matching["grace_s"]
        return {EventType(k): float(v) for k, v in g.items()} if isinstance(g, dict) else g

    @cached_property
    def runs(self) -> list[dict]:
        return self.table("runs").to_pylist()

    @cached_property
    def ok_runs(self) -> dict[str, dict]:
        return {r["run_id"]: r for r in self.runs if r["status"] == "ok"}

    @property
    def detectors(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.runs:
            seen.setdefault(r["detector"], None)
        return list(seen)

    def check_detector(self, name: str) -> str:
        if name not in self.detectors:
            raise ResultsError(f"no detector {name!r} in {os.fspath(self.path)!r}; detectors: "
                               f"{', '.join(self.detectors)}")
        return name

    @cached_property
    def counts(self) -> list[dict]:
        t = self.table("counts")
        return [] if t is None else t.to_pylist()

    def types_of(self, detector: str) -> list[EventType]:
        """Event types a detector scores in this folder, in the vocabulary's order."""
        runs = {rid for rid, r in self.ok_runs.items() if r["detector"] == detector}
        types = {c["type"] for c in self.counts if c["run_id"] in runs}
        return [e for e in EventType if e.value in types]

    def kind_of(self, detector: str) -> str:
        kinds = {r["kind"] for r in self.runs if r["detector"] == detector}
        return kinds.pop() if len(kinds) == 1 else "core"

    @cached_property
    def cameras(self) -> dict[tuple[str, str], dict]:
        t = self.table("cameras")
        return {} if t is None else {(r["cell_id"], r["camera"]): r for r in t.to_pylist()}

    @cached_property
    def instances(self) -> dict[tuple[str, str, str], list[Instance]]:
        """(cell, camera, type) -> ground-truth instances with their per-frame boxes."""
        gt = self.table("ground_truth")
        if gt is None:
            return {}
        tracks: dict[tuple[str, str, str], list] = {}
        tt = self.table("instance_tracks")
        if tt is not None and tt.num_rows:
            cols = {c: tt.column(c).to_numpy(zero_copy_only=False) for c in tt.column_names}
            names, codes = [], []
            for c in ("cell_id", "camera", "instance_id"):
                u, inv = np.unique(cols[c].astype(str), return_inverse=True)
                names.append(u)
                codes.append(inv)
            order = np.lexsort((cols["t"], codes[2], codes[1], codes[0]))
            code = np.stack([x[order] for x in codes], axis=1)
            split = np.flatnonzero(np.r_[True, np.any(code[1:] != code[:-1], axis=1), True])
            rows = np.stack([cols[c][order] for c in ("t", "x", "y", "w", "h")], axis=1).astype(np.float64)
            for a, b in zip(split[:-1], split[1:]):
                key = tuple(str(names[k][code[a, k]]) for k in range(3))
                tracks[key] = rows[a:b]
        out: dict[tuple[str, str, str], list[Instance]] = {}
        for r in gt.to_pylist():
            box = (r["bbox_x"], r["bbox_y"], r["bbox_w"], r["bbox_h"])
            box = None if any(v is None or math.isnan(v) for v in box) else box
            attrs = {k: r[k] for k in ("appearance_groups", "source", "zone", "visible_fraction_at_onset", "n_agents")
                     if k in r}
            x = Instance(id=r["instance_id"], type=r["type"], camera=r["camera"], t_start=r["t_start"],
                         t_end=r["t_end"], bbox=box, attributes=attrs,
                         track=tracks.get((r["cell_id"], r["camera"], r["instance_id"])))
            out.setdefault((r["cell_id"], r["camera"], r["type"]), []).append(x)
        return out

    def policies_of(self, run_id: str) -> dict[str, dict]:
        try:
            rec = results.read_json(self.path / "runs" / run_id / "run.json")
        except (OSError, ValueError):
            return {}
        return rec.get("policies") or {}

    def policy_as_run(self, detector: str, event_type: EventType) -> dict | None:
        """The policy (threshold, min_duration_s, cooldown_s) the detector's runs ran with for a type."""
        for rid, r in self.ok_runs.items():
            if r["detector"] == detector:
                pol = self.policies_of(rid).get(EventType.parse(event_type).value)
                if pol:
                    return pol
        return None

    def seeds_role(self) -> dict[int, str]:
        """Each seed of the folder: 'tuning', 'held_out' or 'other' (sim.seeds)."""
        from sim.seeds import HELD_OUT_SEEDS, TUNING_SEEDS

        out = {}
        for r in self.runs:
            s = int(r["seed"])
            out[s] = "tuning" if s in TUNING_SEEDS else "held_out" if s in HELD_OUT_SEEDS else "other"
        return out

    # --- what a sweep needs ---------------------------------------------------------------------
    def sweep_inputs(self, detector: str, event_type: EventType | str, *,
                     min_duration_s: float | None = None, runs: set[str] | None = None) -> SweepInputs:
        """Rows, groups and policy of one detector and type (``runs``: only these run ids)."""
        import pyarrow.compute as pc

        self.check_detector(detector)
        etype = EventType.parse(event_type, field="event_type")
        run_ids = [rid for rid, r in self.ok_runs.items() if r["detector"] == detector
                   and (runs is None or rid in runs)]
        counts = [c for c in self.counts if c["run_id"] in set(run_ids) and c["type"] == etype.value]
        if not counts:
            raise ResultsError(f"detector {detector!r} scores no {etype.value} in {os.fspath(self.path)!r} "
                               f"(types: {', '.join(t.value for t in self.types_of(detector)) or 'none'})")
        kind = self.kind_of(detector)
        groups, index = [], {}
        for c in sorted(counts, key=lambda c: (c["run_id"], c["camera"])):
            cell = self.ok_runs[c["run_id"]]["cell_id"]
            index[(c["run_id"], c["camera"])] = len(groups)
            groups.append(SweepGroup(run_id=c["run_id"], cell_id=cell, camera=c["camera"],
                                     camera_s=float(c["camera_s"]),
                                     instances=tuple(self.instances.get((cell, c["camera"], etype.value), ())),
                                     gated=kind == "core"))
        policy, threshold = SweepPolicy(), None
        if kind == "core":
            pol = self.policies_of(groups[0].run_id).get(etype.value) or {}
            threshold = pol.get("threshold")
            policy = SweepPolicy(min_duration_s=float(pol.get("min_duration_s", 0.0)),
                                 cooldown_s=float(pol.get("cooldown_s", 10.0)))
            table = self.table("instance_scores")
            have = set() if table is None else set(pc.unique(table.column("run_id")).to_pylist())
            need_frame = [rid for rid in run_ids if rid not in have]
            parts = []
            if table is not None:
                parts.append(_rows_of(table, etype, index, key_col="instance"))
            if need_frame:  # results written before instance scores were recorded: one instance per camera
                frame = self.table("scores")
                if frame is None:
                    raise ResultsError(f"{os.fspath(self.path)!r} holds no scores of detector {detector!r}")
                parts.append(_rows_of(frame, etype, index, key_col=None, runs=set(need_frame)))
            rows = _concat_rows(parts)
        else:
            table = self.table("alerts")
            rows = _rows_of(table, etype, index, key_col=None, alert_rows=True) if table is not None else \
                _concat_rows([])
        if min_duration_s is not None:
            policy = SweepPolicy(min_duration_s=float(min_duration_s), cooldown_s=policy.cooldown_s)
        return SweepInputs(detector=detector, event_type=etype, kind=kind, rows=rows, groups=tuple(groups),
                           policy=policy, threshold_as_run=threshold, matching=self.matching)


def _rows_of(table, etype: EventType, index: dict, *, key_col: str | None, runs: set | None = None,
             alert_rows: bool = False) -> ScoreRows:
    """Rows of ``table`` of one type whose (run, camera) is a group of ``index``."""
    import pyarrow.compute as pc

    t = table.filter(pc.equal(table.column("type"), etype.value))
    run = t.column("run_id").to_numpy(zero_copy_only=False).astype(str)
    cam = t.column("camera").to_numpy(zero_copy_only=False).astype(str)
    grp = np.array([index.get((r, c), -1) for r, c in zip(run.tolist(), cam.tolist())], np.int64) \
        if len(run) else np.zeros(0, np.int64)
    keep = grp >= 0
    if runs is not None:
        keep &= np.isin(run, list(runs))
    if key_col is not None:
        keys = t.column(key_col).to_numpy(zero_copy_only=False).astype(str)
        _, key = np.unique(keys, return_inverse=True)
    else:
        key = np.zeros(len(run), np.int64)
    if alert_rows:
        frame = np.arange(len(run), dtype=np.int64)
    else:
        frame = t.column("frame").to_numpy().astype(np.int64)
    box = np.stack([t.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                    for c in ("bbox_x", "bbox_y", "bbox_w", "bbox_h")], axis=1) if len(run) else np.zeros((0, 4))
    return ScoreRows.from_columns(grp[keep], key[keep].astype(np.int64), frame[keep],
                                  t.column("t").to_numpy().astype(np.float64)[keep],
                                  t.column("score").to_numpy().astype(np.float64)[keep], box[keep])


def _concat_rows(parts: list[ScoreRows]) -> ScoreRows:
    if not parts:
        return ScoreRows.from_columns([], [], [], [], [])
    offset, keys = 0, []
    for p in parts:  # key codes of different tables must not collide
        keys.append(p.key + offset)
        offset += int(p.key.max()) + 1 if len(p.key) else 0
    cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    return ScoreRows(cat("group"), np.concatenate(keys), cat("frame"), cat("t"), cat("score"),
                     np.concatenate([p.bbox for p in parts]).reshape(-1, 4))


def sweep_folder(folder: ResultsFolder | str | os.PathLike, detector: str, event_type: EventType | str, *,
                 thresholds=None, min_duration_s: float | None = None, max_thresholds: int = 2000,
                 runs: set[str] | None = None):
    """Sweep one detector and type of a results folder; returns :class:`eval.sweep.SweepCounts`.

    ``thresholds`` default to :func:`eval.sweep.default_thresholds` of the recorded scores (and the
    threshold the runs ran with); ``min_duration_s`` replaces the policy's minimum duration.
    """
    from eval.sweep import default_thresholds, sweep_counts

    f = folder if isinstance(folder, ResultsFolder) else ResultsFolder(folder)
    inp = f.sweep_inputs(detector, event_type, min_duration_s=min_duration_s, runs=runs)
    if thresholds is None:
        extra = [inp.threshold_as_run] if inp.threshold_as_run is not None else []
        thresholds = default_thresholds(inp.rows.score, max_thresholds, extra)
    try:
        sc = sweep_counts(inp.rows, inp.groups, inp.event_type, thresholds, inp.policy,
                          early_s=inp.matching["early_s"], grace_s=f.grace(), spatial=inp.matching["spatial"],
                          detector=detector)
    except SweepError as exc:
        raise ResultsError(f"sweep of {detector!r} {inp.event_type.value}: {exc}") from None
    run_pol = f.policy_as_run(detector, inp.event_type) or {}
    as_run = inp.kind != "core" or math.isclose(float(run_pol.get("min_duration_s", 0.0)), inp.policy.min_duration_s)
    object.__setattr__(sc, "meta", {"kind": inp.kind, "threshold_as_run": inp.threshold_as_run,
                                    "policy_as_run": as_run, "results": os.fspath(f.path)})
    return sc


def as_run_tallies(folder: ResultsFolder, detector: str) -> list[dict[str, Any]]:
    """The counts rows of a detector's ok runs, with the cell, scenario, variant and seed of each."""
    out = []
    for c in folder.counts:
        r = folder.ok_runs.get(c["run_id"])
        if r is None or r["detector"] != detector:
            continue
        out.append({**c, "cell_id": r["cell_id"], "scenario": r["scenario"], "variant": r["variant"],
                    "seed": r["seed"]})
    return out
