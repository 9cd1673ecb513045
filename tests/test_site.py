"""Site configurations: zones the camera can use, and errors that name the zone and the key."""

from __future__ import annotations

import pytest
import yaml

from detectors.site import SiteConfig, SiteError

#: 10 px per metre, the camera looking straight down at the origin: the image shows [0, 6.4] x [0, 4.8] m
SITE = {"camera": "cam", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]}}
SQUARE = [[1, 1], [3, 1], [3, 3], [1, 3]]


def site_with(polygon, **zone) -> dict:
    return {**SITE, "zones": [{"name": "tracks", "kind": "forbidden", "polygon": polygon, **zone}]}


@pytest.mark.parametrize("site, error", [
    (site_with(SQUARE), None),
    (site_with([[5, 4], [9, 4], [9, 9], [5, 9]]), None),  # partly outside the image: its visible part counts
    (site_with([[1, 1], [3, 3], [3, 1], [1, 3]]),
     r"site.zones\[0\]: zone 'tracks': polygon must be a simple polygon \(edges that do not cross, an area > 0\); "
     r"its edges cross or touch at \(2, 2\)"),
    (site_with([[1, 1], [2, 1], [3, 1]]), r"zone 'tracks': polygon must be a simple polygon"),
    (site_with([[20, 20], [22, 20], [22, 22]]),
     r"site 'cam': zones\[0\] \('tracks'\) lies entirely outside the image \(64x48 px, or behind the camera\)"),
    # behind the camera (depth w = 1 + x / 2 < 0): projected with its sign ignored it would land inside the image
    ({**site_with([[-5, -3], [-3, -3], [-3, -1], [-5, -1]]),
      "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0.5, 0, 1]]}}, r"lies entirely outside the image"),
    (site_with([[1, 1], [3, 1], [float("nan"), 3]]), r"zone 'tracks': polygon coordinates must be finite numbers"),
    (site_with(SQUARE, kind="one_way", direction_deg="north"),
     r"zone 'tracks': direction_deg must be a number of degrees; got 'north'"),
    (site_with(SQUARE, kind="density", capacity_per_m2=True), r"kind density needs capacity_per_m2 > 0; got True"),
    ({**SITE, "zones": "tracks"}, r"site.zones: expected a list of zones; got 'tracks'"),
    ({**SITE, "image_size": [64.5, 48]}, r"image_size must be two positive integers \[width, height\]"),
    ({**SITE, "camera": ["cam"]}, r"camera must be a camera name; got \['cam'\]"),
    ({**SITE, "fps": 10**400}, r"fps must be a number > 0"),
    ({**SITE, "calibration": {"homography": [[1, 0], [0, 1]]}},
     r"site.calibration.homography: expected a 3x3 matrix of finite numbers"),
    ({**SITE, "calibration": {"homography": [[1, 0, 0], [0, 1]]}}, r"site.calibration.homography: expected a 3x3"),
    ({**SITE, "calibration": {"projection": [[1, 0, 0, 0], [0, 1, 0, 0]]}},
     r"site.calibration.projection: expected a 3x4 matrix"),
    ({**SITE, "calibration": {"points": [{"ground": [0, 0], "image": [0]}] * 4}},
     r"site.calibration.points: each pair needs ground: \[x, y\] and image: \[u, v\]"),
])
def test_zones_and_keys(site, error):
    if error is None:
        assert SiteConfig.from_dict(site).zones[0].name == "tracks"
    else:
        with pytest.raises(SiteError, match=error):
            SiteConfig.from_dict(site)


@pytest.mark.parametrize("content, error", [
    (b"camera: [cam\n", r"site.yaml: not YAML at line 2, column 1 \(expected ',' or '\]'"),
    (b"camera: \xff\n", r"site.yaml: not UTF-8 text \(byte 8\)"),
    (yaml.safe_dump(SITE).encode(), None),
])
def test_site_files(tmp_path, content, error):
    (tmp_path / "site.yaml").write_bytes(content)
    if error is None:
        assert SiteConfig.load(tmp_path / "site.yaml").camera == "cam"
    else:
        with pytest.raises(SiteError, match=error):
            SiteConfig.load(tmp_path / "site.yaml")


def test_every_library_camera_exports_a_site_it_can_load():
    """The scenario export keeps the zones a camera sees; the site check must accept all of them."""
    from sim.scenario import list_scenarios, load_scenario
    from sim.site_export import site_config_dict

    for name, _ in list_scenarios():
        sc = load_scenario(name)
        for cam in sc.cameras:
            SiteConfig.from_dict(site_config_dict(sc, cam.name), where=f"{name}/{cam.name}")
