"""Choosing thresholds from a sweep: a false-alarm target per type, or an operator budget for a site.

Two targets (:class:`Target`):

- ``rfa_per_hour``: for each event type apart, the threshold with the lowest Pmiss among those
  whose false alarms per camera-hour stay at or under the target;
- ``alerts_per_hour`` over ``n_cameras`` (an operator budget: "at most 2 alerts per hour across
  46 cameras", every alert counted, true, false or duplicate, since a person reviews each): the
  thresholds of all types together, chosen greedily: from no alerts at all, the move that buys
  the most recall per added alert per hour is taken, while the site's total stays within the
  budget (each type's moves are the points of its sweep that no other point beats on both).

Ties go to fewer alerts, then to the higher threshold. Thresholds are chosen on the tuning
runs only (:data:`sim.seeds.TUNING_SEEDS`); :func:`tune_folder` then reads the chosen
operating points on the held-out runs of the same folder, when it has some, and says which
seeds every figure comes from.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from detectors.events import EventType
from eval.sweep import SweepCounts


class TuneError(ValueError):
    """A target or a folder that tuning cannot use; the message names the option."""


@dataclass(frozen=True)
class Target:
    """What the thresholds must respect (exactly one of the two)."""

    rfa_per_hour: float | None = None  #: [1/h] false alarms per camera-hour, per type
    alerts_per_hour: float | None = None  #: [1/h] every alert of the site, all types, over n_cameras
    n_cameras: int = 1

    def __post_init__(self) -> None:
        if (self.rfa_per_hour is None) == (self.alerts_per_hour is None):
            raise TuneError("give exactly one target: --max-fa-per-hour or --budget (alerts per hour)")
        for name in ("rfa_per_hour", "alerts_per_hour"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise TuneError(f"{name} must be a finite number >= 0; got {v!r}")
        if isinstance(self.n_cameras, bool) or not isinstance(self.n_cameras, int) or self.n_cameras < 1:
            raise TuneError(f"n_cameras must be an integer >= 1; got {self.n_cameras!r}")

    def describe(self) -> str:
        if self.rfa_per_hour is not None:
            return f"at most {self.rfa_per_hour:g} false alarms per camera-hour per type"
        return f"at most {self.alerts_per_hour:g} alerts per hour across {self.n_cameras} camera(s)"


@dataclass(frozen=True)
class Choice:
    """The operating point chosen for one event type (figures on the runs it was chosen on)."""

    event_type: EventType
    threshold: float
    min_duration_s: float
    cooldown_s: float
    p_miss: float
    recall: float
    rfa_per_hour: float  #: [1/h] per camera-hour
    alerts_per_camera_hour: float  #: [1/h]
    note: str = ""


def _point_table(s: SweepCounts) -> dict[str, np.ndarray]:
    r = s.rates()
    return {"th": s.thresholds, "p_miss": r["p_miss"], "recall": r["recall"], "rfa": r["rfa_per_hour"],
            "aph": r["alerts_per_hour"]}


def _choice(s: SweepCounts, k: int, note: str = "") -> Choice:
    p = _point_table(s)
    return Choice(event_type=s.event_type, threshold=float(p["th"][k]), min_duration_s=s.policy.min_duration_s,
                  cooldown_s=s.policy.cooldown_s, p_miss=float(p["p_miss"][k]), recall=float(p["recall"][k]),
                  rfa_per_hour=float(p["rfa"][k]), alerts_per_camera_hour=float(p["aph"][k]), note=note)


def _best(idx: np.ndarray, p: dict[str, np.ndarray]) -> int:
    """Lowest Pmiss (nan counts as equal), then fewest alerts, then the highest threshold."""
    pm = np.where(np.isnan(p["p_miss"][idx]), 2.0, p["p_miss"][idx])
    order = np.lexsort((-p["th"][idx], p["aph"][idx], pm))
    return int(idx[order[0]])


def _nothing_fits(s: SweepCounts, k: int, what: str) -> str:
    """A note when the chosen point detects nothing although there are instances to detect."""
    p = _point_table(s)
    if np.isnan(p["recall"][k]) or p["recall"][k] > 0:
        return ""
    found = np.flatnonzero(np.nan_to_num(p["recall"]) > 0)
    if not len(found):
        return "no threshold detects anything on these runs"
    best = found[np.argmin(p[what][found])]
    unit = "false alarms" if what == "rfa" else "alerts"
    return (f"no threshold that detects anything fits the target on these runs (the fewest {unit} with a "
            f"detection: {p[what][best]:.2f} per camera-hour at threshold {p['th'][best]:.6g})")


def choose_for_rfa(s: SweepCounts, rfa_per_hour: float) -> Choice:
    """The threshold of one type for a false-alarm target (see the module docstring)."""
    p = _point_table(s)
    ok = np.flatnonzero(p["rfa"] <= rfa_per_hour + 1e-12)
    if not len(ok):  # cannot happen with the default thresholds (one lies above every score)
        k = int(np.argmax(s.thresholds))
        return _choice(s, k, "no swept threshold meets the target: the highest one")
    k = _best(ok, p)
    note = "no instances in these runs: the fewest alerts" if np.isnan(p["p_miss"][ok]).all() else \
        _nothing_fits(s, k, "rfa")
    return _choice(s, k, note)


def _frontier(s: SweepCounts) -> list[int]:
    """Indices of the points no other point beats on both recall and alerts per hour, by rate."""
    p = _point_table(s)
    rec = np.where(np.isnan(p["recall"]), 0.0, p["recall"])
    order = np.lexsort((-p["th"], -rec, p["aph"]))
    out, best = [], -1.0
    for k in order:
        if not out or rec[k] > best + 1e-15:
            out.append(int(k))
            best = rec[k]
    return out


def choose_for_budget(sweeps: Mapping[EventType, SweepCounts], alerts_per_hour: float, n_cameras: int
                      ) -> dict[EventType, Choice]:
    """Thresholds of all types for a site's alert budget (see the module docstring)."""
    fronts = {t: _frontier(s) for t, s in sweeps.items()}
    pts = {t: _point_table(s) for t, s in sweeps.items()}
    at = {t: 0 for t in sweeps}  # position on each frontier: 0 = the fewest alerts
    cost = lambda t, i: float(pts[t]["aph"][fronts[t][i]]) * n_cameras  # noqa: E731
    gain = lambda t, i: float(np.nan_to_num(pts[t]["recall"][fronts[t][i]], nan=0.0))  # noqa: E731
    total = sum(cost(t, 0) for t in sweeps)
    notes = {}
    if total > alerts_per_hour + 1e-12:
        notes = {t: "even the highest threshold exceeds the budget" for t in sweeps}
    while True:
        best, best_ratio = None, -1.0
        for t in sweeps:
            for j in range(at[t] + 1, len(fronts[t])):
                extra = cost(t, j) - cost(t, at[t])
                if total + extra > alerts_per_hour + 1e-12:
                    break
                ratio = (gain(t, j) - gain(t, at[t])) / max(extra, 1e-12)
                if ratio > best_ratio + 1e-15:
                    best, best_ratio = (t, j, extra), ratio
        if best is None:
            break
        t, j, extra = best
        at[t] = j
        total += extra
    return {t: _choice(sweeps[t], fronts[t][at[t]], notes.get(t) or _nothing_fits(sweeps[t], fronts[t][at[t]], "aph"))
            for t in sweeps}


@dataclass
class TuneResult:
    """Chosen policies, where they were chosen and how they do on held-out runs."""

    detector: str
    target: Target
    choices: dict[EventType, Choice]
    tuning_seeds: list[int]
    tuning_runs: int
    held_out: dict[EventType, dict] = field(default_factory=dict)  #: figures at the chosen thresholds
    held_out_seeds: list[int] = field(default_factory=list)
    site_alerts_per_hour: float = math.nan  #: [1/h] on the tuning runs, all types, over n_cameras

    def policies(self):
        from detectors.policy import AlertPolicy

        return {t: AlertPolicy(threshold=c.threshold, min_duration_s=c.min_duration_s, cooldown_s=c.cooldown_s)
                for t, c in self.choices.items()}


def tune_folder(folder, target: Target, *, detector: str | None = None, on: str = "tuning",
                min_duration_s: float | None = None, max_thresholds: int = 2000) -> TuneResult:
    """Choose thresholds for ``detector`` (default: the folder's first in-process detector) on its
    tuning runs (``on="all"``: every run, figures in-sample) and read them on the held-out runs."""
    from eval.results_folder import ResultsFolder, sweep_folder

    f = folder if isinstance(folder, ResultsFolder) else ResultsFolder(folder)
    cores = [d for d in f.detectors if f.kind_of(d) == "core"]
    if detector is None:
        if not cores:
            raise TuneError(f"{os.fspath(f.path)!r} has no in-process detector (black boxes record no scores "
                            f"to replay); detectors: {', '.join(f.detectors)}")
        detector = cores[0]
    f.check_detector(detector)
    if f.kind_of(detector) != "core":
        raise TuneError(f"detector {detector!r} is a black box: it records alerts, not scores, and its policy is "
                        f"its own; tune an in-process detector ({', '.join(cores) or 'none here'})")
    role = f.seeds_role()
    runs = {rid: r for rid, r in f.ok_runs.items() if r["detector"] == detector}
    if on == "tuning":
        tune_runs = {rid for rid, r in runs.items() if role.get(int(r["seed"])) == "tuning"}
        if not tune_runs:
            from sim.seeds import TUNING_SEEDS

            raise TuneError(f"no run of {detector!r} in {os.fspath(f.path)!r} uses a tuning seed "
                            f"({TUNING_SEEDS[0]}..{TUNING_SEEDS[-1]}, sim/seeds.py; seeds here: "
                            f"{sorted({int(r['seed']) for r in runs.values()})}); run the grid with "
                            f"seeds: {{first: {TUNING_SEEDS[0]}, count: N}} or pass --on all (in-sample figures)")
    elif on == "all":
        tune_runs = set(runs)
    else:
        raise TuneError(f"--on must be 'tuning' or 'all'; got {on!r}")
    held = {rid for rid, r in runs.items() if role.get(int(r["seed"])) == "held_out" and rid not in tune_runs}
    types = f.types_of(detector)
    sweeps = {t: sweep_folder(f, detector, t, min_duration_s=min_duration_s, max_thresholds=max_thresholds,
                              runs=tune_runs) for t in types}
    if target.rfa_per_hour is not None:
        choices = {t: choose_for_rfa(s, target.rfa_per_hour) for t, s in sweeps.items()}
    else:
        choices = choose_for_budget(sweeps, target.alerts_per_hour, target.n_cameras)
    res = TuneResult(detector=detector, target=target, choices=choices,
                     tuning_seeds=sorted({int(runs[r]["seed"]) for r in tune_runs}), tuning_runs=len(tune_runs),
                     site_alerts_per_hour=sum(c.alerts_per_camera_hour for c in choices.values()) * target.n_cameras)
    if held:
        res.held_out_seeds = sorted({int(runs[r]["seed"]) for r in held})
        for t, c in choices.items():
            s = sweep_folder(f, detector, t, thresholds=[c.threshold], min_duration_s=c.min_duration_s, runs=held)
            r = s.rates()
            iv = s.intervals()
            res.held_out[t] = {k: float(r[k][0]) for k in ("p_miss", "recall", "rfa_per_hour", "alerts_per_hour")}
            res.held_out[t].update({k: float(v[0]) for k, v in iv.items()})
    return res
