"""Ground truth in a camera's image: per-frame person and train annotations and per-camera event instances.

:class:`FrameAnnotations` holds what one rendered frame shows of each person (a structure
of arrays, indexable by masks) and of each train (:class:`TrainAnnotations`, a separate
object class: a train is no person, and never the subject of an event instance).
:func:`write_annotations_parquet` writes many frames as one table (a ``class`` column
tells persons from trains); :func:`camera_instances` turns the simulation's world events
into the per-camera ground-truth instances that the evaluation matches alerts against.

Pixel coordinates follow :mod:`sim.render.camera` (pixel centres at integers); boxes are
``[x, y, w, h]`` with (x, y) the top-left corner.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

from detectors.events import EventType
from detectors.files import atomic_path
from sim.geometry import polygon_area

#: a person counts as seen by a camera when at least this share of its body shows
MIN_VISIBLE_FRACTION = 0.2

PARQUET_COLUMNS = ("frame", "t", "camera", "class", "person_id", "x", "y", "w", "h", "head_u", "head_v", "visible",
                   "appearance_group")
#: the object classes of the annotations table's ``class`` column
PERSON_CLASS, TRAIN_CLASS = "person", "train"

#: ``appearance_group`` of a person whose group is not known
UNKNOWN_GROUP = -1


@dataclass(frozen=True, kw_only=True)
class TrainAnnotations:
    """The trains one frame shows (row i is one train)."""

    ids: np.ndarray  #: (T,) int64 the train's number (index of ``station.trains``)
    boxes: np.ndarray  #: (T, 4) float32 [px] x, y, w, h of the drawn train's pixels, clipped to the image
    visible: np.ndarray  #: (T,) float32 share of its drawn pixels no static occluder hides, in [0, 1]

    def __post_init__(self) -> None:
        n = len(self.ids)
        for key, shape, dtype in (("ids", (n,), np.int64), ("boxes", (n, 4), np.float32),
                                  ("visible", (n,), np.float32)):
            arr = np.asarray(getattr(self, key), dtype=dtype)
            if arr.shape != shape:
                raise ValueError(f"TrainAnnotations.{key} must have shape {shape}; got {arr.shape}")
            object.__setattr__(self, key, arr)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "TrainAnnotations":
        return cls(ids=np.zeros(0, np.int64), boxes=np.zeros((0, 4), np.float32), visible=np.zeros(0, np.float32))


@dataclass(frozen=True, kw_only=True)
class FrameAnnotations:
    """The people one frame shows, as parallel arrays (row i is one person), and its trains."""

    frame: int  #: frame number in the camera's stream
    t: float  #: [s] time of the frame
    camera: str
    ids: np.ndarray  #: (N,) int64 pedestrian ids (as in :class:`sim.state.CrowdState`)
    boxes: np.ndarray  #: (N, 4) float32 [px] x, y, w, h of the whole drawn body, clipped to the image
    heads: np.ndarray  #: (N, 2) float32 [px] head centre (u, v); may lie outside the image
    visible: np.ndarray  #: (N,) float32 share of the body's pixels that show, in [0, 1]; nan if not computed
    #: (N,) int16 appearance group of each person (index into ``crowd.appearance.groups``);
    #: None means unknown (:data:`UNKNOWN_GROUP` in every row)
    appearance_group: np.ndarray | None = None
    trains: TrainAnnotations | None = None  #: the trains it shows (None: none)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if self.appearance_group is None:
            object.__setattr__(self, "appearance_group", np.full(n, UNKNOWN_GROUP, np.int16))
        if self.trains is None:
            object.__setattr__(self, "trains", TrainAnnotations.empty())
        shapes = {"ids": (n,), "boxes": (n, 4), "heads": (n, 2), "visible": (n,), "appearance_group": (n,)}
        dtypes = {"ids": np.int64, "boxes": np.float32, "heads": np.float32, "visible": np.float32,
                  "appearance_group": np.int16}
        for key, shape in shapes.items():
            arr = np.asarray(getattr(self, key), dtype=dtypes[key])
            if arr.shape != shape:
                raise ValueError(f"FrameAnnotations.{key} must have shape {shape}; got {arr.shape}")
            object.__setattr__(self, key, arr)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, mask) -> "FrameAnnotations":
        """Person rows selected by a boolean mask or an index array (the trains are kept)."""
        return FrameAnnotations(frame=self.frame, t=self.t, camera=self.camera, ids=self.ids[mask],
                                boxes=self.boxes[mask], heads=self.heads[mask], visible=self.visible[mask],
                                appearance_group=self.appearance_group[mask], trains=self.trains)

    def at(self, *, frame: int, t: float, camera: str) -> "FrameAnnotations":
        """The same annotations numbered as frame ``frame`` at ``t`` [s] of ``camera``."""
        return FrameAnnotations(frame=frame, t=t, camera=camera, ids=self.ids, boxes=self.boxes, heads=self.heads,
                                visible=self.visible, appearance_group=self.appearance_group, trains=self.trains)

    @classmethod
    def empty(cls, *, frame: int = 0, t: float = 0.0, camera: str = "") -> "FrameAnnotations":
        return cls(frame=frame, t=t, camera=camera, ids=np.zeros(0, np.int64), boxes=np.zeros((0, 4), np.float32),
                   heads=np.zeros((0, 2), np.float32), visible=np.zeros(0, np.float32))

    def row_of(self, person_id: int) -> int | None:
        """Row index of ``person_id`` in this frame, or None when the frame does not show it."""
        hits = np.nonzero(self.ids == person_id)[0]
        return int(hits[0]) if len(hits) else None

    @property
    def boxes_xyxy(self) -> np.ndarray:
        """(N, 4) boxes as x0, y0, x1, y1."""
        b = self.boxes
        return np.c_[b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]]


# Renderer.render returns these; the name reads better at some call sites.
PersonAnnotations = FrameAnnotations


# --- Parquet ------------------------------------------------------------------------------------


def annotations_table(frames: Iterable[FrameAnnotations]):
    """A pyarrow table with one row per person and per train per frame (columns :data:`PARQUET_COLUMNS`).

    ``class`` is ``person`` or ``train``; for a train, ``person_id`` holds the train's number,
    the head point is nan and ``appearance_group`` is :data:`UNKNOWN_GROUP`.
    """
    import pyarrow as pa

    parts = {k: [] for k in PARQUET_COLUMNS}
    cams: list[str] = []
    counts: list[int] = []
    for fa in frames:
        tr = fa.trains
        n, m = len(fa), len(tr)
        parts["frame"].append(np.full(n + m, fa.frame, np.int64))
        parts["t"].append(np.full(n + m, fa.t, np.float64))
        cams.append(fa.camera)
        counts.append(n + m)
        parts["class"].append(np.r_[np.zeros(n, np.int32), np.ones(m, np.int32)])
        parts["person_id"].append(np.r_[fa.ids, tr.ids])
        for j, k in enumerate(("x", "y", "w", "h")):
            parts[k].append(np.r_[fa.boxes[:, j], tr.boxes[:, j]])
        parts["head_u"].append(np.r_[fa.heads[:, 0], np.full(m, np.nan, np.float32)])
        parts["head_v"].append(np.r_[fa.heads[:, 1], np.full(m, np.nan, np.float32)])
        parts["visible"].append(np.r_[fa.visible, tr.visible])
        parts["appearance_group"].append(np.r_[fa.appearance_group, np.full(m, UNKNOWN_GROUP, np.int16)])
    cols = {}
    for k in PARQUET_COLUMNS:
        if k == "camera":
            # dictionary-encoded: one camera name per frame, repeated per row
            names = sorted(set(cams))
            codes = np.repeat(np.array([names.index(c) for c in cams], np.int32), counts) if cams else np.zeros(0, np.int32)
            cols[k] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string()))
            continue
        if k == "class":
            codes = np.concatenate(parts[k]) if parts[k] else np.zeros(0, np.int32)
            cols[k] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                                     pa.array([PERSON_CLASS, TRAIN_CLASS], pa.string()))
            continue
        dtype = {"frame": np.int64, "t": np.float64, "person_id": np.int64, "appearance_group": np.int16}.get(k, np.float32)
        arr = np.concatenate(parts[k]).astype(dtype) if parts[k] else np.zeros(0, dtype)
        cols[k] = pa.array(arr)
    return pa.table(cols)


def write_annotations_parquet(path: str | os.PathLike, frames: Iterable[FrameAnnotations]) -> int:
    """Write the annotations of many frames to one Parquet file, atomically; return the row count."""
    import pyarrow.parquet as pq

    table = annotations_table(frames)
    with atomic_path(path, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return table.num_rows


def read_annotations_parquet(path: str | os.PathLike) -> list[FrameAnnotations]:
    """Read a table written by :func:`write_annotations_parquet` back into per-frame annotations
    (a frame with rows of either class comes back, its trains in ``trains``).

    A file from before the ``appearance_group`` column reads with :data:`UNKNOWN_GROUP`; one from
    before the ``class`` column holds persons only.
    """
    import pyarrow.parquet as pq

    tab = pq.read_table(os.fspath(path))
    cols = {k: tab.column(k).to_numpy() if k not in ("camera", "class")
            else np.asarray(tab.column(k).to_pylist(), dtype=object)
            for k in PARQUET_COLUMNS if k in tab.column_names}
    if "appearance_group" not in cols:
        cols["appearance_group"] = np.full(tab.num_rows, UNKNOWN_GROUP, np.int16)
    if "class" not in cols:
        cols["class"] = np.full(tab.num_rows, PERSON_CLASS, dtype=object)
    out = []
    if tab.num_rows == 0:
        return out
    key = np.lexsort((cols["frame"], cols["camera"].astype(str)))
    cols = {k: v[key] for k, v in cols.items()}
    change = np.nonzero((np.diff(cols["frame"]) != 0) | (cols["camera"][1:] != cols["camera"][:-1]))[0] + 1
    for s, e in zip(np.r_[0, change], np.r_[change, len(key)]):
        rows = np.arange(s, e)
        person = rows[cols["class"][s:e] == PERSON_CLASS]
        train = rows[cols["class"][s:e] == TRAIN_CLASS]
        trains = TrainAnnotations(ids=cols["person_id"][train], visible=cols["visible"][train],
                                  boxes=np.c_[cols["x"][train], cols["y"][train], cols["w"][train], cols["h"][train]])
        out.append(FrameAnnotations(
            frame=int(cols["frame"][s]), t=float(cols["t"][s]), camera=str(cols["camera"][s]),
            ids=cols["person_id"][person],
            boxes=np.c_[cols["x"][person], cols["y"][person], cols["w"][person], cols["h"][person]],
            heads=np.c_[cols["head_u"][person], cols["head_v"][person]], visible=cols["visible"][person],
            appearance_group=cols["appearance_group"][person], trains=trains))
    return out


# --- event instances per camera --------------------------------------------------------------------


def _union_box(boxes: np.ndarray) -> list[float]:
    x0 = float(boxes[:, 0].min())
    y0 = float(boxes[:, 1].min())
    x1 = float((boxes[:, 0] + boxes[:, 2]).max())
    y1 = float((boxes[:, 1] + boxes[:, 3]).max())
    return [x0, y0, x1 - x0, y1 - y0]


def _clip_polygon_halfplane(poly: np.ndarray, a: np.ndarray, c: float) -> np.ndarray:
    """Sutherland-Hodgman: the part of ``poly`` (K, 2) where a . p + c >= 0."""
    if len(poly) == 0:
        return poly
    out = []
    vals = poly @ a + c
    for k in range(len(poly)):
        p, q = poly[k], poly[(k + 1) % len(poly)]
        vp, vq = vals[k], vals[(k + 1) % len(poly)]
        if vp >= 0:
            out.append(p)
        if (vp >= 0) != (vq >= 0):
            out.append(p + (q - p) * (vp / (vp - vq)))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def zone_in_image(camera, polygon_m: np.ndarray, near_m: float = 0.5) -> tuple[list[float] | None, float]:
    """Image box [x, y, w, h] of the visible part of a ground polygon, and the share of it that shows.

    The share is measured in image area (the polygon is first cut to the ground in front
    of the camera, ``near_m`` beyond the camera plane). Returns ``(None, 0.0)`` for a zone
    the camera cannot see.
    """
    poly = np.asarray(polygon_m, dtype=np.float64).reshape(-1, 2)
    # depth of a ground point is linear in (x, y): R[2] . (p - C) with z = 0
    r2 = camera.R[2]
    a = r2[:2]
    c = -float(r2 @ camera.position) - near_m
    front = _clip_polygon_halfplane(poly, a, c)
    if len(front) < 3:
        return None, 0.0
    uv = camera.ground_to_image(front)
    full = polygon_area(uv)
    if not full > 0:
        return None, 0.0
    w, h = camera.width, camera.height
    clipped = uv
    for av, cv in ((np.array([1.0, 0.0]), 0.5), (np.array([-1.0, 0.0]), w - 0.5),
                   (np.array([0.0, 1.0]), 0.5), (np.array([0.0, -1.0]), h - 0.5)):
        clipped = _clip_polygon_halfplane(clipped, av, cv)
        if len(clipped) < 3:
            return None, 0.0
    inner = polygon_area(clipped)
    if not inner > 0:
        return None, 0.0
    x0, y0 = clipped.min(axis=0)
    x1, y1 = clipped.max(axis=0)
    x0, y0 = max(float(x0), 0.0), max(float(y0), 0.0)
    x1, y1 = min(float(x1), w - 1.0), min(float(y1), h - 1.0)
    return [x0, y0, x1 - x0, y1 - y0], min(1.0, inner / full)


def camera_instances(world_events: Iterable, camera_name: str,
                     annotations: Sequence[FrameAnnotations] | Mapping[int, FrameAnnotations], *,
                     scenario=None, camera=None, min_visible: float = MIN_VISIBLE_FRACTION) -> list[dict]:
    """Per-camera ground-truth instances of the simulation's world events.

    ``world_events`` are objects with the attributes of ``WorldEvent`` (``id, type, t_start,
    t_end, agent_ids, zone, position_m, source``); ``annotations`` are the camera's frames
    in time order (a sequence, or a mapping from frame number to annotations). An event
    with agents belongs to the camera when one of its agents shows
    with a visible share above ``min_visible`` in at least one frame within
    ``[t_start, t_end]`` (a nan share counts as fully visible); its ``bbox_at_onset`` is the
    union box of its agents at the first frame at or after ``t_start`` that shows any of
    them. An excessive-density event, and any event without agents, belongs to the camera
    when its zone (looked up in ``scenario``) or its position projects into the image; its
    box is the zone's image box, or for a point the box of a 1 m wide, 1.8 m tall column
    standing on it, and its visible fraction the share of the zone's image area inside the
    frame. A weapon instance starts, for a camera, at the first frame within its interval
    that shows its carrier (the decree's "presence": a carrier walking in unseen is not yet
    present for that camera). An event with ``object_ids`` and ``size_m`` (an abandoned
    object, a fire) is placed like a point, by the box of its object: a column
    ``max(width, depth)`` wide and ``height`` tall standing at ``position_m``.

    Returns dicts ``{id, type, camera, t_start, t_end, bbox_at_onset,
    visible_fraction_at_onset}`` sorted by ``t_start`` (types as their file names).
    """
    frames = [annotations[k] for k in sorted(annotations)] if isinstance(annotations, Mapping) else list(annotations)
    times = np.array([fa.t for fa in frames], dtype=np.float64)
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("camera_instances: annotations must be in time order; got times that go back")
    if camera is None and scenario is not None:
        from sim.render.camera import PinholeCamera

        camera = PinholeCamera.from_spec(scenario.camera(camera_name))
    zones = {z.name: np.asarray(z.polygon, dtype=np.float64) for z in scenario.station.zones} if scenario is not None else {}
    out = []
    for ev in world_events:
        t_start = float(ev.t_start)
        t_end = math.inf if getattr(ev, "t_end", None) is None else float(ev.t_end)
        agents = [int(a) for a in (getattr(ev, "agent_ids", None) or ())]
        zone = getattr(ev, "zone", None)
        position = getattr(ev, "position_m", None)
        box = None
        vis_onset = 0.0
        ev_type = EventType.parse(ev.type, field="event.type")
        # a density event is about the zone, not the people who happen to be in it at onset
        by_zone = zone is not None and (not agents or ev_type is EventType.EXCESSIVE_DENSITY) and camera is not None
        # an object on the floor or a fire is about the thing, not its owner (gone by then)
        size = getattr(ev, "size_m", None)
        by_object = bool(getattr(ev, "object_ids", ())) and size is not None and position is not None
        if agents and not by_zone and not by_object:
            i0 = int(np.searchsorted(times, t_start - 1e-9, side="left"))
            i1 = int(np.searchsorted(times, t_end + 1e-9, side="right"))
            seen = False
            # a weapon is present for a camera from the first frame that shows its carrier
            from_view = ev_type is EventType.WEAPON
            for fa in frames[i0:i1]:
                rows = np.nonzero(np.isin(fa.ids, agents))[0]
                if len(rows) == 0:
                    continue
                vis = np.nan_to_num(fa.visible[rows], nan=1.0)
                if from_view and not np.any(vis > min_visible):
                    continue
                if box is None:
                    box = _union_box(fa.boxes[rows])
                    vis_onset = float(vis.max())
                    if from_view:
                        t_start = max(t_start, float(fa.t))
                if np.any(vis > min_visible):
                    seen = True
                    break
            if not seen:
                continue
        else:
            if camera is None:
                raise ValueError(f"camera_instances: event {ev.id!r} has no agents; pass scenario= or camera= "
                                 "to place its zone or position in the image")
            if by_object:
                w, d, h = (float(v) for v in size)
                box, vis_onset = _column_in_image(camera, np.asarray(position, dtype=np.float64)[:2],
                                                  width_m=max(w, d), height_m=h)
            elif zone is not None:
                if zone not in zones:
                    raise ValueError(f"camera_instances: event {ev.id!r} names zone {zone!r}; the scenario's zones are "
                                     f"{sorted(zones)}")
                box, vis_onset = zone_in_image(camera, zones[zone])
            elif position is not None:
                box, vis_onset = _column_in_image(camera, np.asarray(position, dtype=np.float64)[:2])
            if box is None:
                continue
        out.append({
            "id": str(ev.id),
            "type": ev_type.value,
            "camera": camera_name,
            "t_start": t_start,
            "t_end": None if math.isinf(t_end) else t_end,
            "bbox_at_onset": None if box is None else [round(float(v), 2) for v in box],
            "visible_fraction_at_onset": round(float(vis_onset), 4),
        })
    out.sort(key=lambda d: (d["t_start"], d["id"]))
    return out


def _column_in_image(camera, xy: np.ndarray, width_m: float = 1.0, height_m: float = 1.8):
    """Image box of a ``width_m`` x ``width_m`` x ``height_m`` column standing at ``xy``, and its visible share."""
    hw = width_m / 2
    corners = np.array([[dx, dy, z] for dx in (-hw, hw) for dy in (-hw, hw) for z in (0.0, height_m)])
    pts = corners + np.array([xy[0], xy[1], 0.0])
    if not np.all(camera.in_front(pts)):
        return None, 0.0
    uv, _ = camera.project(pts)
    x0, y0 = uv.min(axis=0)
    x1, y1 = uv.max(axis=0)
    full = (x1 - x0) * (y1 - y0)
    cx0, cy0 = max(x0, 0.0), max(y0, 0.0)
    cx1, cy1 = min(x1, camera.width - 1.0), min(y1, camera.height - 1.0)
    if cx1 <= cx0 or cy1 <= cy0 or not full > 0:
        return None, 0.0
    return [float(cx0), float(cy0), float(cx1 - cx0), float(cy1 - cy0)], float((cx1 - cx0) * (cy1 - cy0) / full)


def column_box(camera, xy, width_m: float = 1.0, height_m: float = 1.8) -> tuple[list[float] | None, float]:
    """Image box [x, y, w, h] of a ``width_m`` x ``width_m`` x ``height_m`` column standing at
    ground point ``xy`` [m], clipped to the image, and the share of it inside the image
    (``(None, 0.0)`` when it is behind the camera or out of view). This is how
    :func:`camera_instances` places an event that has a position but no person to show."""
    return _column_in_image(camera, np.asarray(xy, dtype=np.float64)[:2], width_m=width_m, height_m=height_m)


def event_box_in_frame(event, frame: FrameAnnotations, *, camera, scenario=None, world=None) -> list[float] | None:
    """The box [x, y, w, h] of a world event in one frame, placed by the rules of
    :func:`camera_instances` (which gives the box at onset): the union box of its agents that
    this frame shows, the zone's image box for a density event or a zone event without
    agents, the column of its object for an event with ``object_ids`` and ``size_m``, the
    1 m x 1.8 m column at its position otherwise. None when the frame does not show it.

    With ``world`` (the :class:`sim.state.WorldState` of the frame), an object or a fire
    is placed by its size now (a fire grows) rather than at onset.
    """
    agents = [int(a) for a in (getattr(event, "agent_ids", None) or ())]
    zone = getattr(event, "zone", None)
    position = getattr(event, "position_m", None)
    size = getattr(event, "size_m", None)
    ev_type = EventType.parse(event.type, field="event.type")
    object_ids = [int(i) for i in (getattr(event, "object_ids", None) or ())]
    if object_ids and size is not None and position is not None:
        if world is not None and ev_type is EventType.FIRE:
            rows = np.nonzero(np.isin(world.fires.ids, object_ids))[0]
            if len(rows):
                k = rows[0]
                r = 2.0 * float(world.fires.flame_radius_m[k])
                size, position = (r, r, float(world.fires.flame_height_m[k])), world.fires.pos_m[k]
        elif world is not None:
            rows = np.nonzero(np.isin(world.objects.ids, object_ids))[0]
            if len(rows):
                size, position = world.objects.size_m[rows[0]], world.objects.pos_m[rows[0]]
        w, d, h = (float(v) for v in size)
        return column_box(camera, position, max(w, d), h)[0]
    if zone is not None and (not agents or ev_type is EventType.EXCESSIVE_DENSITY):
        if scenario is None:
            raise ValueError(f"event_box_in_frame: event {event.id!r} is placed by its zone; pass scenario=")
        zones = {z.name: np.asarray(z.polygon, dtype=np.float64) for z in scenario.station.zones}
        if zone not in zones:
            raise ValueError(f"event_box_in_frame: event {event.id!r} names zone {zone!r}; the scenario's zones are "
                             f"{sorted(zones)}")
        return zone_in_image(camera, zones[zone])[0]
    if agents:
        rows = np.nonzero(np.isin(frame.ids, agents))[0]
        return _union_box(frame.boxes[rows]) if len(rows) else None
    if position is not None:
        return column_box(camera, position)[0]
    return None
