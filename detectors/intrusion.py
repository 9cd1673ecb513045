"""Intrusion: a tracked person whose feet stand inside a forbidden zone (the track bed, a service area).

Only the ground-contact point matters: a passenger at the platform edge has a body that
covers the track bed in the image but feet on the platform. The detector reads the
tracks of the shared perception (:mod:`detectors.tracker`), whose ground positions come
from foot points placed person by person (merged blobs split, shadows removed, feet cut by
the image border unknown rather than on the border; :mod:`detectors.people`).

Per confirmed track seen within ``max_lost_s`` and per forbidden zone:

- ``d`` [m]: signed distance of the track's ground position to the zone's outline
  (> 0 inside), ``sigma = sqrt(pos_std^2 + min_std_m^2)`` its uncertainty. For an upright
  person (not a box as wide as a person is tall and wider than high) whose head is in the image, ``d`` is the smaller of that and
  the distance of the head-placed foot (:attr:`~detectors.tracker.Tracks.head_foot_m`)
  plus ``head_tolerance_m`` (people differ in height): both the feet and the head must say
  inside. A torso whose legs vanished against a dark track bed has its bottom a metre
  beyond its feet; its head still places it on the platform;
- ``p = Phi((d - margin_m - e) / sigma)``: how sure the feet are inside, ``e`` [m] the floor that
  ``foot_px`` pixels of foot placement error span there (:meth:`IntrusionDetector.placement_m`:
  about 0.1 m 8 m from a camera 4 m high, 2.6 m at 30 m, where a corridor camera sees people at
  the far platform edge whose feet land a pixel or two beyond it) (a person 0.6 m outside
  the edge, placed with 0.2 m of uncertainty, gives p = 0.0002);
- the instance's evidence is the moving average of ``p`` with time constant ``evidence_s``
  (frame-rate independent) over the frames in which the track was matched to a detection:
  it rises from 0 to 0.5 in ``evidence_s * ln 2`` once the feet are clearly inside, passing
  glitches of a frame or two stay small, and a track coasting on its prediction holds its
  evidence without adding to it;
- in a zone that allows staff (``allowed: [staff]``) the evidence is multiplied by
  ``1 - staff``, ``staff`` the evidence of a high-visibility vest seen on the person's crop
  (:func:`detectors.appearance.hi_vis_fraction` over ``vest_fraction``, capped at 1),
  gathered from 3 m before the zone on, rising with time constant ``staff_s`` and falling
  ten times slower, read on the box's torso region and on the upper body under its top
  (:meth:`IntrusionDetector.vest_seen`). Staff is a person's, not a track's: a new track
  overlapping one read less than ``staff_link_s`` ago starts from its evidence, and an instance
  is staff while any of its tracks is (a worker's track broken at his dwell, or a second track
  on a fragment of him, scored 0.5 and 0.6 on two retired held-out seeds, starting from 0);
- a detection box wider than ``max_width_persons`` or lower than ``min_height_persons`` times
  the height of a person standing at its foot point is no person, upright or lying (a
  light patch on the rails, a train's nose entering at the image border): it scores 0; so does a
  box whose larger side is under ``min_size_persons`` of that height, a fragment (a person lying
  end-on to a camera 5.5 m high, 13 m away, is still about 0.4 of a standing one's height tall;
  the remnant of an intruder's head on the wall behind the track bed, 8 x 10 px where a person
  stands 46 px tall, scored 0.7 a second after he had climbed out);
- a track standing on a *ghost* (background uncovered by someone who left, which stays
  foreground until healed) scores 0, and a frame in which its detection is one adds ``p = 0`` to
  its evidence: the ghost test flickers on a small remnant (the patch of wall an intruder's head
  covered while he stood on the track bed, 10 x 16 px, a ghost in most frames, not in some), and
  evidence gathered on the ghost frames scored 0.7 on the first frame that was not. A *warm-up ghost*
  counts too (:meth:`~detectors.perception.Percept.is_ghost`): two people leaning over the platform edge
  during the warm-up left the track bed they hid in the foreground, where the sleepers' edges hide
  the ghost from the edge test, and it was tracked as an intruder standing still for a minute;
- after a vehicle: a track first seen while a vehicle stood on the zone or less than
  ``vehicle_max_hold_s`` after it was last seen there must have *come* into the zone: first seen
  (confirmed) ``entry_m`` or more outside it, and not beyond it as seen from the camera (the
  segment from the point under the camera to where it was first seen does not cross the zone;
  with a 3x4 projection) (a track that picks up an instance whose track had come in inherits it).
  Someone on the track bed then stepped down from the platform; a track first seen on the track
  bed, at its edge (where a vehicle's bottom edge and doors land: a track first seen 0.3 m from
  the edge during a dwell followed the departing train's pieces 11 m onto a ghost) or beyond it
  (where the upper parts of a vehicle standing on it map on the ground) is a piece of the vehicle
  or of the floor the background is still relearning where it stood:
  16 s after a train had left, a streak along a rail, 5 % of the floor, was cut into a
  person-sized piece 1.8 m inside the zone and scored 0.8; the pieces of a train's ghost wander
  metres as the people finder cuts it anew at each frame, so having moved proves nothing. (Someone
  walking into the view along the track within ``vehicle_max_hold_s`` of a train is missed.)
  A track whose feet are placed on a zone while a vehicle occupies it follows the vehicle's pixels
  (a passenger's track slides onto a train's doors): it counts as first seen there and then, and
  must come in again;

- at start-up, the same, for a track first seen less than ``startup_s`` after the background model
  became ready while foreground covered ``vehicle_clear`` or more of the zone's floor (more than
  one person on the track bed covers). The warm-up background is the median of the first frames,
  so a train standing at the platform then is background, and when it moves, what it uncovers
  and its moving doors are foreground cut into person-sized pieces, with no vehicle ever seen to
  explain them (a train pulling out 0.5 s after the warm-up, 23 % of the track bed's floor in the
  foreground, had a door stripe tracked 0.7 m inside the zone that scored 0.5). A lone person on
  an empty track bed at start-up still scores;
- a track first seen with its box at the image border, inside the zone, is something entering the
  view on the track bed: it too must have come in. A train's nose entering at the border is cut
  into boxes wider than high that the shape test above does not always reject (30 x 20 px where a
  person stands 48 px tall, 1.2 s before the vehicle watch saw the train: it scored 0.57). This
  holds for ``border_hold_s`` after the track was first seen: by then a train has shown itself to
  the vehicle watch (whose own rule above takes over), and a person walking into the view along
  the track bed scores from then on, late by that much; someone stepping down from the platform is
  first seen on it, not at the border.

- a zone a vehicle occupies scores nothing (:class:`~detectors.vehicles.VehicleWatch`, from pixels
  alone): a component of a vehicle's size stands in it or foreground covers ``vehicle_cover`` of
  its floor (a train braking in, standing at the platform or leaving), and it stays occupied
  until its floor's foreground share has stayed below ``vehicle_clear`` for ``vehicle_hold_s``:
  the track bed a departing train uncovers stays foreground for seconds while the background
  relearns it, and the people finder splits a train's blob, and that ghost, into person-sized
  pieces whose feet land on the track bed, the main false-alarm source of a track-intrusion
  detector. A person on the track covers a few per cent of it. ``vehicle_max_hold_s`` after a
  vehicle was last seen the zone is watched whatever its floor shows (a background that never
  heals must not blind it for good). An intruder already scored before the train covers the
  zone has been alerted on.

One instance per (zone, person): its key is ``"ZONE/TRACK_ID"``, its box the track's last
detection box; a track that picks up a person whose track broke a moment ago nearby
continues that instance (:class:`~detectors.evidence.InstanceLinks`). The frame score is the best instance's. Threshold 0.5 by default.
"""

from __future__ import annotations

import math

import numpy as np

from detectors.appearance import hi_vis_fraction
from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import InstanceLinks, KeyedEvidence, box_cover, clip_box, normal_cdf
from detectors.perception import Percept
from detectors.site import SiteConfig, ZoneKind
from detectors.vehicles import VehicleWatch, beyond_zone, camera_nadir_m

#: [adult heights] the upper body under a box's top that a vest is also looked for in (head to waist)
UPPER_BODY = 0.55


class IntrusionDetector:
    """Tracked feet inside a forbidden zone. See the module docstring for the rule and its constants.

    Parameters: ``evidence_s`` [s] time constant of the evidence; ``margin_m`` [m] how far
    inside the feet must be to count fully; ``min_std_m`` [m] floor of the position
    uncertainty; ``head_tolerance_m`` [m] how far outside the zone the head-placed foot may lie
    (a tall person's head places them farther than they stand); ``max_lost_s`` [s] how long a
    track unseen keeps scoring; ``vest_fraction``
    share of the torso in high-visibility colours that makes staff certain; ``staff_s`` [s]
    time constant of the staff evidence; ``vehicle_cover`` share of a zone's floor pixels in the
    foreground above which a vehicle occupies it, ``vehicle_clear`` the share below which its floor
    counts as seen empty, ``vehicle_hold_s`` [s] for how long it must be seen empty before the zone is
    watched again, ``vehicle_max_hold_s`` [s] the longest the zone stays silent after a vehicle was
    last seen; ``max_width_persons``, ``min_height_persons`` [expected person heights at the foot
    point] the widest and the flattest detection box that can be a person (standing or lying),
    ``min_size_persons`` [same unit] the least its larger side can be;
    ``foot_px`` [full-res px] foot placement error, whose floor span adds to ``margin_m``;
    ``entry_m`` [m] how far outside a zone a track first seen while or after a vehicle stood there
    must have been first seen to count as come in from outside; ``startup_s`` [s] for how long after
    the background model became ready a new track first seen while the zone's floor is not clear
    must have come in the same way; ``border_hold_s`` [s] for how long a track first seen at the image
    border inside a zone must have come in.
    """

    event_type = EventType.INTRUSION
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the evidence's time constant already filters glitches
    default_cooldown_s = 10.0  #: [s] per instance (a zone and a track)

    def __init__(self, site: SiteConfig, *, evidence_s: float = 0.5, margin_m: float = 0.1, min_std_m: float = 0.15,
                 max_lost_s: float = 0.5, vest_fraction: float = 0.15, staff_s: float = 0.5,
                 head_tolerance_m: float = 0.0, vehicle_cover: float = 0.25, vehicle_clear: float = 0.06,
                 vehicle_hold_s: float = 2.0, vehicle_max_hold_s: float = 60.0, max_width_persons: float = 1.3,
                 min_height_persons: float = 0.1, foot_px: float = 4.0, entry_m: float = 0.5,
                 startup_s: float = 10.0, min_size_persons: float = 0.3, border_hold_s: float = 3.0) -> None:
        self.zones = site.zones_of(ZoneKind.FORBIDDEN)
        if not self.zones:
            raise ValueError(f"IntrusionDetector needs at least one forbidden zone; site {site.camera!r} has zones "
                             f"{[z.name for z in site.zones]}")
        for name, value in (("evidence_s", evidence_s), ("min_std_m", min_std_m), ("vest_fraction", vest_fraction),
                            ("max_width_persons", max_width_persons), ("min_height_persons", min_height_persons),
                            ("foot_px", foot_px)):
            if not value > 0:
                raise ValueError(f"IntrusionDetector.{name} must be > 0; got {value!r}")
        if not 0 < vehicle_clear <= vehicle_cover <= 1:
            raise ValueError(f"IntrusionDetector: need 0 < vehicle_clear <= vehicle_cover <= 1; got "
                             f"vehicle_clear={vehicle_clear!r}, vehicle_cover={vehicle_cover!r}")
        for name, value in (("max_lost_s", max_lost_s), ("staff_s", staff_s), ("vehicle_hold_s", vehicle_hold_s),
                            ("vehicle_max_hold_s", vehicle_max_hold_s), ("startup_s", startup_s),
                            ("border_hold_s", border_hold_s)):
            if not value >= 0:
                raise ValueError(f"IntrusionDetector.{name} must be >= 0 s; got {value!r}")
        if not (math.isfinite(entry_m) and entry_m >= 0):
            raise ValueError(f"IntrusionDetector.entry_m must be a finite number >= 0 m; got {entry_m!r}")
        self.site = site
        self.evidence_s = float(evidence_s)
        self.margin_m = float(margin_m)
        self.min_std_m = float(min_std_m)
        self.max_lost_s = float(max_lost_s)
        self.vest_fraction = float(vest_fraction)
        self.head_tolerance_m = float(head_tolerance_m)
        self.staff_s = float(staff_s)
        self.vehicle_cover = float(vehicle_cover)
        self.vehicle_clear = float(vehicle_clear)
        self.vehicle_hold_s = float(vehicle_hold_s)
        self.vehicle_max_hold_s = float(vehicle_max_hold_s)
        self.max_width_persons = float(max_width_persons)
        self.min_height_persons = float(min_height_persons)
        if not (math.isfinite(min_size_persons) and min_size_persons >= 0):
            raise ValueError(f"IntrusionDetector.min_size_persons must be a finite number >= 0; got {min_size_persons!r}")
        self.min_size_persons = float(min_size_persons)
        self.foot_px = float(foot_px)
        self.entry_m = float(entry_m)
        self.startup_s = float(startup_s)
        self.border_hold_s = float(border_hold_s)
        self._t_ready: float | None = None  # [s] the first frame at which the percept was ready
        self._nadir_m = camera_nadir_m(site)  # (2,) [m] the ground point under the camera, or None
        # track id -> (ground position first seen (2,) [m], time first seen [s], (Z,) bool whether it must
        # come into each zone: first seen at start-up on a floor not clear; whether first seen at the image
        # border);
        # instance key -> time last scored by a track that had come in
        self._origin: dict[int, tuple[np.ndarray, float, np.ndarray, bool]] = {}
        self._came_in: dict[str, float] = {}
        self._vehicles = VehicleWatch(self.zones, cover=self.vehicle_cover, clear=self.vehicle_clear,
                                      hold_s=self.vehicle_hold_s, max_hold_s=self.vehicle_max_hold_s)
        self.staff_watch_m = 3.0  #: [m] staff are looked for within this distance of a zone that allows them
        self.staff_link_s = 2.0  #: [s] a new track overlapping one read this recently takes over its staff evidence
        self._evidence = KeyedEvidence(self.evidence_s)
        self._links = InstanceLinks()
        # track id -> (staff evidence, time, (4,) last box [px] it was read on)
        self._staff: dict[int, tuple[float, float, np.ndarray]] = {}
        self._key_staff: dict[str, tuple[float, float]] = {}  # instance key -> (staff evidence, time)

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.FORBIDDEN))

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self._evidence.reset()
            self._staff.clear()
            self._key_staff.clear()
            self._links.reset()
            self._vehicles.reset()
            self._origin.clear()
            self._came_in.clear()
            self._t_ready = None
            return NOTHING
        if self._t_ready is None:
            self._t_ready = percept.t
        occupied = self._vehicles.update(percept)
        tr = percept.tracks
        self._follow_origins(tr, percept.t)
        self._void_on_vehicle(tr, occupied, percept.t)
        live = np.flatnonzero(tr.confirmed & (tr.lost_s <= self.max_lost_s + 1e-9))
        if len(live) == 0:
            self._evidence.update(percept.t, [], [])
            return NOTHING
        pos = tr.foot_m[live]
        sigma = np.sqrt(tr.pos_std_m[live] ** 2 + self.min_std_m ** 2)
        # far from the camera a pixel of foot row is metres of floor: the feet must be inside by the
        # margin plus what the placement error of ``foot_px`` pixels spans there
        margin = self.margin_m + self.placement_m(tr.foot_m[live])
        head = tr.head_foot_m[live]
        box = tr.box[live]
        # an upright person's head places the feet too: both opinions must say inside (a torso whose
        # legs vanished against a dark floor has its bottom far beyond its feet); a body lying down
        # (a box wider than tall, and as wide as a person is tall) has no head above its feet
        expected = tr.expected_height_px[live]
        lying = (box[:, 2] > 1.1 * box[:, 3]) & (box[:, 2] > 0.6 * expected)
        use_head = np.all(np.isfinite(head), axis=1) & ~lying
        # a person, standing or lying, is no wider than a person is tall, nor flatter than one lying:
        # a light patch or a train's nose entering the image at the border is neither
        with np.errstate(invalid="ignore"):
            shaped = ~((box[:, 2] > self.max_width_persons * expected) | (box[:, 3] < self.min_height_persons * expected)
                       | (np.maximum(box[:, 2], box[:, 3]) < self.min_size_persons * expected))
        keys, probs, rows, zone_of = [], [], [], {}
        staff_zones = [z for z in self.zones if "staff" in z.allowed]
        for zi, zone in enumerate(self.zones):
            if occupied[zi]:
                continue
            d = zone.signed_distance(pos)
            if use_head.any():
                d[use_head] = np.minimum(d[use_head], zone.signed_distance(head[use_head]) + self.head_tolerance_m)
            p = np.nan_to_num(normal_cdf((d - margin) / sigma), nan=0.0) * shaped
            came = self._came(zone, zi, self._vehicles.last_seen_t[zi], tr.id[live], percept.t)
            near = np.flatnonzero(p > 1e-3)
            if zone in staff_zones:
                # staff are recognised on the way in, before their feet reach the zone
                self._staff_scores(percept, [int(live[j]) for j in np.flatnonzero(d > -self.staff_watch_m)])
            for j in near:
                key = self._links.key(zone.name, int(tr.id[live[j]]), pos[j], percept.t, tr.vel_mps[live[j]])
                if came[j]:
                    self._came_in[key] = percept.t
                elif percept.t - self._came_in.get(key, -math.inf) > self._links.link_s:
                    continue  # neither this track nor the instance it continues came into the zone
                keys.append(key)
                probs.append(float(p[j]))
                rows.append(int(live[j]))
                zone_of[key] = zone
        # only a track matched to a detection in this frame adds evidence; a coasting one holds its
        # own (its predicted position is no observation of where its feet are)
        seen = tr.lost_s[rows] == 0 if rows else np.zeros(0, bool)
        upd = [i for i in range(len(keys)) if seen[i]]
        for i in upd:  # feet seen on a ghost are no feet: the frame counts as seen outside
            if probs[i] > 0.05 and self._on_ghost(percept, rows[i]):
                probs[i] = 0.0
        evidence = np.array([self._evidence.get(k) for k in keys])
        if upd:
            evidence[upd] = self._evidence.update(percept.t, [keys[i] for i in upd], [probs[i] for i in upd])
        else:
            self._evidence.update(percept.t, [], [])
        staff = self._staff_scores(percept, sorted({r for k, r in zip(keys, rows) if "staff" in zone_of[k].allowed}))
        staff_of = self._instance_staff(percept.t, [(k, staff[r]) for k, r in zip(keys, rows) if r in staff])
        out = []
        for key, e, r in zip(keys, evidence.tolist(), rows):
            zone = zone_of[key]
            if "staff" in zone.allowed:
                e *= 1.0 - staff_of.get(key, 0.0)
            if e > 0.05 and self._on_ghost(percept, r):
                e = 0.0
            if e > 0:
                out.append(InstanceScore(key, float(min(1.0, e)), clip_box(tr.box[r], self.site.image_size)))
        return DetectorOutput.of(out, zone_of=lambda k: k.split("/")[0])

    def _follow_origins(self, tr, t: float) -> None:
        """Note where and when each confirmed track was first seen (and forget the instances of tracks
        that came in not scored for ``link_s``), at time ``t`` [s]."""
        ids = set(tr.id.tolist())
        for tid in [k for k in self._origin if k not in ids]:
            del self._origin[tid]
        seen = np.flatnonzero(tr.confirmed & np.all(np.isfinite(tr.foot_m), axis=1))
        new = [r for r in seen if int(tr.id[r]) not in self._origin]
        if new:
            t_ready = -math.inf if self._t_ready is None else self._t_ready
            unsettled = (t - t_ready < self.startup_s) & (self._vehicles.floor_cover >= self.vehicle_clear)
            w, h = self.site.image_size
            box = tr.box[new]
            at_border = ((box[:, 0] <= 1.0) | (box[:, 1] <= 1.0) | (box[:, 0] + box[:, 2] >= w - 1.0)
                         | (box[:, 1] + box[:, 3] >= h - 1.0))
            for r, border in zip(new, at_border.tolist()):
                self._origin[int(tr.id[r])] = (tr.foot_m[r].copy(), float(t), unsettled, border)
        for key in [k for k, tk in self._came_in.items() if t - tk > self._links.link_s]:
            del self._came_in[key]

    def _void_on_vehicle(self, tr, occupied: np.ndarray, t: float) -> None:
        """A track whose feet are placed inside a zone a vehicle occupies (``occupied``, (Z,) bool) at time
        ``t`` [s] follows the vehicle's pixels: it counts from here as first seen now, where it stands, so
        that it must come in again. A passenger's track first seen on the platform during a dwell slid
        onto the train's doors, then onto the track bed the departing train uncovered, and scored 0.55
        there 15 s later as a track that had come in from the platform (a retired held-out seed's
        rush_hour_quiet); nobody stands on a track bed a train stands on."""
        if not occupied.any() or not len(tr.id):
            return
        rows = np.flatnonzero(tr.confirmed & (tr.lost_s == 0) & np.all(np.isfinite(tr.foot_m), axis=1))
        if not len(rows):
            return
        on = np.zeros(len(rows), bool)
        for zi in np.flatnonzero(occupied):
            on |= self.zones[zi].signed_distance(tr.foot_m[rows]) > 0
        for r in rows[on]:
            tid = int(tr.id[r])
            if tid in self._origin:
                _, _, unsettled, border = self._origin[tid]
                self._origin[tid] = (tr.foot_m[r].copy(), float(t), unsettled, border)

    def _came(self, zone, zi: int, vehicle_t: float, ids: np.ndarray, t: float) -> np.ndarray:
        """(N,) bool: which tracks (``ids``) may score in ``zone`` (index ``zi``) at time ``t`` [s], where a
        vehicle was last seen at ``vehicle_t`` [s]: those first seen more than ``vehicle_max_hold_s`` after
        it, neither at start-up on a floor not clear nor at the image border less than ``border_hold_s``
        ago, and those that came in: first seen ``entry_m`` or more outside the zone, not beyond it as
        seen from the camera."""
        out = np.zeros(len(ids), bool)
        known = [j for j, tid in enumerate(ids.tolist()) if tid in self._origin]
        if not known:
            return out
        origin = np.array([self._origin[int(ids[j])][0] for j in known])
        born = np.array([self._origin[int(ids[j])][1] for j in known])
        with np.errstate(invalid="ignore"):
            entered = zone.signed_distance(origin) <= -self.entry_m
        if self._nadir_m is not None and entered.any():
            # seen from the camera beyond the zone: where a vehicle's side and roof map on the floor
            entered &= ~beyond_zone(zone, self._nadir_m, origin)
        unsettled = np.array([self._origin[int(ids[j])][2][zi] for j in known], bool)
        border = np.array([self._origin[int(ids[j])][3] for j in known], bool)
        suspect = unsettled | (border & (t - born < self.border_hold_s))
        out[known] = ((born - vehicle_t > self.vehicle_max_hold_s) & ~suspect) | entered
        return out

    def placement_m(self, pos: np.ndarray) -> np.ndarray:
        """(N,) [m] floor spanned by ``foot_px`` full-resolution pixels of foot placement error at each
        ground position ``pos`` (N, 2): the larger of one pixel's span along the image row and column
        (inf where the point is beyond the horizon)."""
        pos = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
        if len(pos) == 0:
            return np.zeros(0)
        px = self.site.ground_to_image(pos)
        g0 = self.site.image_to_ground(px)
        du = np.linalg.norm(self.site.image_to_ground(px + [1.0, 0.0]) - g0, axis=1)
        dv = np.linalg.norm(self.site.image_to_ground(px + [0.0, 1.0]) - g0, axis=1)
        return np.nan_to_num(self.foot_px * np.maximum(du, dv), nan=np.inf)

    def _staff_scores(self, percept: Percept, rows: list[int]) -> dict[int, float]:
        """Staff evidence of the tracks ``rows``: rises within ``staff_s`` while a vest is seen on the
        person's crop, falls ten times slower (a vest hidden for a moment keeps the person staff).
        Crops are read at most once per track and frame.

        A track read for the first time starts from the evidence of a track read less than
        ``staff_link_s`` ago whose last box covers half of its box or more (or the reverse): the
        tracker loses a standing worker whose box grows onto the floor below his feet and starts a
        new track on him (on a retired held-out seed the new track started from 0, saw the vest on
        too few pixels and scored 0.5 six seconds into his dwell), and a second track on one
        person's half must not read him as a passenger."""
        tr = percept.tracks
        out = {}
        for r in rows:
            tid = int(tr.id[r])
            prev, t_prev, _ = self._staff.get(tid, (0.0, None, None))
            if t_prev == percept.t:
                out[r] = prev
                continue
            if tr.lost_s[r] > 0 or clip_box(tr.box[r], self.site.image_size) is None:
                out[r] = prev
                continue
            box = np.asarray(tr.box[r], dtype=np.float64)
            if t_prev is None:
                prev = self._inherited_staff(tid, box, percept.t)
            seen = min(1.0, self.vest_seen(percept, box, float(tr.expected_height_px[r])) / self.vest_fraction)
            dt = 0.0 if t_prev is None else percept.t - t_prev
            tau = self.staff_s if seen > prev else 10.0 * self.staff_s
            a = 1.0 if tau == 0 else 1.0 - math.exp(-max(dt, 1.0 / self.site.fps) / tau)
            value = prev + a * (seen - prev)
            self._staff[tid] = (value, percept.t, box)
            out[r] = value
        for tid in [k for k, (_, tk, _) in self._staff.items() if percept.t - tk > 10.0]:
            del self._staff[tid]
        return out

    def _inherited_staff(self, tid: int, box: np.ndarray, t: float) -> float:
        """Staff evidence a track ``tid`` new to the staff watch takes over at time ``t`` [s]: the best of
        the tracks read less than ``staff_link_s`` ago whose last box and ``box`` overlap by half the
        smaller of the two or more (decayed as a vest unseen since then), else 0."""
        best = 0.0
        for k, (value, tk, kb) in self._staff.items():
            if k == tid or t - tk > self.staff_link_s or value <= best:
                continue
            pair = np.stack([box, kb])
            if box_cover(pair, pair)[[0, 1], [1, 0]].max() >= 0.5:  # half of either box covered by the other
                best = value * math.exp(-(t - tk) / (10.0 * self.staff_s))
        return best

    def _instance_staff(self, t: float, pairs: list[tuple[str, float]]) -> dict[str, float]:
        """Staff evidence per instance key at time ``t`` [s] from ``pairs`` (key, a track's staff evidence):
        the best of its tracks now, or what the instance had, falling as a vest unseen (ten times
        ``staff_s``): the instance is the person, and a second track on a worker (a fragment of his
        trousers beside him, no vest in its crop) must not make him a passenger."""
        out: dict[str, float] = {}
        for key, value in pairs:
            out[key] = max(out.get(key, 0.0), value)
        for key in out:
            prev, tk = self._key_staff.get(key, (0.0, t))
            out[key] = max(out[key], prev * math.exp(-(t - tk) / (10.0 * self.staff_s)))
            self._key_staff[key] = (out[key], t)
        for key in [k for k, (_, tk) in self._key_staff.items() if t - tk > self._links.link_s]:
            del self._key_staff[key]
        return out

    def vest_seen(self, percept: Percept, box: np.ndarray, expected_px: float) -> float:
        """Share [0, 1] of high-visibility colours on the torso of the person in ``box`` (x, y, w, h px),
        where an adult stands ``expected_px`` [px] tall: the better of the box's torso region
        (:data:`detectors.appearance.TORSO`) and the upper body under the box's top, rows 0 to
        ``UPPER_BODY`` of an adult's height (a box that runs onto the floor below the feet, or whose
        head is lost against a wall of the same grey, has its torso region on the legs)."""
        full = hi_vis_fraction(percept.crop(box, (32, 64)))
        if not (math.isfinite(expected_px) and expected_px > 0):
            return full
        upper_h = min(box[3], UPPER_BODY * expected_px)
        if upper_h < 2.0:
            return full
        upper = percept.crop((box[0], box[1], box[2], upper_h), (32, 32))
        return max(full, hi_vis_fraction(upper, torso=(0.0, 1.0, 0.2, 0.8)))

    @staticmethod
    def _on_ghost(percept: Percept, row: int) -> bool:
        det = int(percept.tracks.detection[row])
        if det < 0:
            return False
        return percept.is_ghost(int(percept.detections.blob[det]))

