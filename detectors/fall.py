"""Person on the ground after a fall: an upright person who dropped fast, then a low body that stays.

The rule reads the shared perception's person detections and tracks against the height an
adult standing at the same foot point would have in the image (the site's projection):

- *boxes looked at*: the detections; the low pieces of one foreground blob that touch side by side
  (``join_px``) joined into one box; and, in a blob the people finder cut into several people, each run
  of adjacent columns in which the blob is at most ``lying_height`` of the adult height high (a body on
  the floor merged with people standing at its head or feet is cut into person-wide parts wherever the
  cuts fall: the blob's low columns beside their tall ones are the body); and each low box grown sideways
  over the columns that look like more of a body on the floor (``grow_diff``, ``grow_share``: changed from the
  long-term background in the band a lying body fills, with the floor above and below, as far as they lead to
  more foreground there: a shirt about as grey as the floor, only darker, is cleared from the foreground with the
  shadows, and the body shows as its head and its legs apart; changed columns that end at the floor are a shadow),
  up to ``grow_width`` of the adult height wide; and, around where a person stopped being upright within ``drop_s``
  and around a body that fell, the pieces of the change against the background (``grow_diff``, foreground included,
  the silhouettes of people upright now left out) up to ``changed_reach`` of the adult height to each side: a body
  dressed about as light as the floor is hardly in the foreground (:func:`detectors.fall_pieces.changed_pieces`);
- *resolution floor*: where an adult is less than ``min_adult_px`` working pixels high (20 px: a
  body lying there is about 6 px high, as are the pieces of far people walking in a crowd), nothing
  is judged: the detector does not see falls that far from the camera;
- *lying candidate*: a box that is at most ``lying_height`` of the adult height at
  its foot point and at least ``min_width`` of it wide (a body on the floor; a crouching or
  sitting person keeps more than half their height, a head or a fragment of a split blob is
  narrow; and at least ``min_aspect`` as wide as high (a body lying across the view is 2 to 3 times as
  wide as high; one lying aslant or end-on to a low camera, 1.1 to 2 times, is not taken: people sitting
  on the floor or on a bench and small pieces at the platform edge are boxes like it); or up to ``flat_height``
  high and ``flat_aspect`` times as wide as high: a person sitting on the floor, legs stretched out, seen
  from above, is a box up to about 1.7 times as wide as high),
  both measured at the ground point under the box's bottom edge (a body lies on the
  floor along it), not cut by the image's left, right or bottom edge (``border_px``: the visible part
  of a person stepping in or out is low and wide), not inside the box of a person upright now (a hand,
  a bag at the hip), and without legs under it (``legs_height``: the upper part of a person standing
  still, whose trousers the shadow test cleared from the foreground, has them; a body has the floor), nor
  a person above it (``torso_share`` of the column above it, up to ``upright_height`` of the adult height
  over its bottom edge, in the foreground or changed by more than ``torso_diff`` from the long-term background: the
  legs of someone standing, cut from their upper part, have them; a body lying has the floor behind it, which a
  train's headlights may light 10 to 20 grey levels brighter than the model);
- *hollow boxes*: an upright track with foreground in less than ``hollow_share`` of the rows of its box's upper two
  thirds (the middle half of its columns) stands on no body and holds no piece of one: the people finder drew it
  up from a low piece (a body's legs at the feet of someone standing by) to the height of that person;
- *fall*: a person-shaped track (box at least ``upright_height`` of the adult height) was last
  seen upright within ``drop_m`` of the candidate, at most ``drop_s`` before the candidate first
  appeared, and is upright no more (its box dropped, or the track ended), or was seen at most
  ``down_height`` high in that time after standing (the tracker may move it at once onto someone
  standing by, who keeps it upright), and no upright track stands on the candidate (``clear_m``): the
  upright person became the low body. Where they stood is their box's foot point or where an adult whose head is at
  its top stands (legs cleared from the foreground end the box at the knees); the body is measured from its middle
  and from its ends (its box's bottom corners: one lies where the person stood, and its head end is seen alone).
  The tracker often loses a person as they go down and starts a new track on the body, so the rule keeps each
  track's last upright position itself rather than one track's history;
- *sunk track*: a box squarer than that (at least ``sunk_aspect`` as wide as high) but at most
  ``sunk_height`` of the adult height high is a candidate too when a track seen now, as low, lies inside it,
  and its body is judged by that track rather than by any upright person nearby: the track itself stood
  upright (for ``min_upright_s``) within ``drop_m`` at most ``drop_s`` before the body appeared, or it was
  born at most ``born_after_s`` before and within ``born_after_s`` of another track there going down or
  last seen upright (the tracker lost the person as they went down). A body half hidden by someone standing
  at it, or whose legs the shadow test cleared, shows a short piece; the track that sank is its evidence. A
  body first seen so and later whole is judged whole from then on (its place the whole body's). The track
  that sank must have *dropped*: its own box (not the trousers test) stood at least ``sink_from`` of the adult
  height high at most ``sink_s`` before it was low: a wheelchair user, whose box hovers about 0.7 of the adult
  height, drifts low and high over seconds; or its box's top (the head) sank at least ``sink_drop`` of the adult
  height within ``sink_s`` (a person upright by the trousers test whose own box never stood that high fell; a seated
  person's box shrinks from below);
- *trousers*: a track whose box never reached ``upright_height`` within ``drop_s`` but is at least
  ``lying_height`` high and did not go down lately, with the column under it down to where an adult's feet
  would be changed from the long-term background (``trousers_share`` of its pixels by more than ``legs_diff``),
  stands: trousers about as dark as a shadow on the floor are cleared from the foreground with it, and the box
  ends at the hip; its feet are placed an adult's height under the box's top;
- a track that went down (seen at most ``down_height`` high after standing) less than ``2 drop_s`` ago and
  is upright again clears no candidate by standing on it (the tracker moves it onto a piece of the blob of
  the body and someone by it);
- a candidate is at least ``min_length_m`` long on the floor (the diagonal of its box's floor extent,
  across the view from its bottom corners, along it from its bottom edge to its top edge taken
  :data:`~detectors.fall_pieces.BODY_THICK_M` above the floor: a body is 1.5 to 1.9 m long, seen whole or
  nearly; a bag, a head, a foot or a piece of a far walker is shorter);
- candidates are followed on the ground (within ``match_m``); one that stayed within ``still_m`` of
  where it appeared (a body lies still; the low piece of someone walking moves on), was seen in at
  least ``min_seen`` of the frames since it appeared, and did so by ``confirm_s`` after it appeared (a body
  lying in view is seen steadily at once; the torso of someone sitting on a bench, its legs hidden by
  the seat, or a piece of a crowd, flickers in and out of the foreground) scores
  ``min(1, lying_time / (2 lying_s))``: 0.5 (the default threshold) after ``lying_s`` on the
  floor. A candidate not seen for ``forget_s`` is forgotten.

Sitting down on a bench or on the floor, crouching to tie a shoe or to pick something up are
not falls: the body stays above ``lying_height``, or comes back up within ``lying_s``.
One instance per body (key ``"body/N"``), its box the detection's.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.sparse.csgraph import connected_components

from detectors.background import changed_below, is_ghost
from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import clip_box, greedy_pairs
from detectors.fall_pieces import body_length_m, changed_pieces, head_feet
from detectors.perception import Percept
from detectors.site import SiteConfig, ZoneKind
from detectors.vehicles import VehicleMemory


class PersonOnGroundDetector:
    """A fast drop from upright to a low body that stays on the floor (see the module docstring).

    Parameters: ``lying_height``, ``min_width``, ``upright_height`` [fractions of an adult's image
    height at the foot point]; ``drop_s`` [s], ``drop_m`` [m], ``clear_m`` [m]: the fall before the
    body; ``lying_s`` [s] time on the floor at score 0.5; ``min_seen`` share of frames the body
    must be seen in; ``match_m`` [m], ``forget_s`` [s]: following a body; ``min_aspect`` least
    width / height of the body's box; ``flat_height``, ``flat_aspect``: a box up to ``flat_height``
    high is a body too when at least ``flat_aspect`` times as wide as high (a body lying across the
    view, seen from a low camera); ``min_upright_s`` [s] how long the track must have been seen
    upright before (a fragment's short track is no person who fell); ``vehicle_memory_s`` [s]: no body
    is looked for in a forbidden zone (a track bed), nor within ``vehicle_margin_m`` [m] of it, where a
    vehicle stood less than this long ago; ``min_height`` [fraction of the adult height] lowest body box
    (a body has a thickness; a sliver along an edge is none); ``part_m`` [m]: a new low piece this near a
    body already followed is a part of it (legs split from the torso), not a second body; ``border_px``
    [px]: a box this near the image's left, right or bottom edge is a person cut by it, no body;
    ``up_after_s`` [s]: an upright sighting up to this long after the body appeared still counts as the
    fall's (the box of a person going down stays tall for a frame or two);
    ``legs_height`` [fraction of the adult height], ``legs_diff`` [grey levels], ``legs_share``: a low box
    with legs under it (that share of a column that tall changed from the long-term background by more
    than that) is the upper part of a person standing, no body;
    ``min_adult_px`` [working px]: the resolution floor, no body is looked for where an adult is less high;
    ``still_m`` [m]: how far a body's (smoothed) ground point may move from where it appeared;
    ``join_px`` [working px]: the widest gap between two low pieces of one blob joined into one box;
    ``down_height`` [fraction of the adult height]: a track seen this low after standing went down;
    ``min_length_m`` [m]: shortest body on the floor; ``confirm_s`` [s]: a body not seen in ``min_seen`` of
    the frames for ``lying_s`` by this long after it appeared never scores;
    ``sunk_height`` [fraction of the adult height], ``sunk_aspect`` [width / height]: the short box of a track
    sunk to the floor taken for a body; ``born_after_s`` [s]: a track born this long after another went down
    there is the same person on the floor; ``trousers_share`` [share of pixels]: the column under a short box
    changed this much from the floor is a standing person's legs (trousers the shadow test cleared);
    ``sink_from`` [fraction of the adult height], ``sink_s`` [s]: the track a sunk body is judged by stood (its own
    box) at least this high at most this long before it was low (a fall, not a slow drift); ``torso_share`` [share
    of pixels]: the column above a low box this much in the foreground or changed by more than ``torso_diff`` [grey
    levels] is the upper part of someone standing whose legs it is; ``grow_diff`` [grey levels], ``grow_share``
    [share of a column's pixels], ``grow_width`` [fraction of the adult height]: a low box grows sideways over the
    columns whose band ``lying_height`` of the adult height high over its bottom edge has this share of its pixels
    changed by more than ``grow_diff`` (with less than ``torso_share`` above and ``legs_share`` under it) up to more
    foreground beyond a gap, at most this wide (0: no growing); ``hollow_share`` [share of rows]: an upright box with foreground in fewer of its upper
    rows clears no body (0: none is hollow); ``changed_reach`` [fraction of the adult height]: how far to each side of
    where someone stopped being upright the change against the background is looked at (0: not at all);
    ``sink_drop`` [fraction of the adult height]: a sunk track whose box top sank this much within ``sink_s`` fell.
    """

    event_type = EventType.PERSON_ON_GROUND
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the score already counts time on the floor
    default_cooldown_s = 60.0  #: [s] per body

    def __init__(self, site: SiteConfig, *, lying_height: float = 0.38, min_width: float = 0.2,
                 upright_height: float = 0.75, drop_s: float = 2.5, drop_m: float = 1.2, clear_m: float = 0.5,
                 lying_s: float = 1.5, min_seen: float = 0.6, match_m: float = 0.8, forget_s: float = 4.0,
                 min_aspect: float = 2.0, min_upright_s: float = 1.0, flat_height: float = 0.5,
                 flat_aspect: float = 2.0, vehicle_memory_s: float = 30.0, vehicle_margin_m: float = 0.5,
                 min_height: float = 0.15, part_m: float = 1.5, border_px: int = 2, legs_height: float = 0.3,
                 legs_diff: float = 10.0, legs_share: float = 0.25, up_after_s: float = 0.5,
                 min_adult_px: float = 20.0, still_m: float = 0.5,
                 join_px: float = 1.0, down_height: float = 0.6, min_length_m: float = 0.7,
                 confirm_s: float = 4.0, sunk_height: float = 0.38, sunk_aspect: float = 1.0,
                 born_after_s: float = 1.0, trousers_share: float = 0.5, sink_from: float = 0.8,
                 sink_s: float = 1.5, torso_share: float = 0.5, grow_diff: float = 25.0, grow_share: float = 0.3,
                 grow_width: float = 1.2, hollow_share: float = 0.3, torso_diff: float = 25.0,
                 changed_reach: float = 1.2, sink_drop: float = 0.3) -> None:
        for name, value in (("lying_height", lying_height), ("min_width", min_width),
                            ("upright_height", upright_height), ("drop_s", drop_s), ("drop_m", drop_m),
                            ("lying_s", lying_s), ("match_m", match_m), ("forget_s", forget_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a finite number > 0; got {value!r}")
        if not 0 <= min_seen <= 1:
            raise ValueError(f"PersonOnGroundDetector.min_seen must be in [0, 1]; got {min_seen!r}")
        if lying_height >= upright_height:
            raise ValueError(f"PersonOnGroundDetector: lying_height must be < upright_height; got {lying_height!r} "
                             f"and {upright_height!r}")
        self.site = site
        self.lying_height, self.min_width, self.upright_height = float(lying_height), float(min_width), \
            float(upright_height)
        self.drop_s, self.drop_m, self.clear_m = float(drop_s), float(drop_m), float(clear_m)
        self.lying_s, self.min_seen = float(lying_s), float(min_seen)
        self.match_m, self.forget_s = float(match_m), float(forget_s)
        self.min_aspect, self.min_upright_s = float(min_aspect), float(min_upright_s)
        self.flat_height, self.flat_aspect = float(flat_height), float(flat_aspect)
        if not (math.isfinite(vehicle_memory_s) and vehicle_memory_s >= 0):
            raise ValueError(f"PersonOnGroundDetector.vehicle_memory_s must be a finite number >= 0; got "
                             f"{vehicle_memory_s!r}")
        for name, value in (("vehicle_margin_m", vehicle_margin_m), ("min_height", min_height), ("part_m", part_m)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a finite number >= 0; got {value!r}")
        self.vehicle_memory_s, self.vehicle_margin_m = float(vehicle_memory_s), float(vehicle_margin_m)
        self.min_height, self.part_m = float(min_height), float(part_m)
        self.border_px = max(0, int(border_px))
        for name, value, hi in (("legs_height", legs_height, math.inf), ("legs_diff", legs_diff, 255.0),
                                ("legs_share", legs_share, 1.0)):
            if not (math.isfinite(value) and 0 < value <= hi):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a number in (0, {hi:g}]; got {value!r}")
        self.legs_height, self.legs_diff, self.legs_share = float(legs_height), float(legs_diff), float(legs_share)
        if not (math.isfinite(up_after_s) and up_after_s >= 0):
            raise ValueError(f"PersonOnGroundDetector.up_after_s must be a finite number >= 0; got {up_after_s!r}")
        self.up_after_s = float(up_after_s)
        for name, value in (("min_adult_px", min_adult_px), ("still_m", still_m),
                            ("join_px", join_px), ("min_length_m", min_length_m), ("confirm_s", confirm_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a finite number >= 0; got {value!r}")
        self.min_adult_px, self.min_length_m = float(min_adult_px), float(min_length_m)
        self.confirm_s = max(float(confirm_s), float(lying_s))
        self.still_m, self.join_px = float(still_m), float(join_px)
        if not (math.isfinite(down_height) and lying_height <= down_height < upright_height):
            raise ValueError(f"PersonOnGroundDetector.down_height must be in [lying_height, upright_height); got "
                             f"{down_height!r}")
        self.down_height = float(down_height)
        if not (math.isfinite(sunk_height) and 0 < sunk_height <= lying_height):
            raise ValueError(f"PersonOnGroundDetector.sunk_height must be in (0, lying_height]; got {sunk_height!r}")
        for name, value in (("sunk_aspect", sunk_aspect), ("born_after_s", born_after_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a finite number >= 0; got {value!r}")
        if not 0 < trousers_share <= 1:
            raise ValueError(f"PersonOnGroundDetector.trousers_share must be in (0, 1]; got {trousers_share!r}")
        self.sunk_height, self.sunk_aspect = float(sunk_height), float(sunk_aspect)
        self.born_after_s, self.trousers_share = float(born_after_s), float(trousers_share)
        if not (math.isfinite(sink_from) and sunk_height < sink_from):
            raise ValueError(f"PersonOnGroundDetector.sink_from must be a number > sunk_height; got {sink_from!r}")
        if not (math.isfinite(sink_s) and sink_s > 0):
            raise ValueError(f"PersonOnGroundDetector.sink_s must be a finite number > 0; got {sink_s!r}")
        self.sink_from, self.sink_s = float(sink_from), float(sink_s)
        if not 0 < torso_share <= 1:
            raise ValueError(f"PersonOnGroundDetector.torso_share must be in (0, 1]; got {torso_share!r}")
        self.torso_share = float(torso_share)
        for name, value, hi in (("grow_diff", grow_diff, 255.0), ("grow_share", grow_share, 1.0),
                                ("grow_width", grow_width, math.inf)):
            if not (math.isfinite(value) and 0 <= value <= hi):
                raise ValueError(f"PersonOnGroundDetector.{name} must be a number in [0, {hi:g}]; got {value!r}")
        self.grow_diff, self.grow_share, self.grow_width = float(grow_diff), float(grow_share), float(grow_width)
        if not 0 <= hollow_share <= 1:
            raise ValueError(f"PersonOnGroundDetector.hollow_share must be in [0, 1]; got {hollow_share!r}")
        self.hollow_share = float(hollow_share)
        if not (math.isfinite(torso_diff) and 0 <= torso_diff <= 255):
            raise ValueError(f"PersonOnGroundDetector.torso_diff must be a number in [0, 255]; got {torso_diff!r}")
        self.torso_diff = float(torso_diff)
        if not (math.isfinite(changed_reach) and changed_reach >= 0):
            raise ValueError(f"PersonOnGroundDetector.changed_reach must be a finite number >= 0; "
                             f"got {changed_reach!r}")
        self.changed_reach = float(changed_reach)
        if not (math.isfinite(sink_drop) and sink_drop > 0):
            raise ValueError(f"PersonOnGroundDetector.sink_drop must be a finite number > 0; got {sink_drop!r}")
        self.sink_drop = float(sink_drop)
        self.reset()

    def reset(self) -> None:
        #: track id -> (first t upright, last t upright, [m] last upright position)
        self._last_up: dict[int, tuple[float, float, np.ndarray]] = {}
        #: track id -> [m] where an adult whose head is at the top of its last upright box stands (its feet may be
        #: cleared from the foreground with the shadows: the box ends at the knees, its foot point far behind them)
        self._head_up: dict[int, np.ndarray] = {}
        #: track id -> (t [s], box top [px], adult height there [px]) of its upright sightings of the last ``sink_s``
        self._tops: dict[int, list[tuple[float, float, float]]] = {}
        #: track id -> [px] the top of its box in this frame
        self._top_now: dict[int, float] = {}
        #: track id -> (t it was first seen low after standing, [m] where it last stood upright, what ``_stood``
        #: held for it then or None)
        self._down: dict[int, tuple[float, np.ndarray, float | None]] = {}
        #: track id -> [s] when it was first seen
        self._born: dict[int, float] = {}
        #: track id -> [s] when its box was last at least ``upright_height`` of the adult height high
        self._tall: dict[int, float] = {}
        #: track id -> [s] when its own box was last at least ``sink_from`` of the adult height high
        self._stood: dict[int, float] = {}
        self._t_ready: float | None = None
        self._bodies: dict[int, dict] = {}
        self._next_id = 0
        self._vehicles = VehicleMemory(self.site.zones_of(ZoneKind.FORBIDDEN), self.vehicle_memory_s,
                                       self.vehicle_margin_m)

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self.reset()
            return NOTHING
        t = percept.t
        if self._t_ready is None:
            self._t_ready = t
        tr = percept.tracks
        seen = tr.confirmed & (tr.lost_s == 0)
        with np.errstate(invalid="ignore"):
            upright = seen & (tr.box[:, 3] >= self.upright_height * tr.expected_height_px)
        upright &= np.all(np.isfinite(tr.foot_m), axis=1)
        foot = tr.foot_m.copy()
        for tid in tr.id[upright].tolist():
            self._tall[tid] = t
        # when each track's own box (not the trousers test) last stood at least ``sink_from`` of the adult height high
        with np.errstate(invalid="ignore"):
            stood = seen & (tr.box[:, 3] >= self.sink_from * tr.expected_height_px)
        for tid in tr.id[stood].tolist():
            self._stood[tid] = t
        # a track whose box was upright a moment ago and is short now is going down, whatever is under it
        # (the legs of a person falling): the trousers test is for those whose box never reached upright
        # (and a track that went down lately is a person on the floor whose legs are the floor, not trousers)
        recent = np.array([t - self._tall.get(k, -math.inf) <= self.drop_s or k in self._down
                           for k in tr.id.tolist()], dtype=bool)
        trousers = self._trousers(percept, seen & ~upright & ~recent)
        if trousers.any():
            upright |= trousers
            # the feet are where an adult whose head is at the box's top would stand, not under the box
            x, y, w, _ = tr.box[trousers].T
            foot[trousers] = self.site.image_to_ground(np.c_[x + w / 2, y + tr.expected_height_px[trousers]])
            upright &= np.all(np.isfinite(foot), axis=1)
        now_up = foot[upright]
        for tid, xy, xh in zip(tr.id[upright].tolist(), now_up, head_feet(self.site, tr.box[upright], now_up)):
            self._last_up[tid] = (self._last_up.get(tid, (t,))[0], t, xy.copy())
            self._head_up[tid] = xh
        # where each track's box top (its head) was while it was upright lately, in adult heights there
        for tid, top, a in zip(tr.id[upright].tolist(), tr.box[upright, 1], tr.expected_height_px[upright]):
            self._tops.setdefault(tid, []).append((t, float(top), float(a)))
        for tid in list(self._tops):
            self._tops[tid] = [e for e in self._tops[tid] if t - e[0] <= self.sink_s]
            if not self._tops[tid]:
                del self._tops[tid]
        self._top_now = {k: float(v) for k, v in zip(tr.id[seen].tolist(), tr.box[seen, 1])}
        for tid in tr.id.tolist():
            self._born.setdefault(tid, t)
        if len(self._born) > 2 * len(tr.id) + 16:
            alive = set(tr.id.tolist())
            self._born = {k: v for k, v in self._born.items() if k in alive}
            self._tall = {k: v for k, v in self._tall.items() if k in alive}
        for tid in [k for k, ts in self._stood.items() if t - ts > 2 * self.drop_s]:
            del self._stood[tid]
        # a track seen low after standing upright long enough went down, though it may stand again at once
        # (the tracker moves it onto someone standing by): its drop is kept with where it stood
        with np.errstate(invalid="ignore"):
            down = seen & ~upright & (tr.box[:, 3] <= self.down_height * tr.expected_height_px)
        for tid in tr.id[down].tolist():
            up = self._last_up.get(tid)
            if up is not None and up[1] - up[0] >= self.min_upright_s and tid not in self._down:
                self._down[tid] = (t, up[2], self._stood.get(tid))
        for tid in [k for k, (_, tk, _) in self._last_up.items() if t - tk > 2 * self.drop_s]:
            del self._last_up[tid]
            self._head_up.pop(tid, None)
        for tid in [k for k, (tk, _, _) in self._down.items() if t - tk > 2 * self.drop_s]:
            del self._down[tid]

        # a body on the floor touches it along its box's bottom edge: the people finder, which takes a
        # short box for a head and places its feet far behind, is not asked where it lies
        # an upright track with hardly any foreground in its upper part is a box the people finder drew over a low
        # piece up to someone else's height (a body's legs at the feet of a person standing by): nobody stands there
        present = upright & ~self._hollow(percept, upright)
        box = self._pieces_joined(percept, tr.box[present])
        runs = self._low_runs(percept)
        if len(runs):
            box = np.concatenate([box, runs])
        grown = self._grown(percept, box, tr.box[present])
        if len(grown):
            box = np.concatenate([box, grown])
        if self.changed_reach > 0:
            # where someone stopped being upright a moment ago, and where a body that fell lies: the change against
            # the background (a body as light as the floor is hardly in the foreground)
            gone_after = t - 0.5 / self.site.fps
            seeds = [self._head_up.get(k, xy) for k, (t0, tu, xy) in self._last_up.items()
                     if tu - t0 >= self.min_upright_s and t - self.drop_s <= tu <= gone_after]
            seeds += [b["xy"] for b in self._bodies.values() if b["fell"]]
            if seeds:
                pieces = changed_pieces(percept, self.site, np.array(seeds), tr.box[present], diff=self.grow_diff,
                                        reach=self.changed_reach, min_width=self.min_width)
                if len(pieces):
                    box = np.concatenate([box, pieces])
        on_floor = self.site.image_to_ground(np.c_[box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3]])
        adult = self.site.person_height_px(on_floor)
        # the track whose box (seen now, at most ``sunk_height`` of the adult height high) lies inside each box
        # (-1: none): a track sunk to the floor may be short (a body lying end-on, or half hidden by someone
        # standing at it), and the body's box may join it with other pieces of it
        tid = self._sunk_track(box, tr, seen)
        with np.errstate(invalid="ignore", divide="ignore"):
            aspect = box[:, 2] / box[:, 3]
            low = (box[:, 3] <= self.lying_height * adult) & (aspect >= self.min_aspect)
            low |= (box[:, 3] <= self.flat_height * adult) & (aspect >= self.flat_aspect)
            sunk = ~low & (tid >= 0) & (box[:, 3] <= self.sunk_height * adult) & (aspect >= self.sunk_aspect)
            low |= sunk
            low &= (box[:, 2] >= self.min_width * adult) & (box[:, 3] >= self.min_height * adult)
            # the resolution floor: where an adult is fewer working pixels high than this, a body lying
            # there is a few pixels high, as are the pieces of far people: nothing is judged there
            low &= adult >= self.min_adult_px * percept.grid.sy
        low &= np.all(np.isfinite(on_floor), axis=1)
        if low.any():
            low[low] = body_length_m(self.site, box[low], on_floor[low]) >= self.min_length_m
        # a train at the platform, or one that left less than ``vehicle_memory_s`` ago: the pieces of
        # its blob and the ghost it leaves on the track bed are no body there
        self._vehicles.update(percept)
        low &= ~self._vehicles.near(on_floor)
        # a box the image's left, right or bottom edge cuts is a person stepping in or out of view, whose
        # visible part is low and wide: no body (its true height is unknown)
        w_img, h_img = self.site.image_size
        m = self.border_px
        low &= (box[:, 0] >= m) & (box[:, 0] + box[:, 2] <= w_img - m) & (box[:, 1] + box[:, 3] <= h_img - m)
        rows = np.flatnonzero(low)
        # a track that went down a moment ago and is upright again may be the tracker's moving it onto a
        # piece of the blob of the body and someone by it: it stands on no body
        stands = foot[present & ~np.isin(tr.id, np.fromiter(self._down, dtype=np.int64, count=len(self._down)))]
        if len(rows) and len(stands):
            d = np.hypot(on_floor[rows, None, 0] - stands[None, :, 0], on_floor[rows, None, 1] - stands[None, :, 1])
            rows = rows[d.min(axis=1) > self.clear_m]  # an upright person stands there: a part of them
        if len(rows) and present.any():
            # a piece inside an upright person's box (a hand, a bag at the hip, a torso split from the legs)
            # is a part of them, though its bottom edge, above the floor, maps far behind their feet
            ub = tr.box[present]
            cx, cy = box[rows, 0] + box[rows, 2] / 2, box[rows, 1] + box[rows, 3] / 2
            inside = (cx[:, None] >= ub[None, :, 0]) & (cx[:, None] <= ub[None, :, 0] + ub[None, :, 2]) & \
                (cy[:, None] >= ub[None, :, 1]) & (cy[:, None] <= ub[None, :, 1] + ub[None, :, 3])
            rows = rows[~inside.any(axis=1)]
        if len(rows):
            # the upper part of a person standing still has their legs below it (changed from the floor,
            # though the shadow test may clear trousers from the foreground); a body has the floor
            rows = rows[[not self._on_legs(percept, box[r], adult[r]) for r in rows]]
        if len(rows):
            # the legs of a person standing, cut from their upper part (the people finder's box and track are on
            # that part, or on no part at all), have that person above them; a body has the floor behind it
            rows = rows[[not self._under_torso(percept, box[r], adult[r]) for r in rows]]
        self._follow(t, on_floor[rows], [box[r] for r in rows], [int(tid[r]) if sunk[r] else -1 for r in rows])

        out = []
        for bid, b in self._bodies.items():
            if not b["fell"] and t - b["first"] <= self.drop_s:
                b["fell"] = self._fell(b, t) if b["track"] < 0 else self._sank(b, t)
            if b["last"] != t or not b["fell"]:
                continue
            lying = t - b["first"]
            frames = max(1, int(round(lying * self.site.fps)) + 1)
            if b["seen"] < self.min_seen * frames:
                continue
            if not b["steady"]:
                if lying > self.confirm_s:
                    continue  # not seen steadily in its first seconds: a flickering piece, no body lying in view
                b["steady"] = lying >= self.lying_s
            if b["moved"] > self.still_m:
                continue  # it moved on the floor: the low piece of someone walking, no body
            s = min(1.0, lying / (2.0 * self.lying_s))
            box = clip_box(b["box"], self.site.image_size)
            if s > 0.2 and box is not None and self._ghost(percept, b, box):
                continue  # floor uncovered by what left (a departing train's pieces): no body there
            if s > 0 and box is not None:
                out.append(InstanceScore(f"body/{bid}", float(s), box))
        return DetectorOutput.of(out)

    def _pieces_joined(self, percept: Percept, upright_box: np.ndarray) -> np.ndarray:
        """(N, 4) [px] the boxes of this frame's detections, with the low pieces of one foreground blob
        that touch side by side (at most ``join_px`` working pixels apart, overlapping in rows over half
        the lower one) joined into one box: a body on the floor merged with people standing by is cut by
        the people finder into person-wide parts. A piece inside the box of a person upright now is theirs
        and joins nothing; a piece of another blob never joins."""
        det = percept.detections
        box = det.box
        n = len(box)
        if n < 2:
            return box
        bottom = self.site.image_to_ground(np.c_[box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3]])
        with np.errstate(invalid="ignore"):
            piece = box[:, 3] <= self.flat_height * self.site.person_height_px(bottom)
        if len(upright_box) and piece.any():
            cx, cy = box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3] / 2
            ub = upright_box
            piece &= ~((cx[:, None] >= ub[None, :, 0]) & (cx[:, None] <= ub[None, :, 0] + ub[None, :, 2]) &
                       (cy[:, None] >= ub[None, :, 1]) & (cy[:, None] <= ub[None, :, 1] + ub[None, :, 3])).any(axis=1)
        rows = np.flatnonzero(piece)
        if len(rows) < 2:
            return box
        gap = self.join_px * percept.grid.sx
        x0, y0, w, h = box[rows].T
        dx = np.maximum(x0[:, None], x0[None]) - np.minimum((x0 + w)[:, None], (x0 + w)[None])  # > 0: the gap
        dy = np.minimum((y0 + h)[:, None], (y0 + h)[None]) - np.maximum(y0[:, None], y0[None])  # rows in common
        blob = det.blob[rows]
        touch = (blob[:, None] == blob[None]) & (dx <= gap) & (dy >= 0.5 * np.minimum(h[:, None], h[None]))
        n_groups, group = connected_components(touch, directed=False)
        joined = sorted((rows[group == k] for k in range(n_groups) if np.count_nonzero(group == k) > 1),
                        key=lambda g: g[0])
        if not joined:
            return box
        out = [box[np.setdiff1d(np.arange(n), [r for g in joined for r in g])]]
        for g in joined:
            b = box[g]
            x0, y0 = b[:, 0].min(), b[:, 1].min()
            out.append(np.array([[x0, y0, (b[:, 0] + b[:, 2]).max() - x0, (b[:, 1] + b[:, 3]).max() - y0]]))
        return np.concatenate(out)

    def _hollow(self, percept: Percept, rows: np.ndarray) -> np.ndarray:
        """(N,) bool: the tracks of ``rows`` (a mask over the percept's tracks) whose box's upper two thirds, in the
        middle half of its columns, has foreground in less than ``hollow_share`` of its working-pixel rows: a
        person standing has a head and a torso there; a box the people finder drew up from a low piece to
        the height of someone beside it has the floor."""
        tr = percept.tracks
        out = np.zeros(len(tr.id), bool)
        rows = np.flatnonzero(rows)
        if self.hollow_share <= 0 or not len(rows):
            return out
        g = percept.grid
        wh, ww = percept.fg_mask.shape
        x, y, w, h = tr.box[rows].T
        c0 = np.clip((x + w / 4) / g.sx, 0, ww).astype(np.int64)
        c1 = np.clip(np.ceil((x + 3 * w / 4) / g.sx), 0, ww).astype(np.int64)
        r0 = np.clip(y / g.sy, 0, wh).astype(np.int64)
        r1 = np.clip(np.ceil((y + 2 * h / 3) / g.sy), 0, wh).astype(np.int64)
        n = int(max(1, (r1 - r0).max()))
        r = np.minimum(r0[:, None] + np.arange(n)[None], wh - 1)
        # foreground pixels left of each column, per row (of the rows the boxes read only): a box's columns hold
        # some where the count grows across them
        lo, hi = int(r.min()), int(r.max()) + 1
        left = np.zeros((hi - lo, ww + 1), np.int32)
        np.cumsum(percept.fg_mask[lo:hi] > 0, axis=1, out=left[:, 1:])
        r = r - lo
        inside = np.arange(n)[None] < (r1 - r0)[:, None]
        seen = ((left[r, c1[:, None]] - left[r, c0[:, None]]) > 0) & inside
        ok = (c1 > c0) & (r1 > r0)
        out[rows[ok]] = (seen.sum(axis=1) < self.hollow_share * (r1 - r0))[ok]
        return out

    def _grown(self, percept: Percept, box: np.ndarray, upright_box: np.ndarray) -> np.ndarray:
        """(K, 4) [px] the low boxes of ``box`` (N, 4) [px] (at most ``lying_height`` of the adult height high, not
        inside the box of a person upright now) grown sideways over the working-pixel columns that look like more
        of a body on the floor: in the band ``lying_height`` of the adult height high over the box's bottom edge,
        at least ``grow_share`` of the pixels changed from the long-term background by more than ``grow_diff``
        grey levels, while the column above the band (up to ``upright_height``) and the one under it (down
        ``legs_height``) hold less than ``torso_share`` and ``legs_share`` of such pixels (the floor, not someone
        standing), as far as the last of them with foreground in the band, past a gap: a shirt about as grey as the
        floor, only darker, is cleared from the foreground with the shadows, and the body shows as its head and its
        legs apart; changed columns that end at the floor are a shadow or trousers spread from the piece (someone
        sitting on the floor). Only boxes that grew are returned, no wider than ``grow_width`` of the adult
        height."""
        if not len(box) or self.grow_width <= 0:
            return np.zeros((0, 4))
        x, y, w, h = box.T
        on_floor = self.site.image_to_ground(np.c_[x + w / 2, y + h])
        adult = self.site.person_height_px(on_floor)
        with np.errstate(invalid="ignore"):
            low = np.isfinite(adult) & (h <= self.lying_height * adult) & (w >= self.min_width * adult)
            low &= (h >= self.min_height * adult) & (adult >= self.min_adult_px * percept.grid.sy)
        if len(upright_box) and low.any():
            cx, cy = x + w / 2, y + h / 2
            ub = upright_box
            low &= ~((cx[:, None] >= ub[None, :, 0]) & (cx[:, None] <= ub[None, :, 0] + ub[None, :, 2]) &
                     (cy[:, None] >= ub[None, :, 1]) & (cy[:, None] <= ub[None, :, 1] + ub[None, :, 3])).any(axis=1)
        if not low.any():
            return np.zeros((0, 4))
        g = percept.grid
        changed = percept.changed(self.grow_diff)
        fg = percept.fg_mask > 0
        wh, ww = changed.shape
        out = []
        for i in np.flatnonzero(low):
            a = adult[i]
            yb = y[i] + h[i]
            r_bottom = min(wh, int(math.ceil(yb / g.sy)))
            r_band = max(0, int((yb - self.lying_height * a) / g.sy))
            r_above = max(0, int((yb - self.upright_height * a) / g.sy))
            r_below = min(wh, r_bottom + max(1, int(round(self.legs_height * a / g.sy))))
            if r_bottom - r_band < 2:
                continue
            band = changed[r_band:r_bottom].mean(axis=0) >= self.grow_share
            if r_band > r_above:
                band &= changed[r_above:r_band].mean(axis=0) < self.torso_share
            if r_below > r_bottom:
                band &= changed[r_bottom:r_below].mean(axis=0) < self.legs_share
            c0, c1 = max(0, int(x[i] / g.sx)), min(ww, int(math.ceil((x[i] + w[i]) / g.sx)))
            widest = self.grow_width * a / g.sx
            lo, hi = c0, c1
            while lo > 0 and band[lo - 1] and hi - lo + 1 <= widest:
                lo -= 1
            while hi < ww and band[hi] and hi - lo + 1 <= widest:
                hi += 1
            # the grown columns must lead to more of the body in the foreground (its head beyond a cleared shirt);
            # changed columns ending at the floor are a shadow, or trousers, spread from the piece
            seen = fg[r_band:r_bottom].any(axis=0)
            left, right = np.flatnonzero(seen[lo:c0]), np.flatnonzero(seen[c1:hi])
            lo = lo + int(left[0]) if len(left) and not seen[c0 - 1] else c0
            hi = c1 + int(right[-1]) + 1 if len(right) and not seen[c1] else c1
            if hi - lo <= c1 - c0 + 1:
                continue  # grew by a column at most: the box as it was
            rows = np.flatnonzero(changed[r_band:r_bottom, lo:hi].mean(axis=1) >= self.grow_share)
            top = min(y[i], (r_band + rows[0]) * g.sy) if len(rows) else y[i]
            out.append([lo * g.sx, top, (hi - lo) * g.sx, yb - top])
        return np.array(out, dtype=np.float64).reshape(-1, 4)

    def _low_runs(self, percept: Percept) -> np.ndarray:
        """(K, 4) [px] boxes of the low parts of the foreground blobs the people finder cut into several
        people: the runs of adjacent working-pixel columns in which the blob is at most ``lying_height`` of
        the adult height at the column's lowest pixel high. A body on the floor merged with people standing
        at its head or feet is the blob's low columns beside their tall ones, wherever the cuts fell."""
        det = percept.detections
        if len(det) < 2:
            return np.zeros((0, 4))
        labels, counts = np.unique(det.blob, return_counts=True)
        g = percept.grid
        wh, ww = percept.labels.shape
        out = []
        for lab in labels[counts >= 2]:
            b = det.box[det.blob == lab]
            x0, y0 = max(0, int(b[:, 0].min() / g.sx)), max(0, int(b[:, 1].min() / g.sy))
            x1 = min(ww, int(math.ceil((b[:, 0] + b[:, 2]).max() / g.sx)))
            y1 = min(wh, int(math.ceil((b[:, 1] + b[:, 3]).max() / g.sy)))
            if x1 - x0 < 2 or y1 - y0 < 1:
                continue
            sub = percept.labels[y0:y1, x0:x1] == lab
            cols = sub.any(axis=0)
            top = np.argmax(sub, axis=0)
            bottom = sub.shape[0] - 1 - np.argmax(sub[::-1], axis=0)
            adult = g.person_rows[y0 + bottom, x0 + np.arange(sub.shape[1])]
            with np.errstate(invalid="ignore"):
                low = cols & (bottom - top + 1 <= self.lying_height * adult)
            # runs of low columns
            edges = np.diff(np.r_[0, low.astype(np.int8), 0])
            for c0, c1 in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
                if c1 - c0 < 2:
                    continue
                t, btm = int(top[c0:c1].min()), int(bottom[c0:c1].max())
                out.append([(x0 + c0) * g.sx, (y0 + t) * g.sy, (c1 - c0) * g.sx, (btm - t + 1) * g.sy])
        return np.array(out, dtype=np.float64).reshape(-1, 4)

    def _on_legs(self, percept: Percept, box, adult_px: float) -> bool:
        """Whether the column under image box ``box`` [px], ``legs_height`` of the adult height
        ``adult_px`` tall and as wide as the box, has at least ``legs_share`` of its pixels changed by more
        than ``legs_diff`` grey levels from the long-term background: legs, not the floor."""
        x, y, w, h = box
        share = changed_below(percept.grey, percept.background(), percept.grid, x, x + w, y + h,
                              self.legs_height * adult_px, self.legs_diff)
        return share is not None and share >= self.legs_share

    def _under_torso(self, percept: Percept, box, adult_px: float) -> bool:
        """Whether the column above image box ``box`` [px], as wide as it, from the top of a person
        ``upright_height`` of the adult height ``adult_px`` tall standing at its bottom edge down to its top, has at
        least ``torso_share`` of its pixels in the foreground or changed by more than ``torso_diff`` grey levels from
        the long-term background: the upper part of someone standing whose legs the box holds, not the floor behind
        a body. The floor lit by a train's headlights differs from the model by 10 to 20 grey levels: not someone."""
        x, y, w, h = box
        g = percept.grid
        top = max(0.0, y + h - self.upright_height * adult_px)
        if y - top < g.sy:
            return False
        wh, ww = percept.grey.shape[:2]
        c0, c1 = max(0, int(x / g.sx)), min(ww, int(math.ceil((x + w) / g.sx)))
        r0 = int(math.ceil(top / g.sy))
        r1 = min(wh, r0 + max(1, int(round((y - top) / g.sy))))
        if r1 <= r0 or c1 <= c0:
            return False
        changed = cv2.absdiff(percept.grey[r0:r1, c0:c1], percept.background()[r0:r1, c0:c1]) > self.torso_diff
        changed |= percept.fg_mask[r0:r1, c0:c1] > 0
        return bool(np.count_nonzero(changed) >= self.torso_share * changed.size)

    def _ghost(self, percept: Percept, b: dict, box) -> bool:
        """Whether body ``b`` is a *ghost*: the floor a departed thing (a train, a crowd that boarded
        it) uncovered, which the background still holds, rather than a body present now (its edges
        are in the background model, not in the frame). Checked at most once a second; once a ghost, always
        one: someone walking over the uncovered floor (the seat a bench sitter left) puts edges in the frame
        for a moment, and the floor that was uncovered is still no body."""
        if not b.get("ghost", False) and percept.t - b.get("ghost_t", -math.inf) >= 1.0:
            g = percept.grid
            x, y, w, h = box
            X0, Y0 = max(0, int(x / g.sx) - 2), max(0, int(y / g.sy) - 2)
            X1 = min(percept.fg_mask.shape[1], int(math.ceil((x + w) / g.sx)) + 2)
            Y1 = min(percept.fg_mask.shape[0], int(math.ceil((y + h) / g.sy)) + 2)
            region = (percept.fg_mask[Y0:Y1, X0:X1] > 0).astype(np.uint8)
            b["ghost"] = bool(region.any()) and is_ghost(percept.grey[Y0:Y1, X0:X1],
                                                         percept.background()[Y0:Y1, X0:X1], region)
            b["ghost_t"] = percept.t
        return b["ghost"]

    def _fell(self, b: dict, t: float) -> bool:
        """Whether a person last seen upright within ``drop_m`` of body ``b``, at most ``drop_s`` before
        it appeared, is upright no more (went down, or their track ended as they did)."""
        r2 = self.drop_m ** 2
        gone_after = t - 0.5 / self.site.fps  # an upright track seen in this frame is still up
        if b["first"] - self._t_ready < self.drop_s:
            return False  # the tracks of the first seconds are still being set up
        # the body's ends on the floor (its box's bottom corners) besides its middle: one lies where the person
        # stood, the other a body's length away, and a piece of the body (its head end) is seen alone at times
        x, y, w, h = b["box"]
        body = np.vstack([b["xy"][None], self.site.image_to_ground(np.array([[x, y + h], [x + w, y + h]], float))])
        for k, (t0, tu, xy) in self._last_up.items():
            if tu - t0 < self.min_upright_s:
                continue  # a fragment's short-lived track, not a person who was walking or standing
            # upright until shortly before the body appeared, or a moment after (the box of a person
            # going down is still tall for a frame or two), and not upright since; where they stood is their
            # box's foot point or where an adult whose head is at its top stands
            if not b["first"] - self.drop_s <= tu <= min(gone_after, b["first"] + self.up_after_s):
                continue
            stood = np.vstack([xy, self._head_up.get(k, xy)])
            d2 = ((stood[:, None] - body[None]) ** 2).sum(axis=2)
            if np.nanmin(d2) <= r2:
                return True
        for td, xy, _ in self._down.values():
            if b["first"] - self.drop_s <= td <= b["first"] + self.up_after_s and ((xy - b["xy"]) ** 2).sum() <= r2:
                return True
        return False

    def _sank(self, b: dict, t: float) -> bool:
        """Whether body ``b``, first seen as the short box of track ``b["track"]``, is that track sunk to the
        floor: the track itself stood upright (for ``min_upright_s``) within ``drop_m`` of the body at most
        ``drop_s`` before it appeared; or the track was born at most ``born_after_s`` before the body appeared
        and within ``born_after_s`` of another track within ``drop_m`` going down, or last seen upright (and
        not since): the tracker lost the person as they went down and started a new track on the body."""
        tid, r2 = b["track"], self.drop_m ** 2
        up = self._last_up.get(tid)
        if up is not None and up[1] - up[0] >= self.min_upright_s and \
                b["first"] - self.drop_s <= up[1] <= b["first"] + self.up_after_s and \
                ((up[2] - b["xy"]) ** 2).sum() <= r2 and (self._dropped(b["stood"], b["first"]) or b["head_fell"]):
            return True
        born = self._born.get(tid)
        if born is None or born < b["first"] - self.born_after_s or born - self._t_ready < self.drop_s:
            return False
        if any(k != tid and abs(td - born) <= self.born_after_s and ((xy - b["xy"]) ** 2).sum() <= r2 and
               self._dropped(stood, td) for k, (td, xy, stood) in self._down.items()):
            return True
        gone_after = t - 0.5 / self.site.fps  # an upright track seen in this frame is still up
        return any(k != tid and t1 - t0 >= self.min_upright_s and born - self.born_after_s <= t1 <=
                   min(gone_after, born + self.up_after_s) and ((xy - b["xy"]) ** 2).sum() <= r2 and
                   self._dropped(self._stood.get(k), born) for k, (t0, t1, xy) in self._last_up.items())

    def _head_fell(self, tid: int) -> bool:
        """Whether the top of track ``tid``'s box (its head) is now at least ``sink_drop`` of the adult height lower
        in the image than at one of its upright sightings of the last ``sink_s``: a person whose legs were cleared from
        the foreground (upright by the trousers test, their box never ``sink_from`` high) fell; a seated person
        (a wheelchair user) whose box shrinks from below keeps their head where it was."""
        now = self._top_now.get(tid)
        return now is not None and any(now - top >= self.sink_drop * a for _, top, a in self._tops.get(tid, ()))

    def _dropped(self, stood: float | None, t_low: float) -> bool:
        """Whether a track whose own box last stood at least ``sink_from`` of the adult height high at ``stood``
        [s] (None: not lately) dropped fast to the floor by ``t_low`` [s]: it stood at most ``sink_s`` before. A
        person falling goes from standing to the floor in about a second; a seated person (a wheelchair user,
        whose box is about 0.7 of the adult height and whose wheels the trousers test takes for legs) drifts low
        and high over seconds."""
        return stood is not None and t_low - stood <= self.sink_s

    def _sunk_track(self, box: np.ndarray, tr, seen: np.ndarray) -> np.ndarray:
        """(N,) the id of a track seen now, at most ``sunk_height`` of the adult height high, whose box lies
        inside each of the image boxes ``box`` (N, 4) [px] (1 px of slack), or -1."""
        out = np.full(len(box), -1, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            low = seen & (tr.box[:, 3] <= self.sunk_height * tr.expected_height_px)
        if not low.any() or not len(box):
            return out
        tb, ids = tr.box[low], tr.id[low]
        inside = (tb[None, :, 0] >= box[:, None, 0] - 1) & (tb[None, :, 1] >= box[:, None, 1] - 1) & \
            (tb[None, :, 0] + tb[None, :, 2] <= box[:, None, 0] + box[:, None, 2] + 1) & \
            (tb[None, :, 1] + tb[None, :, 3] <= box[:, None, 1] + box[:, None, 3] + 1)
        has = inside.any(axis=1)
        out[has] = ids[np.argmax(inside[has], axis=1)]
        return out

    def _trousers(self, percept: Percept, rows: np.ndarray) -> np.ndarray:
        """(N,) bool: the tracks of ``rows`` (a mask over the percept's tracks) whose box is at least
        ``lying_height`` of the adult height high and whose column under it, down to where an adult's
        feet would be, has at least ``trousers_share`` of its pixels changed from the long-term background
        by more than ``legs_diff`` grey levels: a person standing whose trousers, about as dark as a shadow
        on the floor, the shadow test cleared from the foreground."""
        tr = percept.tracks
        out = np.zeros(len(tr.id), bool)
        with np.errstate(invalid="ignore"):
            rows = rows & (tr.box[:, 3] >= self.lying_height * tr.expected_height_px)
        if not rows.any():
            return out
        bg = percept.background()
        for j in np.flatnonzero(rows):
            x, y, w, h = tr.box[j]
            share = changed_below(percept.grey, bg, percept.grid, x, x + w, y + h,
                                  self.upright_height * tr.expected_height_px[j] - h, self.legs_diff)
            out[j] = share is not None and share >= self.trousers_share
        return out

    def _follow(self, t: float, xy: np.ndarray, boxes: list, tracks: list) -> None:
        bodies = list(self._bodies.values())
        used = set()
        for i, k in greedy_pairs(xy, [b["xy"] for b in bodies], self.match_m):
            b = bodies[k]
            b["last"], b["box"] = t, boxes[i]
            if tracks[i] < 0 and b["track"] >= 0:
                # first seen as a piece of a sunk track, now as a body of full length: the wide-body rule judges
                # it, and its place on the floor is the whole body's, not the piece's
                b["track"], b["xy"], b["xy0"] = -1, xy[i].copy(), xy[i].copy()
            b["xy"] = 0.7 * b["xy"] + 0.3 * xy[i]
            b["moved"] = max(b["moved"], float(np.hypot(*(b["xy"] - b["xy0"]))))
            b["seen"] += 1
            used.add(i)
        for i in range(len(xy)):
            if i not in used:
                if any(((b["xy"] - xy[i]) ** 2).sum() <= self.part_m ** 2 for b in self._bodies.values()):
                    continue  # a second piece of a body already followed (legs split from the torso)
                self._bodies[self._next_id] = {"xy": xy[i].copy(), "xy0": xy[i].copy(), "box": boxes[i],
                                               "first": t, "last": t, "seen": 1, "fell": False, "moved": 0.0,
                                               "steady": False, "track": tracks[i],
                                               "stood": self._stood.get(tracks[i]) if tracks[i] >= 0 else None,
                                               "head_fell": self._head_fell(tracks[i])}
                self._next_id += 1
        for bid in [k for k, b in self._bodies.items() if t - b["last"] > self.forget_s]:
            del self._bodies[bid]
