"""The static image of one camera: the station ray-cast once, its occluder depth, and its flickering lights.

:func:`cast_background` casts one ray per (supersampled) pixel into the
:class:`~sim.render.scene.StationScene` and shades the hits (:mod:`sim.render.shaders`),
keeping a depth buffer of everything that can hide a person and the surface point each pixel
shows (for pools of light). With lens distortion the station is cast undistorted over the
region the lens sees and remapped once (:func:`build_background`). Flickering lights are
patterns added to the background at their level per frame (:class:`LightPattern`).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from sim.render.camera import PinholeCamera
from sim.render.effects import LensDistortion
from sim.render.scene import StationScene
from sim.render.shaders import shade
from sim.render.textures import mix64, value_noise

LIGHT_GLOW_GAIN = 0.35  #: share of a flickering light's colour added to the surfaces at its centre (pool of light)
_VIGNETTE = 0.18  #: darkening at the image's corners, as on most CCTV lenses
_RAYS_PER_CHUNK = 200_000  #: rays cast at once (bounds the memory of a cast)


@dataclass(frozen=True, kw_only=True)
class LightPattern:
    """A flickering light of the scene as one camera sees it."""

    spec: object  #: the scenario's FlickeringLightDistractor
    key: int  #: 64-bit key of its flicker (from the scenario's seed and the light)
    box: tuple[int, int, int, int]  #: x0 y0 x1 y1 (exclusive) of ``add`` in canvas pixels
    add: np.ndarray  #: (h, w, 3) uint8, added to the background times the light's level


def light_level(t: float, flicker_hz: float, key: int) -> float:
    """Level in [0, 1] of a failing light at time ``t`` [s]: mostly on, with random dips and
    blinks about ``flicker_hz`` times a second (0 = the light's darkest phase).

    Deterministic in (t, key): every camera sees the same light at the same level.
    """
    n = float(value_noise(np.array([t * flicker_hz]), key & 0x7FFFFFFF)[0])
    # a blink is a sharp dip: most of the time the tube is on, at times fully off
    return float(np.clip(1.6 * n - 0.25, 0.0, 1.0))


@dataclass(frozen=True, kw_only=True)
class StaticBackground:
    """One camera's static canvas (the image and its margin): lit image, occluder depth, surface points, lights."""

    image: np.ndarray  #: (H, W, 3) uint8, the station lit by ``render.brightness``
    occ_depth: np.ndarray  #: (H, W) float32 [m] nearest surface that can hide a person, inf where none
    surface_xyz: np.ndarray  #: (H, W, 3) float32 [m] the surface point each pixel shows
    surface_xyz_q: np.ndarray  #: the same at a quarter of the resolution (the firelight is computed there)
    lights: list[LightPattern]  #: the flickering lights, in scenario order
    #: x0 y0 x1 y1 [px] of the undistorted canvas region that shows in the (distorted) canvas
    cull_box: tuple[float, float, float, float]

    def add_lights(self, out: np.ndarray, t: float) -> None:
        """Add every flickering light at its level at ``t`` [s] to ``out`` (a copy of the image, in place)."""
        import cv2

        for lp in self.lights:
            if not lp.add.size:
                continue
            level = light_level(t, lp.spec.flicker_hz, lp.key)
            if level <= 0:
                continue
            x0, y0, x1, y1 = lp.box
            roi = out[y0:y1, x0:x1]
            cv2.addWeighted(roi, 1.0, lp.add, level, 0.0, dst=roi)

    @property
    def lit(self) -> bool:
        """Whether any flickering light adds to the image."""
        return any(lp.add.size for lp in self.lights)


def build_background(scene: StationScene, canvas_cam: PinholeCamera, *, camera: PinholeCamera, margin: int,
                     supersample: int, lens: LensDistortion | None, brightness: float, scenario_seed: int
                     ) -> StaticBackground:
    """Ray-cast the canvas of ``camera`` (``canvas_cam``: the image and ``margin`` px around it).

    With ``lens`` the station is cast undistorted over the region the distorted canvas samples,
    then remapped. ``scenario_seed`` keys the lights' flicker (the same on every camera).
    """
    import cv2

    wc, hc = canvas_cam.width, canvas_cam.height
    size = (camera.width, camera.height)
    cull_box = (-0.5, -0.5, wc - 0.5, hc - 0.5)
    if lens is not None:
        # the background is cast undistorted over the region the distorted canvas samples, then remapped
        uu, vv = np.meshgrid(np.arange(wc, dtype=np.float64), np.arange(hc, dtype=np.float64))
        src_u, src_v = lens.undistort(uu, vv)
        x0, y0 = int(math.floor(src_u.min())) - 1, int(math.floor(src_v.min())) - 1
        x1, y1 = int(math.ceil(src_u.max())) + 2, int(math.ceil(src_v.max())) + 2
        src_cam = camera.shifted(margin - x0, margin - y0, x1 - x0, y1 - y0)
        bg_src, occ_src, aux_src = cast_background(scene, src_cam, supersample, size)
        map_u, map_v = (src_u - x0).astype(np.float32), (src_v - y0).astype(np.float32)
        bg = cv2.remap(bg_src, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        occ_depth = cv2.remap(occ_src, map_u, map_v, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        aux = cv2.remap(aux_src, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cull_box = (x0 - 0.5, y0 - 0.5, x1 - 0.5, y1 - 0.5)
    else:
        bg, occ_depth, aux = cast_background(scene, canvas_cam, supersample, size)
    aux = aux.reshape(aux.shape[0], aux.shape[1], -1)
    gain = float(brightness)
    image = np.rint(np.clip(bg.astype(np.float32) * gain, 0, 255)).astype(np.uint8)
    surface_xyz = np.ascontiguousarray(aux[..., :3])
    hq, wq = -(-surface_xyz.shape[0] // 4), -(-surface_xyz.shape[1] // 4)
    surface_xyz_q = cv2.resize(surface_xyz, (wq, hq), interpolation=cv2.INTER_AREA)
    lights = [_light_pattern(d, aux[..., 3 + k], surface_xyz, gain, scenario_seed)
              for k, (_, d) in enumerate(scene.lights)]
    return StaticBackground(image=image, occ_depth=occ_depth, surface_xyz=surface_xyz, surface_xyz_q=surface_xyz_q,
                            lights=lights, cull_box=cull_box)


def cast_background(scene: StationScene, cam: PinholeCamera, ss: int, image_size: tuple[int, int]):
    """Ray-cast the static station through ``cam`` (supersampled ``ss`` x ``ss``).

    Returns the image (uint8), the occluder depth (float32 [m]) and an auxiliary float32
    image: the surface point (x, y, z) [m] each pixel shows, then one coverage channel per
    flickering light. ``image_size`` (W, H) of the camera's image sets the vignette's scale.
    """
    import cv2

    wc, hc = cam.width, cam.height
    width, height = image_size
    # supersampled pixel centres in canvas pixel coordinates
    us = (np.arange(wc * ss) + 0.5) / ss - 0.5
    vs = (np.arange(hc * ss) + 0.5) / ss - 0.5
    img = np.empty((hc * ss, wc * ss, 3), np.float64)
    depth_ss = np.full((hc * ss, wc * ss), np.inf, np.float32)
    light_codes = [code for code, _ in scene.lights]
    aux_ss = np.empty((hc * ss, wc * ss, 3 + len(light_codes)), np.float32)
    rows_per_chunk = max(1, _RAYS_PER_CHUNK // (wc * ss))
    pix_m = 1.0 / (cam.focal_px * ss)  # [m per supersample at unit depth]
    for r0 in range(0, hc * ss, rows_per_chunk):
        r1 = min(hc * ss, r0 + rows_per_chunk)
        uu, vv = np.meshgrid(us, vs[r0:r1])
        dirs = cam.pixel_rays(np.c_[uu.ravel(), vv.ravel()])
        hits = scene.cast(cam.position, dirs)
        depth = hits.s  # rays have unit depth along the optical axis, so s is the depth
        col = shade(scene, hits, dirs, depth * pix_m)
        img[r0:r1] = col.reshape(r1 - r0, wc * ss, 3)
        occ = (hits.group >= 0) & scene.hiding_groups[np.maximum(hits.group, 0)]
        d = np.where(occ, depth, np.inf).astype(np.float32)
        depth_ss[r0:r1] = d.reshape(r1 - r0, -1)
        # surface points; rays that hit nothing (above the horizon) get a point far away
        far = ~np.isfinite(depth)
        hit = hits.hit
        if far.any():
            hit = hit.copy()
            hit[far] = cam.position + dirs[far] * 1e4
        aux_ss[r0:r1, :, :3] = hit.reshape(r1 - r0, wc * ss, 3)
        for k, code in enumerate(light_codes):
            aux_ss[r0:r1, :, 3 + k] = (hits.face == code).reshape(r1 - r0, -1)
    # a gentle vignette, as on most CCTV lenses
    yy, xx = np.meshgrid((vs - cam.K[1, 2]) / (height / 2), (us - cam.K[0, 2]) / (width / 2), indexing="ij")
    img *= (1.0 - _VIGNETTE * (xx**2 + yy**2) / 2)[..., None]
    img8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if ss > 1:
        bg = cv2.resize(img8, (wc, hc), interpolation=cv2.INTER_AREA)
        occ_depth = depth_ss.reshape(hc, ss, wc, ss).min(axis=(1, 3))
        aux = aux_ss.reshape(hc, ss, wc, ss, -1).mean(axis=(1, 3))
    else:
        bg, occ_depth, aux = img8, depth_ss, aux_ss
    return bg, occ_depth.astype(np.float32), np.ascontiguousarray(aux, dtype=np.float32)


def _light_pattern(spec, coverage: np.ndarray, surface_xyz: np.ndarray, gain: float, scenario_seed: int
                   ) -> LightPattern:
    """What a flickering light adds to the background when fully on: its panel lit (the
    part its depth takes away at the dark phase) and a pool of light of radius ``glow_m``
    on the surfaces around it, as uint8 over the bounding box where it adds anything."""
    colour = np.asarray(spec.colour_bgr, dtype=np.float32)
    depth = float(spec.depth)
    centre = np.asarray(spec.center, dtype=np.float32)
    d2 = ((surface_xyz - centre) ** 2).sum(axis=2)
    glow = np.zeros_like(d2) if spec.glow_m <= 0 else np.exp(-d2 / np.float32(spec.glow_m) ** 2)
    weight = coverage * np.float32(0.95 * depth) + glow * np.float32(LIGHT_GLOW_GAIN * depth)
    add = np.clip(np.rint(weight[..., None] * colour * np.float32(gain)), 0, 255).astype(np.uint8)
    rows = np.nonzero(add.max(axis=(1, 2)) > 0)[0]
    cols = np.nonzero(add.max(axis=(0, 2)) > 0)[0]
    if not len(rows):
        return LightPattern(spec=spec, key=0, box=(0, 0, 0, 0), add=add[:0, :0])
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    key = mix64(int(scenario_seed) * 7919 + zlib.crc32(repr((spec.id, tuple(spec.center))).encode()))
    return LightPattern(spec=spec, key=key, box=(x0, y0, x1, y1), add=np.ascontiguousarray(add[y0:y1, x0:x1]))
