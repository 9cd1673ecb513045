"""Ground truth in world coordinates, recorded while the simulation runs.

The model feeds :meth:`TruthRecorder.observe` with every pedestrian's position (and
velocity, posture, carried object, vest), the objects on the floor and the fires after
each step; the recorder applies one rule per event type and turns what it sees into event
instances (:class:`WorldEvent`). The rules look at what happens, never at the script that
made it happen: a staged event that does not play out (an intruder who never reaches the
zone) yields nothing, and a look-alike (a person sitting down, staff in a vest) yields
nothing because the rule says so. An instance whose people or object were registered by a
staged event (:meth:`TruthRecorder.register_injected`) takes that event's id and
``source='injected'``; the others are ``emergent``.

* **intrusion**, per forbidden zone: every maximal run of observations during which one
  person's position lies inside the zone, whatever that person was doing. ``t_start`` is
  the first observation inside, ``t_end`` the last one. People in a high-visibility vest
  do not count in a zone that allows staff. A train's open door passages are not in any
  zone: a passenger stepping across the platform edge into or out of a train standing
  there is no intruder, while a person on the track bed anywhere else, or with no train
  there, is. (The train itself is no person: it is context, :mod:`sim.world.train_runs`.)
* **excessive_density**, per density zone: the density (persons inside / zone area) is
  averaged over a trailing window (``density_window_s``, observations with
  ``t - window < t_i <= t``); an instance is a maximal run of observations with the
  average above ``capacity_per_m2``; runs separated by less than ``merge_gap_s`` are merged,
  then runs shorter than ``min_duration_s`` are dropped. The peak average is kept. An
  instance is injected when one of the people in the zone at onset was gathered there by
  a staged event.
* **person_on_ground**, per person: a maximal run of observations in posture FALLING or
  LYING that contains LYING (a fall that ends on the floor). Sitting and crouching are
  other postures and never count. ``t_start`` is the first FALLING (or LYING) observation.
* **wrong_way**, per one_way zone and person: observations inside the zone whose velocity
  points more than ``wrong_way_angle_deg`` (90) away from the zone's direction with a
  component against it faster than ``wrong_way_min_speed_mps`` (0.3 m/s; a person crossing
  who drifts a little against the flow does not count); runs of one person closer than
  ``wrong_way_merge_gap_s`` (1 s) merge, and merged runs shorter than ``wrong_way_min_s``
  (1.5 s) are dropped. ``t_start`` is the first observation of the run.
* **crowd_movement**: a crowd starts moving at the first observation at which at least
  ``crowd_min_agents`` people faster than ``crowd_speed_mps`` (runners) lie within
  ``crowd_radius_m`` of one of them or of the runners' centroid (the largest such group is
  the crowd); it moves on while at least ``crowd_min_agents`` of that crowd still run,
  wherever they are (a dispersal spreads out); a runner within ``crowd_radius_m`` of a
  running member joins the crowd. Runs closer than ``crowd_merge_gap_s`` merge;
  runs shorter than ``crowd_min_s`` are dropped.
* **abandoned_object**, per object on the floor: the owner is *away* while farther than
  ``abandoned_distance_m`` from it or gone from the station (an object without owner is
  away from the start); the instance starts at the first observation at which the owner
  has been away for ``abandoned_after_s`` and ends when the owner comes back or the object
  is gone.
* **weapon**, per person: a maximal run of observations carrying a rifle (``Prop.RIFLE``),
  raised or not (the decree's "presence or use"). Umbrellas, canes and guitar cases are
  other props and never count.
* **fire**, per fire: from its first to its last observation.

Counts are kept as integers; the density average divides once per observation. The
recorder also samples world tracks ``(t, id, x, y, posture)`` every ``track_interval_s``
for :meth:`tracks_table` (with ``body``, ``prop`` and ``appearance_group`` when it is fed
them, as the simulation does). Projection into cameras (boxes, visibility) happens downstream,
in :func:`sim.annotate.camera_instances`.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Iterator, Literal

import numpy as np

from detectors.events import EventType
from sim.geometry import as_polygon, points_in_polygon, polygon_area, polygon_centroid
from sim.state import Posture, Prop

_FALLING, _LYING = int(Posture.FALLING), int(Posture.LYING)
_RIFLE = int(Prop.RIFLE)


@dataclass(frozen=True, kw_only=True)
class WorldEvent:
    """One ground-truth event instance on the ground plane."""

    id: str
    type: EventType
    t_start: float  #: [s] first observation of the event
    t_end: float  #: [s] last observation of the event
    agent_ids: tuple[int, ...]  #: the people involved (density: those in the zone at onset; abandoned object: the owner)
    zone: str | None  #: the zone whose rule was broken
    position_m: tuple[float, float]  #: [m] ground point at onset (the person, the object, the fire, the crowd's centre)
    source: Literal["injected", "emergent"]
    peak_density_per_m2: float | None = None  #: [persons/m²] highest window average (density only)
    #: ids of the objects involved: ``ObjectState.ids`` for an abandoned object, ``FireState.ids`` for a fire
    object_ids: tuple[int, ...] = ()
    #: [m] width, depth, height of the object or the flames at onset, standing at ``position_m``
    #: (places the event's box in a camera when it has no person to show)
    size_m: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType.parse(self.type))
        if self.source not in ("injected", "emergent"):
            raise ValueError(f"WorldEvent.source must be 'injected' or 'emergent'; got {self.source!r}")
        if not self.t_end >= self.t_start:
            raise ValueError(f"WorldEvent {self.id!r}: t_end must be >= t_start={self.t_start}; got {self.t_end}")
        if self.size_m is not None and (len(self.size_m) != 3 or min(self.size_m) <= 0):
            raise ValueError(f"WorldEvent {self.id!r}: size_m must be three lengths > 0 m; got {self.size_m!r}")

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
        if self.object_ids:
            out["object_ids"] = [int(o) for o in self.object_ids]
        if self.size_m is not None:
            out["size_m"] = [round(float(v), 4) for v in self.size_m]
        return out


@dataclass(frozen=True, kw_only=True)
class TruthRules:
    """Constants of the ground-truth rules (the file form is ``sim.scenario.TruthSpec``)."""

    abandoned_distance_m: float = 3.0  #: [m] an object is unattended while its owner is farther than this
    abandoned_after_s: float = 10.0  #: [s] unattended this long, an object is abandoned
    wrong_way_angle_deg: float = 90.0  #: [deg] least deviation of the velocity from the allowed direction
    wrong_way_min_speed_mps: float = 0.3  #: [m/s] least speed of the velocity's component against the direction
    wrong_way_min_s: float = 1.5  #: [s] shortest wrong-way walk that counts
    wrong_way_merge_gap_s: float = 1.0  #: [s] wrong-way runs of one person closer than this merge
    crowd_speed_mps: float = 2.2  #: [m/s] a person moving faster than this is running
    crowd_radius_m: float = 6.0  #: [m] runners within this distance of a runner or of their centroid form a crowd
    crowd_min_agents: int = 8  #: least number of runners within crowd_radius_m
    crowd_min_s: float = 1.0  #: [s] shortest crowd movement that counts
    crowd_merge_gap_s: float = 1.0  #: [s] crowd-movement runs closer than this merge

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"TruthRules.{f.name} must be a finite number >= 0; got {v!r}")
        if not self.wrong_way_angle_deg < 180:
            raise ValueError(f"TruthRules.wrong_way_angle_deg must be < 180; got {self.wrong_way_angle_deg!r}")

    @classmethod
    def from_spec(cls, spec) -> "TruthRules":
        """From an object with the same attribute names (``sim.scenario.TruthSpec``)."""
        return cls(**{f.name: getattr(spec, f.name) for f in fields(cls)})


@dataclass
class _Zone:
    name: str
    polygon: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    area_m2: float
    capacity_per_m2: float | None = None
    allow_staff: bool = False
    direction: np.ndarray | None = None  #: unit vector of the allowed direction (one_way)


@dataclass
class _DensityState:
    window: deque = field(default_factory=deque)  # (t, count)
    window_sum: int = 0
    open: list | None = None  # [t_start, t_last, peak, onset ids, onset position]
    runs: list = field(default_factory=list)


class _AgentRuns:
    """Maximal runs of observations during which a per-person condition holds.

    ``open`` maps a person's id to ``[t_start, t_last, x, y, flag]`` (position at the
    start; ``flag`` is any-of a second condition over the run); a person who is not seen
    any more closes its run at its last observation.
    """

    def __init__(self) -> None:
        self.open: dict[int, list] = {}
        self.closed: list[tuple[int, float, float, float, float, bool]] = []  # (id, t0, t1, x, y, flag)

    def update(self, t: float, ids: np.ndarray, pos: np.ndarray, flag: np.ndarray | None = None) -> None:
        now = set()
        for k, aid in enumerate(ids.tolist()):
            now.add(aid)
            f = bool(flag[k]) if flag is not None else False
            run = self.open.get(aid)
            if run is None:
                self.open[aid] = [t, t, float(pos[k, 0]), float(pos[k, 1]), f]
            else:
                run[1] = t
                run[4] = run[4] or f
        if len(now) != len(self.open):
            for aid in [a for a in self.open if a not in now]:
                t0, t1, x, y, f = self.open.pop(aid)
                self.closed.append((aid, t0, t1, x, y, f))

    def all_runs(self, t_close: float) -> list[tuple[int, float, float, float, float, bool]]:
        """Closed and open runs; open ones end at ``t_close`` (or their start, if later)."""
        out = list(self.closed)
        for aid, (t0, _t1, x, y, f) in self.open.items():
            out.append((aid, t0, max(t_close, t0), x, y, f))
        return out


def points_in_quads(pts: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """(N,) whether each point lies in any of the convex quadrilaterals ``quads`` (k, 4, 2),
    either winding (boundary inside)."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    q = np.asarray(quads, dtype=np.float64).reshape(-1, 4, 2)
    e = np.roll(q, -1, axis=1) - q  # (k, 4, 2) edges
    rel = pts[:, None, None, :] - q[None]  # (N, k, 4, 2)
    cross = e[None, ..., 0] * rel[..., 1] - e[None, ..., 1] * rel[..., 0]
    inside = (cross >= -1e-12).all(axis=2) | (cross <= 1e-12).all(axis=2)
    return inside.any(axis=1)


def _merge_runs(runs: list[list], gap_s: float, combine=None) -> list[list]:
    """Merge time-sorted runs ``[t0, t1, ...]`` whose gap is below ``gap_s``: the first's data
    is kept, or ``combine(merged, run)`` folds the later run's data into it."""
    merged: list[list] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] < gap_s:
            merged[-1][1] = max(merged[-1][1], r[1])
            if combine is not None:
                combine(merged[-1], r)
        else:
            merged.append(list(r))
    return merged


def _runs_closed_at(runs, open_run: list | None, t_close: float) -> list[list]:
    """Copies of the finished ``runs``, and the one still open (if any) closed at ``t_close`` [s]."""
    out = [list(r) for r in runs]
    if open_run is not None:
        closed = list(open_run)
        closed[1] = max(t_close, closed[0])
        out.append(closed)
    return out


def _keep_peak(merged: list, run: list) -> None:
    merged[2] = max(merged[2], run[2])


def _join_ids(merged: list, run: list) -> None:
    merged[4] = merged[4] | run[4]


class TruthRecorder:
    """Turns observed positions into ground-truth event instances and world tracks.

    ``zones`` are objects with ``name``, ``kind`` (``"forbidden"``, ``"one_way"`` or
    ``"density"``), ``polygon``, ``capacity_per_m2``, ``direction_deg`` and optionally
    ``allowed`` (:class:`sim.scenario.ZoneSpec`). ``track_interval_s`` is the sampling
    period of the world tracks (``None``: every observation, ``0`` or less: no tracks).
    ``rules`` holds the constants of the other rules (default :class:`TruthRules`).
    """

    def __init__(
        self,
        zones=(),
        *,
        track_interval_s: float | None = None,
        density_window_s: float = 2.0,
        merge_gap_s: float = 5.0,
        min_duration_s: float = 1.0,
        rules: TruthRules | None = None,
    ) -> None:
        if not density_window_s > 0:
            raise ValueError(f"density_window_s must be > 0 s; got {density_window_s!r}")
        if merge_gap_s < 0 or min_duration_s < 0:
            raise ValueError(f"merge_gap_s and min_duration_s must be >= 0 s; got {merge_gap_s!r}, {min_duration_s!r}")
        self.density_window_s = float(density_window_s)
        self.merge_gap_s = float(merge_gap_s)
        self.min_duration_s = float(min_duration_s)
        self.track_interval_s = track_interval_s
        self.rules = rules or TruthRules()
        self._forbidden: list[_Zone] = []
        self._density: list[_Zone] = []
        self._one_way: list[_Zone] = []
        for i, z in enumerate(zones):
            kind = getattr(z.kind, "value", z.kind)
            poly = as_polygon(z.polygon, field=f"zones[{i}].polygon")
            zone = _Zone(z.name, poly, poly.min(axis=0), poly.max(axis=0), polygon_area(poly))
            if kind == "forbidden":
                zone.allow_staff = "staff" in (getattr(z, "allowed", None) or ())
                self._forbidden.append(zone)
            elif kind == "density":
                cap = getattr(z, "capacity_per_m2", None)
                if cap is None or not cap > 0:
                    raise ValueError(f"zones[{i}] ({z.name!r}): a density zone needs capacity_per_m2 > 0; got {cap!r}")
                zone.capacity_per_m2 = float(cap)
                self._density.append(zone)
            elif kind == "one_way":
                deg = getattr(z, "direction_deg", None)
                if deg is None or not math.isfinite(deg):
                    raise ValueError(f"zones[{i}] ({z.name!r}): a one_way zone needs direction_deg; got {deg!r}")
                a = math.radians(deg)
                zone.direction = np.array([math.cos(a), math.sin(a)])
                self._one_way.append(zone)
        # intrusion: per forbidden zone, open runs {agent id: [t_start, t_last, x, y]}
        self._open: list[dict[int, list]] = [{} for _ in self._forbidden]
        self._runs: list[tuple[int, int, float, float, float, float]] = []  # (zone, id, t0, t1, x, y)
        self._dens = [_DensityState() for _ in self._density]
        self._wrong = [_AgentRuns() for _ in self._one_way]
        self._ground = _AgentRuns()  # flag: LYING seen
        self._weapon = _AgentRuns()
        # crowd movement: runs [t0, t1, onset ids, onset centre, ids (set), ids (sorted array)]
        self._crowd_open: list | None = None
        self._crowd_runs: list[list] = []
        # abandoned objects: per object id {away_since, open run, runs, last t, owner, pos, size}
        self._objects: dict[int, dict] = {}
        self._object_runs: list[tuple[int, int, float, float, float, float, tuple]] = []  # (obj, owner, t0, t1, x, y, size)
        # fires: per fire id [t0, t1, x, y, size at onset]
        self._fires: dict[int, list] = {}
        self._injected: dict[tuple[EventType, int], str] = {}
        self._injected_objects: dict[tuple[EventType, int], str] = {}
        self._t_last: float | None = None
        self._track_k = -1
        self._tracks: list[tuple[np.ndarray, ...]] = []
        self._track_people = False  # body, prop and appearance_group columns (fed by the simulation)
        self._cos_wrong = math.cos(math.radians(self.rules.wrong_way_angle_deg))

    def _staged_id(self, event_type: EventType, agent_ids, used: dict[str, int]) -> str | None:
        """Id of the staged event that brought these agents together (``_1``, ``_2`` on repeats),
        or None for an emergent group. ``used`` counts the ids handed out so far."""
        staged = sorted({self._injected[(event_type, a)] for a in agent_ids if (event_type, a) in self._injected})
        if not staged:
            return None
        j = used.get(staged[0], 0)
        used[staged[0]] = j + 1
        return staged[0] if j == 0 else f"{staged[0]}_{j}"

    def _group_event_id(self, event_type: EventType, agent_ids, used: dict[str, int],
                        emergent: Iterator[str]) -> tuple[str, str]:
        """``(id, source)`` of a group event: the id of the staged event that brought its agents
        together (``"injected"``), else the next of the ``emergent`` ids (``"emergent"``)."""
        eid = self._staged_id(event_type, agent_ids, used)
        if eid is not None:
            return eid, "injected"
        return next(emergent), "emergent"

    def register_injected(self, agent_id: int, event_id: str, event_type: EventType | str = EventType.INTRUSION) -> None:
        """Mark ``agent_id`` as an actor of the staged event ``event_id``: its instances of
        ``event_type`` carry that id and ``source='injected'``."""
        self._injected[(EventType.parse(event_type), int(agent_id))] = event_id

    def register_injected_object(self, object_id: int, event_id: str, event_type: EventType | str) -> None:
        """Mark object (or fire) ``object_id`` as staged by ``event_id`` for ``event_type``."""
        self._injected_objects[(EventType.parse(event_type), int(object_id))] = event_id

    # --- feeding ------------------------------------------------------------------------
    def observe(self, t: float, ids: np.ndarray, pos_m: np.ndarray, posture: np.ndarray | None = None, *,
                vel_mps: np.ndarray | None = None, vest: np.ndarray | None = None, prop: np.ndarray | None = None,
                objects=None, fires=None, body: np.ndarray | None = None,
                appearance_group: np.ndarray | None = None, passages: np.ndarray | None = None) -> None:
        """Record the people ``ids`` ``(N,)`` at time ``t`` [s]: positions ``(N, 2)`` [m],
        postures (:class:`sim.state.Posture`), velocities ``(N, 2)`` [m/s], vests (bool) and
        carried props (:class:`sim.state.Prop`); ``objects`` (:class:`sim.state.ObjectState`)
        and ``fires`` (:class:`sim.state.FireState`) present now. Rules whose input is not
        given see nothing (no velocity: no wrong way and no crowd movement). ``body``
        (:class:`sim.state.BodyKind`) and ``appearance_group`` only reach the tracks.
        ``passages`` (k, 4, 2) [m] are convex ground quadrilaterals (open train doors)
        taken out of the forbidden zones."""
        t = float(t)
        if self._t_last is not None and t <= self._t_last:
            raise ValueError(f"observe: t must increase; got t={t} after t={self._t_last}")
        self._t_last = t
        ids = np.asarray(ids)
        pos = np.asarray(pos_m, dtype=np.float64).reshape(-1, 2)
        vel = None if vel_mps is None else np.asarray(vel_mps, dtype=np.float64).reshape(-1, 2)
        for z, zone in enumerate(self._forbidden):
            inside = self._inside(zone, pos)
            if zone.allow_staff and vest is not None and len(inside):
                inside = inside[~np.asarray(vest, bool)[inside]]
            if passages is not None and len(inside):
                inside = inside[~points_in_quads(pos[inside], passages)]
            self._update_intrusion(z, t, ids[inside], pos[inside])
        for z, zone in enumerate(self._density):
            inside = self._inside(zone, pos)
            self._update_density(z, zone, t, ids[inside], pos[inside])
        if vel is not None:
            for z, zone in enumerate(self._one_way):
                inside = self._inside(zone, pos)
                if len(inside):
                    v = vel[inside]
                    speed = np.hypot(v[:, 0], v[:, 1])
                    along = v @ zone.direction
                    # angle > threshold  <=>  v . d < |v| cos(threshold); and the component against
                    # the flow, -v . d, faster than the minimum (a crossing that drifts does not count)
                    wrong = (-along > self.rules.wrong_way_min_speed_mps) & (along < speed * self._cos_wrong)
                    inside = inside[wrong]
                self._wrong[z].update(t, ids[inside], pos[inside])
            self._update_crowd(t, ids, pos, vel)
        if posture is not None:
            post = np.asarray(posture)
            down = np.nonzero((post == _FALLING) | (post == _LYING))[0]
            self._ground.update(t, ids[down], pos[down], post[down] == _LYING)
        if prop is not None:
            armed = np.nonzero(np.asarray(prop) == _RIFLE)[0]
            self._weapon.update(t, ids[armed], pos[armed])
        if objects is not None or self._objects:
            self._update_objects(t, ids, pos, objects)
        if fires is not None or self._fires:
            self._update_fires(t, fires)
        if self.track_interval_s is None or (self.track_interval_s > 0 and self._track_due(t)):
            post = np.zeros(len(ids), np.uint8) if posture is None else np.asarray(posture, np.uint8)
            if body is not None or appearance_group is not None:
                self._track_people = True
            self._tracks.append((np.full(len(ids), t), ids.astype(np.int64), pos[:, 0].copy(), pos[:, 1].copy(),
                                 post.copy(),
                                 np.zeros(len(ids), np.uint8) if body is None else np.array(body, np.uint8),
                                 np.zeros(len(ids), np.uint8) if prop is None else np.array(prop, np.uint8),
                                 np.full(len(ids), -1, np.int16) if appearance_group is None
                                 else np.array(appearance_group, np.int16)))

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

    def _update_crowd(self, t: float, ids: np.ndarray, pos: np.ndarray, vel: np.ndarray) -> None:
        r = self.rules
        fast = np.nonzero(vel[:, 0] ** 2 + vel[:, 1] ** 2 > r.crowd_speed_mps ** 2)[0]
        run = self._crowd_open
        if run is not None:
            # the crowd keeps moving while enough of its people still run; runners within
            # crowd_radius_m of one of its running members join it
            fast_ids = ids[fast].astype(np.int64)
            still = np.isin(fast_ids, run[5])
            if still.any() and not still.all():
                p_in, p_out = pos[fast[still]], pos[fast[~still]]
                d2 = (p_out[:, None, 0] - p_in[None, :, 0]) ** 2 + (p_out[:, None, 1] - p_in[None, :, 1]) ** 2
                joins = (d2 <= r.crowd_radius_m ** 2).any(axis=1)
                if joins.any():
                    new = fast_ids[~still][joins]
                    run[4] |= set(new.tolist())
                    run[5] = np.union1d(run[5], new)
                    still[np.nonzero(~still)[0][joins]] = True
            if np.count_nonzero(still) >= r.crowd_min_agents:
                run[1] = t
                return
            self._crowd_runs.append(run)
            self._crowd_open = None
        if len(fast) < r.crowd_min_agents:
            return
        # onset: enough runners within crowd_radius_m of one of them or of the runners' centroid
        p = pos[fast]
        centres = np.vstack([p, p.mean(axis=0, keepdims=True)])
        d2 = (centres[:, None, 0] - p[None, :, 0]) ** 2 + (centres[:, None, 1] - p[None, :, 1]) ** 2
        near = d2 <= r.crowd_radius_m ** 2
        counts = near.sum(axis=1)
        best = int(np.argmax(counts))  # the first of the largest groups: deterministic
        if counts[best] < r.crowd_min_agents:
            return
        group = fast[near[best]]
        members = np.sort(ids[group].astype(np.int64))
        centre = pos[group].mean(axis=0)
        self._crowd_open = [t, t, tuple(int(a) for a in members.tolist()), (float(centre[0]), float(centre[1])),
                            set(members.tolist()), members]

    def _update_objects(self, t: float, ids: np.ndarray, pos: np.ndarray, objects) -> None:
        r = self.rules
        seen = set()
        if objects is not None and len(objects):
            for k, oid in enumerate(np.asarray(objects.ids).tolist()):
                seen.add(oid)
                opos = np.asarray(objects.pos_m[k], dtype=np.float64)
                owner = int(objects.owner_id[k])
                st = self._objects.get(oid)
                if st is None:
                    st = {"away_since": None, "open": None, "owner": owner,
                          "size": tuple(float(v) for v in objects.size_m[k])}
                    self._objects[oid] = st
                st["t"] = t
                st["pos"] = (float(opos[0]), float(opos[1]))
                away = True
                if owner >= 0:
                    rows = np.nonzero(ids == owner)[0]
                    if len(rows):
                        d = float(np.hypot(*(pos[rows[0]] - opos)))
                        away = d > r.abandoned_distance_m
                if not away:
                    st["away_since"] = None
                    if st["open"] is not None:
                        self._close_object(oid, st)
                    continue
                if st["away_since"] is None:
                    st["away_since"] = t
                if st["open"] is None and t - st["away_since"] >= r.abandoned_after_s - 1e-9:
                    st["open"] = [t, t, st["pos"]]
                elif st["open"] is not None:
                    st["open"][1] = t
        for oid in [o for o in self._objects if o not in seen]:
            st = self._objects.pop(oid)
            if st["open"] is not None:
                self._close_object(oid, st)

    def _close_object(self, oid: int, st: dict) -> None:
        t0, t1, (x, y) = st["open"]
        self._object_runs.append((oid, st["owner"], t0, t1, x, y, st["size"]))
        st["open"] = None

    def _update_fires(self, t: float, fires) -> None:
        seen = set()
        if fires is not None and len(fires):
            for k, fid in enumerate(np.asarray(fires.ids).tolist()):
                seen.add(fid)
                run = self._fires.get(fid)
                if run is None:
                    d = 2.0 * float(fires.flame_radius_m[k])
                    size = (d, d, max(float(fires.flame_height_m[k]), 1e-3))
                    self._fires[fid] = [t, t, float(fires.pos_m[k, 0]), float(fires.pos_m[k, 1]), size, True]
                elif run[5]:
                    run[1] = t
        for fid, run in self._fires.items():
            if fid not in seen:
                run[5] = False  # out: the run is closed at its last observation

    # --- results ------------------------------------------------------------------------
    def _event_id(self, etype: EventType, aid: int, k: int, prefix: str) -> tuple[str, str]:
        injected = self._injected.get((etype, aid))
        if injected is not None:
            return (injected if k == 0 else f"{injected}_{k}"), "injected"
        return f"{prefix}_{aid}_{k}", "emergent"

    def events(self, t_end: float | None = None) -> list[WorldEvent]:
        """All event instances, sorted by ``(t_start, id)``; runs still open end at ``t_end``
        (default: the last observation)."""
        t_close = self._t_last if t_end is None else float(t_end)
        if t_close is None:
            return []
        out: list[WorldEvent] = []
        out += self._intrusions(t_close)
        out += self._densities(t_close)
        out += self._person_on_ground(t_close)
        out += self._wrong_way(t_close)
        out += self._crowd_movements(t_close)
        out += self._weapons(t_close)
        out += self._abandoned(t_close)
        out += self._fire_events(t_close)
        out.sort(key=lambda e: (e.t_start, e.id))
        return out

    def _intrusions(self, t_close: float) -> list[WorldEvent]:
        runs = list(self._runs)
        for z, open_runs in enumerate(self._open):
            for aid, (t0, _t1, x, y) in open_runs.items():
                runs.append((z, aid, t0, max(t_close, t0), x, y))
        by_agent: dict[int, list] = {}
        for r in runs:
            by_agent.setdefault(r[1], []).append(r)
        rows = []
        for aid, agent_runs in by_agent.items():
            agent_runs.sort(key=lambda r: (r[2], r[0]))
            rows += [(aid, t0, t1, x, y, self._forbidden[z].name) for z, _, t0, t1, x, y in agent_runs]
        return self._per_person(EventType.INTRUSION, rows)

    def _per_person(self, event_type: EventType, rows) -> list[WorldEvent]:
        """One event per row ``(agent id, t_start, t_end, x, y, zone name or None)``; each
        agent's rows in time order, its k-th named by :meth:`_event_id`."""
        out = []
        counts: dict[int, int] = {}
        for aid, t0, t1, x, y, zone in rows:
            k = counts.get(aid, 0)
            counts[aid] = k + 1
            eid, source = self._event_id(event_type, aid, k, event_type.value)
            out.append(WorldEvent(id=eid, type=event_type, t_start=t0, t_end=t1, agent_ids=(int(aid),), zone=zone,
                                  position_m=(x, y), source=source))
        return out

    def _densities(self, t_close: float) -> list[WorldEvent]:
        out = []
        for z, zone in enumerate(self._density):
            st = self._dens[z]
            merged = _merge_runs(_runs_closed_at(st.runs, st.open, t_close), self.merge_gap_s, _keep_peak)
            used: dict[str, int] = {}
            emergent = (f"excessive_density_{zone.name}_{k}" for k in itertools.count())
            for t0, t1, peak, onset_ids, centre in merged:
                if t1 - t0 < self.min_duration_s:
                    continue
                # a crowd gathered by a staged event: named after it
                eid, source = self._group_event_id(EventType.EXCESSIVE_DENSITY, onset_ids, used, emergent)
                out.append(WorldEvent(
                    id=eid, type=EventType.EXCESSIVE_DENSITY, t_start=t0, t_end=t1, agent_ids=onset_ids,
                    zone=zone.name, position_m=centre, source=source, peak_density_per_m2=peak,
                ))
        return out

    def _person_on_ground(self, t_close: float) -> list[WorldEvent]:
        # a run without LYING is a fall still under way at the end of the run, or broken off
        runs = sorted(self._ground.all_runs(t_close), key=lambda r: (r[1], r[0]))
        return self._per_person(EventType.PERSON_ON_GROUND,
                                [(aid, t0, t1, x, y, None) for aid, t0, t1, x, y, lying in runs if lying])

    def _wrong_way(self, t_close: float) -> list[WorldEvent]:
        r = self.rules
        found = []
        for z, runs in enumerate(self._wrong):
            by_agent: dict[int, list] = {}
            for aid, t0, t1, x, y, _ in runs.all_runs(t_close):
                by_agent.setdefault(aid, []).append([t0, t1, x, y])
            for aid, agent_runs in by_agent.items():
                agent_runs.sort()
                for t0, t1, x, y in _merge_runs(agent_runs, r.wrong_way_merge_gap_s):
                    if t1 - t0 >= r.wrong_way_min_s - 1e-9:
                        found.append((t0, aid, z, t1, x, y))
        return self._per_person(EventType.WRONG_WAY, [(aid, t0, t1, x, y, self._one_way[z].name)
                                                      for t0, aid, z, t1, x, y in sorted(found)])

    def _crowd_movements(self, t_close: float) -> list[WorldEvent]:
        r = self.rules
        merged = _merge_runs(_runs_closed_at(self._crowd_runs, self._crowd_open, t_close), r.crowd_merge_gap_s,
                             _join_ids)
        out = []
        used: dict[str, int] = {}
        emergent = (f"crowd_movement_{k}" for k in itertools.count())
        for t0, t1, onset_ids, centre, members, _ in merged:
            if t1 - t0 < r.crowd_min_s - 1e-9:
                continue
            eid, source = self._group_event_id(EventType.CROWD_MOVEMENT, members, used, emergent)
            out.append(WorldEvent(id=eid, type=EventType.CROWD_MOVEMENT, t_start=t0, t_end=t1, agent_ids=onset_ids,
                                  zone=None, position_m=centre, source=source))
        return out

    def _weapons(self, t_close: float) -> list[WorldEvent]:
        runs = sorted(self._weapon.all_runs(t_close), key=lambda r: (r[1], r[0]))
        return self._per_person(EventType.WEAPON, [(aid, t0, t1, x, y, None) for aid, t0, t1, x, y, _ in runs])

    def _abandoned(self, t_close: float) -> list[WorldEvent]:
        runs = list(self._object_runs)
        for oid, st in self._objects.items():
            if st["open"] is not None:
                t0, _t1, (x, y) = st["open"]
                runs.append((oid, st["owner"], t0, max(t_close, t0), x, y, st["size"]))
        out = []
        counts: dict[int, int] = {}
        for oid, owner, t0, t1, x, y, size in sorted(runs, key=lambda r: (r[2], r[0])):
            k = counts.get(oid, 0)
            counts[oid] = k + 1
            staged = self._injected_objects.get((EventType.ABANDONED_OBJECT, oid))
            if staged is not None:
                eid, source = (staged if k == 0 else f"{staged}_{k}"), "injected"
            else:
                eid, source = f"abandoned_object_{oid}_{k}", "emergent"
            out.append(WorldEvent(id=eid, type=EventType.ABANDONED_OBJECT, t_start=t0, t_end=t1,
                                  agent_ids=(int(owner),) if owner >= 0 else (), zone=None, position_m=(x, y),
                                  source=source, object_ids=(int(oid),), size_m=size))
        return out

    def _fire_events(self, t_close: float) -> list[WorldEvent]:
        out = []
        for fid, (t0, t1, x, y, size, burning) in sorted(self._fires.items(), key=lambda kv: (kv[1][0], kv[0])):
            staged = self._injected_objects.get((EventType.FIRE, fid))
            eid, source = (staged, "injected") if staged is not None else (f"fire_{fid}", "emergent")
            out.append(WorldEvent(id=eid, type=EventType.FIRE, t_start=t0, t_end=max(t_close, t0) if burning else t1,
                                  agent_ids=(), zone=None, position_m=(x, y), source=source, object_ids=(int(fid),),
                                  size_m=size))
        return out

    def tracks_table(self):
        """World tracks as a ``pyarrow.Table`` with columns t [s], id, x [m], y [m], posture,
        and, when :meth:`observe` was given them, body (:class:`sim.state.BodyKind`), prop
        (:class:`sim.state.Prop`) and appearance_group (-1 where not given)."""
        import pyarrow as pa

        if self._tracks:
            cols = [np.concatenate([chunk[i] for chunk in self._tracks]) for i in range(8)]
        else:
            cols = [np.zeros(0), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8),
                    np.zeros(0, np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.int16)]
        table = {"t": cols[0], "id": cols[1], "x": cols[2], "y": cols[3], "posture": cols[4]}
        if self._track_people:
            table.update(body=cols[5], prop=cols[6], appearance_group=cols[7])
        return pa.table(table)

    def to_dict(self, t_end: float | None = None) -> dict:
        """The event instances as JSON-ready data (tracks go to Parquet via :meth:`tracks_table`)."""
        return {
            "events": [e.to_dict() for e in self.events(t_end)],
            "zones": {
                "forbidden": [z.name for z in self._forbidden],
                "density": [{"name": z.name, "area_m2": round(z.area_m2, 6), "capacity_per_m2": z.capacity_per_m2}
                            for z in self._density],
                "one_way": [{"name": z.name, "direction_deg": round(math.degrees(math.atan2(z.direction[1], z.direction[0])), 6)}
                            for z in self._one_way],
            },
        }
