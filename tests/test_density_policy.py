"""The density detector's default alert policy: 0.95 of the zone's capacity, held for 2.5 s."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.core import DetectionCore
from detectors.density import DensityDetector
from tests.helpers import FPS, HALL, Scene, platform_site


@pytest.mark.parametrize("share_of_capacity, fires", [(0.96, True), (0.94, False), (1.2, True)])
def test_a_zone_read_just_under_its_capacity_alerts_after_the_hold(monkeypatch, share_of_capacity, fires):
    site = platform_site(zones=(HALL,))
    det = DensityDetector(site, method="pixels")
    # a constant reading: the moving average starts at it and stays there
    monkeypatch.setattr(det, "persons", lambda percept: np.array([share_of_capacity * 2.0 * HALL.area_m2]))
    core, scene = DetectionCore(site, [det]), Scene(site)
    first_ready = None
    for _ in range(120):
        frame = scene.frame()
        core.process(frame)
        if first_ready is None and core.last_scores()[0] > 0:
            first_ready = frame.t
    assert core.policies[det.event_type].threshold == pytest.approx(0.95 / 2)  # score 0.5 is the capacity
    assert core.last_scores()[0] == pytest.approx(min(1.0, share_of_capacity / 2))
    if not fires:
        assert core.alerts == []
        return
    assert len(core.alerts) == 1
    # the first frame above the threshold starts the run; it fires 2.5 s (25 frames at 10 frames/s) later
    assert core.alerts[0].t == pytest.approx(first_ready + 25 / FPS)
