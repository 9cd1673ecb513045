"""The ``cameras:`` and ``render:`` blocks: where the cameras hang and how they see."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from sim.scenario.fields import BGR, Point3, Strict, check_upright_rectangle

class CameraSpec(Strict):
    name: str
    position: Point3 = Field(description="[m] camera centre (x, y, z); z is the mounting height")
    look_at: Point3 = Field(description="[m] the point the optical axis passes through")
    hfov_deg: float = Field(70.0, gt=5, lt=170, description="[deg] horizontal field of view")
    resolution: tuple[int, int] = Field((640, 360), description="[px] width, height")
    fps: float = Field(10.0, gt=0, le=60, description="[frames/s]")

    @model_validator(mode="after")
    def _looks_down(self) -> "CameraSpec":
        d = np.subtract(self.look_at, self.position)
        n = float(np.linalg.norm(d))
        if n < 1e-6:
            raise ValueError("look_at must differ from position")
        if self.position[2] <= 0:
            raise ValueError(f"position z (mounting height) must be > 0 m; got {self.position[2]}")
        # the optical axis must point below the horizon so that the floor fills part of the view
        if d[2] / n > -math.sin(math.radians(2.0)):
            raise ValueError(
                f"the camera looks at the sky or the horizon: look_at z={self.look_at[2]} must lie below "
                f"position z={self.position[2]} by at least 2 degrees of pitch"
            )
        w, h = self.resolution
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ValueError(f"resolution must be within [16, 8192] px per side; got {self.resolution}")
        return self


class OccluderSpec(Strict):
    """A flat vertical panel (a sign, a hanging information board) that hides whatever stands behind it.

    It is drawn only: pedestrians walk through it, so a panel that reaches the floor should
    stand on an obstacle of the station. Visible fractions in the annotations account for it.
    """

    center: Point3 = Field(description="[m] centre of the panel (x, y, z); z is the height of its centre above the floor")
    size: tuple[float, float] = Field(description="[m] width and height of the panel")
    yaw_deg: float = Field(0.0, description="[deg] direction the panel's face points, ccw from +x; its width runs along yaw_deg + 90")
    colour_bgr: BGR = Field((120, 62, 18), description="BGR colour of the panel's face")

    @model_validator(mode="after")
    def _fits(self) -> "OccluderSpec":
        check_upright_rectangle(self.center, self.size, "the panel")
        return self


class RenderSpec(Strict):
    """How the camera sees the scene: lighting, optics, sensor and compression.

    Every effect has a severity whose default is off (or the plain daylight look), so that an
    evaluation can sweep one effect at a time: ``brightness``, ``lighting``,
    ``flicker_depth``, ``light_out_factor``, ``noise_std``, ``shot_noise_std``, ``blur_px``,
    ``motion_blur_px``, ``jpeg_quality`` or ``bitrate_kbps``, ``shake_px``, ``lens_k1`` /
    ``lens_k2`` and ``occluders``. :mod:`sim.render.effects` documents the models. With lens
    distortion the ground-truth boxes and head points are distorted as the pixels are, while
    the exported site configuration keeps the undistorted pinhole calibration (a detector
    may undistort with OpenCV's ``distCoeffs = (lens_k1, lens_k2, 0, 0)``).
    """

    brightness: float = Field(1.0, gt=0, le=2, description="global lighting gain (1 = daylight hall)")
    lighting: Literal["day", "evening", "night"] = Field(
        "day", description="lighting preset (sim.render.effects.LIGHTING_PRESETS): day is neutral; evening is warm, "
                           "0.6x as bright, less contrast, 2x sensor gain; night is cold, 0.35x, flat, 4x sensor gain")
    flicker_hz: float = Field(0.0, ge=0, le=1000, description="[Hz] frequency of a flickering light (sampled at the "
                                                               "frame times: above fps/2 it aliases, as on a real camera)")
    flicker_depth: float = Field(0.0, ge=0, le=1, description="share of the light lost at the flicker's dark phase (0 = steady)")
    light_out_at_s: float | None = Field(None, ge=0, description="[s] time at which a light goes out (None: never)")
    light_out_region: tuple[float, float, float, float] = Field(
        (0.0, 0.0, 1.0, 1.0), description="[fractions of the image width, height] x0, y0, x1, y1 of the part of the "
                                          "image that light lit (the whole image by default)")
    light_out_factor: float = Field(0.3, ge=0, le=1, description="brightness left in light_out_region once the light is out")
    noise_std: float = Field(2.0, ge=0, le=50, description="[grey levels] Gaussian sensor read noise (signal-independent)")
    shot_noise_std: float = Field(0.0, ge=0, le=50, description="[grey levels] photon shot noise at grey level 128 and "
                                                                 "unit sensor gain; its variance grows with level x gain")
    blur_px: float = Field(0.0, ge=0, le=10, description="[px] Gaussian blur sigma (focus)")
    motion_blur_px: float = Field(0.0, ge=0, le=50, description="[px] length of a straight motion-blur streak "
                                                                 "(image speed x exposure time)")
    motion_blur_deg: float = Field(0.0, ge=-360, le=360, description="[deg] direction of the streak in the image: "
                                                                     "0 horizontal, 90 vertical (fastest at multiples of 90)")
    jpeg_quality: int = Field(85, ge=0, le=100, description="JPEG round trip quality; 0 turns it off")
    bitrate_kbps: float | None = Field(None, gt=0, le=100_000, description="[kbit/s] bitrate of an MJPEG stream: the JPEG "
                                       "quality is chosen once per camera so that a frame of the empty station fits "
                                       "bitrate / fps; overrides jpeg_quality")
    shake_px: float = Field(0.0, ge=0, le=20, description="[px] camera shake amplitude")
    lens_k1: float = Field(0.0, ge=-1, le=1, description="radial lens distortion k1 (OpenCV's model, coordinates "
                                                         "normalised by the focal length; < 0 barrel, > 0 pincushion)")
    lens_k2: float = Field(0.0, ge=-1, le=1, description="radial lens distortion k2 (the r^4 term)")
    occluders: list[OccluderSpec] = Field(default_factory=list, description="signs and hanging panels in front of people")

    @model_validator(mode="after")
    def _consistent(self) -> "RenderSpec":
        x0, y0, x1, y1 = self.light_out_region
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(f"light_out_region must be x0, y0, x1, y1 with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1; "
                             f"got {list(self.light_out_region)}")
        if self.flicker_depth > 0 and self.flicker_hz == 0:
            raise ValueError(f"flicker_depth={self.flicker_depth:g} needs flicker_hz > 0; got flicker_hz=0")
        return self
