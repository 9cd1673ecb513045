"""A train as a world object: its passage through the station over time.

A :class:`TrainRun` is one on-stage train (:mod:`sim.scenario.trains`): it runs in at line
speed ``v`` and brakes at a constant ``a_b`` so as to stand still with its head at ``s_stop``
at ``at_s`` (the braking starts ``v / a_b`` seconds and ``v² / (2 a_b)`` metres before); it
stands there ``dwell_s`` seconds, its doors opening over ``door_s``, open, and closing over
``door_s`` until :data:`~sim.scenario.trains.DEPART_AFTER_CLOSE_S` before it leaves; then it
accelerates at ``a_a`` up to line speed. With ``tau`` the time to the stop (or since the
departure), the head stands at ``s_stop - a_b tau² / 2`` while braking and at
``s_stop + a_a tau² / 2`` while accelerating. The doors' opening follows a smoothstep of
time. The train is in the station while some of it lies between the track bed's tunnel
mouths, and in the world's state from :data:`HEADLIGHT_LEAD_M` before (its headlights light
the station first); :meth:`TrainRun.intervals` gives the phases a camera can see (arrival:
from its light's coming to the stop; dwell; departure: until the tail is gone), the ground
truth's context.

:class:`TrainRuns` holds the runs of a scenario and answers for all of them at a time:
the :class:`~sim.state.TrainState` of the trains in the station, the door passages open
now (where people cross the platform edge into and out of a train, which is no intrusion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.scenario.trains import DEPART_AFTER_CLOSE_S, doors_along, stage_of, stop_position_m, train_body
from sim.state import TrainBody, TrainPhase, TrainState

#: [m] a door's passage (where crossing the edge is no intrusion) reaches this far beyond the door's sides
PASSAGE_SLACK_M = 0.25
#: [m] a train coming in is in the world's state (its headlights light the station) from this far
#: inside the tunnel, before it comes out
HEADLIGHT_LEAD_M = 30.0


@dataclass(frozen=True, kw_only=True)
class TrainRun:
    """One on-stage train's passage; times [s], positions [m] along its heading (:class:`TrainBody`)."""

    body: TrainBody
    at_s: float  #: standstill, doors start to open
    dwell_s: float  #: standstill until the departure
    door_s: float  #: time the doors take to open, and to close
    line_speed_mps: float
    braking_mps2: float
    acceleration_mps2: float
    stop_s: float  #: [m] the head's position at the stop
    release_doors: np.ndarray  #: indices of the doors its passengers alight through
    board_doors: np.ndarray  #: indices of the doors boarders take

    @property
    def index(self) -> int:
        return self.body.index

    # --- timeline --------------------------------------------------------------------------
    @property
    def depart_s(self) -> float:
        return self.at_s + self.dwell_s

    @property
    def open_s(self) -> float:
        """[s] the doors are fully open from here ..."""
        return self.at_s + self.door_s

    @property
    def close_s(self) -> float:
        """[s] ... until here, when they start to close."""
        return self.depart_s - DEPART_AFTER_CLOSE_S - self.door_s

    @property
    def closed_s(self) -> float:
        """[s] the doors are shut again."""
        return self.depart_s - DEPART_AFTER_CLOSE_S

    def _time_to_cover(self, distance_m: float, accel: float) -> float:
        """[s] from standstill (or to it) over ``distance_m`` with ``accel`` up to line speed."""
        v = self.line_speed_mps
        ramp_m = v * v / (2.0 * accel)
        if distance_m <= ramp_m:
            return math.sqrt(2.0 * max(distance_m, 0.0) / accel)
        return v / accel + (distance_m - ramp_m) / v

    def _distance_in(self, tau: float, accel: float) -> tuple[float, float]:
        """([m], [m/s]) distance from the stop and speed ``tau`` [s] from it."""
        v = self.line_speed_mps
        ramp_s = v / accel
        if tau <= ramp_s:
            return 0.5 * accel * tau * tau, accel * tau
        return v * v / (2.0 * accel) + v * (tau - ramp_s), v

    def head_s(self, t: float) -> float:
        """[m] the head's position along the heading at ``t``."""
        return self.motion(t)[0]

    def motion(self, t: float) -> tuple[float, float]:
        """([m], [m/s]) the head's position and the speed at ``t`` [s]."""
        if t < self.at_s:
            d, v = self._distance_in(self.at_s - t, self.braking_mps2)
            return self.stop_s - d, v
        if t <= self.depart_s:
            return self.stop_s, 0.0
        d, v = self._distance_in(t - self.depart_s, self.acceleration_mps2)
        return self.stop_s + d, v

    def door_open(self, t: float) -> float:
        """How far the doors are open at ``t``: 0 shut .. 1 fully open (smoothstep in time)."""
        if t <= self.at_s or t >= self.closed_s:
            return 0.0
        x = min((t - self.at_s) / self.door_s, (self.closed_s - t) / self.door_s, 1.0)
        return x * x * (3.0 - 2.0 * x)

    def phase(self, t: float) -> TrainPhase:
        if t < self.at_s:
            return TrainPhase.ARRIVING
        return TrainPhase.DWELLING if t <= self.depart_s else TrainPhase.DEPARTING

    @property
    def enter_s(self) -> float:
        """[s] the head comes out of the tunnel mouth it enters by."""
        return self.at_s - self._time_to_cover(self.stop_s - self.body.portal_s_m[0], self.braking_mps2)

    @property
    def gone_s(self) -> float:
        """[s] the tail goes into the far tunnel mouth."""
        beyond = self.body.portal_s_m[1] + self.body.length_m - self.stop_s
        return self.depart_s + self._time_to_cover(beyond, self.acceleration_mps2)

    def present(self, t: float) -> bool:
        """Whether some of the train lies between the tunnel mouths at ``t``."""
        return self.enter_s < t < self.gone_s

    @property
    def lit_s(self) -> float:
        """[s] the head is :data:`HEADLIGHT_LEAD_M` inside the tunnel: its headlights start to light the station."""
        return self.at_s - self._time_to_cover(self.stop_s - self.body.portal_s_m[0] + HEADLIGHT_LEAD_M,
                                               self.braking_mps2)

    def in_state(self, t: float) -> bool:
        """Whether the train is in the world's state at ``t``: in the station, or coming in and lighting
        it already (from :attr:`lit_s`)."""
        return self.lit_s < t < self.gone_s

    def passable(self, t: float) -> bool:
        """Whether the doors are fully open (people step through) at ``t``."""
        return self.open_s - 1e-9 <= t < self.close_s - 1e-9

    def intervals(self, t_end: float | None = None) -> list[dict]:
        """The phases a camera can see, as ground-truth context records (cut at ``t_end`` [s]): the
        arrival from the moment its headlights light the station (or, without them, its head comes out
        of the tunnel) to its stop, the dwell, the departure until its tail is gone."""
        first = self.lit_s if self.body.headlights else self.enter_s
        phases = (("arrival", first, self.at_s), ("dwell", self.at_s, self.depart_s),
                  ("departure", self.depart_s, self.gone_s))
        out = []
        for name, t0, t1 in phases:
            if t_end is not None and t0 >= t_end:
                break
            t1c = t1 if t_end is None else min(t1, t_end)
            rec = {"kind": "train", "id": f"train_{self.index}", "phase": name, "t_start": round(max(t0, 0.0), 6),
                   "t_end": round(t1c, 6), "platform_edge": self.body.edge}
            if name == "dwell":
                rec["doors_open"] = [round(self.at_s, 6), round(min(self.closed_s, t1c), 6)]
            out.append(rec)
        return out

    # --- doors on the ground -------------------------------------------------------------------
    def door_s_m(self, doors: np.ndarray | None = None) -> np.ndarray:
        """[m] the s of door centres at the stop (all doors, or those indexed by ``doors``)."""
        s = self.stop_s - self.body.door_offsets_m()
        return s if doors is None else s[doors]

    def passages(self) -> np.ndarray:
        """(D, 4, 2) [m] the ground rectangle of each door's passage, from the platform edge
        through the car, :data:`PASSAGE_SLACK_M` wider than the door on each side."""
        b = self.body
        half = b.door_width_m / 2 + PASSAGE_SLACK_M
        c = self.door_s_m()
        s = np.stack([c - half, c + half, c + half, c - half], axis=1)
        n = np.broadcast_to(np.array([-0.01, -0.01, b.gap_m + b.width_m, b.gap_m + b.width_m]), s.shape)
        return b.ground(s, n)


def build_runs(scenario) -> list[TrainRun | None]:
    """Per train of ``scenario.station.trains``: its :class:`TrainRun`, or None off stage."""
    st = scenario.station
    entrances = {p.name: p.segment for p in st.entrances}
    exits = {p.name: p.segment for p in st.exits}
    out: list[TrainRun | None] = []
    for i, tr in enumerate(st.trains):
        stage = stage_of(st, tr)
        if stage is None:
            out.append(None)
            continue
        v = tr.vehicle
        body = train_body(i, stage, v)
        stop = stop_position_m(stage, v)
        board = doors_along(body, stop, exits[tr.board]) if tr.board is not None else np.zeros(0, np.int64)
        out.append(TrainRun(body=body, at_s=float(tr.at_s), dwell_s=float(tr.dwell_s), door_s=float(v.door_s),
                            line_speed_mps=float(v.approach_speed_mps), braking_mps2=float(v.braking_mps2),
                            acceleration_mps2=float(v.acceleration_mps2), stop_s=stop,
                            release_doors=doors_along(body, stop, entrances[tr.entrance]), board_doors=board))
    return out


class TrainRuns:
    """The on-stage trains of a scenario (``runs[i]`` for ``station.trains[i]``, None off stage)."""

    def __init__(self, scenario) -> None:
        self.runs = build_runs(scenario)
        self.on_stage = [r for r in self.runs if r is not None]

    def __bool__(self) -> bool:
        return bool(self.on_stage)

    def __getitem__(self, i: int) -> TrainRun | None:
        return self.runs[i]

    def state(self, t: float) -> TrainState:
        """The trains in the station at ``t`` [s], and those about to come out of the tunnel."""
        rows = [r for r in self.on_stage if r.in_state(t)]
        if not rows:
            return TrainState.empty()
        motion = [r.motion(t) for r in rows]
        return TrainState(ids=np.array([r.index for r in rows], np.int64),
                          head_s_m=np.array([m[0] for m in motion]), speed_mps=np.array([m[1] for m in motion]),
                          door_open=np.array([r.door_open(t) for r in rows]),
                          phase=np.array([r.phase(t) for r in rows], np.uint8), bodies=tuple(r.body for r in rows))

    def passages(self, t: float) -> np.ndarray | None:
        """(k, 4, 2) [m] the passages of every door open at ``t`` (None when no door is open)."""
        open_ = [r.passages() for r in self.on_stage if r.door_open(t) > 0.0]
        return np.concatenate(open_) if open_ else None

    def context(self, t_end: float | None = None) -> list[dict]:
        """Every on-stage train's visible phases up to ``t_end`` [s], by time."""
        out = [rec for r in self.on_stage for rec in r.intervals(t_end)]
        return sorted(out, key=lambda rec: (rec["t_start"], rec["id"]))
