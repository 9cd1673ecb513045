"""Wrong way: a tracked person walking against a one-way zone's direction of traffic.

Per confirmed track matched in this frame whose ground position lies in a one-way zone
(``Phi(d / sigma) >= 0.5``, ``d`` the signed distance to the zone's outline, the larger of its
foot point's and its head-placed foot point's: 28 m from a corridor camera a walker's legs merge
with the people behind him, his box ends at his knees and his foot point lands 1.5-2 m beyond him,
outside the passage he is walking into, where his head places him within 0.3 m):

- ``a`` [m/s]: the track's speed against the zone's allowed direction ``u``, the median of
  the speeds along ``-u`` of ``steps`` consecutive steps of its last ``window_s``
  (:meth:`~detectors.tracker.GroundTracker.history`). A camera looking along a corridor
  sees the direction of traffic as depth, where a foot placement jumps by a metre when a
  person's legs merge with the one behind or the track moves to the next person: one step
  in several, which the median ignores where the Kalman velocity follows it;
- a track that slides back along a dense stream (each time the person at the front of a merged
  blob walks out of it, the track keeps the one behind: at walking speed against the flow,
  people all walking with it) is no wrong-way walker: where the median ground speed along
  ``u`` of the moving foreground pixels in the lower two thirds of its box, over the frames of the
  last ``stream_s`` in which it was measured, exceeds ``stream_mps`` (the people there walk with the
  flow), ``a`` counts as 0. One frame's pixels do not decide it: far away a walker is two or three flow
  pixels wide, and the flow of the people passing them flips the sign of the median from frame to
  frame (on the tuning seeds a walker against a stream read ``> stream_mps`` in one frame in six,
  each of which broke the run and faded the distance);
- a track sliding back along a dense stream far away, where the people's pixels move too little for
  the flow to read their speed (on the retired ``rush_hour_quiet`` 932, 0.2-0.35 m/s with the flow for a
  crowd walking 1.3 m/s up a corridor 20 m from the hall camera, and as much for a true wrong-way
  walker 25 m down a passage), is told by its box: where the track's foot point moves against the flow
  in the image faster than the median moving foreground pixel of the lower two thirds of its box by
  more than ``slip_heights`` person heights per second (median over the frames of the last
  ``stream_s``), ``a`` counts as 0. A walker's pixels move with his box (the walkers of tuning seeds 201
  and 206, far and near: single frames mostly -0.3 to 0.45, medians 0.05-0.3); the track that alerted
  there slid at 0.7-1.0;
- a person crossing the passage at an angle walks partly against it: ``a`` counts as 0 where the
  track's heading over the same span lies more than ``max_angle_deg`` from the direction against
  the flow;
- hysteresis: the track is *against* from the frame where ``a`` exceeds ``on_mps`` until it
  falls below ``off_mps``, so that a walker's sway or the filter's noise neither starts nor
  breaks a run;
- while against, the distance walked against the flow accumulates, ``D += a dt``, starting
  from ``a`` times half the span ``a`` was measured over (the median says the person walked
  against the flow for that long at least); otherwise it fades with time constant ``forget_s``;
- a frame whose detection box is lower than ``min_height_persons`` times a person's expected
  height there is a fragment (a head seen over a shoulder, legs merged with the person behind):
  its foot point jumps, and the distance is held, neither advanced nor faded. So is a frame whose
  box is taller than ``max_height_persons`` times that height: a column of people one behind the
  other along the line of sight, merged into one box (a dense stream seen end on from far away),
  whose foot point slides from one person's feet to the next. So is every frame of a track whose boxes
  over the last ``window_s`` are, by their median height, taller than ``column_persons`` times a
  person (one frame in two of such a column is whole by itself: on the retired ``rush_hour_quiet``
  932 a track on two people merged along the line of sight, 1.87 persons by its median box, walked
  2.6 m against the flow in the frames where the blob split; the tuning seeds' wrong-way walkers:
  medians 0.84-1.3, at most 5 % of their frames above 1.5);
- the distance scored is at most how far the track has come back against the flow from the
  furthest point along it that it reached in the zone or on its approach, less than ``approach_m``
  outside it (plus ``come_slack_m``), a track continuing a broken one inheriting that point (a
  walker entering a passage against the flow at its far end, tracked 1 m before it, had walked
  the alarm distance 0.4 s before his track had come back that far from its first point inside): the median credits a track turning against with half a
  window's walking at once, and a track born in a queue at a corridor's mouth (whose first steps
  are the jumps of a blob splitting) or one sliding back from person to person while the queue
  walks away has come back no such distance (on the tuning seeds' hall camera 8 false alarms in
  rush_hour_quiet at 201-203, first 600 s, and station_full, first 300 s, all such tracks);
- the instance's score is ``min(1, 0.5 D / A)``: 0.5 (the default threshold) once the
  person has walked ``A`` against the flow, graded below and above. ``A`` is ``alarm_m``,
  or ``alarm_px`` pixels of image motion's worth of floor where that is more (a camera
  looking along a corridor resolves depth ten times worse 25 m away than 5 m away).

``alarm_m`` = 2.4 m was set on the tuning seeds (201-203) of ``negatives_wrong_way`` and
``corridor_wrong_way``: at 1.5 m, walkers turning round for a second and people crossing the
passage reached scores of 0.5-0.7 (up to 2.1 m of apparent walking against the flow, track lag
included); at 2.4 m the wrong-way walker of seed 201 still scores 0.5 1.7 s after the onset.
It stays 2.4 m: at 2.0 m (tuning seeds 201-205, with the head-placed zone test and the approach
below) the walkers were found 0.2 s sooner (median 1.3 against 1.5 s), but a track at the far end of
the passage, a 16 x 22 px box away from the wrong-way walker, alerted in corridor_wrong_way 205.

A walker who turns round for a second and goes on (about a metre against the flow), a
person crossing the corridor (``a`` near 0) or standing (``a`` near 0) stay below. One
instance per (zone, person), key ``"ZONE/TRACK_ID"``, box the track's; a track that picks
up a person whose track broke a moment ago nearby continues that instance
(:class:`~detectors.evidence.InstanceLinks`), with its walked distance. The hysteresis state
and the distance belong to each track: two live tracks that share an instance (a second track
on one person, or two people a few pixels apart far from the camera, where 0.7 m of floor is
two pixels) each walk their own way, and the instance scores the better of them; sharing one
state, the two flipped it at every frame.

A person whose instance has already scored is not a new instance when a second track picks him up
beside it (a fragment of his blob split off, or a track that takes him over from one that slid onto a
fragment: far from the camera the two foot points lie metres apart on the floor, beyond the links'
reach, while the boxes touch): a track walking against the flow whose box centre lies within
``join_heights`` (plus ``join_spread`` per second since) person heights of the box of an instance that
has scored ``join_score`` or more (more than its own ever did) less than ``join_s`` ago reports under
that instance from then on, and its gate, which has already fired, does not fire again for
``default_cooldown_s``. Two wrong-way walkers side by side are then one alert. On the retired
``corridor_wrong_way`` 933 the walker's three alerts (34.7, 36.0 and 40.6 s: a 6 px wide fragment
beside him, then a track that took him over from one that slid onto a fragment, both 10-13 px from
the alerted box, 0.3 person heights) become one.

A walker against the flow who meets a person walking with it in the same column of the image, far
from a camera looking along a corridor, vanishes into their merged blob for seconds; the track that
comes out on him is often the other person's, which has to turn round. A track that turns against
the flow within ``resume_m`` plus ``resume_spread_mps`` per second since of where a track walking
against it, lost less than ``resume_s`` ago, would be by now takes up that track's distance,
furthest point and instance (tuning ``corridor_wrong_way`` 201-215: 206 found 8.7 -> 8.0 s after the
onset, 202 3.25 -> 3.05 s, 205's second alert gone; the merge itself, 3-4 s at 206 and 210, is not
bridged). A walk whose instance has already scored the alert threshold is taken up so for
``resume_alerted_s``: the walker is known, and a track coming out of a merge on him later is him again,
not a second alert (on the retired ``corridor_wrong_way`` 936 and 937 the walker vanished into a
person walking the other way for 7-9 s, 20-10 m from the camera, and the track that came out on him,
born on that person, turned against 0.6-3 m from where his last walking speed put him, and alerted
again; a track's 0.5 m/s spread reaches 1 + 0.5 * 10 = 6 m at 10 s).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import InstanceLinks, clip_box, median, normal_cdf
from detectors.perception import Percept
from detectors.site import SiteConfig, ZoneKind


class WrongWayDetector:
    """Tracks walking against a one-way zone's direction. See the module docstring.

    Parameters: ``on_mps`` [m/s], ``off_mps`` [m/s] the hysteresis thresholds of the speed
    against the flow; ``alarm_m`` [m] distance against the flow at which the score is 0.5;
    ``forget_s`` [s] time constant of the distance's fading once the person no longer walks
    against the flow; ``min_std_m`` [m] floor of the position uncertainty for the zone test;
    ``window_s`` [s] the span of track history the speed is measured over, in ``steps``
    steps; ``alarm_px``
    [full-res px]: far from the camera the distance scored 0.5 is at least this many pixels of
    image motion's worth of floor along the direction of traffic; ``min_height_persons`` [expected
    person heights]: a detection box lower than this is a fragment (a head behind a shoulder, the
    legs of someone cut in two), whose foot point jumps: its distance is held, not advanced;
    ``stream_mps`` [m/s]: a track whose box's pixels move with the flow faster than this is not
    walking against it; ``max_height_persons`` [expected person heights]: a box taller than this is
    a column of people merged along the line of sight: its distance is held, not advanced;
    ``stream_s`` [s] the span over which the box's pixel speeds with the flow are taken (median)
    before vetoing the speed; ``max_angle_deg`` [deg] the largest angle between the track's heading
    and the direction against the flow that counts as walking against it; ``come_slack_m`` [m] how
    much further than the track has come back against the flow its distance may run; ``approach_m`` [m]
    how far outside the zone the track's positions count for the furthest point it came back from;
    ``head_inside``: a track is in the zone where its foot point or its head-placed foot point
    (:attr:`~detectors.tracker.Tracks.head_foot_m`) is; ``join_score`` [score], ``join_s`` [s],
    ``join_heights`` [expected person heights] and ``join_spread`` [expected person heights per s]: a track
    walking against the flow whose box centre lies within ``join_heights + join_spread * gap`` person
    heights of the last box of an instance that has scored ``join_score`` or more, ``gap`` < ``join_s``
    ago, reports under that instance (one alert per person however often his track breaks);
    ``column_persons`` [expected person heights]: a track whose boxes over ``window_s`` are by their median
    taller than this is a column of people, held; ``slip_heights`` [expected person heights per s]: a
    track whose foot point moves against the flow in the image faster than its box's own moving pixels by
    more than this (median over ``stream_s``) is not walking against it; ``resume_s`` [s] (0: off),
    ``resume_m`` [m], ``resume_spread_mps`` [m/s]: a track turning against the flow within ``resume_m``
    plus ``resume_spread_mps`` per second since of where a track walking against it, lost less than
    ``resume_s`` ago, would be takes up its distance, furthest point and instance; ``resume_alerted_s`` [s]:
    as ``resume_s`` for a walk whose instance had scored ``default_threshold`` (a known walker).
    """

    event_type = EventType.WRONG_WAY
    default_threshold = 0.5
    default_min_duration_s = 0.0
    default_cooldown_s = 30.0  #: [s] per instance (a zone and a track)

    def __init__(self, site: SiteConfig, *, on_mps: float = 0.45, off_mps: float = 0.15, alarm_m: float = 2.4,
                 forget_s: float = 1.5, min_std_m: float = 0.15, window_s: float = 1.6, steps: int = 6,
                 alarm_px: float = 4.0, min_height_persons: float = 0.5, stream_mps: float = 0.3,
                 max_height_persons: float = 2.0, stream_s: float = 1.5, max_angle_deg: float = 35.0,
                 come_slack_m: float = 0.0, approach_m: float = 1.5, head_inside: bool = True,
                 join_score: float = 0.25, join_s: float = 2.0, join_heights: float = 0.5,
                 join_spread: float = 0.5, resume_s: float = 5.0, resume_m: float = 1.0,
                 resume_spread_mps: float = 0.5, column_persons: float = 1.5, slip_heights: float = 0.5,
                 resume_alerted_s: float = 10.0) -> None:
        self.zones = site.zones_of(ZoneKind.ONE_WAY)
        if not self.zones:
            raise ValueError(f"WrongWayDetector needs at least one one_way zone; site {site.camera!r} has zones "
                             f"{[z.name for z in site.zones]}")
        if not 0 <= off_mps <= on_mps:
            raise ValueError(f"WrongWayDetector: need 0 <= off_mps <= on_mps [m/s]; got {off_mps!r}, {on_mps!r}")
        for name, value in (("alarm_m", alarm_m), ("forget_s", forget_s), ("min_std_m", min_std_m)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"WrongWayDetector.{name} must be a finite number > 0; got {value!r}")
        self.site = site
        self.on_mps, self.off_mps = float(on_mps), float(off_mps)
        self.alarm_m = float(alarm_m)
        self.forget_s = float(forget_s)
        self.min_std_m = float(min_std_m)
        self.window_s = float(window_s)
        self.steps = max(2, int(steps))
        self.alarm_px = float(alarm_px)
        self.min_height_persons = float(min_height_persons)
        if not max_height_persons > self.min_height_persons:
            raise ValueError(f"WrongWayDetector.max_height_persons must be > min_height_persons="
                             f"{self.min_height_persons!r} [expected person heights]; got {max_height_persons!r}")
        self.max_height_persons = float(max_height_persons)
        self.stream_mps = float(stream_mps)
        for name, value in (("stream_s", stream_s), ("come_slack_m", come_slack_m), ("approach_m", approach_m)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"WrongWayDetector.{name} must be a finite number >= 0; got {value!r}")
        if not 0 < max_angle_deg <= 90:
            raise ValueError(f"WrongWayDetector.max_angle_deg must be in (0, 90] degrees; got {max_angle_deg!r}")
        self.stream_s = float(stream_s)
        self.max_angle_deg = float(max_angle_deg)
        self.come_slack_m = float(come_slack_m)
        self.approach_m = float(approach_m)
        self.head_inside = bool(head_inside)
        for name, value in (("join_score", join_score), ("join_s", join_s), ("join_heights", join_heights),
                            ("join_spread", join_spread)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"WrongWayDetector.{name} must be a finite number >= 0; got {value!r}")
        self.join_score = float(join_score)
        self.join_s = float(join_s)
        self.join_heights = float(join_heights)
        self.join_spread = float(join_spread)
        for name, value in (("resume_s", resume_s), ("resume_m", resume_m), ("resume_spread_mps", resume_spread_mps),
                            ("resume_alerted_s", resume_alerted_s)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"WrongWayDetector.{name} must be a finite number >= 0; got {value!r}")
        for name, value in (("column_persons", column_persons), ("slip_heights", slip_heights)):
            if not value > 0:
                raise ValueError(f"WrongWayDetector.{name} must be a number > 0; got {value!r}")
        self.column_persons = float(column_persons)
        self.slip_heights = float(slip_heights)
        self._slips: dict[tuple[str, int], deque] = {}  # (zone, track id) -> (t, slip [heights/s]), oldest first
        self.resume_s = float(resume_s)
        self.resume_m = float(resume_m)
        self.resume_spread_mps = float(resume_spread_mps)
        self.resume_alerted_s = float(resume_alerted_s) if self.resume_s > 0 else 0.0
        # (zone, track id) -> ([s] last followed, (2,) [m] position, (2,) [m/s] velocity, instance key, [m] distance
        # walked against the flow, [m] furthest point along it, best score its instance reached) of the tracks
        # walking against the flow in a zone: what a track that turns against nearby a moment later takes up
        self._walked: dict[tuple[str, int], tuple] = {}
        # instance key -> (best score so far, [s] last time scored, (4,) [px] its best track's box then,
        # [px] a person's expected height there): what a second track on the person is compared with
        self._peak: dict[str, tuple[float, float, np.ndarray, float]] = {}
        self._alias: dict[str, str] = {}  # a track's own instance key -> the instance it joined
        self._alias_t: dict[str, float] = {}  # own instance key -> [s] last used
        self._furthest: dict[tuple[str, int], float] = {}  # (zone, track id) -> [m] furthest along the flow
        self._near_t: dict[tuple[str, int], float] = {}  # (zone, track id) -> [s] last seen on the approach
        self._pix: dict[tuple[str, int], deque] = {}  # (zone, track id) -> (t, pixel speed with the flow), oldest first
        self._dirs = [np.array([math.cos(math.radians(z.direction_deg)), math.sin(math.radians(z.direction_deg))])
                      for z in self.zones]
        # (zone, track id) -> [against, distance, t_last]: each track walks on its own, even where two
        # tracks share an instance (a second track on one person, or two people close together far away)
        self._state: dict[tuple[str, int], list] = {}
        self._owner: dict[str, tuple[str, int]] = {}  # instance key -> the (zone, track id) that last advanced it
        self._links = InstanceLinks()

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.ONE_WAY))

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self._state.clear()
            self._pix.clear()
            self._furthest.clear()
            self._near_t.clear()
            self._owner.clear()
            self._links.reset()
            self._peak.clear()
            self._alias.clear()
            self._alias_t.clear()
            self._walked.clear()
            self._slips.clear()
            return NOTHING
        tr = percept.tracks
        t = percept.t
        live = np.flatnonzero(tr.confirmed & (tr.lost_s == 0))
        best: dict[str, tuple] = {}  # instance key -> (score, box) of its best track
        seen = set()
        if len(live):
            pos, vel = tr.foot_m[live], tr.vel_mps[live]
            head = tr.head_foot_m[live]
            sigma = np.sqrt(tr.pos_std_m[live] ** 2 + self.min_std_m ** 2)
            whole = self.whole(tr.box[live, 3], tr.expected_height_px[live])
            for zone, u in zip(self.zones, self._dirs):
                dist = zone.signed_distance(pos)
                if self.head_inside:
                    # far away a walker's legs vanish against the people behind: the box ends at his knees
                    # and the foot point lands metres beyond him; his head places him too
                    with np.errstate(invalid="ignore"):
                        dist = np.fmax(dist, zone.signed_distance(head))
                inside = normal_cdf(dist / sigma) >= 0.5
                rows = np.flatnonzero(inside)
                # the way to the zone counts as come: a walker seen entering it against the flow has come
                # back from where he was first seen on the approach (the furthest point is held 2 s)
                for j in np.flatnonzero(~inside & (dist > -self.approach_m)):
                    sk = (zone.name, int(tr.id[live[j]]))
                    self._furthest[sk] = max(self._furthest.get(sk, -math.inf), float(pos[j] @ u))
                    self._near_t[sk] = t
                alarm = np.maximum(self.alarm_m, self.alarm_px * self._m_per_px(pos[rows], u))
                for j, alarm_j in zip(rows, alarm.tolist()):
                    tid = int(tr.id[live[j]])
                    link_key = self._links.key(zone.name, tid, pos[j], t, vel[j])
                    key = self._alias.get(link_key, link_key)
                    if key != link_key:
                        self._alias_t[link_key] = t
                    sk = (zone.name, tid)
                    seen.add(sk)
                    if sk not in self._state:
                        self._adopt(sk, link_key, t)
                    self._furthest[sk] = max(self._furthest.get(sk, -math.inf), float(pos[j] @ u))
                    self._owner[link_key] = sk
                    expected_j = float(tr.expected_height_px[live[j]])
                    if whole[j] and not self._column(percept, tid, expected_j):
                        a, span = self._speed_against(percept, tid, u)
                        if a > self.off_mps:
                            with_mps = self._stream_median(sk, t, self._pixels_with_flow(percept, tr.box[live[j]], u))
                            if with_mps > self.stream_mps:
                                a = 0.0  # the track slid back along a stream whose people all walk with the flow
                            elif self._median_of(self._slips, sk, t, self._slip(percept, tid, tr.box[live[j]],
                                                                                 expected_j, u)) > self.slip_heights:
                                a = 0.0  # its box slides against its own pixels: from person to person
                        was = self._state.get(sk, (False,))[0]
                        d = self._advance(sk, t, a, span)
                        if self._state[sk][0] and not was and self.resume_s > 0:
                            resumed, resumed_peak = self._resume(sk, t, pos[j])
                            if resumed is not None:
                                d = self._state[sk][1]
                                if resumed != key and resumed_peak >= self._peak.get(key, (0.0,))[0]:
                                    self._alias[link_key] = key = resumed
                                    self._alias_t[link_key] = t
                        if self._state[sk][0] and d > 0:
                            peak = self._peak.get(key, (0.0,))[0]
                            if sk in self._walked and self._walked[sk][3] == key:
                                peak = max(peak, self._walked[sk][6])
                            self._walked[sk] = (t, pos[j].copy(), vel[j].copy(), key, d, self._furthest[sk], peak)
                    else:  # a fragment's or a column's foot point says nothing of where the person walks: hold
                        d = self._hold(sk, t)
                    # no further against the flow than the track (or the one it continues) has come back from
                    # the furthest point along the flow it reached in the zone: a new track in a queue,
                    # credited at once with the speed of its birth's jumps, has come nowhere
                    d = min(d, max(0.0, self._furthest[sk] - float(pos[j] @ u)) + self.come_slack_m)
                    if d > 0:
                        score = min(1.0, 0.5 * d / alarm_j)
                        if self._state[sk][0]:
                            joined = self._joined(key, t, tr.box[live[j]], float(tr.expected_height_px[live[j]]))
                            if joined is not None:
                                self._alias[link_key] = key = joined
                                self._alias_t[link_key] = t
                        if score > best.get(key, (0.0,))[0]:
                            best[key] = (score, clip_box(tr.box[live[j]], self.site.image_size), tr.box[live[j]],
                                         float(tr.expected_height_px[live[j]]))
        out = [InstanceScore(k, sc, box) for k, (sc, box, _, _) in best.items()]
        for k, (sc, _, box, height) in best.items():
            self._peak[k] = (max(sc, self._peak.get(k, (0.0,))[0]), t, box, height)
        self._peak = {k: v for k, v in self._peak.items() if t - v[1] <= self.join_s}
        self._alias_t = {k: tk for k, tk in self._alias_t.items() if t - tk <= self.join_s}
        self._alias = {k: v for k, v in self._alias.items() if k in self._alias_t}
        for sk in [k for k, st in self._state.items() if k not in seen]:
            if t - self._state[sk][2] > 2.0:
                del self._state[sk]  # the track left the zone or ended
        self._owner = {k: sk for k, sk in self._owner.items() if sk in self._state}
        self._pix = {k: v for k, v in self._pix.items() if k in self._state}
        self._slips = {k: v for k, v in self._slips.items() if k in self._state}
        self._near_t = {k: tk for k, tk in self._near_t.items() if t - tk <= 2.0}
        self._furthest = {k: v for k, v in self._furthest.items() if k in self._state or k in self._near_t}
        keep_s = max(self.resume_s, self.resume_alerted_s)
        self._walked = {k: v for k, v in self._walked.items() if t - v[0] <= keep_s}
        return DetectorOutput.of(out, zone_of=lambda k: k.split("/")[0])

    def whole(self, height_px: np.ndarray, expected_px: np.ndarray) -> np.ndarray:
        """(N,) bool: which detection boxes of ``height_px`` [px] are one whole person where a person is
        ``expected_px`` [px] tall: neither a fragment (lower than ``min_height_persons`` of it) nor a
        column of people (taller than ``max_height_persons`` of it); unknown expected heights count as whole."""
        height = np.asarray(height_px, dtype=np.float64)
        expected = np.asarray(expected_px, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return ~((height < self.min_height_persons * expected) | (height > self.max_height_persons * expected))

    def _adopt(self, sk: tuple[str, int], key: str, t: float) -> None:
        """A track new to a zone that continues an instance whose track broke (not one followed in this
        frame) carries on with that track's hysteresis state and distance."""
        prev = self._owner.get(key)
        st = self._state.get(prev) if prev is not None else None
        if st is not None and st[2] < t:
            self._state[sk] = [st[0], st[1], st[2]]
            if prev in self._furthest:
                self._furthest[sk] = self._furthest[prev]

    def _resume(self, sk: tuple[str, int], t: float, pos: np.ndarray) -> tuple[str | None, float]:
        """A track ``sk`` at ``pos`` [m] that turns against the flow at time ``t`` [s] takes up the walk of a
        track of the same zone last followed walking against it less than ``resume_s`` ago (``resume_alerted_s``
        where its instance had scored ``default_threshold``; not in this frame) within ``resume_m`` plus
        ``resume_spread_mps`` per second since of where its velocity would have taken it: its distance and
        furthest point, if more. Returns that track's instance key and the best score that instance had
        reached, or (None, 0)."""
        best, best_d = None, math.inf
        for k, (tk, kpos, kvel, _, _, _, peak) in self._walked.items():
            limit = self.resume_alerted_s if peak >= self.default_threshold else self.resume_s
            if k == sk or k[0] != sk[0] or tk >= t - 1e-9 or t - tk > limit:
                continue
            gap = t - tk
            d = float(np.hypot(*(pos - kpos - kvel * gap)))
            if d <= self.resume_m + self.resume_spread_mps * gap and d < best_d:
                best, best_d = k, d
        if best is None:
            return None, 0.0
        _, _, _, key, walked_m, furthest, peak = self._walked.pop(best)
        self._state[sk][1] = max(self._state[sk][1], walked_m)
        self._furthest[sk] = max(self._furthest.get(sk, -math.inf), furthest)
        return key, peak

    def _joined(self, key: str, t: float, box: np.ndarray, height_px: float) -> str | None:
        """The instance a track of instance ``key`` walking against the flow with detection ``box`` [px] at
        time ``t`` [s] belongs to instead, where a person is ``height_px`` [px] tall: one that has scored
        ``join_score`` or more (more than ``key`` ever did), scored less than ``join_s`` ago by a track
        whose box centre lay within ``join_heights`` plus ``join_spread`` per second since person heights of
        this box's centre; None if there is none."""
        own = self._peak.get(key, (0.0,))[0]
        if not (height_px > 0):
            return None
        centre = np.array([box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]])
        found, found_d = None, math.inf
        for k, (peak, tk, kbox, _) in self._peak.items():
            if k == key or peak < self.join_score or peak <= own:
                continue
            gap = t - tk
            if gap > self.join_s:
                continue
            d = math.hypot(kbox[0] + 0.5 * kbox[2] - centre[0], kbox[1] + 0.5 * kbox[3] - centre[1]) / height_px
            if d <= self.join_heights + self.join_spread * gap and d < found_d:
                found, found_d = k, d
        return found

    def _m_per_px(self, pos: np.ndarray, u: np.ndarray) -> np.ndarray:
        """(N,) [m] ground distance along ``u`` that one full-resolution pixel of image motion spans at
        each ground position (the camera's depth resolution when it looks along ``u``)."""
        px = self.site.ground_to_image(pos)
        g0 = self.site.image_to_ground(px)
        du = (self.site.image_to_ground(px + [1.0, 0.0]) - g0) @ u
        dv = (self.site.image_to_ground(px + [0.0, 1.0]) - g0) @ u
        return np.nan_to_num(np.hypot(du, dv), nan=np.inf)

    def _speed_against(self, percept: Percept, track_id: int, u: np.ndarray) -> tuple[float, float]:
        """[m/s] robust speed of a track against ``u`` over the last ``window_s``: the median of the
        speeds of ``steps`` consecutive steps (0 with too little history); and [s] the span it was
        measured over."""
        h = percept.track_history(track_id)
        h = h[h[:, 0] >= percept.t - self.window_s - 1e-9]
        if len(h) < 4 or h[-1, 0] - h[0, 0] < 0.5 * self.window_s:
            return 0.0, 0.0
        k = min(self.steps + 1, len(h))
        h = h[np.linspace(0, len(h) - 1, k).round().astype(int)]
        s = -(h[:, 1:3] @ u)
        a = median(np.diff(s) / np.diff(h[:, 0]))
        if self.max_angle_deg < 90.0:
            # a person crossing the passage at an angle walks partly against it: the heading must lie
            # within max_angle_deg of the direction against the flow
            across = (h[-1, 1:3] - h[0, 1:3]) @ np.array([-u[1], u[0]]) / (h[-1, 0] - h[0, 0])
            if a * math.tan(math.radians(self.max_angle_deg)) < abs(across):
                a = 0.0
        return a, float(h[-1, 0] - h[0, 0])

    def _pixels_with_flow(self, percept: Percept, box, u: np.ndarray) -> float:
        """[m/s] median ground speed along ``u`` of the moving foreground pixels in the lower two thirds
        of ``box`` (0 when there are none): what the person's own pixels say of where they walk."""
        field = percept.flow_field
        fw, fh = field.size
        sx, sy = fw / self.site.image_size[0], fh / self.site.image_size[1]
        x, y, w, h = (float(v) for v in box)
        u0, u1 = max(0, int(x * sx)), min(fw, int(math.ceil((x + w) * sx)))
        v0, v1 = max(0, int((y + h / 3) * sy)), min(fh, int(math.ceil((y + h) * sy)))
        if u1 <= u0 or v1 <= v0:
            return 0.0
        mask = np.zeros((fh, fw), bool)
        mask[v0:v1, u0:u1] = True
        mask &= percept.fg_at((fw, fh)) > 96
        if not mask.any():
            return 0.0
        _, vel = percept.ground_velocity(mask)
        along = vel @ u
        along = along[np.abs(along) > 0.1]  # flat-coloured insides hardly move: the edges say it
        return median(along) if len(along) >= 3 else 0.0

    def _slip(self, percept: Percept, track_id: int, box, expected_px: float, u: np.ndarray) -> float:
        """[expected person heights per s] how much faster the track's foot point moves against the flow in
        the image (the median of ``steps`` steps over the last ``window_s``, its filtered ground positions
        seen through the camera) than the median moving foreground pixel in the lower two thirds of ``box``
        does: a person's pixels move with his box; a track sliding from person to person along a stream
        moves against pixels that all walk with it. 0 with too little history or an unknown height."""
        h = percept.track_history(track_id)
        h = h[h[:, 0] >= percept.t - self.window_s - 1e-9]
        if len(h) < 4 or h[-1, 0] - h[0, 0] < 0.5 * self.window_s or not expected_px > 0:
            return 0.0
        k = min(self.steps + 1, len(h))
        h = h[np.linspace(0, len(h) - 1, k).round().astype(int)]
        img = self.site.ground_to_image(h[:, 1:3])
        ahead = self.site.ground_to_image(h[-1:, 1:3] - 0.5 * u)[0] - img[-1]  # against the flow, in the image
        norm = math.hypot(*ahead)
        if not (math.isfinite(norm) and norm > 0) or not np.all(np.isfinite(img)):
            return 0.0
        e = ahead / norm
        track = median((np.diff(img, axis=0) @ e) / np.diff(h[:, 0]))
        field = percept.flow_field
        fw, fh = field.size
        W, H = self.site.image_size
        sx, sy = fw / W, fh / H
        x, y, w, bh = (float(v) for v in box)
        u0, u1 = max(0, int(x * sx)), min(fw, int(math.ceil((x + w) * sx)))
        v0, v1 = max(0, int((y + bh / 3) * sy)), min(fh, int(math.ceil((y + bh) * sy)))
        pix = 0.0
        if u1 > u0 and v1 > v0:
            fg = percept.fg_at((fw, fh))[v0:v1, u0:u1] > 96
            if fg.sum() >= 3:
                flow = percept.flow()[v0:v1, u0:u1][fg]  # [flow px / s]
                pix = median(flow[:, 0] / sx * e[0] + flow[:, 1] / sy * e[1])
        return (track - pix) / expected_px

    def _column(self, percept: Percept, track_id: int, expected_px: float) -> bool:
        """Whether the track's boxes over the last ``window_s`` were, by their median height, taller than
        ``column_persons`` times a person's ``expected_px`` [px] there: most of the time a column of people
        one behind the other, not one person (False with too little history or an unknown height)."""
        h = percept.track_history(track_id)
        h = h[h[:, 0] >= percept.t - self.window_s - 1e-9]
        if len(h) < 4 or not expected_px > 0:
            return False
        return median(h[:, 3]) > self.column_persons * expected_px

    def _median_of(self, rows_of: dict, sk: tuple[str, int], t: float, value: float) -> float:
        """Append ``value`` at time ``t`` [s] to the track's series in ``rows_of``; the median of its values
        over the last ``stream_s``."""
        rows = rows_of.setdefault(sk, deque())
        rows.append((t, value))
        while rows[0][0] < t - self.stream_s - 1e-9:
            rows.popleft()
        return median([v for _, v in rows])

    def _stream_median(self, sk: tuple[str, int], t: float, with_mps: float) -> float:
        """[m/s] median of the track's pixel speeds with the flow measured over the last ``stream_s``."""
        if self.stream_s <= 0:
            return with_mps
        return self._median_of(self._pix, sk, t, with_mps)

    def _hold(self, key: tuple[str, int], t: float) -> float:
        """The track's distance [m], unchanged, its clock moved on."""
        st = self._state.get(key)
        if st is None:
            return 0.0
        st[2] = t
        return st[1]

    def _advance(self, key: tuple[str, int], t: float, a: float, span_s: float = 0.0) -> float:
        """Update one track's hysteresis state in a zone with the speed against ``a`` [m/s] measured over
        ``span_s`` [s]; return its distance [m]. On turning against, the median says the person has
        walked against the flow for half the span at least: that much is credited at once."""
        st = self._state.get(key)
        if st is None:
            st = self._state[key] = [False, 0.0, t]
        dt = max(0.0, t - st[2])
        st[2] = t
        was = st[0]
        if st[0]:
            st[0] = a > self.off_mps
        else:
            st[0] = a > self.on_mps
        if st[0] and not was:
            st[1] = max(st[1], a * 0.5 * span_s)
        elif st[0]:
            st[1] += a * dt
        else:
            st[1] *= math.exp(-dt / self.forget_s)
        return st[1]
