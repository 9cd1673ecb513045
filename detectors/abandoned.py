"""Abandoned objects: static foreground of object size that nobody has attended for the site's time.

The shared perception's long-term/short-term background pair exposes *static foreground*
(``F_L & ~F_S``: what entered the scene and stopped, after Porikli, Ivanov and Haga 2008).
An object set down becomes static foreground once the short-term background has absorbed
it (a few seconds), and stays so until the long-term one does (about a minute and a half).

Per frame, each static component is an object candidate when

- its image height is between ``min_height`` and ``max_height`` of an adult's height at its
  foot point (the site's projection): a suitcase or a bag, not a standing person (whose
  legs, at rest, are static foreground too) nor a speck;
- it is no wider than ``max_width`` of an adult's height, and at least ``min_area_work_px``
  pixels of the working image: luggage is under about 0.9 m across (the simulated suitcase's blob, its
  shadow included, is 0.41 to 0.49 of an adult's height wide on the tuning seeds), a person sitting on the
  floor with legs stretched out about 1 m (0.57 to 0.63 seen side-on, where no head on shoulders shows);
  a wider bag left lying is missed;
- it is not a *ghost* (background uncovered by something that left; checked once a second
  for the objects that score): its outline's edges are in the background rather than in the frame, or
  its pixels look now as the long-term background showed them before it turned static (snapshots every
  ``snapshot_s`` over ``history_s``, mean difference under ``seen_diff`` grey levels and under half that
  to the background now: a person who stood on a painted line left, and the line is back), or its mean
  grey is within ``ring_diff`` of the floor's in a ring ``ring_px`` wide around it (outside any
  foreground) and within half the long-term background's difference there (someone who stood there
  since before the background's history left, and the floor shows again), or the mean of each of its BGR
  channels in the frame is within ``floor_colour_diff`` of the same ring's (the frame shows floor there: what
  differs from the long-term background is a colour the background took in, slowly, from someone who stood
  there, as grey as the floor, which the grey tests cannot see; a false alarm at a retired held-out seed of
  ``negatives_train``, 12x10 px at the platform camera's right edge, where a passenger had waited);
- it is not a part of a larger figure: the (long-term) foreground component it lies in is at most
  ``figure_ratio`` times its height and width (a person standing or sitting still, whose legs,
  torso or lying body the short-term background absorbed, is static foreground of object size);
- it does not stand on legs: a column under it, twice its width and ``legs_ratio`` of its height, in which
  ``legs_share`` of the pixels differ from the long-term background by more than ``legs_diff`` grey levels
  in at least ``legs_frames`` of its first ``legs_s`` as static (the upper body of a person standing still
  whose trousers, about as dark as a shadow on the floor, the shadow test cleared from the foreground, so
  that the figure test does not see them; an object seen again where one was forgotten keeps that count);
  the column reaches at least ``legs_adult`` of an adult's height down (a head gone static, whose shirt
  matches the wall behind, has the legs below that);
- it is not under a person: the column above it, up to an adult's head at its foot point, has at least
  ``torso_share`` of its pixels more than ``torso_diff`` grey levels from the long-term background in
  ``legs_frames`` of the same frames (the legs of someone standing still, the rest of whom moves);
- it is not a person sitting still, whose silhouette, in at least ``legs_frames`` of the frames of the last
  ``legs_s`` it was judged in, is a head on shoulders (its top ``head_rows`` of an adult's height between ``head_min_width``
  and ``head_width`` of it wide and at least half filled, and a row below, down to ``shoulder_depth``, at
  least ``shoulder_ratio`` times as wide; at least ``head_min_height`` tall in all): someone sitting on a
  bench, which hides their legs, or on the floor; a seated person's head turns static seconds after the
  body, so this is looked for in every frame, not only in the first ``legs_s``. A suitcase, a bag or a
  backpack is about as wide at its top as below it (a handle is a thin bar or loop);
- it does not touch the left, right or bottom edge (``border_px``: people cut by the edge), nor
  pixels of a vehicle standing in a forbidden zone (the doors and windows of a train at the
  platform are static foreground too).

Candidates are followed on the ground (within ``match_m``); one seen for less than
``min_static_s``, or in fewer than ``min_seen`` of the frames of the last ``seen_s`` (the
static foreground of flames, smoke or a flicker comes and goes; the frames in which a tracked person's
box covers it, a passer-by in front, count neither way, and keep it from being forgotten), is not an
object, nor one that no person-shaped track came within ``place_m`` of in the ``memory_s`` before it
turned static (somebody brings an object; nobody brings a patch of smoke). Its *owners*, who set it
down, are the tracks that stopped by it then: slower than ``walk_mps`` within ``place_m`` for ``stop_s``
in all, no later than ``owner_window_s`` after the first who did (someone who stops by a bag already
left is not its owner), and within ``owner_margin_m`` of the nearest of those (a passer-by the tracker
slows for a frame, or a stranger waiting a metre farther, is not one). They are found on its first frame, and
whether they walked off and when they last attended it are followed from then (the memory moves on
while passers-by hide it). Someone *walked off* from it when one of its owners (none known: anyone who
came within ``place_m``) is seen walking more than ``attended_m`` from it, or an owner's track ended while
walking and stayed unseen ``gone_s`` (lost in a crowd on the way out). An owner whose track ended slow by
it, with no new track rising within ``place_m`` of it in the ``sat_s`` after, may be the object itself
(sat down on the floor) or have been lost crouching: then the owners are not known after all, and the
object is judged as without owners (an owner who rose under a new track: that track is an owner too, and
what the memory holds of it says where it was last seen and whether it walked off, before the object turned
static as after: an owner who crouched, set a bag down and walked off under a new track is no sitter, a bag
missed at a retired held-out seed of ``concourse_abandoned_bag``). When
that owner's own track, any shape, was seen after its last person-shaped frame with a box that overlaps the
object's box by at least ``sitter_iou`` (intersection over union), the object *is* that person, who sat or
lay down there (the tracker followed them down to the static blob they became): it is no object, unless the
box dropped onto the blob from ``sitter_drop`` times its height or more in one frame (sitting down takes a
second; a tracker that leaves an owner walking off for the bag at their feet jumps: a bag missed at a retired
held-out seed of ``concourse_abandoned_bag``, 70 px to 28 px in 0.1 s). A standing
owner's box beside a bag holds it but is several times its area; an owner who crouched, set a bag down and
was lost there is matched on the bag only if the tracker kept the crouching box, which the bag alone fills
less than half of.

An object is *attended* while one of its owners is within ``attended_m`` (walking or not), or while
anyone stands by within ``beside_m`` (the owner under a new track, a companion, a queue): a
person-shaped track (its box at least ``person_height`` of the adult height at its foot, and not a
box holding the object's centre less than 1.4 times the object's height: the object's own blob, which
the tracker may follow as a short "person", does not count) slower than ``walk_mps`` for ``attend_s``
on end. An owner last seen ``d`` from it attends it until ``(attended_m - d) / exit_mps`` later (their
track may end in a crowd on the way out). Without owners (nobody stopped by it), anyone standing by
within ``attended_m`` attends it.

Score of an object: ``u / (2 (T + delay))`` capped at 1, ``u`` [s] the time since it was last
attended, and at most since it was set down (when an owner first stopped by it, or else
``static_delay_s`` before it turned static: someone who stood there before does not start its clock
earlier), and ``T`` the site's ``abandoned_after_s``: 0.5 (the default threshold) when it has been
unattended for ``T + delay``. With owners ``delay`` is ``owner_delay_s`` (the clock starts as they
leave ``attended_m``, as the site's rule counts); without, ``delay_s``, which covers the walk out of
``attended_m`` (about 2 s at 1.3 m/s) of someone who stopped attending at their first step.
One instance per object (key ``"object/N"``), its box the static component's.

Known limits: the owner is whoever stopped nearest it, so a stranger who stopped as near (or under
the owner's track, taken over in a crowd) is taken for one; anyone standing within ``beside_m`` of a
left bag keeps it attended; a person sitting still, facing the camera with no head on shoulders showing
(their head as grey as the wall behind) and narrower than ``max_width``, whose track the tracker did not
follow down onto the blob, is taken for an object; a bag left where a person sat down and got up is taken
for that person while it is followed; a bag wider than ``max_width`` is missed.
"""

from __future__ import annotations

import math
from collections import deque

import cv2
import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import box_iou, clip_box, greedy_pairs
from detectors.people import components_with_stats
from detectors.perception import Percept
from detectors.site import SiteConfig, ZoneKind
from detectors.static_figure import StaticFigureTests
from detectors.vehicles import VehicleMemory, vehicle_mask


class AbandonedObjectDetector(StaticFigureTests):
    """Static object-sized foreground left unattended for the site's ``abandoned_after_s``.

    Parameters (see the module docstring for the rule):

    - ``min_height``, ``max_height`` [fraction of an adult's image height at the object's foot]:
      object size range; ``max_width`` [same unit] widest object; ``min_area_work_px`` [working px²];
    - ``min_static_s`` [s]: static this long before it counts; ``forget_s`` [s]: an object unseen
      this long is forgotten; ``match_m`` [m]: a candidate within this of an object is that object;
    - ``attended_m`` [m], ``walk_mps`` [m/s], ``person_height`` [fraction], ``attend_s`` [s]: who
      attends an object; ``beside_m`` [m]: how near someone who did not set it down must stand by;
    - ``owner_margin_m`` [m], ``stop_s`` [s], ``owner_window_s`` [s]: who set it down are those who
      stopped (slower than ``walk_mps`` for ``stop_s`` in all, within ``place_m``) no later than
      ``owner_window_s`` after the first who did, and within ``owner_margin_m`` of the nearest of those,
      before it turned static; ``exit_mps`` [m/s]: an owner last seen ``d`` from it left ``attended_m``
      no sooner than ``(attended_m - d) / exit_mps`` later; ``gone_s`` [s]: an owner whose track ended
      while walking, unseen this long, walked off; ``sat_s`` [s]: one whose track ended slow by it, with no
      new track rising there for this long, is the object (sat down there); ``sitter_iou`` [fraction]: when
      that owner's track (any shape) later had a box overlapping the object's this much (intersection over
      union), the object is that person sitting or lying there, never an abandoned object, unless its box dropped
      onto the object's from ``sitter_drop`` [ratio of box heights] times its height or more in one frame (the
      tracker left the owner, walking off, for the bag at their feet);
    - ``head_rows``, ``head_width``, ``head_min_width``, ``head_min_height``, ``shoulder_depth`` [fractions of
      an adult's image height at the object's foot point], ``shoulder_ratio`` [ratio of widths]: the silhouette
      of a head on shoulders (``head_width`` 0: not looked for), which makes a component a seated person;
    - ``static_delay_s`` [s]: from set down to static; ``place_m`` [m]: how near someone must have come
      before it turned static; ``min_seen``: share of frames it must be seen in; ``memory_s`` [s]: how far
      back positions are kept;
    - ``delay_s`` [s]: added to the site's time before the score reaches 0.5; ``owner_delay_s`` [s]: the
      same when the owner is known (the clock then starts as they step out of ``attended_m``);
    - ``figure_ratio``: a candidate whose foreground figure is this many times taller or wider is a
      part of it (a person keeping still), not an object; ``border_px`` [working px]: candidates this near
      the left, right or bottom edge are left out (people cut by the edge); ``vehicle_memory_s`` [s],
      ``vehicle_margin_m`` [m]: no object is looked for in or this near a forbidden zone where a vehicle
      stood less than ``vehicle_memory_s`` ago (a bag left there is seen once the train is gone that long);
    - ``legs_ratio`` [fraction of the component's height], ``legs_diff`` [grey levels], ``legs_share``
      [fraction of the column], ``legs_frames`` [fraction of the frames], ``legs_s`` [s]: a component on
      legs is a person's upper body, not an object; ``passer_share`` [fraction of the legs column]: a frame
      whose legs column holds this much moving foreground (a passer-by) is not looked at;
    - ``legs_adult`` [fraction of the adult height]: least depth of the legs column; ``seen_s`` [s]: the
      window ``min_seen`` is counted over; ``torso_diff`` [grey levels], ``torso_share`` [fraction of the
      column]: a component under a changed column is a person's lower part; ``snapshot_s`` [s],
      ``history_s`` [s], ``seen_diff`` [grey levels]: the long-term background kept to find ghosts;
      ``ring_px`` [working px], ``ring_diff`` [grey levels]: a component whose mean grey is this near that of
      the floor in a ring this wide around it, and under half the background's difference, is a ghost;
      ``floor_colour_diff`` [grey levels, per BGR channel]: so is one whose mean colour in the frame is this near
      that ring's in every channel (0: not looked for);
    - ``abandoned_after_s`` [s]: overrides the site's rule.
    """

    event_type = EventType.ABANDONED_OBJECT
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the score already counts time
    default_cooldown_s = 60.0  #: [s] per object

    def __init__(self, site: SiteConfig, *, min_height: float = 0.12, max_height: float = 0.72,
                 max_width: float = 0.55, min_area_work_px: float = 10.0, min_static_s: float = 1.0,
                 forget_s: float = 3.0, match_m: float = 0.6, attended_m: float = 3.0,
                 walk_mps: float = 0.8, person_height: float = 0.7, attend_s: float = 1.0, static_delay_s: float = 7.0, place_m: float = 1.5,
                 min_seen: float = 0.8, memory_s: float = 30.0, delay_s: float = 1.5,
                 figure_ratio: float = 1.5, border_px: int = 3, vehicle_memory_s: float = 30.0,
                 vehicle_margin_m: float = 1.0, legs_ratio: float = 0.8, legs_diff: float = 10.0,
                 legs_share: float = 0.05, legs_frames: float = 0.5, legs_s: float = 2.0,
                 legs_adult: float = 0.4, seen_s: float = 10.0, torso_diff: float = 20.0, torso_share: float = 0.3,
                 snapshot_s: float = 5.0,
                 history_s: float = 120.0, seen_diff: float = 12.0,
                 beside_m: float = 1.0, owner_delay_s: float = 0.5, owner_margin_m: float = 0.4, stop_s: float = 0.5,
                 owner_window_s: float = 30.0, exit_mps: float = 1.5, gone_s: float = 1.0, sat_s: float = 3.0,
                 passer_share: float = 0.25, ring_px: int = 3, sitter_iou: float = 0.5, sitter_drop: float = 2.0,
                 head_rows: float = 0.12, head_width: float = 0.2, head_min_width: float = 0.07,
                 head_min_height: float = 0.3,
                 shoulder_depth: float = 0.45, shoulder_ratio: float = 2.0,
                 ring_diff: float = 10.0, floor_colour_diff: float = 6.0,
                 abandoned_after_s: float | None = None) -> None:
        for name, value in (("min_height", min_height), ("max_height", max_height), ("max_width", max_width),
                            ("match_m", match_m), ("attended_m", attended_m), ("beside_m", beside_m),
                            ("memory_s", memory_s), ("person_height", person_height), ("exit_mps", exit_mps)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a finite number > 0; got {value!r}")
        for name, value in (("min_area_work_px", min_area_work_px), ("min_static_s", min_static_s), ("forget_s", forget_s),
                            ("walk_mps", walk_mps), ("delay_s", delay_s), ("owner_delay_s", owner_delay_s),
                            ("owner_margin_m", owner_margin_m), ("stop_s", stop_s), ("owner_window_s", owner_window_s),
                            ("gone_s", gone_s), ("sat_s", sat_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a finite number >= 0; got {value!r}")
        if min_height >= max_height:
            raise ValueError(f"AbandonedObjectDetector: min_height must be < max_height; got {min_height!r} and "
                             f"{max_height!r}")
        after = site.abandoned_after_s if abandoned_after_s is None else abandoned_after_s
        if not (math.isfinite(after) and after >= 0):
            raise ValueError(f"AbandonedObjectDetector.abandoned_after_s must be >= 0 s; got {after!r}")
        self.site = site
        self.min_height, self.max_height, self.max_width = float(min_height), float(max_height), float(max_width)
        self.min_area_work_px = float(min_area_work_px)
        self.min_static_s, self.forget_s, self.match_m = float(min_static_s), float(forget_s), float(match_m)
        self.attended_m, self.walk_mps, self.attend_s = float(attended_m), float(walk_mps), float(attend_s)
        self.beside_m, self.owner_delay_s = float(beside_m), float(owner_delay_s)
        self.owner_margin_m, self.stop_s = float(owner_margin_m), float(stop_s)
        self.owner_window_s, self.exit_mps = float(owner_window_s), float(exit_mps)
        self.gone_s, self.sat_s = float(gone_s), float(sat_s)
        if not (math.isfinite(sitter_iou) and 0 < sitter_iou <= 1):
            raise ValueError(f"AbandonedObjectDetector.sitter_iou must be in (0, 1]; got {sitter_iou!r}")
        self.sitter_iou = float(sitter_iou)
        if not (math.isfinite(sitter_drop) and sitter_drop > 1):
            raise ValueError(f"AbandonedObjectDetector.sitter_drop must be a finite number > 1; got {sitter_drop!r}")
        self.sitter_drop = float(sitter_drop)
        for name, value in (("head_rows", head_rows), ("head_width", head_width), ("head_min_width", head_min_width),
                            ("head_min_height", head_min_height),
                            ("shoulder_depth", shoulder_depth), ("shoulder_ratio", shoulder_ratio)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a finite number >= 0; got {value!r}")
        self.head_rows, self.head_width, self.head_min_height = float(head_rows), float(head_width), float(head_min_height)
        self.head_min_width = float(head_min_width)
        self.shoulder_depth, self.shoulder_ratio = float(shoulder_depth), float(shoulder_ratio)
        if not 0 < passer_share <= 1:
            raise ValueError(f"AbandonedObjectDetector.passer_share must be in (0, 1]; got {passer_share!r}")
        self.passer_share = float(passer_share)
        if not (int(ring_px) >= 1 and math.isfinite(ring_diff) and 0 < ring_diff <= 255):
            raise ValueError(f"AbandonedObjectDetector: ring_px must be >= 1 and ring_diff in (0, 255]; "
                             f"got {ring_px!r} and {ring_diff!r}")
        self.ring_px, self.ring_diff = int(ring_px), float(ring_diff)
        if not (math.isfinite(floor_colour_diff) and 0 <= floor_colour_diff <= 255):
            raise ValueError(f"AbandonedObjectDetector.floor_colour_diff must be in [0, 255]; got {floor_colour_diff!r}")
        self.floor_colour_diff = float(floor_colour_diff)
        self._ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * self.ring_px + 1, 2 * self.ring_px + 1))
        self.static_delay_s = float(static_delay_s)
        self.place_m, self.min_seen = float(place_m), float(min_seen)
        self.person_height, self.memory_s, self.delay_s = float(person_height), float(memory_s), float(delay_s)
        self.abandoned_after_s = float(after)
        if not (math.isfinite(figure_ratio) and figure_ratio >= 1):
            raise ValueError(f"AbandonedObjectDetector.figure_ratio must be a finite number >= 1; got {figure_ratio!r}")
        self.figure_ratio, self.border_px = float(figure_ratio), max(0, int(border_px))
        for name, value in (("vehicle_memory_s", vehicle_memory_s), ("vehicle_margin_m", vehicle_margin_m)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a finite number >= 0; got {value!r}")
        self.vehicle_memory_s, self.vehicle_margin_m = float(vehicle_memory_s), float(vehicle_margin_m)
        for name, value, hi in (("legs_ratio", legs_ratio, math.inf), ("legs_diff", legs_diff, 255.0),
                                ("legs_share", legs_share, 1.0), ("legs_frames", legs_frames, 1.0),
                                ("legs_s", legs_s, math.inf)):
            if not (math.isfinite(value) and 0 < value <= hi):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a number in (0, {hi:g}]; got {value!r}")
        self.legs_ratio, self.legs_diff = float(legs_ratio), float(legs_diff)
        self.legs_share, self.legs_frames, self.legs_s = float(legs_share), float(legs_frames), float(legs_s)
        self._head_frames = max(1, int(round(self.legs_s * site.fps)))  # the head test's window [frames]
        for name, value, hi in (("torso_diff", torso_diff, 255.0), ("torso_share", torso_share, 1.0)):
            if not (math.isfinite(value) and 0 < value <= hi):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a number in (0, {hi:g}]; got {value!r}")
        self.torso_diff, self.torso_share = float(torso_diff), float(torso_share)
        if not (math.isfinite(legs_adult) and legs_adult >= 0):
            raise ValueError(f"AbandonedObjectDetector.legs_adult must be a finite number >= 0; got {legs_adult!r}")
        self.legs_adult = float(legs_adult)
        if not seen_s > 0:
            raise ValueError(f"AbandonedObjectDetector.seen_s must be > 0 s; got {seen_s!r}")
        self.seen_s = float(seen_s)
        for name, value in (("snapshot_s", snapshot_s), ("history_s", history_s), ("seen_diff", seen_diff)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"AbandonedObjectDetector.{name} must be a finite number > 0; got {value!r}")
        self.snapshot_s, self.history_s, self.seen_diff = float(snapshot_s), float(history_s), float(seen_diff)
        self._forbidden = site.zones_of(ZoneKind.FORBIDDEN)  # where a vehicle (a train) may stand
        self.reset()

    def reset(self) -> None:
        #: (t, positions (K, 2) [m] of the person-shaped tracks standing or slow)
        self._people: deque = deque()
        #: (t, ids (K,), positions (K, 2) [m], slow (K,) bool) of every person-shaped track: who could have
        #: brought an object
        self._passing: deque = deque()
        self._objects: dict[int, dict] = {}
        #: (t forgotten, [m] position, frames with legs, frames under a torso, frames looked at, whether a head was on
        #: top in each of its last frames) of the objects forgotten
        self._forgotten: deque = deque()
        self._next_id = 0
        self._slow_since: dict[int, float] = {}  # track id -> start of its current slow, person-shaped run
        self._born: dict[int, list] = {}  # track id -> [first, last] time seen person-shaped
        #: (t, ids (K,), boxes (K, 4) [px]) of every confirmed track seen this frame, of any shape: a person
        #: sitting down is followed to the blob they become
        self._shapes: deque = deque()
        self._vehicles = VehicleMemory(self._forbidden, self.vehicle_memory_s, self.vehicle_margin_m)
        #: (t, long-term background grey) every ``snapshot_s`` over the last ``history_s``: what the scene was
        self._snapshots: deque = deque()

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self.reset()
            return NOTHING
        t = percept.t
        self._remember_people(percept)
        self._vehicles.update(percept)
        cand_xy, cand_box = self._candidates(percept)
        if len(cand_xy):
            # a train at the platform or just gone: its pieces, ghost and light along the platform edge
            away = ~self._vehicles.near(cand_xy)
            cand_xy, cand_box = cand_xy[away], [b for b, ok in zip(cand_box, away) if ok]
        self._follow(t, cand_xy, cand_box)
        if not self._snapshots or t - self._snapshots[-1][0] >= self.snapshot_s - 1e-9:
            self._snapshots.append((t, percept.background().copy()))
            while t - self._snapshots[0][0] > self.history_s:
                self._snapshots.popleft()
        out = []
        scale = 2.0 * (self.abandoned_after_s + self.delay_s)
        scale_owner = 2.0 * (self.abandoned_after_s + self.owner_delay_s)
        background = None  # the long-term background's grey, made once a frame when an object needs it
        tr = percept.tracks
        walking = tr.box[tr.confirmed & (tr.lost_s == 0)]  # people in front of an object hide it
        for oid, ob in self._objects.items():
            # who set it down is known from its first frame on, and whether they walked off and when they
            # last attended it followed from then (the memory moves on)
            if self._brought(ob):
                self._left(ob, t)
                self._last_attended(ob)
            while ob["hidden_t"] and t - ob["hidden_t"][0] > self.seen_s + 1e-9:
                ob["hidden_t"].popleft()
            if ob["last"] != t:
                ox, oy, ow, oh = ob["box"]
                cx, cy = ox + 0.5 * ow, oy + 0.5 * oh
                if len(walking) and np.any((walking[:, 0] <= cx) & (walking[:, 0] + walking[:, 2] >= cx) &
                                           (walking[:, 1] <= cy) & (walking[:, 1] + walking[:, 3] >= cy)):
                    ob["hidden_t"].append(t)  # a passer-by in front of it: neither seen nor missing
                continue
            if t - ob["first"] < self.min_static_s - 1e-9:
                continue
            while ob["seen_t"] and t - ob["seen_t"][0] > self.seen_s + 1e-9:
                ob["seen_t"].popleft()
            frames = round(min(self.seen_s, t - ob["first"]) * self.site.fps) + 1 - len(ob["hidden_t"])
            if len(ob["seen_t"]) < self.min_seen * frames:
                continue  # static foreground that comes and goes (flames, smoke, flicker): no object
            if background is None:
                background = percept.background()
            if ob["looked"] < self.legs_s * self.site.fps - 1e-9 and not self._passer_below(percept, ob["box"]):
                # judged in its first ``legs_s`` as static: later the long-term background absorbs the legs
                ob["legs"] += self._on_legs(percept, background, ob["box"])
                ob["torso"] += self._under_torso(percept, background, ob)
                ob["looked"] += 1
            if self.head_width > 0:
                # a seated person's head turns static later than the body: looked for in every frame, over the last
                # ``legs_s`` seconds
                ob["head"].append(self._head_on_top(percept, ob))
            if not ob["owners"] or not ob["left"]:
                continue  # nobody brought it, or nobody walked off from it
            if ob.get("sitter"):
                continue  # a person who sat or lay down there, followed by the tracker onto the static blob
            if ob["legs"] >= self.legs_frames * ob["looked"]:
                continue  # the upper body of a person standing still, whose legs the shadow test cleared
            if ob["torso"] >= self.legs_frames * ob["looked"]:
                continue  # the lower body of a person standing still, the rest of whom is not static
            if ob["head"] and sum(ob["head"]) >= self.legs_frames * len(ob["head"]):
                continue  # a person sitting still: a head on shoulders
            unattended = t - ob["attended"]
            # the owner known, the clock starts as they step out of ``attended_m``; otherwise as the last person
            # standing by starts walking, ``delay_s`` before that
            sc = scale_owner if ob.get("stopped") and not ob.get("sat") else scale
            s = 1.0 if sc == 0 else min(1.0, max(0.0, unattended / sc))
            if s > 0.2 and self._ghost(percept, ob):
                s = 0.0
            if s > 0:
                out.append(InstanceScore(f"object/{oid}", float(s), ob["box"]))
        return DetectorOutput.of(out)

    # --- people ------------------------------------------------------------------------
    def _remember_people(self, percept: Percept) -> None:
        tr = percept.tracks
        t = percept.t
        ok = tr.confirmed & (tr.lost_s == 0)  # a coasting track slows down on its own: no evidence of anyone
        with np.errstate(invalid="ignore"):
            ok &= tr.box[:, 3] >= self.person_height * tr.expected_height_px
        ok &= np.all(np.isfinite(tr.foot_m), axis=1)
        slow = ok & (tr.speed_mps < self.walk_mps)
        # attending is standing by for a while: a passer-by whom the tracker slows for a moment, or the
        # object's own blob made tall for a frame by someone walking past it, is not
        since = {tid: self._slow_since.get(tid, t) for tid in tr.id[slow].tolist()}
        self._slow_since = since
        steady = np.zeros(len(tr.id), dtype=bool)
        steady[slow] = [t - since[tid] >= self.attend_s - 1e-9 for tid in tr.id[slow].tolist()]
        self._passing.append((t, tr.id[ok].copy(), tr.foot_m[ok].copy(), slow[ok]))
        for tid in tr.id[ok].tolist():
            self._born.setdefault(tid, [t, t])[1] = t
        if len(self._born) > 256:  # those unseen for the memory are gone for good
            self._born = {k: v for k, v in self._born.items() if t - v[1] <= self.memory_s}
        while self._passing and t - self._passing[0][0] > self.memory_s:
            self._passing.popleft()
        seen = tr.confirmed & (tr.lost_s == 0)
        self._shapes.append((t, tr.id[seen].copy(), tr.box[seen].copy()))
        while self._shapes and t - self._shapes[0][0] > self.memory_s:
            self._shapes.popleft()
        self._people.append((t, tr.foot_m[steady].copy(), tr.box[steady].copy()))
        while self._people and t - self._people[0][0] > self.memory_s:
            self._people.popleft()

    def _last_attended(self, ob: dict) -> float:
        """[s] the last time someone attended object ``ob`` (the memory's start when nobody did).

        Its owners (the people who stopped within ``place_m`` of it before it turned static: who set it
        down) attend it while within ``attended_m``, walking or not; anyone else only while standing by
        within ``beside_m`` (the owner under a new track, a travelling companion, a queue): a stranger
        waiting a few metres away does not keep a left bag attended."""
        xy = ob["xy"]
        r2, b2 = self.attended_m ** 2, self.beside_m ** 2
        ox, oy, ow, oh = ob["box"]
        # an owner who may have sat down by it (or be it) is no owner to go by: anyone standing by attends it
        owners = None if ob.get("sat") else ob.get("stopped")
        # what was looked through in an earlier frame is not again
        since = max(ob["attended"], ob.get("scanned", -math.inf))
        if self._passing:
            ob["scanned"] = self._passing[-1][0]
        if owners:
            for t, ids, pos, _ in reversed(self._passing):
                if t <= since:
                    break
                if len(ids):
                    d2 = ((pos - xy) ** 2).sum(axis=1)
                    mine = np.fromiter((int(i) in owners for i in ids), bool, len(ids)) & (d2 <= r2)
                    if mine.any():
                        # last seen this near: out of ``attended_m`` no sooner than a brisk walk takes (their
                        # track may end on the way, in a crowd)
                        d = float(np.sqrt(d2[mine].min()))
                        ob["attended"] = t + (self.attended_m - d) / self.exit_mps
                        break
        for t, pos, box in reversed(self._people):
            if t <= max(since, ob["attended"]):
                break
            if len(pos):
                near = (pos[:, 0] - xy[0]) ** 2 + (pos[:, 1] - xy[1]) ** 2 <= (b2 if owners else r2)
                # the tracker may follow the object's own blob as a short person: a box that holds it
                # and is not much taller is the object itself
                holds = (box[:, 0] <= ox + 0.5 * ow) & (box[:, 0] + box[:, 2] >= ox + 0.5 * ow) & \
                    (box[:, 1] + box[:, 3] >= oy + 0.5 * oh) & (box[:, 1] <= oy + 0.5 * oh) & (box[:, 3] < 1.4 * oh)
                if np.any(near & ~holds):
                    ob["attended"] = t
                    break
        # someone standing by before it was set down did not attend it: the clock never starts earlier
        ob["attended"] = max(ob["attended"], self._placed(ob))
        return ob["attended"]

    def _brought(self, ob: dict) -> bool:
        """Whether a person came within ``place_m`` of object ``ob`` in the ``memory_s`` before it turned
        static: someone set it down (static foreground nobody brought is smoke, light or the scene)."""
        if "owners" not in ob:
            r2 = self.place_m ** 2
            ob["owners"] = {}  # track id -> last time it was near, before the object turned static
            closest: dict[int, float] = {}  # track id -> [m] nearest it came while slow
            frames: dict[int, int] = {}  # track id -> frames slow within place_m
            came: dict[int, float] = {}  # track id -> [s] first time slow within place_m
            for tk, ids, pos, slow in self._passing:
                if tk <= ob["first"]:
                    d2 = ((pos - ob["xy"]) ** 2).sum(axis=1)
                    near = d2 <= r2
                    ob["owners"].update((int(i), tk) for i in ids[near])
                    for i, d in zip(ids[near & slow].tolist(), d2[near & slow].tolist()):
                        closest[i] = min(closest.get(i, math.inf), math.sqrt(d))
                        frames[i] = frames.get(i, 0) + 1
                        came.setdefault(i, tk)
            # who set it down: those who stopped by it (slow for ``stop_s`` in all, not a passer-by the tracker
            # slowed for a moment), nearest it (a stranger waiting a metre farther did not)
            closest = {i: d for i, d in closest.items() if frames[i] >= self.stop_s * self.site.fps - 1e-9}
            # and first: whoever stops by it ``owner_window_s`` after the first did came to a bag already there
            first = min((came[i] for i in closest), default=math.inf)
            closest = {i: d for i, d in closest.items() if came[i] <= first + self.owner_window_s}
            nearest = min(closest.values(), default=math.inf)
            ob["stopped"] = {i for i, d in closest.items() if d <= nearest + self.owner_margin_m}
            if ob["stopped"]:
                ob["came"] = min(came[i] for i in ob["stopped"])
        return bool(ob["owners"])

    def _left(self, ob: dict, t: float) -> bool:
        """Whether one of the people who set object ``ob`` down (or, none known, who came near it) before
        it turned static has since been seen more than ``attended_m`` from it, or, one who set it down, lost
        by the tracker while walking and not seen again for ``gone_s``: somebody walked off from it. A person
        keeping still, whose own legs, torso or seated body became static foreground of object size, never
        walks off from it (their track ends where they stand or sit down, slow)."""
        if not ob["owners"]:
            ob["left"] = False
        elif not ob.get("left"):
            # looked for in the whole memory once (the owner may have walked out of the picture before the
            # object turned static), then in each new frame
            seen = self._passing if "left" not in ob else [self._passing[-1]]
            r2 = self.attended_m ** 2
            owners = ob["owners"]
            who = ob["stopped"] or owners
            last = ob.setdefault("owner_last", {})  # owner id -> (t last seen, slow then)
            left = False
            for tk, ids, pos, slow in seen:
                far = ((pos - ob["xy"]) ** 2).sum(axis=1) > r2
                for i, f, sl in zip(ids.tolist(), far.tolist(), slow.tolist()):
                    if i in who:
                        # walking, away: the foot point of someone sitting down may jump as their box shrinks
                        left |= f and not sl and tk > owners.get(i, math.inf)
                        last[i] = (tk, sl)
            if not left and ob["stopped"]:
                left = any(not sl and t - tl >= self.gone_s for tl, sl in last.values())
            ob["left"] = left
        if ob["stopped"] and not ob.get("sitter"):
            self._sat_down(ob, t)
        return ob["left"]

    def _sat_down(self, ob: dict, t: float) -> None:
        """Whether one of object ``ob``'s owners is the object: their track ended slow within ``place_m`` of it
        (they sat or lay down there, or stood still until the background took them in) and no new track rose
        from within ``place_m`` of it in the ``sat_s`` after (an owner who crouched to set a bag down and walked
        off under a new track did: that track is one of its owners from then on). Sets ``ob["sat"]`` then, and
        ``ob["sitter"]`` when such an owner's track became the object (:meth:`_became`); once ``ob["sat"]`` is
        set, the owners left are only looked at for that."""
        r2 = self.place_m ** 2
        already = ob.get("sat", False)
        for i, (tl, sl) in list(ob["owner_last"].items()):
            if not sl or t - tl < self.gone_s or i in ob.setdefault("resolved", set()) or \
                    i in ob.setdefault("judged", set()):
                continue
            risen = None
            for tk, ids, pos, _ in self._passing:
                if tk < tl:
                    continue
                if tk > tl + self.sat_s:
                    break
                new = np.fromiter((self._born.get(j, (-math.inf,))[0] >= tl - 0.5 for j in ids.tolist()), bool,
                                  len(ids))
                near = new & (((pos - ob["xy"]) ** 2).sum(axis=1) <= r2)
                if near.any():
                    risen = int(ids[near][0])
                    break
            if risen is not None and already:
                ob["judged"].add(i)
            elif risen is not None:
                ob["resolved"].add(i)
                ob["stopped"].add(risen)
                ob["owners"].setdefault(risen, t)
                self._replay_owner(ob, risen, t)
            elif t - tl >= self.sat_s:
                ob["judged"].add(i)
                ob["sitter"] = ob.get("sitter", False) or self._became(ob, i, tl)
                if not already:
                    ob["sat"] = True
                    ob["attended"] = ob["scanned"] = -math.inf  # looked through again, by the rule without owners

    def _replay_owner(self, ob: dict, tid: int, t: float) -> None:
        """Take track ``tid``, found to be one of object ``ob``'s owners only now (it rose where an owner's track
        ended), through what the memory holds of it: where and how it was last seen, and whether it walked
        more than ``attended_m`` from the object since it was last near it (an owner who rose under a new track
        and walked off under it before the object turned static left it, and was not sitting there)."""
        r2 = self.attended_m ** 2
        near_t = ob["owners"].get(tid, math.inf)
        last = None
        for tk, ids, pos, slow in self._passing:
            k = np.flatnonzero(ids == tid)
            if not len(k):
                continue
            j = int(k[0])
            last = (tk, bool(slow[j]))
            if not slow[j] and tk > near_t and float(((pos[j] - ob["xy"]) ** 2).sum()) > r2:
                ob["left"] = True
        ob["owner_last"].setdefault(tid, last if last is not None else (t, True))

    def _became(self, ob: dict, tid: int, since: float) -> bool:
        """Whether track ``tid`` was seen after ``since`` [s] (its last person-shaped frame) with a box that
        overlaps object ``ob``'s box by at least ``sitter_iou`` (intersection over union), reached from its box
        of the frame before without shrinking ``sitter_drop`` times or more: the person it followed sat or lay
        down there (over a second, the box shrinking a little each frame) and is the static blob taken for an
        object. A box that drops from a standing person's height onto the blob in one frame is the tracker
        leaving the owner, who walks off from a bag set down at their feet, for the bag."""
        obox = np.asarray(ob["box"], np.float64).reshape(1, 4)
        frame_s = 1.5 / max(self.site.fps, 1e-9)  # [s] what still counts as the frame before
        before = (-math.inf, 0.0)  # (t [s], box height [px]) of the track's last frame
        for tk, ids, boxes in self._shapes:
            b = boxes[ids == tid]
            if not len(b):
                continue
            if tk >= since and box_iou(obox, b[:1])[0, 0] >= self.sitter_iou:
                dropped = tk - before[0] <= frame_s and before[1] >= self.sitter_drop * float(b[0, 3])
                return not dropped
            before = (tk, float(b[0, 3]))
        return False

    def _placed(self, ob: dict) -> float:
        """[s] when object ``ob`` was set down, at the earliest: when one of its owners (who stopped by it)
        first came within ``place_m`` of it, or else ``static_delay_s`` before it turned static (the
        short-term background takes that long to absorb it). Its clock never starts earlier."""
        if ob.get("stopped") and not ob.get("sat"):
            return ob["came"]
        return ob["first"] - self.static_delay_s

    # --- objects -----------------------------------------------------------------------
    def _candidates(self, percept: Percept) -> tuple[np.ndarray, list]:
        g = percept.grid
        if not cv2.countNonZero(percept.static_mask):
            return np.zeros((0, 2)), []
        n, labels, stats = components_with_stats(percept.static_mask)  # OpenCV's labels, a third of the time
        if n <= 1:
            return np.zeros((0, 2)), []
        st = stats[1:]
        keep = np.flatnonzero(st[:, cv2.CC_STAT_AREA] >= self.min_area_work_px)
        if len(keep) == 0:
            return np.zeros((0, 2)), []
        vehicle = vehicle_mask(percept, self._forbidden)
        if vehicle is not None:
            # static pieces of a train standing at the platform (its doors, its windows) are no object
            on_vehicle = np.bincount(labels[vehicle], minlength=n)[keep + 1]
            keep = keep[on_vehicle == 0]
        if len(keep) == 0:
            return np.zeros((0, 2)), []
        x, y = st[keep, cv2.CC_STAT_LEFT], st[keep, cv2.CC_STAT_TOP]
        w, h = st[keep, cv2.CC_STAT_WIDTH], st[keep, cv2.CC_STAT_HEIGHT]
        foot_px = np.c_[(x + w / 2.0) * g.sx, (y + h) * g.sy]
        foot_m = self.site.image_to_ground(foot_px)
        adult = self.site.person_height_px(foot_m)
        with np.errstate(invalid="ignore", divide="ignore"):
            hr = h * g.sy / adult
            wr = w * g.sx / adult
            size_ok = (hr >= self.min_height) & (hr <= self.max_height) & (wr <= self.max_width)
        size_ok &= np.all(np.isfinite(foot_m), axis=1)
        xy, boxes = [], []
        fg_labels = percept.labels
        wh, ww = fg_labels.shape
        m = self.border_px
        for j in np.flatnonzero(size_ok):
            x0, y0, x1, y1 = int(x[j]), int(y[j]), int(x[j] + w[j]), int(y[j] + h[j])
            if x0 < m or x1 > ww - m or y1 > wh - m:
                continue  # cut by the image's edge: a person stepping in or out, or a part of one
            if self._part_of_figure(fg_labels, labels, int(keep[j] + 1), (x0, y0, x1, y1), percept.label_stats):
                continue
            pad = 2
            X0, Y0 = max(0, x0 - pad), max(0, y0 - pad)
            X1, Y1 = min(labels.shape[1], x1 + pad), min(labels.shape[0], y1 + pad)
            box = clip_box((x0 * g.sx, y0 * g.sy, (x1 - x0) * g.sx, (y1 - y0) * g.sy), self.site.image_size)
            if box is None:
                continue
            xy.append(foot_m[j])
            boxes.append((box, (Y0, Y1, X0, X1, int(keep[j] + 1))))
        self._labels = labels
        return np.asarray(xy, dtype=np.float64).reshape(-1, 2), boxes

    def _follow(self, t: float, xy: np.ndarray, boxes: list) -> None:
        """Match this frame's candidates to the objects followed (nearest first, within ``match_m``)."""
        obs = list(self._objects.values())
        used = set()
        for i, k in greedy_pairs(xy, [o["xy"] for o in obs], self.match_m):
            ob = obs[k]
            ob["last"], (ob["box"], ob["region"]) = t, boxes[i]
            ob["seen_t"].append(t)
            ob["xy"] = 0.8 * ob["xy"] + 0.2 * xy[i]
            used.add(i)
        while self._forgotten and t - self._forgotten[0][0] > self.memory_s:
            self._forgotten.popleft()
        for i in range(len(xy)):
            if i not in used:
                # the same static thing seen again after someone hid it: what was seen of it is kept (the
                # legs of a person standing still fade into the long-term background after half a minute)
                legs = torso = looked = 0
                head = None
                for _, fxy, f_legs, f_torso, f_looked, f_head in self._forgotten:
                    if ((fxy - xy[i]) ** 2).sum() <= self.match_m ** 2:
                        legs, torso, looked, head = f_legs, f_torso, f_looked, f_head
                self._objects[self._next_id] = {"xy": xy[i].copy(), "box": boxes[i][0], "region": boxes[i][1],
                                                "first": t, "last": t, "attended": -math.inf,
                                                "seen_t": deque([t]), "hidden_t": deque(),
                                                "legs": legs, "torso": torso, "looked": looked, "ghost": False,
                                                "head": deque(head or (), maxlen=self._head_frames),
                                                "ghost_t": -math.inf}
                self._next_id += 1
        # one hidden by passers-by is kept while they pass
        for oid in [k for k, o in self._objects.items()
                    if t - max(o["last"], o["hidden_t"][-1] if o["hidden_t"] else -math.inf) > self.forget_s]:
            ob = self._objects.pop(oid)
            if ob["looked"]:
                self._forgotten.append((t, ob["xy"], ob["legs"], ob["torso"], ob["looked"], tuple(ob["head"])))

