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
    cand = cv2.inRange(bgr, lo, (255, 255, 255)) > 0  # the cheap cut first: red saturated, blue raised
    if not cand.any():
        return cand
    ys, xs = np.nonzero(cand)
    b, g, r = (bgr[ys, xs, k].astype(np.int32) for k in range(3))
    cand[ys, xs] = (r - b >= min_warmth) & (r >= g) & (g >= b)
    return cand
