"""Hand-built frames for the object, fall and fire detectors: a tiled floor seen by the
conformance suite's camera (:func:`detectors.checks.synthetic_site`), people as upright or lying
boxes, objects as small boxes, each placed on the ground with the site's projection."""

from __future__ import annotations

import numpy as np

from detectors.site import SiteConfig
from detectors.source import Frame


def floor(site: SiteConfig) -> np.ndarray:
    """(H, W, 3) float32 the tiled floor (grey 90 above the horizon)."""
    w, h = site.image_size
    v, u = np.mgrid[0:h, 0:w]
    ground = site.image_to_ground(np.c_[u.ravel() + 0.5, v.ravel() + 0.5]).reshape(h, w, 2)
    tiles = (np.floor(ground[..., 0]) + np.floor(ground[..., 1])) % 2
    grey = np.where(np.isfinite(ground[..., 0]), 150 + 25 * np.nan_to_num(tiles), 90).astype(np.float32)
    return np.dstack([grey * 0.95, grey, grey * 1.05])


def project(site: SiteConfig, xyz) -> np.ndarray:
    """(2,) [px] image point of a world point (x, y, z) [m]."""
    p = site.projection @ np.r_[np.asarray(xyz, dtype=np.float64), 1.0]
    return p[:2] / p[2]


def draw_block(img: np.ndarray, site: SiteConfig, xy, *, height_m: float, width_m: float, colour) -> None:
    """An upright block standing at ground point ``xy`` [m]: a person (1.7 m) or a bag (0.5 m)."""
    fu, fv = project(site, (*xy, 0.0))
    hu, hv = project(site, (*xy, height_m))
    half = max(1.0, 0.5 * width_m / height_m * (fv - hv))
    img[int(round(hv)):int(round(fv)), int(round(fu - half)):int(round(fu + half))] = colour


def draw_lying(img: np.ndarray, site: SiteConfig, xy, *, length_m: float = 1.7, thick_m: float = 0.35,
               colour=(40, 40, 200)) -> None:
    """A person lying along +x on the ground at ``xy`` [m] (centre)."""
    a = project(site, (xy[0] - length_m / 2, xy[1], 0.0))
    b = project(site, (xy[0] + length_m / 2, xy[1], thick_m))
    x0, x1 = sorted((a[0], b[0]))
    y0, y1 = sorted((a[1], b[1]))
    img[int(round(y0)):int(round(y1)) + 1, int(round(x0)):int(round(x1)) + 1] = colour


def frames(site: SiteConfig, draw, seconds: float, *, seed: int = 0) -> list[Frame]:
    """Frames of ``seconds`` at the site's rate: the floor, then ``draw(img, t)``, then noise (sigma 2)."""
    base = floor(site)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(round(seconds * site.fps))):
        t = i / site.fps
        img = base.copy()
        draw(img, t)
        img += rng.normal(0, 2.0, img.shape).astype(np.float32)
        out.append(Frame(index=i, t=t, image=np.clip(img, 0, 255).astype(np.uint8)))
    return out


def run(detector, site: SiteConfig, frame_list, perception=None):
    """(t, output) of ``detector`` per frame, on a fresh perception."""
    from detectors.perception import Perception

    perception = perception or Perception(site)
    return [(f.t, detector.score(perception.update(f))) for f in frame_list]
