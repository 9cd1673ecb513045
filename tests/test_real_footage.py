"""The detection core on real pixels (``shared/data/real``, see its README): a static camera on
a burning doll-house, flames then smoke, nobody in it.

Real footage the project did not make, so nothing here is tuned to it: the core runs with a
site that puts every zone kind (forbidden, one-way, density) over the whole visible floor, and
the tests state what a deployment needs from it: the background pair, the tracker and the
detectors run through every frame with finite outputs, and flicker, smoke and the flames' light
must not look like an intruder, a walker against the traffic, a crowd or a crowd movement.

The second does not hold yet (a strict xfail, so that fixing it shows): the people finder takes
flame and smoke blobs of a person's expected size for people, and intrusion and crowd_movement
alert on them. The perception now leaves out components with more than 10 % of their pixels in
emissive flame colours (``detectors/flame.py``: 14 intrusion alerts became 11), but at the
working resolution most of this clip's flame tongues are pink-orange, not emissive, and the smoke
is grey: a flicker test on the person candidates (the fire detector's, per component) is the next
step; thresholds are not tuned to this clip.
"""

from __future__ import annotations

import numpy as np
import pytest

from detectors.events import EventType
from detectors.site import SiteConfig, Zone, ZoneKind
from tests.helpers import camera_projection, real_data_dir

CLIP = real_data_dir() / "furg_house6.mp4"
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason=f"real clip not found at {CLIP} (shared/ is not beside the repository)")

#: the four types whose detectors read people's positions and motion
CROWD_AND_ZONE_TYPES = {EventType.INTRUSION, EventType.WRONG_WAY, EventType.EXCESSIVE_DENSITY, EventType.CROWD_MOVEMENT}


def _house_site() -> SiteConfig:
    """A camera 3 m high, 6 m in front of a 10 m x 10 m yard, every zone kind over the yard."""
    size = (426, 240)
    p = camera_projection((5.0, -6.0, 3.0), (5.0, 6.0, 0.0), 60, size)
    yard = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
    zones = (Zone(name="yard", kind=ZoneKind.FORBIDDEN, polygon_m=yard),
             Zone(name="lane", kind=ZoneKind.ONE_WAY, polygon_m=yard, direction_deg=0.0),
             Zone(name="hall", kind=ZoneKind.DENSITY, polygon_m=yard, capacity_per_m2=2.0))
    return SiteConfig(camera="house6", image_size=size, fps=29.97, homography=p[:, [0, 1, 3]], projection=p,
                      zones=zones)


@pytest.fixture(scope="module")
def house_run():
    """The core over every frame of the clip: alerts, per-frame percept checks, the core."""
    from detectors.core import DetectionCore
    from detectors.source import VideoFileSource

    core = DetectionCore(_house_site())
    seen = []
    update = core.perception.update
    core.perception.update = lambda frame: seen.append(update(frame)) or seen[-1]  # keep each frame's percept
    alerts, n, ready, finite = [], 0, 0, True
    src = VideoFileSource(CLIP, camera="house6")
    try:
        for frame in src:
            alerts += core.process(frame)
            percept = seen.pop()
            n += 1
            ready += percept.ready
            tracks = percept.tracks
            finite &= bool(np.isfinite(tracks.foot_m).all() and np.isfinite(tracks.vel_mps).all())
            assert percept.fg_mask.shape == percept.grey.shape and percept.static_mask.shape == percept.grey.shape
    finally:
        src.close()
    return {"core": core, "alerts": alerts, "frames": n, "ready": ready, "finite": finite}


@pytest.mark.slow
@needs_clip
def test_perception_and_detectors_run_through_a_real_clip(house_run):
    core = house_run["core"]
    assert CROWD_AND_ZONE_TYPES <= {d.event_type for d in core.detectors}  # all four run on this site
    assert house_run["frames"] == 899 == core.frames_processed  # every frame of the clip went through the core
    assert house_run["ready"] >= 899 - core.perception.warmup_frames  # ready after the warm-up, and stayed so
    assert house_run["finite"]  # track positions and velocities never nan or inf
    for det in core.detectors:
        t, score, _ = core.scores(det.event_type)
        assert len(t) == 899 and np.isfinite(score).all() and ((score >= 0) & (score <= 1)).all(), det.event_type
    timing = core.timing_table()
    assert len(timing) == 899


@pytest.mark.slow
@needs_clip
@pytest.mark.xfail(strict=True, reason="flame tongues and smoke blobs become person tracks: intrusion and "
                                       "crowd_movement alert on a burning house (see the module docstring)")
def test_no_crowd_or_zone_alert_on_a_burning_house(house_run):
    fired = [(a.type.value, round(a.t, 2)) for a in house_run["alerts"] if a.type in CROWD_AND_ZONE_TYPES]
    assert fired == [], f"crowd and zone detectors alerted on a house fire: {fired}"


@pytest.mark.slow
@needs_clip
def test_fire_alerts_and_the_object_fall_and_weapon_detectors_do_not(house_run):
    by_type = {}
    for a in house_run["alerts"]:
        by_type.setdefault(a.type, []).append(round(a.t, 2))
    assert by_type.get(EventType.FIRE), "the fire detector did not alert on a burning house"
    assert by_type[EventType.FIRE][0] <= 5.0  # flames are in the picture from the first frame
    quiet = {t.value: v for t, v in by_type.items() if t in (EventType.ABANDONED_OBJECT, EventType.PERSON_ON_GROUND,
                                                                        EventType.WEAPON)}
    assert quiet == {}, f"object, fall and weapon detectors alerted on a burning house: {quiet}"
