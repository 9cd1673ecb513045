"""Per-frame boxes of ground-truth instances, for matching alerts at the alert's time.

The simulation's ground truth gives each instance its box at onset. An event about people
(an intruder, a person on the ground, a weapon carrier, a crowd) moves: its box at any
frame is the union box of its people in that frame (:func:`sim.annotate.event_box_in_frame`).
:func:`add_tracks` attaches that per-frame box to each instance record as ``track`` (rows
``[t, x, y, w, h]``, one per frame that shows one of its people, over the matching window
``[t_start - early_s, t_end + grace]``), and the appearance groups of its people as
``appearance_groups`` (a slice for evaluations). Events placed by a zone or an object (a
density zone, a bag, a fire) keep their box at onset: they do not walk.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from detectors.events import MAX_LATENCY_S, EventType


def _placed_by_people(event) -> bool:
    """The rule of :func:`sim.annotate.event_box_in_frame`: objects and fires by their column, a
    density event (or an event without people) by its zone or position, the others by their people."""
    if not getattr(event, "agent_ids", None):
        return False
    if getattr(event, "object_ids", None) and getattr(event, "size_m", None) is not None:
        return False
    return EventType.parse(event.type) is not EventType.EXCESSIVE_DENSITY


def _event_of(record: Mapping, by_id: Mapping[str, list]):
    """The world event a per-camera record was made from (same id; the latest onset not after it)."""
    candidates = by_id.get(str(record["id"]), [])
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    before = [e for e in candidates if float(e.t_start) <= float(record["t_start"]) + 1e-6]
    return max(before or candidates, key=lambda e: float(e.t_start))


def add_tracks(records: Sequence[Mapping], world_events: Iterable, annotations: Mapping[str, Sequence], *,
               group_names: Sequence[str] = (), early_s: float = 1.0,
               grace_s: Mapping[EventType, float] | None = None) -> list[dict]:
    """Copies of the ground-truth ``records`` with ``track`` and ``appearance_groups``.

    ``annotations[camera]`` are that camera's :class:`sim.annotate.FrameAnnotations` in time
    order; ``group_names`` name the appearance groups by index (``crowd.appearance.groups``);
    ``grace_s`` per type defaults to :data:`detectors.events.MAX_LATENCY_S`. Records whose
    event is placed by a zone or an object get no track (their box does not move) and an
    empty ``appearance_groups`` unless the event has people (an abandoned bag's owner).
    """
    from sim.annotate import event_box_in_frame

    by_id: dict[str, list] = {}
    for ev in world_events:
        by_id.setdefault(str(ev.id), []).append(ev)
    times = {cam: np.array([fa.t for fa in frames], np.float64) for cam, frames in annotations.items()}
    out = []
    for rec in records:
        rec = dict(rec)
        ev = _event_of(rec, by_id)
        cam = rec["camera"]
        frames = annotations.get(cam, ())
        agents = [int(a) for a in (getattr(ev, "agent_ids", None) or ())] if ev is not None else []
        etype = EventType.parse(rec["type"])
        grace = (grace_s or {}).get(etype, MAX_LATENCY_S[etype])
        t_end = math.inf if rec.get("t_end") is None else float(rec["t_end"])
        lo = float(rec["t_start"]) - early_s
        hi = t_end + grace
        t = times.get(cam, np.zeros(0))
        i0 = int(np.searchsorted(t, lo - 1e-9, side="left"))
        i1 = int(np.searchsorted(t, hi + 1e-9, side="right"))
        groups: set[int] = set()
        track = []
        moving = ev is not None and _placed_by_people(ev)
        for fa in frames[i0:i1]:
            if not agents:
                break
            rows = np.flatnonzero(np.isin(fa.ids, agents))
            if len(rows) == 0:
                continue
            groups.update(int(g) for g in fa.appearance_group[rows])
            if moving:
                box = event_box_in_frame(ev, fa, camera=None)
                if box is not None:
                    track.append([round(float(fa.t), 6), *(round(float(v), 2) for v in box)])
        if moving:
            rec["track"] = track
        rec["appearance_groups"] = sorted(_group_name(g, group_names) for g in groups)
        out.append(rec)
    return out


def _group_name(index: int, names: Sequence[str]) -> str:
    if 0 <= index < len(names):
        return str(names[index])
    return "unknown" if index < 0 else str(index)
