"""Camera effects: each changes the frame the way its model says, and the ground truth follows."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.render.effects import (LIGHTING_PRESETS, Blur, CameraEffects, LensDistortion, SensorNoise, flicker_level,
                         jpeg_quality_for_bitrate, line_kernel, tone_matrix)
from sim.render import RenderError, Renderer, sample_crowd
from sim.scenario import ScenarioError, load_scenario
from sim.state import CrowdState
from sim.world.appearance import appearance_group_names, sample_appearance
from tests.helpers import frame_sha, standing_crowd

SMALL = (320, 180)  #: [px] most tests render at a quarter of the library's resolution, for speed


def scenario(resolution=SMALL, **render):
    """The platform scenario without noise or JPEG (pixels compare exactly), with render overrides."""
    over = {"render.noise_std": 0.0, "render.jpeg_quality": 0, "cameras.0.resolution": list(resolution)}
    over.update({f"render.{k}": v for k, v in render.items()})
    return load_scenario("platform_intrusion", overrides=over)


def renderer(resolution=SMALL, seed=0, **render) -> Renderer:
    return Renderer(scenario(resolution, **render), "platform", seed=seed, supersample=1)


@pytest.fixture(scope="module")
def plain():
    return renderer()


CROWD = [(12.0, 3.0), (16.0, 2.0), (19.5, 3.5)]


# --- defaults are today's look ------------------------------------------------------------------


def test_default_render_settings_are_all_off():
    sc = load_scenario("platform_intrusion")
    fx = CameraEffects(sc.render, width=64, height=36, fps=10, seed=0)
    assert tone_matrix(LIGHTING_PRESETS[sc.render.lighting]) is None
    assert fx.light_level(3.3) == 1.0 and not fx.light_is_out(1e6)
    assert fx.blur(np.zeros((4, 4, 3), np.uint8)) is not None and fx.blur._mode == "none"
    assert fx.noise.shot_std == 0 and fx.noise.gain == 1.0
    r = Renderer(sc, "platform", supersample=1)
    assert r.lens is None and r.jpeg_quality == 85 and r.scene.panel_colours == {}


# --- lighting -------------------------------------------------------------------------------------


def test_evening_is_darker_than_day_by_the_preset(plain):
    crowd = standing_crowd(CROWD)
    day, _ = plain.render(crowd, 0.0)
    evening, _ = renderer(lighting="evening").render(crowd, 0.0)
    night, _ = renderer(lighting="night").render(crowd, 0.0)
    p = LIGHTING_PRESETS["evening"]
    assert (p.gain, p.contrast) == (0.6, 0.85)
    # per channel, y = gain * wb * (128 + contrast * (x - 128)): the means follow (nothing clips below 0.6 * 255)
    mean_day = day.reshape(-1, 3).mean(axis=0)
    expected = 0.6 * np.array(p.white_balance_bgr) * (128 + 0.85 * (mean_day - 128))
    assert evening.reshape(-1, 3).mean(axis=0) == pytest.approx(expected, abs=0.6)
    assert night.mean() < evening.mean() < 0.7 * day.mean()
    # warm evening light: blue loses more than red
    assert evening[..., 0].mean() / day[..., 0].mean() < evening[..., 2].mean() / day[..., 2].mean()


def test_flicker_oscillates_at_flicker_hz():
    fps, n, hz, depth = 10.0, 50, 1.0, 0.5
    r = renderer(flicker_hz=hz, flicker_depth=depth)
    steady = renderer()
    empty = CrowdState.empty()
    means = np.array([r.render(empty, k / fps)[0].mean() for k in range(n)])
    base = steady.render(empty, 0.0)[0].mean()
    # full light at t = 0, 1 - depth at the dark phase (t = 0.5 s)
    assert means[0] == pytest.approx(base, abs=0.01)
    assert means[5] == pytest.approx((1 - depth) * base, abs=0.6)
    spectrum = np.abs(np.fft.rfft(means - means.mean()))
    freqs = np.fft.rfftfreq(n, 1 / fps)  # 0.2 Hz apart over 5 s
    assert freqs[np.argmax(spectrum)] == pytest.approx(hz)
    assert flicker_level(0.25, hz, depth) == pytest.approx(1 - depth * (1 - math.cos(math.pi / 2)) / 2)


def test_light_out_darkens_its_region_after_the_time_only(plain):
    r = renderer(light_out_at_s=2.0, light_out_region=[0.0, 0.0, 0.5, 1.0], light_out_factor=0.4)
    crowd = standing_crowd(CROWD)
    w = SMALL[0]
    for t in (0.0, 1.9):
        assert np.array_equal(r.render(crowd, t)[0], plain.render(crowd, t)[0])
    for t in (2.0, 5.0):
        lit, _ = plain.render(crowd, t)
        out, _ = r.render(crowd, t)
        assert out[:, : w // 2].mean() == pytest.approx(0.4 * lit[:, : w // 2].mean(), abs=0.3)
        assert np.array_equal(out[:, w // 2:], lit[:, w // 2:])
    assert r.effects.light_out_box == (0, 0, 160, 180)


# --- sensor noise ---------------------------------------------------------------------------------


def test_shot_noise_follows_the_signal_and_the_sensor_gain():
    flat = lambda level: np.full((120, 160, 3), level, np.uint8)  # noqa: E731
    read, shot = 2.0, 6.0
    noise = SensorNoise(120, 160, read_std=read, shot_std=shot, gain=1.0, seed=3)
    night = SensorNoise(120, 160, read_std=read, shot_std=shot, gain=LIGHTING_PRESETS["night"].sensor_gain, seed=3)
    for level in (40, 200):
        sigma = math.sqrt(read**2 + shot**2 * level / 128)
        assert noise.sigma(level) == pytest.approx(sigma)
        measured = (noise.apply(flat(level), 0x1234567).astype(float) - level).std()
        assert measured == pytest.approx(sigma, rel=0.08)
        g = 4.0
        assert night.sigma(level) == pytest.approx(math.sqrt((g * read) ** 2 + g * shot**2 * level / 128))
    # brighter pixels are noisier in grey levels; a darker (amplified) preset is noisier at the same level
    assert noise.sigma(200) > noise.sigma(40)
    spread = lambda sensor: (sensor.apply(flat(40), 99).astype(float) - 40).std()  # noqa: E731
    assert spread(night) > 1.5 * spread(noise)


def test_night_footage_is_noisier_than_day():
    empty = CrowdState.empty()
    day = renderer(noise_std=2.0, shot_noise_std=3.0)
    night = renderer(noise_std=2.0, shot_noise_std=3.0, lighting="night")
    clean_night = renderer(lighting="night")

    def residual(img, ref):
        return (img.astype(float) - ref.astype(float)).std()

    clean_day, _ = renderer().render(empty, 0.0)
    assert residual(night.render(empty, 0.0)[0], clean_night.render(empty, 0.0)[0]) > 1.5 * residual(
        day.render(empty, 0.0)[0], clean_day)


# --- blur ------------------------------------------------------------------------------------------


def gradient_energy(img: np.ndarray) -> tuple[float, float]:
    """Mean absolute grey-level step along x and along y."""
    g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.float64)
    return np.abs(np.diff(g, axis=1)).mean(), np.abs(np.diff(g, axis=0)).mean()


def test_motion_blur_lowers_gradient_energy_along_its_direction(plain):
    crowd = standing_crowd(CROWD)
    sharp_x, sharp_y = gradient_energy(plain.render(crowd, 0.0)[0])
    hx, hy = gradient_energy(renderer(motion_blur_px=6.0).render(crowd, 0.0)[0])
    vx, vy = gradient_energy(renderer(motion_blur_px=6.0, motion_blur_deg=90.0).render(crowd, 0.0)[0])
    dx, dy = gradient_energy(renderer(motion_blur_px=6.0, motion_blur_deg=45.0).render(crowd, 0.0)[0])
    # a horizontal streak smooths along x more than along y (fine texture loses some of both)
    assert hx < 0.5 * sharp_x and hx / sharp_x < 0.6 * (hy / sharp_y)
    assert vy < 0.5 * sharp_y and vy / sharp_y < vx / sharp_x
    assert dx < 0.85 * sharp_x and dy < 0.85 * sharp_y


def test_line_kernel_hand_computed():
    assert line_kernel(5.0).tolist() == pytest.approx([0.2] * 5)
    # 4 px: two full taps, and two half taps at the ends, over 4
    assert line_kernel(4.0).tolist() == pytest.approx([0.5 / 4, 1 / 4, 1 / 4, 1 / 4, 0.5 / 4])
    assert line_kernel(0.0).tolist() == [1.0]
    # motion and focus blur combined: one separable pass, same as one after the other (up to rounding)
    img = np.random.default_rng(0).integers(0, 256, (40, 50, 3)).astype(np.uint8)
    both = Blur(motion_px=4.0, sigma_px=1.0)(img)
    steps = cv2.GaussianBlur(Blur(motion_px=4.0)(img), (0, 0), 1.0)
    assert np.abs(both.astype(int) - steps.astype(int))[3:-3, 5:-5].max() <= 2


# --- lens distortion ----------------------------------------------------------------------------------


def test_lens_distortion_formula_and_opencv_parity():
    K = np.array([[300.0, 0, 159.5], [0, 300.0, 89.5], [0, 0, 1]])
    lens = LensDistortion.for_camera(-0.2, 0.05, K)
    # a point near the corner: x = 150 / 300 = 0.5, y = 80 / 300; r^2 = 0.25 + 0.0711; f = 1 - 0.2 r^2 + 0.05 r^4
    u, v = 159.5 + 150.0, 89.5 + 80.0
    r2 = 0.5**2 + (80 / 300) ** 2
    f = 1 - 0.2 * r2 + 0.05 * r2**2
    ud, vd = lens.distort(np.array(u), np.array(v))
    assert (float(ud), float(vd)) == pytest.approx((159.5 + 150.0 * f, 89.5 + 80.0 * f))
    assert float(ud) < u and float(vd) < v  # barrel: inward
    ud2, vd2 = LensDistortion.for_camera(0.2, 0.0, K).distort(np.array(u), np.array(v))
    assert float(ud2) > u and float(vd2) > v  # pincushion: outward
    # parity with OpenCV's projection of camera-frame points with distCoeffs (k1, k2, 0, 0)
    pts = np.random.default_rng(1).uniform([-2, -1, 3], [2, 1, 6], size=(50, 3))
    cv_uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K, np.array([-0.2, 0.05, 0.0, 0.0]))
    pin = pts[:, :2] / pts[:, 2:3] * 300.0 + [159.5, 89.5]
    ours = np.stack(lens.distort(pin[:, 0], pin[:, 1]), axis=1)
    assert np.allclose(ours, cv_uv.reshape(-1, 2), atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(k1=st.floats(-0.3, 0.3), k2=st.floats(-0.05, 0.1), u=st.floats(0, 319), v=st.floats(0, 179))
def test_undistort_inverts_distort(k1, k2, u, v):
    K = np.array([[260.0, 0, 159.5], [0, 260.0, 89.5], [0, 0, 1]])
    lens = LensDistortion.for_camera(k1, k2, K)
    x, y = (u - 159.5) / 260, (v - 89.5) / 260
    if math.hypot(x, y) >= 0.98 * lens.fold_radius():
        return
    du, dv = lens.distort(np.array(u), np.array(v))
    bu, bv = lens.undistort(du, dv)
    assert (float(bu), float(bv)) == pytest.approx((u, v), abs=1e-6)


def test_lens_distortion_moves_the_person_and_its_box_by_the_formula(plain):
    cam = plain.camera
    # a ground point seen near the bottom-left corner of the image
    foot = cam.image_to_ground(np.array([[0.15 * SMALL[0], 0.85 * SMALL[1]]]))[0]
    crowd = standing_crowd([foot])
    straight_img, straight = plain.render(crowd, 0.0)
    r = renderer(lens_k1=-0.25, lens_k2=0.03)
    img, bent = r.render(crowd, 0.0)
    lens = r.lens
    # the head point goes through the lens formula (no shake: the canvas is the image)
    hu, hv = lens.distort(np.array(straight.heads[0, 0], float), np.array(straight.heads[0, 1], float))
    assert bent.heads[0] == pytest.approx([float(hu), float(hv)], abs=1e-3)
    c = np.array([cam.K[0, 2], cam.K[1, 2]])
    assert np.linalg.norm(bent.heads[0] - c) < np.linalg.norm(straight.heads[0] - c) - 2  # barrel pulls inward
    # the box moved with the person: its centre inward, and it holds the person's pixels in the distorted frame
    box_c = lambda b: np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])  # noqa: E731
    assert np.linalg.norm(box_c(bent.boxes[0]) - c) < np.linalg.norm(box_c(straight.boxes[0]) - c) - 2
    empty_img, _ = r.render(CrowdState.empty(), 0.0)
    changed = np.abs(img.astype(int) - empty_img.astype(int)).max(axis=2) > 25
    ys, xs = np.nonzero(changed)
    x, y, w, h = bent.boxes[0]
    inside = (xs >= x - 1) & (xs <= x + w + 1) & (ys >= y - 1) & (ys <= y + h + 1)
    body = changed[int(y):int(y + h) + 1, int(x):int(x + w) + 1]
    assert body.mean() > 0.25
    # what changed outside the body box is the shadow on the floor: below the box's top half
    assert np.all(ys[~inside] > y + h / 2)


def test_lens_distortion_bends_the_background_by_the_formula():
    # the pinhole pixel that a distorted pixel shows is undistort(pixel): compare the two renders there
    straight = renderer(resolution=(320, 180))
    r = renderer(resolution=(320, 180), lens_k1=-0.12)
    a = straight.render(CrowdState.empty(), 0.0)[0].astype(np.float32)
    b = r.render(CrowdState.empty(), 0.0)[0].astype(np.float32)
    grid = np.mgrid[20:160:7, 20:300:7].reshape(2, -1).T.astype(np.float64)  # (v, u)
    su, sv = r.lens.undistort(grid[:, 1], grid[:, 0])
    sampled = cv2.remap(a, su.astype(np.float32)[None], sv.astype(np.float32)[None], cv2.INTER_LINEAR)[0]
    rows, cols = grid[:, 0].astype(int), grid[:, 1].astype(int)
    err = np.abs(b[rows, cols] - sampled).mean()
    unmoved = np.abs(b[rows, cols] - a[rows, cols]).mean()
    assert err < 0.4 * unmoved


def test_lens_that_folds_the_image_is_refused():
    with pytest.raises(RenderError, match=r"lens_k1=-0.6.*fold the image of camera 'platform'"):
        renderer(lens_k1=-0.6)


# --- occluders -----------------------------------------------------------------------------------------


def panel_between(cam, person_xy, *, s=0.7, size=(1.6, 1.2)):
    """An occluder on the line from the camera to a person's chest, at share ``s`` of the way, facing the camera."""
    chest = np.array([*person_xy, 1.2])
    centre = cam.position + s * (chest - cam.position)
    to_cam = cam.position[:2] - centre[:2]
    return {"center": centre.tolist(), "size": list(size), "yaw_deg": math.degrees(math.atan2(to_cam[1], to_cam[0])),
            "colour_bgr": [150, 40, 20]}


def test_occluder_hides_the_person_behind_it_and_shows_in_the_frame(plain):
    person = (12.0, 2.0)
    panel = panel_between(plain.camera, person)
    r = renderer(occluders=[panel])
    crowd = standing_crowd([person], ids=[5])
    _, alone = plain.render(crowd, 0.0)
    img, hidden = r.render(crowd, 0.0)
    assert alone.visible[0] == pytest.approx(1.0)
    assert hidden.visible[0] < 0.6
    # the panel's face shows in the panel's colour (minus the image's vignette), above its line of "text"
    uv = np.rint(r.camera.project(np.array([panel["center"]]) + [0.0, 0.0, 0.3])[0][0]).astype(int)
    face = img[uv[1] - 1:uv[1] + 2, uv[0] - 1:uv[0] + 2].reshape(-1, 3).mean(axis=0)
    assert face == pytest.approx([150, 40, 20], abs=25)
    # a person between the camera and the panel stays fully visible
    front = plain.camera.position[:2] + 0.5 * (np.asarray(person) - plain.camera.position[:2])
    _, ann = r.render(standing_crowd([front, person], ids=[6, 5]), 0.0)
    assert ann.visible[ann.row_of(6)] == pytest.approx(1.0)


def test_occluder_must_stay_above_the_floor():
    with pytest.raises(ScenarioError, match=r"render.occluders\[0\].*reaches below the floor"):
        scenario(occluders=[{"center": [1, 1, 0.3], "size": [1.0, 1.0]}])


# --- compression ------------------------------------------------------------------------------------


def test_bitrate_picks_the_quality_that_fits_the_stream():
    hi = renderer(noise_std=2.0, bitrate_kbps=3000)
    lo = renderer(noise_std=2.0, bitrate_kbps=300)
    assert 2 <= lo.jpeg_quality < hi.jpeg_quality <= 95
    ref = lo.effects.apply(lo.background, 0.0, lo._frame_hash(0), compress=False)
    budget = 300 * 1000 / 8 / 10  # bytes per frame at 10 frames/s
    size = lambda q: len(cv2.imencode(".jpg", ref, [cv2.IMWRITE_JPEG_QUALITY, q])[1])  # noqa: E731
    assert size(lo.jpeg_quality) <= budget < size(lo.jpeg_quality + 1)
    assert jpeg_quality_for_bitrate(ref, 1e-3, 10) == 2  # nothing fits: the lowest quality


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("render, message", [
    ({"light_out_region": [0.5, 0, 0.2, 1]}, r"light_out_region must be x0, y0, x1, y1 with 0 <= x0 < x1 <= 1"),
    ({"flicker_depth": 0.3}, r"flicker_depth=0.3 needs flicker_hz > 0"),
    ({"lighting": "dusk"}, r"render.lighting: Input should be 'day', 'evening' or 'night'; got 'dusk'"),
    ({"lens_k1": 2.0}, r"render.lens_k1: Input should be less than or equal to 1"),
    ({"shot_noise_std": -1}, r"render.shot_noise_std: Input should be greater than or equal to 0"),
])
def test_render_settings_are_validated(render, message):
    with pytest.raises(ScenarioError, match=message):
        scenario(**render)


# --- determinism ---------------------------------------------------------------------------------------

ALL_EFFECTS = dict(lighting="evening", flicker_hz=0.7, flicker_depth=0.3, light_out_at_s=0.2,
                   light_out_region=[0.0, 0.0, 0.4, 1.0], light_out_factor=0.5, noise_std=2.0, shot_noise_std=3.0,
                   motion_blur_px=3.0, blur_px=0.6, bitrate_kbps=800, shake_px=2.0, lens_k1=-0.12, lens_k2=0.02)


def test_same_seed_gives_identical_bytes_with_all_effects_on():
    sc = scenario(**ALL_EFFECTS, occluders=[panel_between(renderer().camera, (12.0, 2.0))])
    crowd = sample_crowd(sc, 30, seed=4)
    a = Renderer(sc, "platform", seed=9, supersample=1)
    b = Renderer(sc, "platform", seed=9, supersample=1)
    shots = []
    for t in (0.0, 0.3, 1.7):
        ia, aa = a.render(crowd, t)
        ib, ab = b.render(crowd, t)
        assert frame_sha(ia) == frame_sha(ib)
        assert np.array_equal(aa.boxes, ab.boxes) and np.array_equal(aa.visible, ab.visible)
        shots.append(frame_sha(ia))
    assert len(set(shots)) == 3
    assert frame_sha(Renderer(sc, "platform", seed=10, supersample=1).render(crowd, 0.3)[0]) != shots[1]


# --- appearance ----------------------------------------------------------------------------------------


def test_sample_appearance_follows_the_weights_and_palettes():
    sc = load_scenario("platform_intrusion", overrides={"crowd.appearance": {
        "jitter": 0,
        "groups": [{"name": "commuter_dark", "weight": 3.0, "shirt_palette": [[30, 30, 30]], "trousers_palette": [[20, 20, 20]]},
                   {"name": "hi_vis", "weight": 1.0, "shirt_palette": [[0, 200, 255], [0, 255, 200]],
                    "trousers_palette": [[90, 60, 30]], "skin_palette": [[1, 2, 3]]}]}})
    spec = sc.crowd.appearance
    assert appearance_group_names(spec) == ["commuter_dark", "hi_vis"]
    n = 4000
    shirt, trousers, skin, hair, group = sample_appearance(spec, n, np.random.default_rng(0))
    share = (group == 0).mean()
    assert share == pytest.approx(3 / 4, abs=3 * math.sqrt(0.75 * 0.25 / n))
    assert np.all(shirt[group == 0] == [30, 30, 30]) and np.all(trousers[group == 1] == [90, 60, 30])
    assert {tuple(c) for c in shirt[group == 1]} == {(0, 200, 255), (0, 255, 200)}
    assert np.all(skin[group == 1] == [1, 2, 3])
    shared_hair = {tuple(c) for c in spec.hair_palette}
    assert {tuple(c) for c in hair} <= shared_hair
    again = sample_appearance(spec, n, np.random.default_rng(0))
    assert all(np.array_equal(x, y) for x, y in zip((shirt, trousers, skin, hair, group), again))
    # jitter stays within its bound
    jittered, *_, jgroup = sample_appearance(spec.model_copy(update={"jitter": 5}), 500, np.random.default_rng(1))
    offsets = jittered[jgroup == 0].astype(int) - 30
    assert offsets.min() == -5 and offsets.max() == 5


def test_appearance_groups_must_have_unique_names():
    with pytest.raises(ScenarioError, match=r"crowd.appearance.groups: .*names must be unique"):
        load_scenario("platform_intrusion", overrides={"crowd.appearance.groups": [
            {"name": "a", "weight": 1, "shirt_palette": [[1, 1, 1]], "trousers_palette": [[1, 1, 1]]},
            {"name": "a", "weight": 1, "shirt_palette": [[1, 1, 1]], "trousers_palette": [[1, 1, 1]]}]})


def test_sample_crowd_dresses_people_from_the_scenario(plain):
    sc = load_scenario("platform_intrusion", overrides={"crowd.appearance": {"jitter": 0, "groups": [
        {"name": "only", "weight": 1, "shirt_palette": [[0, 0, 255]], "trousers_palette": [[0, 0, 0]]}]}})
    crowd = sample_crowd(sc, 10, seed=2)
    assert np.all(crowd.shirt_bgr == [0, 0, 255]) and np.all(crowd.appearance_group == 0)
