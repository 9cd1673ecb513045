"""Per-pixel geometry of one camera at the perception's working resolution, computed once per site.

:class:`WorkGrid` turns the site's calibration into lookup maps indexed ``[v, u]`` at the
working resolution, so that per-frame work is array indexing: the ground point of a foot
standing at each pixel, the image height and silhouette area of a person standing there,
the foot row of a person whose head (or mid-body) covers a pixel, and the metres each
image pixel spans on the ground (for converting image motion into walking speed).
"""

from __future__ import annotations

import numpy as np

from detectors.site import SiteConfig, Zone

#: [m] height of the average adult used for expected sizes
PERSON_HEIGHT_M = 1.7
#: [m²] silhouette area of an average adult as an oblique station camera sees it
#: (frontal projected area about 0.55 m², side about 0.35 m²; views averaged)
PERSON_AREA_M2 = 0.45
#: [m] width of an average adult's silhouette (shoulders, arms swinging)
PERSON_WIDTH_M = 0.55


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
        self._ground_jacobian: np.ndarray | None = None

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



    def ground_jacobian(self) -> np.ndarray:
        """(wh, ww, 2, 2) [m per working px]: d(ground x, y) / d(u, v) at each foot pixel (nan above
        the horizon); multiplies an image displacement at a person's feet into a ground one."""
        if self._ground_jacobian is None:
            g = self.ground_m
            jac = np.full(g.shape[:2] + (2, 2), np.nan)
            du = np.gradient(g, axis=1)  # per working column
            dv = np.gradient(g, axis=0)  # per working row
            jac[..., :, 0] = du
            jac[..., :, 1] = dv
            self._ground_jacobian = jac
        return self._ground_jacobian

    def head_foot_px(self, u_px: np.ndarray, v_top_px: np.ndarray) -> np.ndarray:
        """(N, 2) [full-res px] the image foot point of an upright adult whose head top is at
        ``(u_px, v_top_px)`` [full-res px]; may lie below the image (a person cut by its bottom
        edge). nan where the site gives no 3x4 projection or the head is above the horizon."""
        ground = self.site.image_to_ground_at_height(np.column_stack([u_px, v_top_px]), self.person_height_m)
        return self.site.ground_to_image(ground)
