"""Pinhole camera: hand-computed projections and geometric properties (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.render.camera import PinholeCamera
from sim.scenario import load_scenario


def _camera(x, y, z, yaw_deg, pitch_deg, hfov_deg=70.0, resolution=(640, 360)) -> PinholeCamera:
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    d = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
    return PinholeCamera.look_at(position=(x, y, z), look_at=tuple(np.array([x, y, z]) + 5.0 * d),
                                 hfov_deg=hfov_deg, resolution=resolution)


cameras = st.builds(
    _camera,
    x=st.floats(-20, 20), y=st.floats(-20, 20), z=st.floats(1.0, 15.0),
    yaw_deg=st.floats(-180, 180), pitch_deg=st.floats(5.0, 85.0),
    hfov_deg=st.floats(30.0, 120.0), resolution=st.sampled_from([(640, 360), (1280, 720), (320, 240), (100, 100)]),
)
offsets = st.tuples(st.floats(-30, 30), st.floats(-30, 30))


# --- hand-computed oracles --------------------------------------------------------------------


def test_straight_down_camera_hand_computed():
    # hfov 90 deg over 640 px: f = 320 / tan(45 deg) = 320 px; principal point (319.5, 179.5).
    # Looking straight down, image right is world +x and image down is world -y.
    cam = PinholeCamera.look_at(position=(0, 0, 10), look_at=(0, 0, 0), hfov_deg=90, resolution=(640, 360))
    assert cam.focal_px == pytest.approx(320.0)
    uv, depth = cam.project(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 5.0]]))
    assert uv[0] == pytest.approx([319.5 + 320 * 1 / 10, 179.5])
    assert uv[1] == pytest.approx([319.5, 179.5 - 320 * 1 / 10])
    assert depth == pytest.approx([10.0, 10.0, 5.0])


def test_level_camera_hand_computed():
    # Camera 2 m up, pitched down 45 deg towards +x: a ground point 2 m ahead is on the axis;
    # a point 1 m to the left of it (world +y) lies 1 m left in the image at depth 2 * sqrt(2).
    cam = PinholeCamera.look_at(position=(0, 0, 2), look_at=(2, 0, 0), hfov_deg=90, resolution=(640, 480))
    uv, depth = cam.project(np.array([[2.0, 0.0, 0.0], [2.0, 1.0, 0.0]]))
    assert uv[0] == pytest.approx([319.5, 239.5])
    assert depth[1] == pytest.approx(2 * math.sqrt(2))
    assert uv[1] == pytest.approx([319.5 - 320 * 1 / (2 * math.sqrt(2)), 239.5])


def test_from_spec_matches_scenario_camera():
    sc = load_scenario("platform_intrusion")
    spec = sc.camera("platform")
    cam = PinholeCamera.from_spec(spec)
    assert (cam.width, cam.height) == tuple(spec.resolution)
    assert cam.fps == spec.fps
    assert cam.position.tolist() == list(spec.position)
    uv = cam.ground_to_image(np.array([spec.look_at[:2]]))
    assert uv[0] == pytest.approx([(cam.width - 1) / 2, (cam.height - 1) / 2], abs=1e-9)


def test_look_at_equal_to_position_is_an_error():
    with pytest.raises(ValueError, match="look_at must differ from position"):
        PinholeCamera.look_at(position=(1, 2, 3), look_at=(1, 2, 3), hfov_deg=60, resolution=(640, 360))


def test_bad_field_of_view_is_an_error():
    with pytest.raises(ValueError, match=r"hfov_deg must be within \(0, 180\); got 190"):
        PinholeCamera.look_at(position=(0, 0, 3), look_at=(1, 0, 0), hfov_deg=190, resolution=(640, 360))


def test_horizon_above_the_image_of_a_steep_camera():
    cam = _camera(0, 0, 5, 0, 60, hfov_deg=60)
    a, b, c = cam.horizon_line
    # every image corner lies on the ground side of the horizon: its ray meets the floor
    corners = np.array([[0, 0], [cam.width - 1, 0], [0, cam.height - 1], [cam.width - 1, cam.height - 1]], float)
    assert np.all(np.isfinite(cam.image_to_ground(corners)))
    side = corners @ np.array([a, b]) + c
    assert np.all(np.sign(side) == np.sign(side[0]))


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(cam=cameras, off=offsets)
def test_projection_and_homography_agree_on_the_ground(cam, off):
    p = cam.position[:2] + np.array(off)
    assume(cam.depth_of(np.array([p[0], p[1], 0.0])) > 0.5)
    uv_p, _ = cam.project(np.array([[p[0], p[1], 0.0]]))
    q = cam.ground_homography @ np.array([p[0], p[1], 1.0])
    uv_h = q[:2] / q[2]
    assert np.allclose(uv_p[0], uv_h, rtol=1e-9, atol=1e-6)
    q3 = cam.projection @ np.array([p[0], p[1], 0.0, 1.0])
    assert np.allclose(uv_p[0], q3[:2] / q3[2], rtol=1e-9, atol=1e-6)


@settings(max_examples=150, deadline=None)
@given(cam=cameras, off=offsets)
def test_image_to_ground_inverts_ground_to_image(cam, off):
    p = cam.position[:2] + np.array(off)
    ray = np.array([p[0], p[1], 0.0]) - cam.position
    # in front of the camera and seen at least 3 degrees below the horizon (not grazing)
    assume(cam.depth_of(np.array([p[0], p[1], 0.0])) > 0.5)
    assume(-ray[2] / np.linalg.norm(ray) > math.sin(math.radians(3)))
    back = cam.image_to_ground(cam.ground_to_image(p[None]))
    assert np.max(np.abs(back[0] - p)) < 1e-6


@settings(max_examples=100, deadline=None)
@given(cam=cameras)
def test_look_at_point_projects_to_the_image_centre(cam):
    target = cam.position + 7.5 * cam.R[2]  # any point on the optical axis
    uv, depth = cam.project(target[None])
    assert uv[0] == pytest.approx([(cam.width - 1) / 2, (cam.height - 1) / 2], abs=1e-6)
    assert depth[0] == pytest.approx(7.5)


@settings(max_examples=100, deadline=None)
@given(cam=cameras, dist=st.floats(0.2, 50.0))
def test_point_behind_the_camera_is_flagged(cam, dist):
    behind = cam.position - dist * cam.R[2]
    ahead = cam.position + dist * cam.R[2]
    assert not cam.in_front(behind[None])[0]
    assert cam.in_front(ahead[None])[0]
    uv, depth = cam.project(behind[None])
    assert depth[0] == pytest.approx(-dist)
    assert np.all(np.isnan(uv[0]))


@settings(max_examples=100, deadline=None)
@given(cam=cameras, off=offsets, h=st.floats(1.0, 2.0), extra=st.floats(0.05, 0.5))
def test_taller_person_is_taller_in_pixels(cam, off, h, extra):
    p = cam.position[:2] + np.array(off)
    # a vertical line through the camera centre projects to one point: stand at least 1 m aside
    assume(math.hypot(*off) > 1.0)
    # the whole body stays well in front of the camera and below it
    assume(cam.depth_of(np.array([p[0], p[1], 0.0])) > 1.0)
    assume(cam.depth_of(np.array([p[0], p[1], h + extra])) > 1.0)
    assume(h + extra < cam.position[2] - 0.3)
    uv, _ = cam.project(np.array([[p[0], p[1], 0.0], [p[0], p[1], h], [p[0], p[1], h + extra]]))
    short = np.linalg.norm(uv[1] - uv[0])
    tall = np.linalg.norm(uv[2] - uv[0])
    assert tall > short


@settings(max_examples=60, deadline=None)
@given(cam=cameras)
def test_rotation_has_no_roll(cam):
    # the image x axis stays horizontal: world z has no component along camera x
    assert abs(cam.R[0, 2]) < 1e-12
    # and world up points up the image (negative camera y) for a camera looking below the horizon
    assert cam.R[1, 2] < 0


def test_shifted_camera_moves_the_principal_point():
    cam = _camera(0, 0, 4, 30, 40)
    big = cam.shifted(5, 7, cam.width + 10, cam.height + 14)
    p = np.array([[3.0, 2.0, 0.0]])
    assert big.project(p)[0][0] == pytest.approx(cam.project(p)[0][0] + np.array([5, 7]))
