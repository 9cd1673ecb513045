"""Emissive colour: the pixels of a light source in flame colours (a flame's core, its tongues).

Flames give light: where they are thick their pixels saturate the red channel and their blue
and green rise towards white, while keeping red >= green >= blue. Clothes, posters and painted
walls of the same hue are lit, not lighting: matte, with red below saturation or blue near zero
(an orange top is BGR ~(0, 120, 255): blue 0; a yellow shirt ~(94, 193, 231): red 231). One
definition for the fire detector and for the people finder (a flame tongue is not a person).
"""

from __future__ import annotations

import cv2
import numpy as np

#: [grey levels] least red of an emissive pixel (a saturated red channel)
EMISSIVE_MIN_RED = 240
#: [grey levels] least blue: raised towards white (a matte orange or red has blue near 0)
EMISSIVE_MIN_BLUE = 100
#: [grey levels] least red - blue: still warm (a white shirt or an overexposed wall is not)
EMISSIVE_MIN_WARMTH = 40


def emissive_mask(bgr: np.ndarray, *, min_red: float = EMISSIVE_MIN_RED, min_blue: float = EMISSIVE_MIN_BLUE,
                  min_warmth: float = EMISSIVE_MIN_WARMTH) -> np.ndarray:
    """(h, w) bool: pixels of a BGR uint8 image in emissive flame colours (see the module docstring).

    >>> emissive_mask(np.array([[[200, 250, 254], [0, 120, 255], [240, 240, 240]]], np.uint8)).tolist()
    [[True, False, False]]
    """
    lo = (int(np.ceil(min_blue)), 0, int(np.ceil(min_red)))
    if min_warmth > 0:  # all in 8-bit passes: the saturating red - blue is 0 where blue exceeds red
        m = cv2.inRange(bgr, lo, (255, 255, 255))
        if not cv2.countNonZero(m):  # the cheap cut alone decides most frames: no saturated red with blue raised
            return m > 0
        b, g, r = cv2.split(bgr)
        m &= cv2.compare(cv2.subtract(r, b), float(min(np.ceil(min_warmth), 255.0)), cv2.CMP_GE)
        m &= cv2.compare(r, g, cv2.CMP_GE)
        m &= cv2.compare(g, b, cv2.CMP_GE)
        return m > 0
    cand = cv2.inRange(bgr, lo, (255, 255, 255)) > 0  # the cheap cut first: red saturated, blue raised
    if not cand.any():
        return cand
    ys, xs = np.nonzero(cand)
    b, g, r = (bgr[ys, xs, k].astype(np.int32) for k in range(3))
    cand[ys, xs] = (r - b >= min_warmth) & (r >= g) & (g >= b)
    return cand


def warm_mask(bgr: np.ndarray, *, min_red: float, min_red_minus_blue: float, green_slack: float) -> np.ndarray:
    """(h, w) bool: pixels of a BGR uint8 image in warm flame colours: red at least ``min_red``, red >= green,
    green + ``green_slack`` >= blue, red - blue at least ``min_red_minus_blue`` times red (the fire detector's
    colour rule, :meth:`detectors.fire.FireDetector.flame_masks`).

    The same booleans as that rule in int32 numpy, from 8-bit passes: the red and blue tests together are one
    bound on blue per red level (a 256-entry table, since the rule is monotone in blue), the green test a
    saturating difference; a tenth of the time at 320x180.

    >>> warm_mask(np.array([[[40, 60, 200], [40, 60, 150], [200, 60, 200]]], np.uint8), min_red=160,
    ...           min_red_minus_blue=0.5, green_slack=16).tolist()
    [[True, False, False]]
    """
    if green_slack < 0:  # blue must then lie below green: no saturating difference says that
        b, g, r = (c.astype(np.int32) for c in cv2.split(bgr))
        return (r >= min_red) & (r >= g) & (g + green_slack >= b) & ((r - b) >= min_red_minus_blue * r)
    top, ok = _blue_bound(float(min_red), float(min_red_minus_blue))
    b, g, r = cv2.split(bgr)
    m = cv2.compare(b, cv2.LUT(r, top), cv2.CMP_LE)
    m &= cv2.LUT(r, ok)
    m &= cv2.compare(r, g, cv2.CMP_GE)
    m &= cv2.compare(cv2.subtract(b, g), float(np.floor(min(green_slack, 255.0))), cv2.CMP_LE)
    return m > 0


_BOUNDS: dict[tuple[float, float], tuple[np.ndarray, np.ndarray]] = {}


def _blue_bound(min_red: float, min_red_minus_blue: float) -> tuple[np.ndarray, np.ndarray]:
    """Per red level (256,) uint8: the greatest blue that passes ``red >= min_red`` and ``red - blue >=
    min_red_minus_blue * red`` (0 where none does), and 255 where some blue does (0 otherwise); the rule
    evaluated as numpy does on int32 planes, for every red and blue."""
    key = (min_red, min_red_minus_blue)
    if key not in _BOUNDS:
        r = np.arange(256, dtype=np.int32)[:, None]
        b = np.arange(256, dtype=np.int32)[None, :]
        passes = (r >= min_red) & ((r - b) >= min_red_minus_blue * r)  # (red, blue); monotone in blue
        ok = passes.any(axis=1)
        top = np.where(ok, 255 - np.argmax(passes[:, ::-1], axis=1), 0)
        if not np.array_equal(passes, ok[:, None] & (b <= top[:, None])):
            raise ValueError(f"flame colour rule is not monotone in blue for min_red={min_red!r}, "
                             f"min_red_minus_blue={min_red_minus_blue!r}")
        _BOUNDS[key] = (top.astype(np.uint8), np.where(ok, 255, 0).astype(np.uint8))
    return _BOUNDS[key]
