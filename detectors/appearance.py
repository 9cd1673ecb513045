"""What a person crop shows that a detector may use: here, a high-visibility vest.

Staff allowed in a forbidden zone (``allowed: [staff]``) are recognised by what the
footage shows, as an operator would: a high-visibility garment (EN ISO 20471) is
fluorescent yellow, yellow-green or orange, the most saturated bright colours of a station
scene. :func:`hi_vis_fraction` is the share of a crop's torso region (``TORSO``: the part of
the box between 20 % and 55 % of its height, its middle 60 %) whose colour is in that range,
in HSV (OpenCV's hue scale, 0-180): hue in ``HI_VIS_HUE``, saturation at least
``HI_VIS_MIN_SATURATION``, value at least ``HI_VIS_MIN_VALUE_SHARE`` of the crop's brightest
pixels (so the test follows the lighting instead of a fixed grey level).

Known limit: a passenger in a fluorescent orange or yellow top looks like staff to this
test; in a zone that allows staff they are not reported. Zones without ``allowed`` are
not affected.
"""

from __future__ import annotations

import cv2
import numpy as np

#: (low, high) hue of fluorescent yellow, yellow-green and orange, OpenCV scale (0-180)
HI_VIS_HUE = (8, 45)
#: least saturation (0-255)
HI_VIS_MIN_SATURATION = 140
#: least value, as a share of the crop's 95th-percentile value
HI_VIS_MIN_VALUE_SHARE = 0.6
#: (top, bottom, left, right) of the torso region as shares of the box
TORSO = (0.2, 0.55, 0.2, 0.8)


def hi_vis_fraction(crop_bgr: np.ndarray, torso: tuple[float, float, float, float] = TORSO) -> float:
    """Share [0, 1] of the torso region of a person crop (BGR uint8) in high-visibility colours;
    ``torso`` (top, bottom, left, right) as shares of the crop, :data:`TORSO` by default."""
    h, w = crop_bgr.shape[:2]
    t, b, l, r = torso
    torso = crop_bgr[int(t * h):max(int(t * h) + 1, int(b * h)), int(l * w):max(int(l * w) + 1, int(r * w))]
    if torso.size == 0:
        return 0.0
    hsv = cv2.cvtColor(torso, cv2.COLOR_BGR2HSV)
    v_ref = float(np.percentile(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV)[..., 2], 95))
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    hit = (hue >= HI_VIS_HUE[0]) & (hue <= HI_VIS_HUE[1]) & (sat >= HI_VIS_MIN_SATURATION) \
        & (val >= HI_VIS_MIN_VALUE_SHARE * max(v_ref, 1.0))
    return float(np.count_nonzero(hit)) / hit.size
