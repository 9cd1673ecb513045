"""Procedural textures of the renderer: integer hashes, value noise, box-filtered lines and bands.

Every function is pure (no generator state): a value depends only on its arguments, so
the same seed, time and place give the same pixel on every camera and in every process.
"""

from __future__ import annotations

import numpy as np

MASK64 = 0xFFFFFFFFFFFFFFFF


def mix64(x: int) -> int:
    """SplitMix64 finaliser: a well-mixed 64-bit integer from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell (a 64-bit mix)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ iy.astype(np.int64).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
             ^ np.uint64(salt * 0x165667B19E3779F9 & 0xFFFFFFFFFFFFFFFF))
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def value_noise(x: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """Smooth pseudo-random values in [0, 1) along ``x`` (one random value per integer, smoothstep between)."""
    x = np.asarray(x, dtype=np.float64)
    i = np.floor(x)
    f = x - i
    f = f * f * (3.0 - 2.0 * f)
    salt = np.asarray(salt, dtype=np.int64) & 0x7FFFFFFF
    a = hash01(i, salt, 11)
    b = hash01(i + 1, salt, 11)
    return a + (b - a) * f


def value_noise_2d(x: np.ndarray, y: np.ndarray, salt: int) -> np.ndarray:
    """Smooth pseudo-random values in [0, 1) over the plane (random values at integer points, smoothstep between)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    ix, iy = np.floor(x), np.floor(y)
    fx, fy = x - ix, y - iy
    fx = fx * fx * (3.0 - 2.0 * fx)
    fy = fy * fy * (3.0 - 2.0 * fy)
    ix = ix.astype(np.int64) + (salt & 0xFFFF) * 7919
    iy = iy.astype(np.int64)
    salt = 13 + (salt >> 16)
    v00, v10 = hash01(ix, iy, salt), hash01(ix + 1, iy, salt)
    v01, v11 = hash01(ix, iy + 1, salt), hash01(ix + 1, iy + 1, salt)
    top = v00 + (v10 - v00) * fx
    bottom = v01 + (v11 - v01) * fx
    return top + (bottom - top) * fy


def line_coverage(coord: np.ndarray, period: float, width: float, footprint: np.ndarray) -> np.ndarray:
    """Share of a pixel covered by periodic lines of ``width`` (box-filtered by the pixel footprint)."""
    d = np.abs((coord / period + 0.5) % 1.0 - 0.5) * period
    half = np.maximum(width, footprint) / 2
    return np.where(d < half, np.minimum(1.0, width / np.maximum(footprint, 1e-9)), 0.0)


def band(coord: np.ndarray, lo: float, hi: float, footprint: np.ndarray) -> np.ndarray:
    """Share of a pixel (footprint-wide) that falls in [lo, hi] along ``coord``."""
    fp = np.maximum(footprint, 1e-9)
    a = np.clip((coord + fp / 2 - lo) / fp, 0, 1)
    b = np.clip((coord + fp / 2 - hi) / fp, 0, 1)
    return a - b


def mix(base: np.ndarray, colour, weight: np.ndarray) -> np.ndarray:
    """``base`` (n, 3) blended toward ``colour`` by ``weight`` (n,) in [0, 1]."""
    w = weight[:, None]
    return base * (1 - w) + np.asarray(colour, dtype=np.float64)[None, :] * w


def smoothstep(x: np.ndarray) -> np.ndarray:
    """3x² - 2x³ of ``x`` clipped to [0, 1]: an ease in and out."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)
