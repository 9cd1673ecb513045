"""Shared per-frame perception: computed once per frame, read by every detector.

One :class:`Perception` per camera turns each BGR frame into a :class:`Percept`:

1. grey and downscaled to a working resolution (``work_width`` pixels wide, 320 by
   default: MOG2 costs about a quarter of its 640x360 time at 320x180 and a person
   10 m from a station camera is still a few dozen working pixels);
2. ``cv2.BackgroundSubtractorMOG2`` (no shadow class) gives a foreground mask;
3. a morphological open (speckle noise) then close (holes inside a body);
4. connected components with stats; components smaller than a fraction of one person's
   expected silhouette *at the component's foot point* are dropped, so the area cut
   follows perspective (a far person is a few pixels, a near one hundreds).

Background learning rate: the trade-off
---------------------------------------
MOG2 absorbs a still object into the background once the new Gaussian's weight passes
``1 - backgroundRatio``; with a fixed learning rate ``alpha`` per frame this takes
``ln(1 / backgroundRatio) / alpha`` frames (measured: 31 s for a requested 30 s at 10
frames/s). The rate is therefore set from ``absorb_s``, the time a motionless person
stays foreground, 60 s by default: a person lying on the tracks stays visible for a
minute, a passenger waiting still for tens of seconds does not vanish, and a queue
that barely moves keeps counting for the density estimate (at 30 s the estimate of a
simulated queue at the ticket gates fell by a fifth). The price: whatever changes the
background stays foreground as long, a global lighting change (a train's headlights, a
cloud over a skylight), an object put down, and the *ghost* left where a person seen
during the warm-up stood before walking away. A deployment with fast lighting changes
wants a shorter ``absorb_s`` or a lighting-invariant front end. During the warm-up
(``warmup_s``) the model learns with OpenCV's automatic rate ``1 / (2 n)``, so the first
frames become the background quickly; detectors score 0 until :attr:`Perception.ready`.

Geometry
--------
:class:`WorkGrid` holds per-working-pixel lookup maps (ground point of a foot standing
at that pixel, expected person height and silhouette area there), computed once from
the :class:`~detectors.site.SiteConfig`, so the per-frame work is array indexing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.site import SiteConfig, Zone
from detectors.source import Frame

#: [m] height of the average adult used for expected sizes (h in the docs below)
PERSON_HEIGHT_M = 1.7
#: [m²] silhouette area of an average adult as an oblique station camera sees it
#: (frontal projected area about 0.55 m², side about 0.35 m²; views averaged)
PERSON_AREA_M2 = 0.45


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


class WorkGrid:
    """Per-pixel geometry maps at the working resolution, computed once per site.

    A *foot pixel* ``(v, u)`` stands for the ground point under the bottom edge of working
    pixel ``(v, u)``: full-resolution image point ``((u + 0.5) * sx, (v + 1) * sy)``.
    Maps are (rows, cols) arrays indexed ``[v, u]``; pixels above the horizon hold nan.
    """

    def __init__(self, site: SiteConfig, work_size: tuple[int, int], *, person_height_m: float = PERSON_HEIGHT_M,
                 person_area_m2: float = PERSON_AREA_M2) -> None:
        self.site = site
        self.work_size = (int(work_size[0]), int(work_size[1]))  #: [px] (width, height) of the working image
        ww, wh = self.work_size
        self.sx = site.image_size[0] / ww  #: full-resolution pixels per working pixel, horizontally
        self.sy = site.image_size[1] / wh  #: same, vertically
        self.person_height_m = float(person_height_m)
        self.person_area_m2 = float(person_area_m2)
        v, u = np.mgrid[0:wh, 0:ww]
        foot_full = np.c_[(u.ravel() + 0.5) * self.sx, (v.ravel() + 1.0) * self.sy]
        ground = site.image_to_ground(foot_full)
        #: (wh, ww, 2) [m] ground point of a foot at each working pixel
        self.ground_m = ground.reshape(wh, ww, 2)
        ok = np.all(np.isfinite(ground), axis=1)
        height_full = np.full(len(ground), np.nan)
        if ok.any():
            height_full[ok] = site.person_height_px(ground[ok], self.person_height_m)
        height_full = height_full.reshape(wh, ww)
        #: (wh, ww) [working rows] expected image height of a person standing at each pixel
        self.person_rows = height_full / self.sy
        #: (wh, ww) [full-res px²] expected silhouette area of one person standing there
        self.expected_area_px = self.expected_area(height_full)
        self._zone_masks: dict[str, np.ndarray] = {}
        self._foot_rows: dict[float, np.ndarray] = {}

    def expected_area(self, person_height_px: np.ndarray) -> np.ndarray:
        """[px²] silhouette area of one person whose image height is ``person_height_px`` [px]."""
        px_per_m = np.asarray(person_height_px, dtype=np.float64) / self.person_height_m
        return self.person_area_m2 * px_per_m * px_per_m

    def zone_mask(self, zone: Zone) -> np.ndarray:
        """(wh, ww) bool: a foot at this working pixel stands inside ``zone`` (cached)."""
        mask = self._zone_masks.get(zone.name)
        if mask is None:
            g = self.ground_m.reshape(-1, 2)
            ok = np.all(np.isfinite(g), axis=1)
            flat = np.zeros(len(g), bool)
            flat[ok] = zone.contains(g[ok])
            mask = flat.reshape(self.ground_m.shape[:2])
            self._zone_masks[zone.name] = mask
        return mask

    def bbox_of(self, mask: np.ndarray) -> tuple[float, float, float, float] | None:
        """Full-resolution (x, y, w, h) [px] box of the True pixels of a working-resolution mask."""
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows) == 0:
            return None
        cols = np.flatnonzero(mask.any(axis=0))
        return (float(cols[0] * self.sx), float(rows[0] * self.sy),
                float((cols[-1] + 1 - cols[0]) * self.sx), float((rows[-1] + 1 - rows[0]) * self.sy))

    def foot_row_of_part(self, fraction: float) -> np.ndarray:
        """(wh, ww) int: the foot row of a person whose body at ``fraction`` of its height above
        the foot (1 = top of the head, 0.5 = mid-body) covers working pixel ``(v, u)``.

        -1 where no such person stands inside the image (foot below the bottom edge or
        above the horizon). Solves ``y_f - fraction * h(y_f) = v + 0.5`` per column, ``y_f``
        the foot's bottom edge, by interpolation; cached per fraction.
        """
        key = round(float(fraction), 6)
        rows = self._foot_rows.get(key)
        if rows is not None:
            return rows
        wh, ww = self.person_rows.shape
        y_foot = np.arange(1, wh + 1, dtype=np.float64)  # bottom edge of each row
        rows = np.full((wh, ww), -1, dtype=np.int32)
        query = np.arange(wh, dtype=np.float64) + 0.5
        for u in range(ww):
            h = self.person_rows[:, u]
            ok = np.isfinite(h)
            if ok.sum() < 2:
                continue
            part = y_foot[ok] - key * h[ok]
            # a person is shorter than the camera is high, so the part's row grows with the
            # foot's row; enforce it so that interpolation is well defined
            part = np.maximum.accumulate(part)
            inside = (query >= part[0]) & (query <= part[-1])
            yf = np.interp(query[inside], part, y_foot[ok])
            rows[inside, u] = np.clip(np.ceil(yf).astype(np.int32) - 1, 0, wh - 1)
        self._foot_rows[key] = rows
        return rows


@dataclass(frozen=True, slots=True)
class Percept:
    """What every detector reads for one frame."""

    index: int  #: frame number in the stream
    t: float  #: [s] frame time
    ready: bool  #: False during the background model's warm-up; detectors then score 0
    fg_mask: np.ndarray  #: (wh, ww) uint8 {0, 255} foreground at the working resolution
    labels: np.ndarray  #: (wh, ww) int32 component labels (0 = background), kept blobs and dropped ones
    blobs: Blobs  #: kept components (large enough to be part of a person)
    grid: WorkGrid = field(repr=False)  #: geometry maps shared by the detectors
    grey: np.ndarray = field(repr=False)  #: (wh, ww) uint8 the grey working image
    #: () -> (wh, ww) uint8 the background model's image after this frame, computed on first
    #: call (about 0.1 ms); valid until the next frame is fed
    background: Callable[[], np.ndarray] = field(repr=False)


class Perception:
    """Grey, downscale, MOG2, morphology, components: once per frame for all detectors.

    Parameters (keyword-only after ``site``):

    - ``work_width`` [px]: width of the working image (height keeps the aspect ratio);
      no upscaling when the camera is narrower.
    - ``absorb_s`` [s]: how long a motionless object stays foreground (sets MOG2's
      learning rate, see the module docstring).
    - ``warmup_s`` [s]: frames before :attr:`ready`; the model learns fast meanwhile.
    - ``var_threshold``: MOG2 ``varThreshold`` (squared Mahalanobis distance, 16 = 4 σ).
    - ``open_px``, ``close_px`` [working px]: structuring element sizes (0 disables).
    - ``min_person_fraction``: a component is kept when its area is at least this fraction
      of one person's expected area at its foot point (0.15: a person mostly hidden still
      counts, sensor speckle does not).
    - ``min_area_work_px`` [working px²]: absolute floor for the same cut (near the horizon
      the expected area tends to 0).
    """

    def __init__(self, site: SiteConfig, *, work_width: int = 320, absorb_s: float = 60.0, warmup_s: float = 1.5,
                 var_threshold: float = 16.0, open_px: int = 3, close_px: int = 5,
                 min_person_fraction: float = 0.15, min_area_work_px: int = 6,
                 person_height_m: float = PERSON_HEIGHT_M, person_area_m2: float = PERSON_AREA_M2) -> None:
        for name, value in (("work_width", work_width), ("absorb_s", absorb_s), ("person_height_m", person_height_m),
                            ("person_area_m2", person_area_m2), ("var_threshold", var_threshold)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise PerceptionError(f"Perception.{name} must be a finite number > 0; got {value!r}")
        if not warmup_s >= 0:
            raise PerceptionError(f"Perception.warmup_s must be >= 0 s; got {warmup_s!r}")
        if not 0 <= min_person_fraction < 1:
            raise PerceptionError(f"Perception.min_person_fraction must be in [0, 1); got {min_person_fraction!r}")
        self.site = site
        w, h = site.image_size
        ww = min(int(work_width), w)
        wh = max(1, int(round(h * ww / w)))
        self.work_size = (ww, wh)
        self.grid = WorkGrid(site, self.work_size, person_height_m=person_height_m, person_area_m2=person_area_m2)
        self.absorb_s = float(absorb_s)
        self.warmup_frames = int(math.ceil(warmup_s * site.fps))
        bg_ratio = 0.9  # MOG2's default backgroundRatio, set explicitly because the rate depends on it
        #: [1/frame] MOG2 learning rate after the warm-up
        self.learning_rate = math.log(1.0 / bg_ratio) / (self.absorb_s * site.fps)
        self._mog = cv2.createBackgroundSubtractorMOG2(history=max(1, int(round(1.0 / self.learning_rate))),
                                                      varThreshold=float(var_threshold), detectShadows=False)
        self._mog.setBackgroundRatio(bg_ratio)
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px)) if open_px > 1 else None
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close_px, close_px)) if close_px > 1 else None
        self.min_person_fraction = float(min_person_fraction)
        self.min_area_work_px = int(min_area_work_px)
        self.frames_seen = 0
        self._background_at = -1
        self._background_image: np.ndarray | None = None

    def background_image(self) -> np.ndarray:
        """The background model's image (working resolution, grey) after the last frame fed."""
        if self._background_at != self.frames_seen:
            self._background_image = self._mog.getBackgroundImage()
            self._background_at = self.frames_seen
        return self._background_image

    @property
    def ready(self) -> bool:
        """True once the background model has seen ``warmup_s`` of footage."""
        return self.frames_seen >= self.warmup_frames

    def update(self, frame: Frame) -> Percept:
        """Feed one frame; return its percept. Frames must have the site's image size."""
        img = frame.image
        w, h = self.site.image_size
        if img.ndim != 3 or img.shape[0] != h or img.shape[1] != w or img.shape[2] != 3:
            raise PerceptionError(f"frame {frame.index}: image must be (H, W, 3) = ({h}, {w}, 3) for site "
                                  f"{self.site.camera!r} (image_size {list(self.site.image_size)}); got {img.shape}")
        if self.work_size != (w, h):
            # downscale the colour image first: INTER_AREA then one cvtColor on a quarter of
            # the pixels costs the same as the other order and averages sensor noise
            img = cv2.resize(img, self.work_size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        ready_before = self.ready
        rate = self.learning_rate if ready_before else -1.0
        fg = self._mog.apply(grey, learningRate=rate)
        self.frames_seen += 1
        if self._open is not None:
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        if self._close is not None:
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        if not ready_before:
            empty = np.zeros(fg.shape, np.int32)
            return Percept(index=frame.index, t=frame.t, ready=False, fg_mask=fg, labels=empty,
                           blobs=Blobs.empty(), grid=self.grid, grey=grey, background=self.background_image)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8, ltype=cv2.CV_32S)
        blobs = self._blobs(stats[1:], np.arange(1, n, dtype=np.int32))
        return Percept(index=frame.index, t=frame.t, ready=True, fg_mask=fg, labels=labels, blobs=blobs,
                       grid=self.grid, grey=grey, background=self.background_image)

    def _blobs(self, stats: np.ndarray, label: np.ndarray) -> Blobs:
        """Components -> :class:`Blobs` in full-resolution pixels, small ones dropped."""
        area_work = stats[:, cv2.CC_STAT_AREA]
        keep = area_work >= self.min_area_work_px
        stats, label, area_work = stats[keep], label[keep], area_work[keep]
        if len(stats) == 0:
            return Blobs.empty()
        g = self.grid
        x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
        w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
        bottom = y + h - 1
        centre = x + w // 2
        # the geometry maps give the expected area at the foot's working pixel; the exact
        # ground point is recomputed from the full-resolution foot (a handful of rows)
        expected = g.expected_area_px[bottom, centre]
        area_px = area_work * (g.sx * g.sy)
        with np.errstate(invalid="ignore"):
            keep = area_px >= self.min_person_fraction * expected  # nan (above the horizon) -> dropped
        if not keep.all():
            x, y, w, h, label, area_px, expected = x[keep], y[keep], w[keep], h[keep], label[keep], area_px[keep], expected[keep]
        bbox = np.c_[x * g.sx, y * g.sy, w * g.sx, h * g.sy]
        foot_px = np.c_[(x + w / 2.0) * g.sx, (y + h) * g.sy]
        foot_m = self.site.image_to_ground(foot_px)
        return Blobs(bbox=bbox, area_px=area_px.astype(np.float64), foot_px=foot_px, foot_m=foot_m,
                     expected_area_px=expected, label=label)
