"""Fires as a camera sees them: flickering flames, rising smoke, and the flames' light on the station.

Flames are tongues of red, orange and yellow with a bright core at their base, drawn
soft-edged in a plane across the line of sight; smoke is a grey plume of Gaussian puffs and a
textured layer spreading under the roof, blended at a quarter of the resolution by its
density; the firelight warms the floor and walls around the fire. Everything is keyed by
the scenario's seed, the fire's id and its age: every camera sees the same fire.
"""

from __future__ import annotations

import math

import numpy as np

from sim.render.occlusion import OCCLUSION_MARGIN_M, OcclusionScreen
from sim.render.shapes import Item, ring_points
from sim.render.textures import mix64, value_noise, value_noise_2d
from sim.render.view import SHIFT, CanvasView, fixed_points

FLAME_TONGUES = 7  #: tongues of a fire's flames
#: the flames' colours from the outside in, with each layer's width and height (shares of the outer tongue's)
FLAME_LAYERS = (((28, 48, 205), 1.0, 1.0), ((16, 118, 250), 0.9, 0.88), ((46, 196, 255), 0.76, 0.7),
                ((150, 238, 255), 0.5, 0.45))
FLAME_CORE_BGR = (205, 250, 255)  #: the bright core at the flames' base
FLAME_BASE_BGR = (22, 58, 140)  #: the charred, glowing disc the flames rise from
FIRE_GLOW_GAIN = 0.5  #: share of FIRE_GLOW_BGR added to the surfaces next to a fire at full size
FIRE_GLOW_BGR = (70.0, 150.0, 255.0)  #: colour of the firelight
SMOKE_PUFFS = 10  #: puffs rising in a fire's plume
SMOKE_LAYER_PUFFS = 5  #: wide, flat puffs of the layer under the roof
SMOKE_TOP_M = 3.6  #: [m] height where the smoke spreads (under the roof)
SMOKE_RISE_MPS = 0.7  #: [m/s] rising speed of the puffs
SMOKE_DARK_BGR = (46.0, 47.0, 50.0)  #: colour of thick smoke
SMOKE_LIGHT_BGR = (112.0, 114.0, 118.0)  #: colour of thin smoke
_QUARTER = 4  #: smoke and firelight are computed at 1/4 of the resolution per side


def fire_key(scenario_seed: int, fire_id: int) -> int:
    """The flicker's key of a fire: the same for every camera (scenario seed and fire id)."""
    return mix64(int(scenario_seed) * 1_000_033 + int(fire_id) * 7_919 + 0xF1E) & 0x7FFFFFFF


def flame_heights(key: int, age_s: float) -> np.ndarray:
    """(FLAME_TONGUES,) heights of the tongues as shares of the mean flame height: they flicker."""
    k = np.arange(FLAME_TONGUES)
    salt = (key + k * 0x9E37) & 0x7FFFFFFF
    n1 = value_noise(age_s * 5.3 + k * 1.7, salt)
    n2 = value_noise(age_s * 11.0 + k * 3.1, salt + 1)
    return 0.45 + 0.8 * n1 + 0.25 * (n2 - 0.5)


class Flames:
    """Layers of polygons drawn on black with their coverage, both blurred, then blended in
    (premultiplied): soft flames over a sharp background. ``box`` x0 y0 x1 y1 [canvas px]."""

    __slots__ = ("box", "sigma", "layers")

    def __init__(self, box: tuple[int, int, int, int], sigma: float, layers: list) -> None:
        self.box, self.sigma, self.layers = box, sigma, layers

    def draw(self, img: np.ndarray) -> None:
        import cv2

        x0, y0, x1, y1 = self.box
        h, w = img.shape[:2]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return
        layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        cover = np.zeros((y1 - y0, x1 - x0), np.uint8)
        off = np.array([x0, y0], np.int32) << SHIFT
        for polys, c in self.layers:
            moved = [p - off for p in polys]
            cv2.fillPoly(layer, moved, c, cv2.LINE_AA, SHIFT)
            cv2.fillPoly(cover, moved, 255, cv2.LINE_AA, SHIFT)
        layer = cv2.GaussianBlur(layer, (0, 0), self.sigma).astype(np.float32)
        a = cv2.GaussianBlur(cover, (0, 0), self.sigma).astype(np.float32)[..., None] * np.float32(1 / 255)
        roi = img[y0:y1, x0:x1]
        roi[...] = np.clip(roi * (1.0 - a) + layer, 0, 255).astype(np.uint8)


class Smoke:
    """Quarter-resolution opacity and colour maps blended over a box x0 y0 x1 y1 [canvas px]."""

    __slots__ = ("box", "alpha", "colour")

    def __init__(self, box: tuple[int, int, int, int], alpha: np.ndarray, colour: np.ndarray) -> None:
        self.box, self.alpha, self.colour = box, alpha, colour

    def draw(self, img: np.ndarray) -> None:
        import cv2

        x0, y0, x1, y1 = self.box
        size = (x1 - x0, y1 - y0)
        a = cv2.resize(self.alpha, size, interpolation=cv2.INTER_LINEAR)
        smoke = cv2.resize(self.colour, size, interpolation=cv2.INTER_LINEAR)
        roi = img[y0:y1, x0:x1]
        roi[...] = cv2.blendLinear(roi, smoke, 1.0 - a, a)


class FireDrawer:
    """Draws the fires of a :class:`~sim.state.FireState` on one camera's canvas.

    ``canvas_shape`` (H, W) bounds the smoke; ``surface_xyz_q`` (H/4, W/4, 3) [m] is the surface
    point each quarter-resolution pixel shows (for the firelight); ``screen`` tells which
    flames static occluders may hide.
    """

    def __init__(self, view: CanvasView, *, scenario_seed: int, canvas_shape: tuple[int, int],
                 surface_xyz_q: np.ndarray, screen: OcclusionScreen) -> None:
        self.view = view
        self.scenario_seed = int(scenario_seed)
        self.canvas_shape = canvas_shape
        self.surface_xyz_q = surface_xyz_q
        self.screen = screen

    def key(self, fire_id: int) -> int:
        return fire_key(self.scenario_seed, fire_id)

    def items(self, fires) -> list[Item]:
        """Flames (tongues of red, orange, yellow and a bright core, flickering and growing) and
        smoke (a grey plume that rises and spreads), one item per fire in front of the camera."""
        cam = self.view.camera
        items = []
        for i in range(len(fires)):
            fx, fy = (float(v) for v in fires.pos_m[i])
            depth = float(cam.depth_of(np.array([fx, fy, 0.0])))
            if depth <= 0.5:
                continue
            key = self.key(int(fires.ids[i]))
            # the flames stand in a plane through the fire, across the line of sight
            view = np.array([fx, fy]) - cam.position[:2]
            across = np.array([-view[1], view[0]]) / max(float(np.hypot(*view)), 1e-9)
            # the smoke first: the flames shine through it
            smoke = self._smoke(fires, i, key, across)
            cmds = [] if smoke is None else [smoke]
            flames = self._flames(fires, i, key, across)
            cmds.append(flames)
            bounds = list(flames.box)
            if smoke is not None:
                x0, y0, x1, y1 = smoke.box
                bounds = [min(bounds[0], x0), min(bounds[1], y0), max(bounds[2], x1), max(bounds[3], y1)]
            drawn = np.array([bounds], dtype=np.float64)
            behind, restore = self.screen.maybe_hidden(drawn, np.array([depth]))
            items.append(Item(depth=depth, floor=[], cmds=cmds, behind=bool(behind[0]),
                              restore=tuple(int(x) for x in restore[0]), margin_m=OCCLUSION_MARGIN_M))
        return items

    def _flames(self, fires, i: int, key: int, across: np.ndarray) -> Flames:
        """Fire ``i``'s flames: a glowing base, tongues in FLAME_LAYERS and a bright core, softened
        by a blur of a fraction of their size."""
        project, scaled = self.view.project, self.view.scaled
        fx, fy = (float(v) for v in fires.pos_m[i])
        radius = float(fires.flame_radius_m[i])
        height = float(fires.flame_height_m[i])
        age = float(fires.age_s[i])
        # the flames rise from the front half of the burning area
        nx, ny = fx - across[1] * 0.4 * radius, fy + across[0] * 0.4 * radius
        heights = flame_heights(key, age)
        k = np.arange(FLAME_TONGUES)
        salt = (key + k * 0x51ED) & 0x7FFFFFFF
        base = radius * (-0.7 + 1.4 * k / (FLAME_TONGUES - 1) + 0.2 * (value_noise(age * 2.1 + k, salt) - 0.5))
        sway = 0.3 * height * (value_noise(age * 4.0 + 5.0 * k, salt + 7) - 0.5)
        # the middle tongues are the tallest: the flames' outline is a flickering teardrop
        hk = 1.2 * height * heights * np.maximum(1.0 - 0.8 * (base / max(radius, 1e-6)) ** 2, 0.25)
        # the burning base: a charred, glowing disc on the floor
        ring = ring_points(12)
        gx = fx + np.cos(ring) * radius * 0.9
        gy = fy + np.sin(ring) * radius * 0.9
        gu, gv = project(gx, gy, np.full_like(gx, 0.01))
        layers = [([fixed_points(gu[:, None], gv[:, None])[0]], scaled(FLAME_BASE_BGR))]
        bounds = [gu.min(), gv.min(), gu.max(), gv.max()]
        for colour, s_w, s_h in FLAME_LAYERS:
            # tongue outline (x across, z up) per tongue: base, bulging sides, swaying tip; the
            # inner layers are narrower and lower, so that each tongue is red at its rim
            w = radius * 0.55 * s_w
            xs = base * (0.5 + 0.5 * s_w)
            hh = hk * s_h
            sw = sway * s_h
            px_ = np.stack([xs - w, xs - w * 1.1 + 0.1 * sw, xs - 0.8 * w + 0.3 * sw, xs - 0.4 * w + 0.65 * sw,
                            xs + sw, xs + 0.4 * w + 0.65 * sw, xs + 0.8 * w + 0.3 * sw,
                            xs + w * 1.1 + 0.1 * sw, xs + w])
            pz = np.stack([np.zeros_like(hh), 0.2 * hh, 0.45 * hh, 0.72 * hh, hh, 0.72 * hh, 0.45 * hh, 0.2 * hh,
                           np.zeros_like(hh)])
            u, v = project(nx + px_ * across[0], ny + px_ * across[1], pz)
            layers.append((list(fixed_points(u, v)), scaled(colour)))
            bounds = [min(bounds[0], u.min()), min(bounds[1], v.min()), max(bounds[2], u.max()), max(bounds[3], v.max())]
        # the bright core: a low dome over the base, breathing with the flames
        dome = np.linspace(0.0, np.pi, 9)
        core_h = height * 0.3 * float(heights.mean())
        cx_ = np.cos(dome) * radius * 0.75
        cz_ = np.sin(dome) * core_h + 0.02
        u, v = project(nx + cx_ * across[0], ny + cx_ * across[1], cz_)
        layers.append(([fixed_points(u[:, None], v[:, None])[0]], scaled(FLAME_CORE_BGR)))
        # flames have no hard edges: drawn apart, softened by a blur of a fraction of their size
        soft = max(0.6, 0.03 * (bounds[3] - bounds[1]))
        pad = int(math.ceil(3 * soft)) + 1
        box = (int(math.floor(bounds[0])) - pad, int(math.floor(bounds[1])) - pad, int(math.ceil(bounds[2])) + pad + 1,
               int(math.ceil(bounds[3])) + pad + 1)
        return Flames(box, soft, layers)

    def _smoke(self, fires, i: int, key: int, across: np.ndarray) -> Smoke | None:
        """The smoke of fire ``i`` as one blending command: soft puffs rising from the flames and
        a layer spreading under the roof to ``smoke_radius_m``, summed as Gaussians at a quarter
        of the resolution (one small matrix product), turned into opacity and scaled by
        ``smoke_density``. None when there is no smoke yet or it is out of view."""
        density = float(fires.smoke_density[i])
        if density <= 1e-3:
            return None
        cam = self.view.camera
        fx, fy = (float(v) for v in fires.pos_m[i])
        spread = max(float(fires.smoke_radius_m[i]), 0.3)
        age = float(fires.age_s[i])
        flame_h = float(fires.flame_height_m[i])
        z0, z1 = 0.8 * flame_h + 0.2, max(SMOKE_TOP_M, flame_h + 1.5)
        m = SMOKE_PUFFS
        j = np.arange(m)
        rise = (j / m + age * SMOKE_RISE_MPS / (z1 - z0)) % 1.0  # each puff's height along the plume
        salt = (key + j * 0x2F1) & 0x7FFFFFFF
        drift = (value_noise(age * 0.4 + j * 2.3, salt) - 0.5) * 2.0
        pz = z0 + rise * (z1 - z0)
        pr_ = 0.2 + float(fires.flame_radius_m[i]) + max(0.35 * spread - 0.2, 0.0) * rise ** 0.8
        px_ = fx + across[0] * drift * pr_ * 0.6
        py_ = fy + across[1] * drift * pr_ * 0.6
        # puffs billow: their strength wanders, and they fade in above the flames and out at the top
        strength = np.minimum(1.0, rise / 0.15) * (1.0 - 0.5 * rise) * (0.6 + 0.8 * value_noise(age * 0.9 + j * 4.1, salt + 3))
        # the layer under the roof: wide, flat puffs around the plume's top
        n_lay = SMOKE_LAYER_PUFFS
        lay = np.linspace(-1.0, 1.0, n_lay)
        lx = fx + across[0] * lay * spread * 0.6
        ly = fy + across[1] * lay * spread * 0.6
        all_x = np.concatenate([px_, lx])
        all_y = np.concatenate([py_, ly])
        all_z = np.concatenate([pz, np.full(n_lay, z1)])
        all_r = np.concatenate([pr_, np.full(n_lay, 0.5 * spread)])
        all_s = np.concatenate([strength, np.full(n_lay, 0.9)])
        pc = (np.stack([all_x, all_y, all_z], axis=1) - cam.position) @ cam.R.T
        front = pc[:, 2] > 0.3
        if not front.any():
            return None
        pc, all_r, all_s = pc[front], all_r[front], all_s[front]
        u = cam.K[0, 0] * pc[:, 0] / pc[:, 2] + cam.K[0, 2]
        v = cam.K[1, 1] * pc[:, 1] / pc[:, 2] + cam.K[1, 2]
        if self.view.lens is not None:
            u, v = self.view.lens.distort(u, v)
        focal = self.view.focal_px
        sigma = focal * all_r / pc[:, 2] * 0.5  # [px] a puff's Gaussian width
        sig_y = sigma * np.concatenate([np.ones(m), np.full(n_lay, 0.55)])[front]  # the roof layer is flat
        hc, wc = self.canvas_shape
        x0 = int(max(0, math.floor((u - 3 * sigma).min())))
        x1 = int(min(wc, math.ceil((u + 3 * sigma).max()) + 1))
        y0 = int(max(0, math.floor((v - 3 * sig_y).min())))
        y1 = int(min(hc, math.ceil((v + 3 * sig_y).max()) + 1))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        q = float(_QUARTER)
        gw, gh = max(2, int(math.ceil((x1 - x0) / q))), max(2, int(math.ceil((y1 - y0) / q)))
        gx = x0 + (np.arange(gw) + 0.5) * q - 0.5
        gy = y0 + (np.arange(gh) + 0.5) * q - 0.5
        ex_ = np.exp(-0.5 * ((gx[None, :] - u[:, None]) / sigma[:, None]) ** 2)  # (puffs, gw)
        ey_ = np.exp(-0.5 * ((gy[None, :] - v[:, None]) / sig_y[:, None]) ** 2)  # (puffs, gh)
        thickness = (ey_ * all_s[:, None]).T @ ex_  # (gh, gw)
        # billows: a soft random texture that drifts up the image as the smoke rises
        cell = max(3.0, float(np.median(sigma)) / q * 0.8)  # [quarter px]
        rise_px = SMOKE_RISE_MPS * focal / max(float(np.median(pc[:, 2])), 1.0) / q  # [quarter px/s]
        tex = value_noise_2d((gx[None, :] - x0) / q / cell, ((gy[:, None] - y0) / q + age * rise_px) / cell,
                             key & 0x7FFFFFFF)
        thickness *= 0.45 + 1.1 * tex
        alpha = (density * (1.0 - np.exp(-1.6 * thickness))).astype(np.float32)
        # no seam at the box's edges (inside the image): the opacity tapers to 0 there
        edge = 0.12 * min(gw, gh) + 1.0
        ramp_x = np.minimum(np.arange(gw) + (x0 <= 0) * 1e9, np.arange(gw)[::-1] + (x1 >= wc) * 1e9)
        ramp_y = np.minimum(np.arange(gh) + (y0 <= 0) * 1e9, np.arange(gh)[::-1] + (y1 >= hc) * 1e9)
        alpha *= np.minimum(1.0, np.minimum(ramp_y[:, None], ramp_x[None, :]) / edge).astype(np.float32)
        # thicker smoke is darker
        g = float(self.view.brightness)
        light = np.asarray(SMOKE_LIGHT_BGR, np.float32) * g
        dark = np.asarray(SMOKE_DARK_BGR, np.float32) * g
        colour = np.clip(light + (dark - light) * alpha[..., None], 0, 255).astype(np.uint8)
        return Smoke((x0, y0, x1, y1), alpha, colour)

    def light(self, out: np.ndarray, fires) -> None:
        """Warm light of the flames on the floor and walls around each fire, flickering with the
        flames (in place): computed at a quarter of the resolution from the surface points the
        pixels show, upsampled and added."""
        import cv2

        cam = self.view.camera
        hc, wc = out.shape[:2]
        xyz_q = self.surface_xyz_q
        hq, wq = xyz_q.shape[:2]
        gain = float(self.view.brightness)
        colour = np.asarray(FIRE_GLOW_BGR, np.float32)
        q = _QUARTER
        for i in range(len(fires)):
            fx, fy = (float(v) for v in fires.pos_m[i])
            radius = float(fires.flame_radius_m[i])
            flame_h = float(fires.flame_height_m[i])
            reach = 1.0 + 2.5 * radius  # [m] the pool of light's radius
            level = float(flame_heights(self.key(int(fires.ids[i])), float(fires.age_s[i])).mean())
            strength = FIRE_GLOW_GAIN * min(1.0, 0.3 + radius / 0.5) * min(level, 1.3) * gain
            span = 1.7 * reach  # exp(-1.7²) = 6 % of the light at the box's edge
            corners = np.array([[fx + dx, fy + dy, zz] for dx in (-span, span) for dy in (-span, span)
                                for zz in (0.0, span)])
            if not np.all(cam.in_front(corners)):
                qx0, qy0, qx1, qy1 = 0, 0, wq, hq
            else:
                uv, _ = cam.project(corners)
                if self.view.lens is not None:
                    uv = np.stack(self.view.lens.distort(uv[:, 0], uv[:, 1]), axis=1)
                qx0, qy0 = (max(0, int(math.floor(c / q))) for c in uv.min(axis=0))
                qx1 = int(min(wq, math.ceil(uv[:, 0].max() / q) + 1))
                qy1 = int(min(hq, math.ceil(uv[:, 1].max() / q) + 1))
            if qx1 <= qx0 or qy1 <= qy0:
                continue
            pts = xyz_q[qy0:qy1, qx0:qx1]
            d2 = ((pts - np.array([fx, fy, 0.35 * flame_h], np.float32)) ** 2).sum(axis=2)
            weight = np.exp(-d2 / np.float32(reach * reach)) * np.float32(strength)
            glow_q = weight[..., None] * colour
            x0, y0 = q * qx0, q * qy0
            glow = cv2.resize(glow_q, (q * (qx1 - qx0), q * (qy1 - qy0)), interpolation=cv2.INTER_LINEAR)
            x1, y1 = min(wc, x0 + glow.shape[1]), min(hc, y0 + glow.shape[0])
            glow8 = np.ascontiguousarray(np.clip(np.rint(glow[:y1 - y0, :x1 - x0]), 0, 255).astype(np.uint8))
            roi = out[y0:y1, x0:x1]
            cv2.add(roi, glow8, dst=roi)
