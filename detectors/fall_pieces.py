"""Geometry the falls detector (:mod:`detectors.fall`) asks of a body and of the person who fell.

- :func:`body_length_m`: how long a thing lying on the floor is, from its image box;
- :func:`head_feet`: where a person whose head is at the top of a box stands (their legs may be cleared from the
  foreground with the shadows, their box ending at the knees);
- :func:`changed_pieces`: where a person fell, the body may not be in the foreground (see below).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detectors.perception import Percept
from detectors.site import SiteConfig

#: [m] a body's thickness on the floor: the top edge of its box is read at this height
BODY_THICK_M = 0.3


def body_length_m(site: SiteConfig, box: np.ndarray, on_floor: np.ndarray) -> np.ndarray:
    """(N,) [m] how long the things in image boxes ``box`` (N, 4) [px], lying on the floor at ``on_floor``
    (N, 2) [m] (under the box's bottom edge), are: the diagonal of the floor from the box's bottom
    corners (across the view) and from its bottom to its top edge taken ``BODY_THICK_M`` above the floor
    (along the view)."""
    x, y, w, h = box.T
    left = site.image_to_ground(np.c_[x, y + h])
    right = site.image_to_ground(np.c_[x + w, y + h])
    far = site.image_to_ground_at_height(np.c_[x + w / 2, y], BODY_THICK_M)
    across = np.hypot(*(right - left).T)
    along = np.hypot(*(far - on_floor).T)
    return np.nan_to_num(np.hypot(across, along), nan=0.0)


def head_feet(site: SiteConfig, box: np.ndarray, foot: np.ndarray) -> np.ndarray:
    """(N, 2) [m] where an adult whose head is at the top of each image box ``box`` (N, 4) [px] would stand:
    ``foot`` (N, 2) [m] (under the box's bottom edge) where the box is as high as an adult there, further down
    the image where it is shorter (a few fixed-point steps of the adult height at the foot point)."""
    out = np.array(foot, dtype=np.float64, copy=True).reshape(-1, 2)
    if not len(out):
        return out
    x, y, w, h = np.asarray(box, np.float64).reshape(-1, 4).T
    yf = y + h
    for _ in range(3):
        with np.errstate(invalid="ignore"):
            adult = site.person_height_px(site.image_to_ground(np.c_[x + w / 2, yf]))
            yf = np.where(np.isfinite(adult), np.maximum(y + h, y + adult), yf)
    xy = site.image_to_ground(np.c_[x + w / 2, yf])
    ok = np.all(np.isfinite(xy), axis=1)
    out[ok] = xy[ok]
    return out


# Where a person fell, the body may not be in the foreground: pieces from the change against the background.
# Clothes about as light as the floor (a white shirt, pale trousers on a light grey platform) differ from the
# long-term background by 25 to 40 grey levels, less than the background model asks of the foreground: the body
# shows there as a few pixels of its darker parts, too small for the people finder, beside the legs of anyone
# standing at it.


def changed_pieces(percept: Percept, site: SiteConfig, seeds_m: np.ndarray, upright_box: np.ndarray, *,
                   diff: float, reach: float, min_width: float) -> np.ndarray:
    """(K, 4) [px] boxes of the pieces of the change against the long-term background around ground points
    ``seeds_m`` (N, 2) [m].

    Around each seed, in a window ``reach`` [fraction of the adult height there] to each side, the adult height
    above and half of it below the seed's image point, the working pixels changed by more than ``diff`` [grey
    levels] from the long-term background or in the foreground, less the foreground pixels inside the boxes
    ``upright_box`` (M, 4) [px] of the people upright now (their silhouettes; the changed floor round their feet,
    a body's part they stand at, stays), are joined into 8-connected pieces; each piece at least ``min_width``
    [fraction of the adult height] wide gives its box (in full-resolution pixels).
    """
    seeds = np.asarray(seeds_m, np.float64).reshape(-1, 2)
    seeds = seeds[np.all(np.isfinite(seeds), axis=1)]
    if not len(seeds):
        return np.zeros((0, 4))
    g = percept.grid
    uv = site.ground_to_image(seeds)
    adult = site.person_height_px(seeds)
    ok = np.all(np.isfinite(uv), axis=1) & np.isfinite(adult) & (adult > 0)
    uv, adult = uv[ok], adult[ok]
    wh, ww = percept.fg_mask.shape
    # the change and the foreground once for the frame, the silhouettes of the people upright now left out
    fg = percept.fg_mask > 0
    mask = percept.changed(diff) | fg
    theirs = np.zeros_like(fg)
    for x, y, w, h in np.asarray(upright_box, np.float64).reshape(-1, 4):
        theirs[max(0, int(y / g.sy)):max(0, int(math.ceil((y + h) / g.sy))),
               max(0, int(x / g.sx)):max(0, int(math.ceil((x + w) / g.sx)))] = True
    mask &= ~(fg & theirs)
    mask = mask.astype(np.uint8)
    out, looked = {}, set()
    for (u, v), a in zip(uv, adult):
        c0, c1 = max(0, int((u - reach * a) / g.sx)), min(ww, int(math.ceil((u + reach * a) / g.sx)))
        r0, r1 = max(0, int((v - a) / g.sy)), min(wh, int(math.ceil((v + 0.5 * a) / g.sy)))
        if c1 - c0 < 2 or r1 - r0 < 2 or (c0, c1, r0, r1) in looked:
            continue  # neighbouring seeds (a person's tracks, a body and who fell there) see the same pieces
        looked.add((c0, c1, r0, r1))
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask[r0:r1, c0:c1], connectivity=8)
        wide = stats[1:, cv2.CC_STAT_WIDTH] * g.sx >= min_width * a
        for px, py, pw, ph, _ in stats[1:][wide].tolist():
            box = ((c0 + px) * g.sx, (r0 + py) * g.sy, pw * g.sx, ph * g.sy)
            out[box] = box
    return np.array(sorted(out), dtype=np.float64).reshape(-1, 4)
