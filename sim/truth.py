"""Ground truth in world coordinates, recorded while the simulation runs.

The model feeds :meth:`TruthRecorder.observe` with every pedestrian's position after each
step; the recorder turns the zones' rules into event instances (:class:`WorldEvent`):

* **intrusion**, per forbidden zone: every maximal run of observations during which one
  person's position lies inside the zone, whatever that person was doing (an injected
  intruder or anyone pushed there). ``t_start`` is the first observation inside,
  ``t_end`` the last one.
* **excessive_density**, per density zone: the density (persons inside / zone area) is
  averaged over a trailing window (``density_window_s``, observations with
  ``t - window < t_i <= t``); an instance is a maximal run of observations with the
  average above ``capacity_per_m2``; runs separated by less than ``merge_gap_s`` are merged,
  then runs shorter than ``min_duration_s`` are dropped. The peak average is kept.

Counts are kept as integers; the average divides once per observation. It also samples
world tracks ``(t, id, x, y, posture)`` every ``track_interval_s`` for :meth:`tracks_table`.
Projection into cameras (boxes, visibility) happens downstream, in the renderer.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from detectors.events import EventType
from sim.geometry import as_polygon, points_in_polygon, polygon_area, polygon_centroid


@dataclass(frozen=True, kw_only=True)
class WorldEvent:
    """One ground-truth event instance on the ground plane."""

    id: str
    type: EventType
    t_start: float  #: [s] first observation of the event
    t_end: float  #: [s] last observation of the event
    agent_ids: tuple[int, ...]  #: the people involved (for density: those in the zone at onset)
    zone: str | None  #: the zone whose rule was broken
    position_m: tuple[float, float]  #: [m] ground point at onset (the person, or the crowd's centre)
    source: Literal["injected", "emergent"]
    peak_density_per_m2: float | None = None  #: [persons/m²] highest window average (density only)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType.parse(self.type))
        if self.source not in ("injected", "emergent"):
            raise ValueError(f"WorldEvent.source must be 'injected' or 'emergent'; got {self.source!r}")
        if not self.t_end >= self.t_start:
            raise ValueError(f"WorldEvent {self.id!r}: t_end must be >= t_start={self.t_start}; got {self.t_end}")

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "type": self.type.value,
            "t_start": round(self.t_start, 6),
            "t_end": round(self.t_end, 6),
            "agent_ids": [int(a) for a in self.agent_ids],
            "zone": self.zone,
            "position_m": [round(float(v), 4) for v in self.position_m],
            "source": self.source,
        }
        if self.peak_density_per_m2 is not None:
            out["peak_density_per_m2"] = round(self.peak_density_per_m2, 6)
        return out


@dataclass
class _Zone:
    name: str
    polygon: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    area_m2: float
    capacity_per_m2: float | None = None


@dataclass
class _DensityState:
    window: deque = field(default_factory=deque)  # (t, count)
    window_sum: int = 0
    open: list | None = None  # [t_start, t_last, peak, onset ids, onset position]
    runs: list = field(default_factory=list)


class TruthRecorder:
    """Turns observed positions into ground-truth event instances and world tracks.

    ``zones`` are objects with ``name``, ``kind`` (``"forbidden"``, ``"one_way"`` or
    ``"density"``), ``polygon`` and ``capacity_per_m2`` (:class:`sim.scenario.ZoneSpec`).
    ``track_interval_s`` is the sampling period of the world tracks (``None``: every
    observation, ``0`` or less: no tracks).
    """

    def __init__(
        self,
        zones=(),
        *,
        track_interval_s: float | None = None,
        density_window_s: float = 2.0,
        merge_gap_s: float = 5.0,
        min_duration_s: float = 1.0,
    ) -> None:
        if not density_window_s > 0:
            raise ValueError(f"density_window_s must be > 0 s; got {density_window_s!r}")
        if merge_gap_s < 0 or min_duration_s < 0:
            raise ValueError(f"merge_gap_s and min_duration_s must be >= 0 s; got {merge_gap_s!r}, {min_duration_s!r}")
        self.density_window_s = float(density_window_s)
        self.merge_gap_s = float(merge_gap_s)
        self.min_duration_s = float(min_duration_s)
        self.track_interval_s = track_interval_s
        self._forbidden: list[_Zone] = []
        self._density: list[_Zone] = []
        for i, z in enumerate(zones):
            kind = getattr(z.kind, "value", z.kind)
            poly = as_polygon(z.polygon, field=f"zones[{i}].polygon")
            zone = _Zone(z.name, poly, poly.min(axis=0), poly.max(axis=0), polygon_area(poly))
            if kind == "forbidden":
                self._forbidden.append(zone)
            elif kind == "density":
                cap = getattr(z, "capacity_per_m2", None)
                if cap is None or not cap > 0:
                    raise ValueError(f"zones[{i}] ({z.name!r}): a density zone needs capacity_per_m2 > 0; got {cap!r}")
                zone.capacity_per_m2 = float(cap)
                self._density.append(zone)
        # intrusion: per forbidden zone, open runs {agent id: [t_start, t_last, x, y]}
        self._open: list[dict[int, list]] = [{} for _ in self._forbidden]
        self._runs: list[tuple[int, int, float, float, float, float]] = []  # (zone, id, t0, t1, x, y)
        self._dens = [_DensityState() for _ in self._density]
        self._injected: dict[int, str] = {}
        self._t_last: float | None = None
        self._track_k = -1
        self._tracks: list[tuple[np.ndarray, ...]] = []

    def register_injected(self, agent_id: int, event_id: str) -> None:
        """Mark ``agent_id`` as the actor of the injected event ``event_id``: its intrusions
        carry that id and ``source='injected'``."""
        self._injected[int(agent_id)] = event_id

    # --- feeding ------------------------------------------------------------------------
    def observe(self, t: float, ids: np.ndarray, pos_m: np.ndarray, posture: np.ndarray | None = None) -> None:
        """Record the positions ``(N, 2)`` [m] of the people ``ids`` ``(N,)`` at time ``t`` [s]."""
        t = float(t)
        if self._t_last is not None and t <= self._t_last:
            raise ValueError(f"observe: t must increase; got t={t} after t={self._t_last}")
        self._t_last = t
        ids = np.asarray(ids)
        pos = np.asarray(pos_m, dtype=np.float64).reshape(-1, 2)
        for z, zone in enumerate(self._forbidden):
            inside = self._inside(zone, pos)
            self._update_intrusion(z, t, ids[inside], pos[inside])
        for z, zone in enumerate(self._density):
            inside = self._inside(zone, pos)
            self._update_density(z, zone, t, ids[inside], pos[inside])
        if self.track_interval_s is None or (self.track_interval_s > 0 and self._track_due(t)):
            post = np.zeros(len(ids), np.uint8) if posture is None else np.asarray(posture, np.uint8)
            self._tracks.append((np.full(len(ids), t), ids.astype(np.int64), pos[:, 0].copy(), pos[:, 1].copy(),
                                 post.copy()))

    def _track_due(self, t: float) -> bool:
        k = math.floor(t / self.track_interval_s + 1e-6)
        if k > self._track_k:
            self._track_k = k
            return True
        return False

    @staticmethod
    def _inside(zone: _Zone, pos: np.ndarray) -> np.ndarray:
        near = np.nonzero((pos[:, 0] >= zone.lo[0]) & (pos[:, 0] <= zone.hi[0])
                          & (pos[:, 1] >= zone.lo[1]) & (pos[:, 1] <= zone.hi[1]))[0]
        if len(near) == 0:
            return near
        return near[points_in_polygon(pos[near], zone.polygon)]

    def _update_intrusion(self, z: int, t: float, ids_in: np.ndarray, pos_in: np.ndarray) -> None:
        open_runs = self._open[z]
        now = set()
        for k, aid in enumerate(ids_in.tolist()):
            now.add(aid)
            run = open_runs.get(aid)
            if run is None:
                open_runs[aid] = [t, t, float(pos_in[k, 0]), float(pos_in[k, 1])]
            else:
                run[1] = t
        for aid in [a for a in open_runs if a not in now]:
            t0, t1, x, y = open_runs.pop(aid)
            self._runs.append((z, aid, t0, t1, x, y))

    def _update_density(self, z: int, zone: _Zone, t: float, ids_in: np.ndarray, pos_in: np.ndarray) -> None:
        st = self._dens[z]
        count = len(ids_in)
        st.window.append((t, count))
        st.window_sum += count
        while st.window[0][0] <= t - self.density_window_s:
            st.window_sum -= st.window.popleft()[1]
        avg = st.window_sum / len(st.window) / zone.area_m2
        if avg > zone.capacity_per_m2:
            if st.open is None:
                centre = pos_in.mean(axis=0) if count else polygon_centroid(zone.polygon)
                st.open = [t, t, avg, tuple(int(a) for a in ids_in.tolist()), (float(centre[0]), float(centre[1]))]
            else:
                st.open[1] = t
                st.open[2] = max(st.open[2], avg)
        elif st.open is not None:
            st.runs.append(st.open)
            st.open = None

    # --- results ------------------------------------------------------------------------
    def events(self, t_end: float | None = None) -> list[WorldEvent]:
        """All event instances, sorted by ``(t_start, id)``; runs still open end at ``t_end``
        (default: the last observation)."""
        t_close = self._t_last if t_end is None else float(t_end)
        out: list[WorldEvent] = []

        runs = list(self._runs)
        for z, open_runs in enumerate(self._open):
            for aid, (t0, _t1, x, y) in open_runs.items():
                runs.append((z, aid, t0, max(t_close, t0), x, y))
        by_agent: dict[int, list] = {}
        for r in runs:
            by_agent.setdefault(r[1], []).append(r)
        for aid, agent_runs in by_agent.items():
            agent_runs.sort(key=lambda r: (r[2], r[0]))
            injected = self._injected.get(aid)
            for k, (z, _, t0, t1, x, y) in enumerate(agent_runs):
                if injected is not None:
                    eid = injected if k == 0 else f"{injected}_{k}"
                else:
                    eid = f"intrusion_{aid}_{k}"
                out.append(WorldEvent(
                    id=eid, type=EventType.INTRUSION, t_start=t0, t_end=t1, agent_ids=(int(aid),),
                    zone=self._forbidden[z].name, position_m=(x, y),
                    source="injected" if injected is not None else "emergent",
                ))

        for z, zone in enumerate(self._density):
            st = self._dens[z]
            runs_d = [list(r) for r in st.runs]
            if st.open is not None:
                closed = list(st.open)
                closed[1] = max(t_close, closed[0])
                runs_d.append(closed)
            merged: list[list] = []
            for r in runs_d:
                if merged and r[0] - merged[-1][1] < self.merge_gap_s:
                    merged[-1][1] = r[1]
                    merged[-1][2] = max(merged[-1][2], r[2])
                else:
                    merged.append(r)
            k = 0
            for t0, t1, peak, onset_ids, centre in merged:
                if t1 - t0 < self.min_duration_s:
                    continue
                out.append(WorldEvent(
                    id=f"excessive_density_{zone.name}_{k}", type=EventType.EXCESSIVE_DENSITY,
                    t_start=t0, t_end=t1, agent_ids=onset_ids, zone=zone.name, position_m=centre,
                    source="emergent", peak_density_per_m2=peak,
                ))
                k += 1
        out.sort(key=lambda e: (e.t_start, e.id))
        return out

    def tracks_table(self):
        """World tracks as a ``pyarrow.Table`` with columns t [s], id, x [m], y [m], posture."""
        import pyarrow as pa

        if self._tracks:
            cols = [np.concatenate([chunk[i] for chunk in self._tracks]) for i in range(5)]
        else:
            cols = [np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8)]
        return pa.table({"t": cols[0], "id": cols[1], "x": cols[2], "y": cols[3], "posture": cols[4]})

    def to_dict(self, t_end: float | None = None) -> dict:
        """The event instances as JSON-ready data (tracks go to Parquet via :meth:`tracks_table`)."""
        return {
            "events": [e.to_dict() for e in self.events(t_end)],
            "zones": {
                "forbidden": [z.name for z in self._forbidden],
                "density": [{"name": z.name, "area_m2": round(z.area_m2, 6), "capacity_per_m2": z.capacity_per_m2}
                            for z in self._density],
            },
        }
