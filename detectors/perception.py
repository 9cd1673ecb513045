"""Shared per-frame perception: computed once per frame, read by every detector.

One :class:`Perception` per camera turns each BGR frame into a :class:`Percept`, in stages
whose costs the detection core records separately (:attr:`Perception.stage_s`):

``preprocess``
    downscale to the working resolution (``work_width`` pixels wide, 320 by default: a
    person 10 m from a station camera is still a few dozen working pixels) and grey;
``background``
    the long-term/short-term background pair robust to lighting changes, with shadow
    removal (:class:`~detectors.background.BackgroundModel`): the foreground ``F_L`` and
    the *static foreground* ``F_L & ~F_S`` (what entered the scene and stopped); ghosts
    (background uncovered by something that left) are healed every ``heal_every_s``, and so is a
    *warm-up ghost*: static foreground of which ``warmup_ghost_share`` or more of the pixels have been
    foreground in every frame since the warm-up ended (see "Warm-up ghosts" below);
``components``
    morphological open (speckle) and close (holes in a body), connected components, blobs
    smaller than ``min_person_fraction`` of a person's silhouette at their foot dropped;
``people``
    person candidates with one foot point each, merged blobs split, feet cut by the image
    border unknown (:mod:`detectors.people`);
``tracker``
    tracks on the ground plane (:mod:`detectors.tracker`);
``flow``
    dense optical flow at reduced resolution (:mod:`detectors.flow`), on first request;
``crops``
    person crops from the full-resolution frame for learned classifiers, on request.

Background time constants: the long-term background absorbs a still object after about
1.6 x ``long_s`` (60 s by default: a person lying on the tracks stays foreground for a
minute, a queue that barely moves keeps counting), the short-term one after about 1.6 x
``short_s`` (4 s). During the warm-up (``warmup_s``) the backgrounds are the per-pixel
median of the first frames and detectors score 0 (:attr:`Percept.ready` is False).

Warm-up ghosts. People standing still during the warm-up are in its median; when they leave, the
floor they hid is foreground where they stood, though nothing arrived there. On plain floor the edge
test finds that ghost (the outline's edges are in the background, not in the frame), on textured
ground it does not (the sleepers of a track bed give edges in both; a ghost of two people leaning
over the platform edge stayed on the track bed for a minute and was tracked as an intruder). Such a
ghost was foreground from the first frame the model tested and has stayed so: nothing came or went
there since the footage began. The perception keeps the mask of the pixels foreground in every frame
since then (:attr:`Percept.since_ready`; it only shrinks, and is dropped once empty or ``2 * long_s``
after the warm-up, when the long-term background has taken in whatever stood still since then); what of it has
stopped (the static foreground) is healed, and a blob mostly on it is a ghost
(:meth:`Percept.is_ghost`). Whatever stands still there was there before the footage began.

Geometry: :class:`~detectors.geometry.WorkGrid` holds per-working-pixel lookup maps
computed once from the :class:`~detectors.site.SiteConfig`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.background import BackgroundModel
from detectors.flame import emissive_mask
from detectors.flow import OpticalFlow
from detectors.geometry import PERSON_AREA_M2, PERSON_HEIGHT_M, WorkGrid
from detectors.people import Detections, PeopleFinder, appearance, components_with_stats
from detectors.site import SiteConfig
from detectors.source import Frame
from detectors.tracker import GroundTracker, Tracks

#: the stages of :class:`Perception`, in order; each has a column ``STAGE_s`` in the timing table
STAGES = ("preprocess", "background", "components", "people", "tracker", "flow", "crops")

__all__ = ["Blobs", "Percept", "Perception", "PerceptionError", "STAGES", "WorkGrid", "PERSON_AREA_M2", "labels_in",
           "PERSON_HEIGHT_M"]


class PerceptionError(ValueError):
    """A frame or a parameter the perception stage cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Blobs:
    """Foreground components of one frame, as a structure of arrays (row i = one blob).

    Pixel quantities are in FULL-resolution image pixels of the camera, ground
    quantities in metres. ``label`` is the component's value in :attr:`Percept.labels`.
    """

    bbox: np.ndarray  #: (N, 4) float64 [px] x, y, w, h
    area_px: np.ndarray  #: (N,) float64 [px²] foreground pixels
    foot_px: np.ndarray  #: (N, 2) float64 [px] bottom-centre of the box
    foot_m: np.ndarray  #: (N, 2) float64 [m] ground point under foot_px
    expected_area_px: np.ndarray  #: (N,) float64 [px²] one person's silhouette at foot_m
    label: np.ndarray  #: (N,) int32 component label in the working-resolution label image

    def __post_init__(self) -> None:
        n = len(self.area_px)
        for name, shape in (("bbox", (n, 4)), ("foot_px", (n, 2)), ("foot_m", (n, 2)),
                            ("expected_area_px", (n,)), ("label", (n,))):
            got = getattr(self, name).shape
            if got != shape:
                raise PerceptionError(f"Blobs.{name} must have shape {shape}; got {got}")

    def __len__(self) -> int:
        return len(self.area_px)

    def __getitem__(self, mask) -> "Blobs":
        """Rows selected by a boolean mask or an index array."""
        return Blobs(bbox=self.bbox[mask], area_px=self.area_px[mask], foot_px=self.foot_px[mask],
                     foot_m=self.foot_m[mask], expected_area_px=self.expected_area_px[mask],
                     label=self.label[mask])

    @property
    def persons(self) -> np.ndarray:
        """(N,) [persons] how many people each blob's area amounts to (merged blobs > 1)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.area_px / self.expected_area_px

    @classmethod
    def empty(cls) -> "Blobs":
        return cls(bbox=np.zeros((0, 4)), area_px=np.zeros(0), foot_px=np.zeros((0, 2)), foot_m=np.zeros((0, 2)),
                   expected_area_px=np.zeros(0), label=np.zeros(0, np.int32))


@dataclass(frozen=True, slots=True, eq=False)
class Percept:
    """What every detector reads for one frame.

    Arrays are at the working resolution unless named otherwise; boxes and foot points in
    full-resolution pixels, ground points in metres. The methods (flow, crops, background
    images) compute on first call and are valid for this frame only, until the next frame
    is fed to the perception (they raise :class:`PerceptionError` afterwards).
    """

    index: int  #: frame number in the stream
    t: float  #: [s] frame time
    ready: bool  #: False during the background model's warm-up; detectors then score 0
    image: np.ndarray = field(repr=False)  #: (H, W, 3) uint8 the full-resolution BGR frame
    small: np.ndarray = field(repr=False)  #: (wh, ww, 3) uint8 the BGR working image
    grey: np.ndarray = field(repr=False)  #: (wh, ww) uint8 the grey working image
    fg_mask: np.ndarray = field(repr=False)  #: (wh, ww) uint8 {0, 255} foreground (long-term, cleaned)
    static_mask: np.ndarray = field(repr=False)  #: (wh, ww) uint8 {0, 255} foreground that stopped
    labels: np.ndarray = field(repr=False)  #: (wh, ww) int32 component labels (0 = background)
    blobs: Blobs  #: kept components (large enough to be part of a person)
    detections: "Detections"  #: person candidates, one foot point each
    tracks: "Tracks"  #: the tracker's state after this frame
    grid: WorkGrid = field(repr=False)  #: geometry maps shared by the detectors
    lighting_gain: float = 1.0  #: median brightness of the frame relative to the background (1 = unchanged)
    #: (n, 5) int32 OpenCV's statistics (x, y, w, h, area [working px]) of every label of :attr:`labels`,
    #: row 0 the background, components too small to be kept included (a label's box without a pass over the image)
    label_stats: np.ndarray = field(default_factory=lambda: np.zeros((1, 5), np.int32), repr=False)
    #: (wh, ww) uint8 {0, 255} the pixels foreground in every frame since the warm-up ended (None once none
    #: are, or before the first tested frame)
    since_ready: np.ndarray | None = field(default=None, repr=False)
    warmup_ghost_share: float = 0.5  #: share of a blob's pixels on :attr:`since_ready` that makes it a ghost
    _owner: "Perception | None" = field(default=None, repr=False)
    _owner_frame: int = field(default=-1, repr=False)

    def _live(self, what: str) -> "Perception":
        if self._owner is None or self._owner.frames_seen != self._owner_frame:
            raise PerceptionError(f"Percept.{what}: frame {self.index} is no longer the perception's current frame")
        return self._owner

    def background(self) -> np.ndarray:
        """(wh, ww) uint8 the long-term background in this frame's lighting (computed once a frame,
        read-only: copy it to keep or change it)."""
        return self.memo("background", lambda: _read_only(self._live("background").model.long_term_grey()))

    def short_background(self) -> np.ndarray:
        """(wh, ww) uint8 the short-term background in this frame's lighting (once a frame, read-only)."""
        return self.memo("short_background",
                         lambda: _read_only(self._live("short_background").model.short_term_grey()))

    def track_history(self, track_id: int) -> np.ndarray:
        """(K, 5) the recent past of a track (t, x, y, box height, box width; see
        :meth:`~detectors.tracker.GroundTracker.history`)."""
        return self._live("track_history").tracker.history(track_id)

    def memo(self, key, compute):
        """``compute()`` once per frame and ``key`` (hashable): what several detectors ask of the same
        frame (its vehicles, a blob's ghost test) is found once; valid for this frame only."""
        store = self._live("memo")._frame_memo
        if key not in store:
            store[key] = compute()
        return store[key]

    def changed(self, diff: float) -> np.ndarray:
        """(wh, ww) bool the working pixels whose grey differs from :meth:`background` by more than ``diff``
        [grey levels] (once per frame and ``diff``, read-only)."""
        return self.memo(("changed", float(diff)), lambda: _read_only(
            cv2.absdiff(self.grey, self.background()) > diff))

    def fg_at(self, size: tuple[int, int]) -> np.ndarray:
        """(h, w) uint8 :attr:`fg_mask` resized to ``size`` (width, height) by area averaging (the share of
        foreground of each pixel there x 255; the optical flow's grid, for instance): once per frame and
        size, read-only."""
        w, h = int(size[0]), int(size[1])
        return self.memo(("fg_at", w, h), lambda: _read_only(
            cv2.resize(self.fg_mask, (w, h), interpolation=cv2.INTER_AREA)))

    def is_ghost(self, label: int) -> bool:
        """Whether blob ``label`` of :attr:`labels` is a *ghost*: background uncovered by something that
        left (edges along its outline in the long-term background, not in the frame), or a warm-up ghost
        (``warmup_ghost_share`` or more of its pixels foreground since the warm-up ended, :attr:`since_ready`)."""
        return self.memo(("is_ghost", int(label)), lambda: self._is_ghost(label))

    def _is_ghost(self, label: int) -> bool:
        from detectors.background import is_ghost

        ys, xs = np.nonzero(self.labels == label)
        if len(ys) == 0:
            return False
        if self.since_ready is not None and \
                np.count_nonzero(self.since_ready[ys, xs]) >= self.warmup_ghost_share * len(ys):
            return True
        h, w = self.labels.shape
        y0, y1, x0, x1 = max(0, ys.min() - 2), min(h, ys.max() + 3), max(0, xs.min() - 2), min(w, xs.max() + 3)
        region = (self.labels[y0:y1, x0:x1] == label).astype(np.uint8)
        return is_ghost(self.grey[y0:y1, x0:x1], self.background()[y0:y1, x0:x1], region)

    def flow(self) -> np.ndarray:
        """(fh, fw, 2) float32 [flow px per second] dense optical flow from the previous frame
        (:class:`~detectors.flow.OpticalFlow`; ``flow_field`` gives its geometry maps)."""
        return self._live("flow")._timed("flow", self._owner.optical_flow.flow)

    @property
    def flow_field(self) -> OpticalFlow:
        """The optical flow stage (size, ground Jacobians, persons per pixel) of this frame."""
        return self._live("flow_field").optical_flow

    def ground_velocity(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices and (K, 2) [m/s] ground velocities of the flow pixels of ``mask``
        (:meth:`~detectors.flow.OpticalFlow.ground_velocity`)."""
        owner = self._live("ground_velocity")
        return owner._timed("flow", lambda: owner.optical_flow.ground_velocity(mask))

    def crop(self, box, size: tuple[int, int] = (48, 96)) -> np.ndarray:
        """(h, w, 3) uint8 the full-resolution frame inside ``box`` (x, y, w, h px; clipped to the
        image, padded with the border's pixels), resized to ``size`` (width, height)."""
        owner = self._live("crop")
        return owner._timed("crops", lambda: _crop(self.image, box, size))

    def person_crops(self, rows=None, size: tuple[int, int] = (48, 96)) -> np.ndarray:
        """(N, h, w, 3) uint8 crops of the tracks ``rows`` (an index or mask into :attr:`tracks`;
        default: the confirmed tracks matched in this frame), for learned classifiers."""
        owner = self._live("person_crops")
        if rows is None:
            rows = self.tracks.confirmed & (self.tracks.lost_s == 0)
        boxes = self.tracks.box[rows]
        return owner._timed("crops", lambda: np.stack([_crop(self.image, b, size) for b in boxes])
                            if len(boxes) else np.zeros((0, size[1], size[0], 3), np.uint8))


def labels_in(image: np.ndarray, labels) -> np.ndarray:
    """``np.isin(image, labels)`` for an image of labels >= 0 (int), by a lookup table indexed by the image:
    the same booleans without ``np.isin``'s sorting or range passes."""
    sel = np.asarray(labels, dtype=np.int64).reshape(-1)
    top = max(int(image.max()) if image.size else 0, int(sel.max()) if len(sel) else 0)
    lut = np.zeros(top + 1, bool)
    lut[sel[sel >= 0]] = True
    return lut[image]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _crop(image: np.ndarray, box, size: tuple[int, int]) -> np.ndarray:
    h, w = image.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, bw, bh)) or bw <= 0 or bh <= 0:
        raise PerceptionError(f"crop: box must be finite (x, y, w, h) with w, h > 0; got {tuple(box)}")
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    x1, y1 = max(x0 + 1, int(math.ceil(x + bw))), max(y0 + 1, int(math.ceil(y + bh)))
    pad = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    part = image[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
    if part.size == 0:
        part = np.zeros((1, 1, 3), np.uint8)
        pad = (0, 0, 0, 0)
    if any(pad):
        part = cv2.copyMakeBorder(part, *pad, cv2.BORDER_REPLICATE)
    return cv2.resize(part, (int(size[0]), int(size[1])), interpolation=cv2.INTER_AREA)


class Perception:
    """All the shared per-frame work for one camera (see the module docstring).

    Parameters (keyword-only after ``site``):

    - ``work_width`` [px]: width of the working image (height keeps the aspect ratio);
      no upscaling when the camera is narrower;
    - ``long_s``, ``short_s`` [s]: time constants of the long-term and short-term
      backgrounds (:class:`~detectors.background.BackgroundModel`); ``absorb_s`` is an
      alias of ``long_s``;
    - ``warmup_s`` [s]: frames before :attr:`ready`;
    - ``min_threshold`` [grey levels]: least foreground contrast;
    - ``open_px``, ``close_px`` [working px]: structuring element sizes (0 disables);
    - ``min_person_fraction``: a component is kept when its area is at least this fraction
      of one person's expected area at its foot point; ``min_area_work_px`` [working px²]:
      absolute floor for the same cut;
    - ``max_emissive_share``: a component with more than this share of its pixels in emissive
      flame colours is a flame, not a person (:mod:`detectors.flame`);
    - ``flow_width`` [px]: width of the optical flow field;
    - ``heal_every_s`` [s]: how often ghosts are looked for in the static foreground;
    - ``warmup_ghost_share``: share of a static component's (or a blob's) pixels foreground in every
      frame since the warm-up ended that makes it a warm-up ghost (see the module docstring);
    - ``background``, ``people``, ``tracker``: keyword arguments of
      :class:`~detectors.background.BackgroundModel`, :class:`~detectors.people.PeopleFinder`
      and :class:`~detectors.tracker.GroundTracker`.
    """

    def __init__(self, site: SiteConfig, *, work_width: int = 320, long_s: float | None = None,
                 absorb_s: float = 60.0, short_s: float = 4.0, warmup_s: float = 1.5, min_threshold: float = 12.0,
                 open_px: int = 3, close_px: int = 5, min_person_fraction: float = 0.15, min_area_work_px: int = 6,
                 flow_width: int = 320, heal_every_s: float = 1.0, person_height_m: float = PERSON_HEIGHT_M,
                 person_area_m2: float = PERSON_AREA_M2, background: dict | None = None, people: dict | None = None,
                 tracker: dict | None = None, max_emissive_share: float = 0.1,
                 warmup_ghost_share: float = 0.5) -> None:
        long_s = absorb_s if long_s is None else long_s
        for name, value in (("work_width", work_width), ("long_s", long_s), ("short_s", short_s),
                            ("person_height_m", person_height_m), ("person_area_m2", person_area_m2),
                            ("min_threshold", min_threshold), ("flow_width", flow_width),
                            ("heal_every_s", heal_every_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise PerceptionError(f"Perception.{name} must be a finite number > 0; got {value!r}")
        if not (isinstance(warmup_s, (int, float)) and warmup_s >= 0):
            raise PerceptionError(f"Perception.warmup_s must be >= 0 s; got {warmup_s!r}")
        if not 0 <= min_person_fraction < 1:
            raise PerceptionError(f"Perception.min_person_fraction must be in [0, 1); got {min_person_fraction!r}")
        self.site = site
        w, h = site.image_size
        ww = min(int(work_width), w)
        wh = max(1, int(round(h * ww / w)))
        self.work_size = (ww, wh)
        self.grid = WorkGrid(site, self.work_size, person_height_m=person_height_m, person_area_m2=person_area_m2)
        self.warmup_frames = max(1, int(math.ceil(warmup_s * site.fps)))
        try:
            self.model = BackgroundModel(self.work_size, site.fps, long_s=float(long_s), short_s=float(short_s),
                                         warmup_frames=self.warmup_frames, min_threshold=float(min_threshold),
                                         **(background or {}))
            self.people = PeopleFinder(self.grid, **(people or {}))
            self.tracker = GroundTracker(site, **(tracker or {}))
        except (TypeError, ValueError) as exc:
            raise PerceptionError(f"Perception: {exc}") from None
        self.optical_flow = OpticalFlow(self.grid, flow_width=int(flow_width))
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px)) if open_px > 1 else None
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px)) if close_px > 1 else None
        self.min_person_fraction = float(min_person_fraction)
        if not 0 < max_emissive_share <= 1:
            raise PerceptionError(f"Perception.max_emissive_share must be in (0, 1]; got {max_emissive_share!r}")
        self.max_emissive_share = float(max_emissive_share)
        if not 0 < warmup_ghost_share <= 1:
            raise PerceptionError(f"Perception.warmup_ghost_share must be in (0, 1]; got {warmup_ghost_share!r}")
        self.warmup_ghost_share = float(warmup_ghost_share)
        #: the pixels foreground in every frame since the warm-up ended (None before the first tested
        #: frame and once empty); ``_since_done``: it was started; ``_since_left``: frames it is kept for
        self._since_ready: np.ndarray | None = None
        self._since_done = False
        self._since_left = int(math.ceil(2.0 * long_s * site.fps))
        self.min_area_work_px = int(min_area_work_px)
        self.heal_every_frames = max(1, int(round(heal_every_s * site.fps)))
        self.frames_seen = 0
        self._frame_memo: dict = {}  #: per-frame answers (Percept.memo), emptied by update
        #: [s] time spent in each stage on the last frame (lazy stages included once they ran)
        self.stage_s: dict[str, float] = dict.fromkeys(STAGES, 0.0)

    @property
    def ready(self) -> bool:
        """True once the background model has seen ``warmup_s`` of footage."""
        return self.frames_seen >= self.warmup_frames

    def _timed(self, stage: str, fn):
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self.stage_s[stage] += time.perf_counter() - t0

    def update(self, frame: Frame) -> Percept:
        """Feed one frame; return its percept. Frames must have the site's image size."""
        img = frame.image
        w, h = self.site.image_size
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape != (h, w, 3):
            got = img.shape if isinstance(img, np.ndarray) else type(img).__name__
            raise PerceptionError(f"frame {frame.index}: image must be a (H, W, 3) = ({h}, {w}, 3) uint8 array for "
                                  f"site {self.site.camera!r} (image_size {list(self.site.image_size)}); got {got}")
        stage = self.stage_s
        for k in stage:
            stage[k] = 0.0
        self._frame_memo = {}
        t0 = time.perf_counter()
        small = img if self.work_size == (w, h) else cv2.resize(img, self.work_size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        self.optical_flow.feed(frame.t, grey)
        t1 = time.perf_counter()
        stage["preprocess"] = t1 - t0
        fg, fg_short = self.model.apply(small)
        self.frames_seen += 1
        ready = self.ready
        if self._open is not None:
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        static = cv2.bitwise_and(fg, cv2.bitwise_not(fg_short))
        if self._open is not None:
            static = cv2.morphologyEx(static, cv2.MORPH_OPEN, self._open)
        self._follow_since_ready(fg)
        if ready and self.frames_seen % self.heal_every_frames == 0:
            self.model.heal_ghosts(static, since_ready=self._since_ready, since_share=self.warmup_ghost_share)
        t2 = time.perf_counter()
        stage["background"] = t2 - t1
        if self._close is not None:
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        if not ready:
            return self._percept(frame, False, small, grey, fg, static, np.zeros(fg.shape, np.int32), Blobs.empty(),
                                 Detections.empty(), Tracks.empty())
        n, labels, label_stats = components_with_stats(fg)
        stats, ids, big = self._kept(label_stats[1:], np.arange(1, n, dtype=np.int32))
        blobs = self._blobs(stats[big], ids[big])
        person = self._not_flames(small, labels, stats, ids, n)
        t3 = time.perf_counter()
        stage["components"] = t3 - t2
        det = appearance(self.people.find(labels, stats[person], ids[person], big[person]), small, fg, self.grid,
                         self.model.global_gain, ycc=self.model.last_ycc)
        t4 = time.perf_counter()
        stage["people"] = t4 - t3
        tracks = self.tracker.update(frame.t, det)
        stage["tracker"] = time.perf_counter() - t4
        return self._percept(frame, True, small, grey, fg, static, labels, blobs, det, tracks, label_stats)

    def _follow_since_ready(self, fg: np.ndarray) -> None:
        """Keep :attr:`_since_ready` the pixels of ``fg`` in every frame since the model's first tested
        frame (one AND a frame while any are left, for at most ``2 * long_s``)."""
        if not self._since_done:
            if self.model.frames_seen > self.model.warmup_frames:  # the first frame tested against the median
                self._since_done = True
                self._since_ready = _read_only(fg.copy()) if cv2.countNonZero(fg) else None
            return
        self._since_left -= 1
        if self._since_ready is not None and self._since_left <= 0:
            self._since_ready = None
        if self._since_ready is not None:  # a new array each frame: the percepts handed out keep theirs
            self._since_ready = _read_only(cv2.bitwise_and(self._since_ready, fg))
            if not cv2.countNonZero(self._since_ready):
                self._since_ready = None

    def _percept(self, frame, ready, small, grey, fg, static, labels, blobs, det, tracks, label_stats=None) -> Percept:
        p = Percept(index=frame.index, t=frame.t, ready=ready, image=frame.image, small=small, grey=grey, fg_mask=fg,
                    static_mask=static, labels=labels, blobs=blobs, detections=det, tracks=tracks, grid=self.grid,
                    lighting_gain=self.model.global_gain, _owner=self, _owner_frame=self.frames_seen,
                    label_stats=np.zeros((1, 5), np.int32) if label_stats is None else label_stats,
                    since_ready=self._since_ready,
                    warmup_ghost_share=self.warmup_ghost_share)
        return p

    def _not_flames(self, small: np.ndarray, labels: np.ndarray, stats: np.ndarray, ids: np.ndarray,
                    n: int) -> np.ndarray:
        """(len(ids),) bool: the components that may be people, i.e. not flames: a component of which
        more than ``max_emissive_share`` of the pixels are in emissive flame colours
        (:func:`detectors.flame.emissive_mask`) is a flame tongue, which the people finder would
        otherwise take for a person of its size."""
        person = np.ones(len(ids), bool)
        if not len(ids):
            return person
        hot = emissive_mask(small)
        if not hot.any():
            return person
        share = np.bincount(labels[hot], minlength=n)[ids] / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
        return share <= self.max_emissive_share

    def _kept(self, stats: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Components of a few pixels or more, and which of them are large enough to be part of a
        person at their foot point on their own (the others may join a body above them)."""
        area_work = stats[:, cv2.CC_STAT_AREA]
        keep = area_work >= 3
        stats, label = stats[keep], label[keep]
        if len(stats) == 0:
            return stats, label, np.zeros(0, bool)
        g = self.grid
        bottom = stats[:, cv2.CC_STAT_TOP] + stats[:, cv2.CC_STAT_HEIGHT] - 1
        centre = stats[:, cv2.CC_STAT_LEFT] + stats[:, cv2.CC_STAT_WIDTH] // 2
        expected = g.expected_area_px[bottom, centre]
        with np.errstate(invalid="ignore"):
            # nan (above the horizon) -> dropped; a blob cut by the bottom edge is kept on its area alone
            cut = bottom >= g.work_size[1] - 1
            big = (stats[:, cv2.CC_STAT_AREA] * (g.sx * g.sy) >= self.min_person_fraction * expected) | cut
        big &= stats[:, cv2.CC_STAT_AREA] >= self.min_area_work_px
        return stats, label, big

    def _blobs(self, stats: np.ndarray, label: np.ndarray) -> Blobs:
        """Components -> :class:`Blobs` in full-resolution pixels."""
        if len(stats) == 0:
            return Blobs.empty()
        g = self.grid
        x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
        bottom = y + h - 1
        expected = g.expected_area_px[bottom, x + w // 2]
        bbox = np.column_stack([x * g.sx, y * g.sy, w * g.sx, h * g.sy])
        foot_px = np.column_stack([(x + w / 2.0) * g.sx, (y + h) * g.sy])
        foot_m = self.site.image_to_ground(foot_px)
        return Blobs(bbox=bbox, area_px=stats[:, cv2.CC_STAT_AREA] * (g.sx * g.sy), foot_px=foot_px, foot_m=foot_m,
                     expected_area_px=expected, label=label.astype(np.int32))
