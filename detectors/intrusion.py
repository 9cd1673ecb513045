"""Intrusion: a person whose feet stand inside a forbidden zone (the track bed, a service area).

Only the ground-contact points matter: a passenger standing on the platform by the edge
has a body that covers the track bed in the image, but feet on the platform. The
detector therefore reads each foreground blob column by column (working resolution):

- a column's *bottom* (its lowest foreground pixel) is a **ground contact** when no
  column of the same blob within ±``window_fraction`` of a person's height reaches
  lower by more than ``contact_tolerance`` of a person's height. Legs are contacts; an
  arm or a bag held out over the edge is not (the body beside it reaches lower);
  a person lying down is a row of contacts. A column with foreground of another blob
  within ``gap_fraction`` of a person's height below it is no contact either: the body
  goes on below, split where clothes match the background (legs, a waist). Blobs of
  several people merged together keep one contact per person, so a passenger on the
  tracks who touches, in the image, someone waiting on the platform is still seen. A
  contact stands where the lowest point within the window stands (the tolerance picks
  which columns are feet, not how far away they are).
- a contact whose body (the blob from the lowest to the highest point within the
  window) is shorter than ``upright_fraction`` of the person height expected at its
  bottom is a body whose legs did not come out (trousers the colour of the floor,
  legs hidden behind the platform lip): its foot is placed where a person whose head is
  at the column's top would stand. Not when the blob's contacts span that fraction of a
  body length side by side: that is a person lying down, whose bottoms are the contacts.
- a column taller than ``tall_fraction`` times the person height expected at its
  bottom holds somebody standing behind the one in front (feet hidden): that person's
  foot is placed, in the same way, from the column's top.

Evidence per blob and zone: ``min(1, A / (area_fraction * E))`` where ``A`` is the
foreground area [px²] attributed to feet inside the zone (the columns within the
window of an in-zone contact, plus the part of tall columns above the front person) and
``E`` the expected area of one person there (:class:`~detectors.perception.WorkGrid`).
With ``area_fraction = 0.5`` a person half hidden by a pillar still gives 1. Evidence
smaller than ``min_size_fraction`` of a person's height both upright and across gives
0. The frame's evidence is the maximum over blobs and forbidden zones, its box the best
blob's in-zone columns.

The score is that evidence averaged over time, graded where the evidence is: a moving
average with time constant ``evidence_s`` (``a = 1 - exp(-dt / evidence_s)``, frame-rate
independent) rises from 0 to 0.5 in ``evidence_s * ln 2`` once feet are clearly inside,
while a glitch of a frame or two stays small. A threshold therefore trades detection
latency against false alarms (an offline sweep shows it), and the default policy needs no
minimum duration. The box stays the last evidence's while the average decays.

Ghosts (background uncovered when a person seen during the warm-up walks away, which
stays foreground for ``absorb_s``) are told from present objects by where the edges are:
along a present object's outline in the current frame, along a ghost's in the background
model (``_is_ghost``, run only on blobs that would score).

Known limits: placing a foot from a head assumes an adult standing upright. A person
on the tracks whose head and shoulders are hidden is placed nearer the camera than they
are (a miss for a camera on the platform side); a passenger crouching at the edge is
placed nearer too, which is harmless from the platform side but would put them on the
tracks for a camera looking across from the far side. A person lying along the line of
sight is neither tall nor wide and is re-footed the same way.
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.base import NOTHING, DetectorOutput
from detectors.events import EventType
from detectors.perception import Percept, WorkGrid
from detectors.site import SiteConfig, ZoneKind


class IntrusionDetector:
    """Feet inside a forbidden zone. See the module docstring for the rule and its constants."""

    event_type = EventType.INTRUSION
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the evidence's time constant already filters glitches
    default_cooldown_s = 10.0  #: [s]

    def __init__(self, site: SiteConfig, *, area_fraction: float = 0.5, contact_tolerance: float = 0.1,
                 window_fraction: float = 0.2, tall_fraction: float = 1.5, min_size_fraction: float = 0.4,
                 gap_fraction: float = 0.1, upright_fraction: float = 0.7, evidence_s: float = 0.5) -> None:
        self.zones = site.zones_of(ZoneKind.FORBIDDEN)
        if not self.zones:
            raise ValueError(f"IntrusionDetector needs at least one forbidden zone; site {site.camera!r} has zones "
                             f"{[z.name for z in site.zones]}")
        for name, value in (("area_fraction", area_fraction), ("window_fraction", window_fraction),
                            ("tall_fraction", tall_fraction), ("min_size_fraction", min_size_fraction),
                            ("gap_fraction", gap_fraction), ("upright_fraction", upright_fraction)):
            if not value > 0:
                raise ValueError(f"IntrusionDetector.{name} must be > 0; got {value!r}")
        if not (evidence_s >= 0 and np.isfinite(evidence_s)):
            raise ValueError(f"IntrusionDetector.evidence_s must be a finite number of seconds >= 0; got {evidence_s!r}")
        if not contact_tolerance >= 0:
            raise ValueError(f"IntrusionDetector.contact_tolerance must be >= 0; got {contact_tolerance!r}")
        self.site = site
        self.area_fraction = float(area_fraction)
        self.contact_tolerance = float(contact_tolerance)
        self.window_fraction = float(window_fraction)
        self.tall_fraction = float(tall_fraction)
        self.min_size_fraction = float(min_size_fraction)
        self.gap_fraction = float(gap_fraction)
        self.upright_fraction = float(upright_fraction)
        self.evidence_s = float(evidence_s)
        self._evidence = 0.0
        self._evidence_t: float | None = None
        self._box: tuple | None = None
        self._zone: str | None = None
        self._grid: WorkGrid | None = None
        self._zone_maps: list[tuple[str, np.ndarray, np.ndarray]] = []

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.FORBIDDEN))

    def _prepare(self, grid: WorkGrid) -> None:
        """Per-zone maps at the working resolution: feet inside, and an integral image of the
        pixels whose blob could hold such feet (a cheap test of which blobs to read)."""
        self._grid = grid
        self._foot_from_top = grid.foot_row_of_part(1.0)
        self._zone_maps = []
        wh, ww = grid.person_rows.shape
        cols = np.broadcast_to(np.arange(ww), (wh, ww))
        for zone in self.zones:
            inside = grid.zone_mask(zone)
            top_inside = np.zeros_like(inside)
            ok = self._foot_from_top >= 0
            top_inside[ok] = inside[self._foot_from_top[ok], cols[ok]]
            relevant = (inside | top_inside).astype(np.int32)
            integral = np.zeros((wh + 1, ww + 1), np.int64)
            integral[1:, 1:] = relevant.cumsum(0).cumsum(1)
            self._zone_maps.append((zone.name, inside, integral))

    def score(self, percept: Percept) -> DetectorOutput:
        """The frame's evidence (:meth:`evidence`) averaged over time (see the module docstring)."""
        raw = self.evidence(percept)
        t = float(percept.t)
        dt = 0.0 if self._evidence_t is None else max(0.0, t - self._evidence_t)  # the warm-up sets the clock
        self._evidence_t = t
        if raw.score > 0:
            self._box, self._zone = raw.bbox, raw.zone
        if self.evidence_s == 0:
            self._evidence = raw.score
        else:
            self._evidence += (1.0 - np.exp(-dt / self.evidence_s)) * (raw.score - self._evidence)
        if self._evidence < 1e-6:
            self._evidence = 0.0
            return NOTHING
        return DetectorOutput(float(self._evidence), self._box, self._zone)

    def evidence(self, percept: Percept) -> DetectorOutput:
        """This frame's evidence alone: the best blob's in-zone area against a person's."""
        if not percept.ready or len(percept.blobs) == 0:
            return NOTHING
        grid = percept.grid
        if grid is not self._grid:
            self._prepare(grid)
        blobs = percept.blobs
        x = np.rint(blobs.bbox[:, 0] / grid.sx).astype(np.int64)
        y = np.rint(blobs.bbox[:, 1] / grid.sy).astype(np.int64)
        x1 = x + np.rint(blobs.bbox[:, 2] / grid.sx).astype(np.int64)
        y1 = y + np.rint(blobs.bbox[:, 3] / grid.sy).astype(np.int64)
        best = NOTHING
        for name, inside, integral in self._zone_maps:
            hits = integral[y1, x1] - integral[y, x1] - integral[y1, x] + integral[y, x]
            for i in np.flatnonzero(hits > 0):
                s, box = self._blob_score(percept, int(blobs.label[i]), int(x[i]), int(y[i]), int(x1[i]), int(y1[i]),
                                          inside)
                if s > best.score:
                    best = DetectorOutput(s, box, name)
        return best

    def _blob_score(self, percept: Percept, label: int, x: int, y: int, x1: int, y1: int,
                    inside: np.ndarray) -> tuple[float, tuple | None]:
        """Score and full-resolution box of one blob's feet inside one zone (working-pixel box x..x1, y..y1)."""
        grid, fg = percept.grid, percept.fg_mask
        crop = percept.labels[y:y1, x:x1] == label
        h = y1 - y
        top = crop.argmax(axis=0)
        bottom = h - 1 - crop[::-1].argmax(axis=0)
        count = crop.sum(axis=0)
        u = np.arange(x, x1)
        vb, vt = y + bottom, y + top
        ft = self._foot_from_top[vt, u]
        if not (inside[vb.min():vb.max() + 1, x:x1].any() or inside[ft[ft >= 0], u[ft >= 0]].any()):
            return 0.0, None  # no bottom near the zone and no head over it: the common case, cheaply
        person = grid.person_rows[vb, u]  # [working rows] expected height at each column's bottom
        finite = np.isfinite(person)
        if not finite.any():
            return 0.0, None
        median_person = float(np.median(person[finite]))
        k = max(1, int(round(self.window_fraction * median_person)))
        lowest_near = _window_max(vb, k)
        # foreground just below a column's bottom (another blob) means the body goes on
        # below it, split where its colour matches the background: not a ground contact
        gap = max(1, int(round(self.gap_fraction * median_person)))
        below = vb[:, None] + np.arange(1, gap + 1)
        wh = fg.shape[0]
        continues = (fg[np.minimum(below, wh - 1), u[:, None]] > 0) & (below < wh)
        # the body around a foot column spans from the lowest to the highest point near it
        # (a foot column's own top is a shoulder or a hip: the head is narrower than the stride)
        body_near = lowest_near + _window_max(-vt, k) + 1  # lowest - highest + 1
        with np.errstate(invalid="ignore"):
            contact = finite & (vb >= lowest_near - self.contact_tolerance * person) & ~continues.any(axis=1)
            tall = finite & (bottom - top + 1 > self.tall_fraction * person)
            short = finite & (body_near < self.upright_fraction * person)
        # a short body over a contact is one whose legs did not come out (clothes the colour
        # of the floor, or hidden): its foot is where a person with that head stands, unless
        # the contacts span a body length side by side (a person lying down)
        lying = np.count_nonzero(contact) >= self.upright_fraction * median_person
        foot = lowest_near if lying else np.where(short, ft, lowest_near)
        contact_in = contact & (foot >= 0)
        contact_in[contact_in] = inside[foot[contact_in], u[contact_in]]
        attributed = _window_max(contact_in.astype(np.int8), k) > 0
        behind = tall & (ft >= 0) & ~attributed
        behind[behind] = inside[ft[behind], u[behind]]
        if not (attributed.any() or behind.any()):
            return 0.0, None
        feet_v = np.r_[foot[contact_in], ft[behind]]
        feet_u = np.r_[u[contact_in], u[behind]]
        # the size of what stands there, read on the in-zone columns themselves
        tops = np.r_[vt[contact_in], vt[behind]]
        size = max(int(feet_v.max()) + 1 - int(tops.min()), int(feet_u.max()) + 1 - int(feet_u.min()))
        if not size >= self.min_size_fraction * float(np.median(grid.person_rows[feet_v, feet_u])):
            return 0.0, None  # too small both ways to be a body: a head, a bag
        sel = attributed | behind
        us = u[sel]
        bottom_rows = np.r_[vb[attributed], feet_v]
        top_row = int(vt[sel].min())
        area_work = float(count[attributed].sum()) + float(np.clip(count[behind] - person[behind], 0, None).sum())
        expected = float(np.median(grid.expected_area_px[feet_v, feet_u]))
        if not expected > 0:
            return 0.0, None
        score = min(1.0, area_work * grid.sx * grid.sy / (self.area_fraction * expected))
        if score > 0 and _is_ghost(percept, crop & sel, x, y):  # the in-zone part only
            return 0.0, None
        box = (float(us.min() * grid.sx), float(top_row * grid.sy),
               float((us.max() + 1 - us.min()) * grid.sx), float((bottom_rows.max() + 1 - top_row) * grid.sy))
        return score, box


def _is_ghost(percept: Percept, blob: np.ndarray, x: int, y: int) -> bool:
    """Whether a blob is a *ghost*: background uncovered by something that left (a person
    learned during the warm-up who walked away), not an object present now.

    An object present now has its edges in the current frame along the blob's outline;
    a ghost has them in the background model instead. Compares the mean Sobel gradient
    magnitude of both images on a band across the outline.
    """
    h, w = blob.shape
    wh, ww = percept.grey.shape
    y0, x0, y1, x1 = max(0, y - 2), max(0, x - 2), min(wh, y + h + 2), min(ww, x + w + 2)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mask[y - y0:y - y0 + h, x - x0:x - x0 + w] = blob
    band = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, _CROSS) > 0
    if not band.any():
        return False
    now = _gradient(percept.grey[y0:y1, x0:x1])[band].mean()
    before = _gradient(percept.background()[y0:y1, x0:x1])[band].mean()
    return bool(now < before)


_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


def _gradient(grey: np.ndarray) -> np.ndarray:
    """|Sobel gradient| of a grey image, float32."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def _window_max(values: np.ndarray, k: int) -> np.ndarray:
    """Maximum over a centred window of ``2 k + 1`` entries (edges padded by repetition), as int64.

    ``values`` are working-image rows or flags (|v| < 32768); a one-row ``cv2.dilate``
    costs a few microseconds where numpy's sliding windows cost a hundred.
    """
    row = np.ascontiguousarray(values, dtype=np.int16).reshape(1, -1)
    out = cv2.dilate(row, np.ones((1, 2 * k + 1), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return out.reshape(-1).astype(np.int64)
