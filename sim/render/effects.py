"""Camera effects on rendered frames: lighting, lens distortion, blur, sensor noise, compression.

The models, each driven by one severity field of :class:`sim.scenario.RenderSpec`:

- **Lighting** (``lighting``, ``flicker_hz``/``flicker_depth``, ``light_out_*``): a
  per-channel affine tone map ``y_c = L(t) * gain * wb_c * (128 + contrast * (x_c - 128))``
  of the finished image, with the preset's ``gain``, white balance ``wb`` (colour
  temperature) and ``contrast`` (:data:`LIGHTING_PRESETS`). ``L(t) = 1 - depth * (1 -
  cos(2 pi f t)) / 2`` is a flickering light (full at t = 0, ``1 - depth`` at its dark
  phase), sampled at the frame times (above fps / 2 it aliases, as on a real camera). From
  ``light_out_at_s`` on, the pixels of ``light_out_region`` are further scaled by
  ``light_out_factor`` (a hard-edged rectangle of the image; later blur softens its edge).
- **Lens distortion** (``lens_k1``, ``lens_k2``): OpenCV's radial model on coordinates
  normalised by the focal length, ``x_d = x (1 + k1 r^2 + k2 r^4)``
  (:class:`LensDistortion`). The renderer distorts the static background once with a
  precomputed ``cv2.remap`` map and the people's outline vertices per frame, and derives
  the annotation boxes and head points from the distorted vertices, so the ground truth is
  distorted exactly as the pixels are. The site configuration keeps the undistorted pinhole
  calibration; a detector that wants straight lines undistorts with ``cv2.undistortPoints``
  and ``distCoeffs = (k1, k2, 0, 0)``.
- **Blur**: a straight motion streak of ``motion_blur_px`` pixels at ``motion_blur_deg``
  (a box kernel with fractional end taps; separable and fast at multiples of 90 degrees,
  a 2-D ``filter2D`` otherwise), combined with the Gaussian focus blur ``blur_px``.
- **Sensor noise**: read noise of ``noise_std`` grey levels plus photon shot noise whose
  variance grows with the signal: ``sigma(I) = sqrt((G * noise_std)^2 + G * shot_noise_std^2
  * I / 128)`` with the lighting preset's sensor gain ``G`` (automatic gain: darker presets
  amplify, so their footage is noisier). Drawn from a bank of precomputed noise frames at a
  per-frame offset (:class:`SensorNoise`).
- **Compression**: a JPEG round trip at ``jpeg_quality``, or at the quality that makes the
  empty station's frame fit ``bitrate_kbps * 1000 / 8 / fps`` bytes (an MJPEG stream at that
  bitrate; :func:`jpeg_quality_for_bitrate`).

Everything here is deterministic: randomness comes only from the seeded noise bank and the
per-frame hash the caller passes in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: [grey levels] the level that contrast changes pivot about and shot noise is quoted at
MID_GREY = 128.0


@dataclass(frozen=True, kw_only=True)
class LightingPreset:
    """A lighting condition as the camera renders it."""

    gain: float  #: overall brightness factor (1 = daylight hall)
    white_balance_bgr: tuple[float, float, float]  #: per-channel factors: colour temperature of the light
    contrast: float  #: slope of the tone curve about :data:`MID_GREY` (1 = unchanged)
    sensor_gain: float  #: the camera's automatic gain: multiplies read noise, and shot-noise variance


LIGHTING_PRESETS: dict[str, LightingPreset] = {
    "day": LightingPreset(gain=1.0, white_balance_bgr=(1.0, 1.0, 1.0), contrast=1.0, sensor_gain=1.0),
    # tungsten-warm, dimmer, flatter
    "evening": LightingPreset(gain=0.6, white_balance_bgr=(0.78, 0.93, 1.0), contrast=0.85, sensor_gain=2.0),
    # cold LED light at a low level, flat, strongly amplified
    "night": LightingPreset(gain=0.35, white_balance_bgr=(1.0, 0.93, 0.8), contrast=0.75, sensor_gain=4.0),
}


def flicker_level(t: float, hz: float, depth: float) -> float:
    """Light level in [1 - depth, 1] of a light flickering at ``hz`` [Hz], at time ``t`` [s]."""
    if depth <= 0 or hz <= 0:
        return 1.0
    return 1.0 - depth * (1.0 - math.cos(2.0 * math.pi * hz * float(t))) / 2.0


def tone_matrix(preset: LightingPreset, level: float = 1.0) -> np.ndarray | None:
    """(3, 4) float32 matrix for ``cv2.transform`` (BGR in, BGR out), or None for the identity."""
    wb = np.asarray(preset.white_balance_bgr, dtype=np.float64)
    scale = level * preset.gain * wb
    slope = scale * preset.contrast
    offset = scale * MID_GREY * (1.0 - preset.contrast)
    if np.allclose(slope, 1.0, atol=1e-9) and np.allclose(offset, 0.0, atol=1e-9):
        return None
    m = np.zeros((3, 4), np.float32)
    m[[0, 1, 2], [0, 1, 2]] = slope
    m[:, 3] = offset
    return m


# --- lens -------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LensDistortion:
    """Radial distortion of a pinhole image (OpenCV's k1, k2; no tangential terms).

    Pixel (u, v) of the pinhole image goes to ``(cx + fx x f, cy + fy y f)`` with
    ``x = (u - cx) / fx``, ``y = (v - cy) / fy``, ``f = 1 + k1 r^2 + k2 r^4``, ``r^2 = x^2 + y^2``.
    """

    k1: float
    k2: float
    fx: float  #: [px]
    fy: float  #: [px]
    cx: float  #: [px] centre of distortion (the principal point)
    cy: float  #: [px]

    @classmethod
    def for_camera(cls, k1: float, k2: float, K: np.ndarray) -> "LensDistortion":
        """The distortion of a camera with intrinsics ``K`` (3, 3)."""
        return cls(k1=float(k1), k2=float(k2), fx=float(K[0, 0]), fy=float(K[1, 1]),
                   cx=float(K[0, 2]), cy=float(K[1, 2]))

    def factor(self, r2: np.ndarray) -> np.ndarray:
        """``1 + k1 r^2 + k2 r^4`` for squared normalised radii ``r2``."""
        return 1.0 + r2 * (self.k1 + self.k2 * r2)

    def distort(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pinhole pixels -> distorted pixels (arrays of any shape)."""
        x = (np.asarray(u, dtype=np.float64) - self.cx) / self.fx
        y = (np.asarray(v, dtype=np.float64) - self.cy) / self.fy
        f = self.factor(x * x + y * y)
        return self.cx + self.fx * x * f, self.cy + self.fy * y * f

    def fold_radius(self) -> float:
        """Normalised pinhole radius where the distortion folds back (d r_d / d r = 0); inf if never."""
        # d/dr [r (1 + k1 r^2 + k2 r^4)] = 1 + 3 k1 s + 5 k2 s^2 with s = r^2
        a, b = 5.0 * self.k2, 3.0 * self.k1
        if abs(a) < 1e-15:
            roots = [-1.0 / b] if abs(b) > 1e-15 else []
        else:
            disc = b * b - 4.0 * a
            roots = [] if disc < 0 else [(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)]
        positive = [s for s in roots if s > 0]
        return math.sqrt(min(positive)) if positive else math.inf

    def max_distorted_radius(self) -> float:
        """Largest normalised distorted radius that still has a unique pinhole source."""
        r = self.fold_radius()
        if math.isinf(r):
            return math.inf
        return r * float(self.factor(np.array(r * r)))

    def undistort(self, ud: np.ndarray, vd: np.ndarray, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
        """Distorted pixels -> pinhole pixels, by Newton's method on the radius.

        Valid for distorted radii up to :meth:`max_distorted_radius`; beyond it the result
        is the fold point's pinhole radius.
        """
        xd = (np.asarray(ud, dtype=np.float64) - self.cx) / self.fx
        yd = (np.asarray(vd, dtype=np.float64) - self.cy) / self.fy
        rd = np.sqrt(xd * xd + yd * yd)
        r = rd.copy()
        r_max = self.fold_radius()
        for _ in range(iterations):
            r2 = r * r
            g = r * self.factor(r2) - rd
            dg = 1.0 + r2 * (3.0 * self.k1 + 5.0 * self.k2 * r2)
            r = r - g / np.where(np.abs(dg) < 1e-12, 1e-12, dg)
            r = np.clip(r, 0.0, r_max)
        scale = np.where(rd > 1e-15, r / np.where(rd > 1e-15, rd, 1.0), 1.0 / float(self.factor(np.array(0.0))))
        return self.cx + self.fx * xd * scale, self.cy + self.fy * yd * scale

    def check_image(self, width: int, height: int, *, what: str = "the image") -> None:
        """Raise ``ValueError`` when the distortion folds inside a ``width`` x ``height`` image."""
        corners_u = np.array([-0.5, width - 0.5])
        corners_v = np.array([-0.5, height - 0.5])
        xs = (corners_u - self.cx) / self.fx
        ys = (corners_v - self.cy) / self.fy
        rd = float(np.sqrt(np.max(xs * xs) + np.max(ys * ys)))
        limit = self.max_distorted_radius()
        if rd >= limit * 0.999:
            raise ValueError(
                f"render.lens_k1={self.k1:g}, lens_k2={self.k2:g} fold {what} back on itself: its corners lie at a "
                f"normalised radius of {rd:.3f}, the distortion is one-to-one only up to {limit:.3f}; use a weaker "
                f"distortion (|lens_k1| smaller) or a narrower field of view")


# --- blur -------------------------------------------------------------------------------------


def line_kernel(length_px: float) -> np.ndarray:
    """1-D box kernel of ``length_px`` (>= 0) pixels with fractional end taps, odd size, sum 1."""
    half = max(float(length_px), 1.0) / 2.0
    n = 2 * int(math.ceil(half - 0.5)) + 1
    x = np.arange(n) - n // 2
    w = np.clip(np.minimum(x + 0.5, half) - np.maximum(x - 0.5, -half), 0.0, None)
    return (w / w.sum()).astype(np.float32)


def gaussian_kernel(sigma_px: float) -> np.ndarray:
    """1-D Gaussian kernel as ``cv2.GaussianBlur`` builds it for ``sigma_px`` (float32)."""
    import cv2

    size = max(3, int(round(sigma_px * 3 * 2 + 1)) | 1)  # OpenCV's size for 8-bit images: round(6 sigma + 1), odd
    return cv2.getGaussianKernel(size, sigma_px, cv2.CV_32F).ravel()


class Blur:
    """Motion streak and focus blur as one prepared filter: ``out = blur(img)``."""

    def __init__(self, *, motion_px: float = 0.0, motion_deg: float = 0.0, sigma_px: float = 0.0) -> None:
        self.motion_px = float(motion_px)
        self.sigma_px = float(sigma_px)
        deg = float(motion_deg) % 180.0
        self._mode = "none"
        motion = self.motion_px > 1.0  # a streak of one pixel or less is no blur
        if not motion:
            if self.sigma_px > 0:
                self._mode = "gauss"
            return
        line = line_kernel(self.motion_px)
        axis_aligned = min(abs(deg), abs(deg - 90.0), abs(deg - 180.0)) < 1e-9
        if axis_aligned:
            horizontal = abs(deg - 90.0) > 1e-9
            g = gaussian_kernel(self.sigma_px) if self.sigma_px > 0 else np.ones(1, np.float32)
            along = np.convolve(line, g).astype(np.float32)
            self._kx, self._ky = (along, g) if horizontal else (g, along)
            box = float(self.motion_px).is_integer() and int(self.motion_px) % 2 == 1 and self.sigma_px == 0
            self._box = (int(self.motion_px), 1) if horizontal else (1, int(self.motion_px))
            self._mode = "box" if box else ("row" if len(self._ky) == 1 else ("col" if len(self._kx) == 1 else "sep"))
        else:
            # rasterise the streak into a square kernel, 8x8 supersampled
            n = len(line) | 1
            ss = 8
            c = (np.arange(n * ss) + 0.5) / ss - n / 2.0
            xx, yy = np.meshgrid(c, c)
            th = math.radians(deg)
            along = xx * math.cos(th) - yy * math.sin(th)  # image v points down: +deg turns the streak upward
            across = xx * math.sin(th) + yy * math.cos(th)
            inside = (np.abs(along) <= self.motion_px / 2.0) & (np.abs(across) <= 0.5)
            k = inside.reshape(n, ss, n, ss).sum(axis=(1, 3)).astype(np.float64)
            self._k2d = (k / k.sum()).astype(np.float32)
            self._mode = "2d"

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        mode = self._mode
        if mode == "none":
            return img
        if mode == "gauss":
            return cv2.GaussianBlur(img, (0, 0), self.sigma_px)
        if mode == "box":
            return cv2.blur(img, self._box)
        if mode == "row":
            return cv2.filter2D(img, -1, self._kx[None, :])
        if mode == "col":
            return cv2.filter2D(img, -1, self._ky[:, None])
        if mode == "sep":
            return cv2.sepFilter2D(img, -1, self._kx, self._ky)
        out = cv2.filter2D(img, -1, self._k2d)
        return cv2.GaussianBlur(out, (0, 0), self.sigma_px) if self.sigma_px > 0 else out


# --- sensor noise -----------------------------------------------------------------------------


class SensorNoise:
    """Read and shot noise for (height, width, 3) uint8 frames, drawn from a precomputed bank.

    ``apply(img, h)`` adds the noise of the frame whose 64-bit hash is ``h`` (it picks the bank
    frame and an offset inside it). With ``shot_std == 0`` the noise is signal-independent,
    Gaussian with ``gain * read_std`` grey levels; otherwise its standard deviation at grey
    level ``I`` is ``sqrt((gain * read_std)^2 + gain * shot_std^2 * I / 128)``.
    """

    MARGIN = 32  #: [px] the bank is this much larger than a frame, for per-frame offsets

    def __init__(self, height: int, width: int, *, read_std: float, shot_std: float = 0.0, gain: float = 1.0,
                 seed: int = 0, bank_frames: int = 8) -> None:
        self.height, self.width = int(height), int(width)
        self.read_std, self.shot_std, self.gain = float(read_std), float(shot_std), float(gain)
        nm = self.MARGIN
        shape = (self.height + nm, self.width + nm, 3)
        self._pos: list[np.ndarray] = []
        self._neg: list[np.ndarray] = []
        self._z: list[np.ndarray] = []
        self._lut: np.ndarray | None = None
        self.active = self.read_std * self.gain > 0 or self.shot_std > 0
        if not self.active:
            return
        frame_bytes = 2 * shape[0] * shape[1] * 3
        n_bank = int(np.clip(48_000_000 // frame_bytes, 2, bank_frames))
        rng = np.random.default_rng([int(seed), 0x4E015E])
        if self.shot_std == 0:
            sigma = np.float32(self.gain * self.read_std)
            for _ in range(n_bank):
                z = np.rint(rng.standard_normal(shape, dtype=np.float32) * sigma)
                self._pos.append(np.clip(z, 0, 255).astype(np.uint8))
                self._neg.append(np.clip(-z, 0, 255).astype(np.uint8))
        else:
            # fixed point: z in 1/128 units, sigma in 1/32 grey levels -> product scaled by 1/4096
            for _ in range(n_bank):
                z = rng.standard_normal(shape, dtype=np.float32) * np.float32(128.0)
                self._z.append(np.clip(np.rint(z), -32767, 32767).astype(np.int16))
            self._lut = np.clip(np.rint(self.sigma(np.arange(256.0)) * 32.0), 0, 32767).astype(np.int16).reshape(1, 256)

    def sigma(self, level: np.ndarray) -> np.ndarray:
        """[grey levels] standard deviation of the noise at grey ``level``."""
        level = np.asarray(level, dtype=np.float64)
        return np.sqrt((self.gain * self.read_std) ** 2 + self.gain * self.shot_std**2 * level / MID_GREY)

    def apply(self, img: np.ndarray, h: int) -> np.ndarray:
        """``img`` with this frame's noise added (in place when possible); ``h`` is the frame's hash."""
        import cv2

        if not self.active:
            return img
        bank = self._pos or self._z
        k = h % len(bank)
        ox = (h >> 16) % self.MARGIN
        oy = (h >> 32) % self.MARGIN
        H, W = self.height, self.width
        if self._pos:
            cv2.add(img, self._pos[k][oy:oy + H, ox:ox + W], dst=img)
            cv2.subtract(img, self._neg[k][oy:oy + H, ox:ox + W], dst=img)
            return img
        img = np.ascontiguousarray(img)
        sig = cv2.LUT(img.reshape(H, W * 3), self._lut).reshape(H, W, 3)
        noise = cv2.multiply(sig, self._z[k][oy:oy + H, ox:ox + W], scale=1.0 / 4096.0, dtype=cv2.CV_16S)
        return cv2.add(img, noise, dtype=cv2.CV_8U)


# --- compression ------------------------------------------------------------------------------


def jpeg_round_trip(img: np.ndarray, quality: int) -> np.ndarray:
    """``img`` encoded as JPEG at ``quality`` and decoded again."""
    import cv2

    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"cv2.imencode could not encode a {img.shape} image as JPEG")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def jpeg_quality_for_bitrate(reference: np.ndarray, bitrate_kbps: float, fps: float, *, lowest: int = 2,
                             highest: int = 95) -> int:
    """The highest JPEG quality at which ``reference`` fits ``bitrate_kbps * 1000 / 8 / fps`` bytes.

    An MJPEG camera streaming at ``bitrate_kbps`` [kbit/s] and ``fps`` [frames/s] has that
    many bytes per frame. Returns ``lowest`` when even that quality does not fit.
    """
    import cv2

    budget = float(bitrate_kbps) * 1000.0 / 8.0 / float(fps)

    def size(q: int) -> int:
        return len(cv2.imencode(".jpg", reference, [cv2.IMWRITE_JPEG_QUALITY, q])[1])

    lo, hi = int(lowest), int(highest)
    if size(lo) > budget:
        return lo
    while lo < hi:  # invariant: size(lo) fits
        mid = (lo + hi + 1) // 2
        if size(mid) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- the whole chain --------------------------------------------------------------------------


class CameraEffects:
    """The per-frame chain after drawing: lighting, blur, sensor noise, compression.

    Built once per camera from a :class:`sim.scenario.RenderSpec`; ``apply(img, t, h)``
    takes the (height, width, 3) uint8 frame at time ``t`` [s] with per-frame hash ``h``.
    The JPEG quality is ``spec.jpeg_quality`` until :meth:`calibrate_bitrate` sets it from
    ``spec.bitrate_kbps``.
    """

    def __init__(self, spec, *, width: int, height: int, fps: float, seed: int, bank_frames: int = 8) -> None:
        self.spec = spec
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.preset = LIGHTING_PRESETS[spec.lighting]
        self._static_tone = tone_matrix(self.preset)
        x0, y0, x1, y1 = spec.light_out_region
        self.light_out_box = (int(round(x0 * self.width)), int(round(y0 * self.height)),
                              int(round(x1 * self.width)), int(round(y1 * self.height)))  #: [px] x0 y0 x1 y1, exclusive
        self.blur = Blur(motion_px=spec.motion_blur_px, motion_deg=spec.motion_blur_deg, sigma_px=spec.blur_px)
        self.noise = SensorNoise(self.height, self.width, read_std=spec.noise_std, shot_std=spec.shot_noise_std,
                                 gain=self.preset.sensor_gain, seed=seed, bank_frames=bank_frames)
        self.jpeg_quality = int(spec.jpeg_quality)  #: 0: no compression

    def light_level(self, t: float) -> float:
        """Light level of the flickering light at ``t`` [s] (1 when steady)."""
        return flicker_level(t, self.spec.flicker_hz, self.spec.flicker_depth)

    def light_is_out(self, t: float) -> bool:
        at = self.spec.light_out_at_s
        return at is not None and float(t) >= at

    def tone(self, img: np.ndarray, t: float) -> np.ndarray:
        """The lighting at ``t``: preset, flicker and the light that went out."""
        import cv2

        level = self.light_level(t)
        m = self._static_tone if level == 1.0 else tone_matrix(self.preset, level)
        if m is not None:
            img = cv2.transform(img, m)
        if self.light_is_out(t) and self.spec.light_out_factor < 1.0:
            x0, y0, x1, y1 = self.light_out_box
            roi = img[y0:y1, x0:x1]
            cv2.convertScaleAbs(roi, dst=roi, alpha=float(self.spec.light_out_factor))
        return img

    def apply(self, img: np.ndarray, t: float, h: int, *, compress: bool = True) -> np.ndarray:
        """Lighting, blur, noise and (with ``compress``) the JPEG round trip, in that order."""
        img = self.tone(img, t)
        img = self.blur(img)
        img = self.noise.apply(img, h)
        if compress and self.jpeg_quality > 0:
            img = jpeg_round_trip(img, self.jpeg_quality)
        return img

    def calibrate_bitrate(self, reference: np.ndarray) -> None:
        """Set the JPEG quality from ``spec.bitrate_kbps`` on ``reference`` (a frame before compression)."""
        if self.spec.bitrate_kbps is not None:
            self.jpeg_quality = jpeg_quality_for_bitrate(reference, self.spec.bitrate_kbps, self.fps)
