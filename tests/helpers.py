"""Builders and checks shared by the tests (import them: ``from tests.helpers import frame_sha``)."""

from __future__ import annotations

import hashlib

import numpy as np


def frame_sha(img: np.ndarray) -> str:
    """SHA-256 of an image's bytes: equal hashes mean byte-identical frames."""
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()
