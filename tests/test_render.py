"""Renderer, annotations, video writer and site export: properties of rendered frames."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from sim.annotate import (FrameAnnotations, camera_instances, read_annotations_parquet, write_annotations_parquet,
                          zone_in_image)
from sim.render import Renderer, sample_crowd
from sim.render.camera import PinholeCamera
from sim.render.video import VideoError, VideoWriter, write_video
from sim.scenario import load_scenario
from sim.site_export import site_config_dict, write_site_config
from sim.state import CrowdState, Posture
from tests.helpers import frame_sha, standing_crowd

LIBRARY = ("platform_intrusion", "concourse_quiet", "concourse_overcrowding")


@pytest.fixture(scope="module")
def platform():
    return load_scenario("platform_intrusion")


@pytest.fixture(scope="module")
def clean_platform(platform):
    """The platform scenario without noise or JPEG, so that pixels compare exactly."""
    return platform.with_overrides(**{"render.noise_std": 0.0, "render.jpeg_quality": 0})


@pytest.fixture(scope="module")
def renderer(platform):
    return Renderer(platform, "platform", seed=5, supersample=1)


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(platform):
    crowd = sample_crowd(platform, 25, seed=3, camera=PinholeCamera.from_spec(platform.camera("platform")))
    a = Renderer(platform, "platform", seed=11, supersample=1)
    b = Renderer(platform, "platform", seed=11, supersample=1)
    for t in (0.0, 0.1, 3.7):
        ia, aa = a.render(crowd, t)
        ib, ab = b.render(crowd, t)
        assert frame_sha(ia) == frame_sha(ib)
        assert np.array_equal(aa.boxes, ab.boxes) and np.array_equal(aa.visible, ab.visible)
    # a frame does not depend on the frames rendered before it
    fresh = Renderer(platform, "platform", seed=11, supersample=1)
    assert frame_sha(a.render(crowd, 3.7)[0]) == frame_sha(fresh.render(crowd, 3.7)[0])


def test_different_seed_gives_different_noise(platform):
    crowd = standing_crowd([(16, 3)])
    ia, _ = Renderer(platform, "platform", seed=1, supersample=1).render(crowd, 0.0)
    ib, _ = Renderer(platform, "platform", seed=2, supersample=1).render(crowd, 0.0)
    assert frame_sha(ia) != frame_sha(ib)
    # but only by noise: the mean absolute difference is a few grey levels
    assert 0 < np.abs(ia.astype(int) - ib.astype(int)).mean() < 6


def test_successive_frames_get_different_noise(renderer):
    empty = CrowdState.empty()
    assert frame_sha(renderer.render(empty, 0.0)[0]) != frame_sha(renderer.render(empty, 0.1)[0])


# --- what the frame shows -----------------------------------------------------------------------


def test_box_covers_foreground(renderer):
    crowd = standing_crowd([(14.0, 3.0)])
    img, ann = renderer.render(crowd, 1.0)
    bg, bg_ann = renderer.render(CrowdState.empty(1.0), 1.0)  # same frame number: same noise
    assert len(ann) == 1 and len(bg_ann) == 0
    x, y, w, h = ann.boxes[0]
    assert w > 5 and h > 20
    roi = (slice(int(y), int(y + h) + 1), slice(int(x), int(x + w) + 1))
    changed = np.abs(img[roi].astype(int) - bg[roi].astype(int)).max(axis=2) > 20
    assert changed.mean() > 0.30
    # and nothing changed far from the box
    far = np.abs(img.astype(int) - bg.astype(int)).max(axis=2) > 20
    far[max(0, int(y) - 12):int(y + h) + 14, max(0, int(x) - 12):int(x + w) + 14] = False
    assert far.sum() == 0


def test_head_point_lies_in_the_top_of_the_box(renderer):
    _, ann = renderer.render(standing_crowd([(12.0, 2.0)]), 0.0)
    x, y, w, h = ann.boxes[0]
    u, v = ann.heads[0]
    assert x <= u <= x + w
    assert y <= v <= y + 0.2 * h


def test_nearer_person_occludes_farther_one(renderer):
    cam = renderer.camera
    far = np.array([12.0, 1.0])  # clear of the pillars
    # 1.2 m nearer along the line from the camera's foot point: the near body hides the far one
    toward = (cam.position[:2] - far) / np.linalg.norm(cam.position[:2] - far)
    near = far + 1.2 * toward
    _, alone = renderer.render(standing_crowd([far], ids=[7]), 0.0)
    _, both = renderer.render(standing_crowd([far, near], ids=[7, 8]), 0.0)
    assert alone.visible[alone.row_of(7)] == pytest.approx(1.0)
    v_far = both.visible[both.row_of(7)]
    assert v_far < 0.6
    assert both.visible[both.row_of(8)] == pytest.approx(1.0)


def test_pillar_occludes_person_behind_it(platform, renderer):
    cam = renderer.camera
    pillar = np.array([16.0, 4.5])  # the middle pillar's centre
    d = (pillar - cam.position[:2]) / np.linalg.norm(pillar - cam.position[:2])
    behind = pillar + 1.5 * d  # 1.5 m beyond the pillar's centre, seen through it
    _, ann = renderer.render(standing_crowd([behind], ids=[3]), 0.0)
    assert len(ann) == 1 and ann.visible[0] < 0.5
    beside = pillar + np.array([4.0, -1.0])
    _, ann2 = renderer.render(standing_crowd([beside], ids=[3]), 0.0)
    assert ann2.visible[0] == pytest.approx(1.0)


def test_person_outside_the_image_is_not_annotated(renderer):
    _, ann = renderer.render(standing_crowd([(16.0, 3.0), (60.0, 3.0)], ids=[1, 2]), 0.0)
    assert ann.ids.tolist() == [1]


def test_person_at_the_image_border_is_partly_visible(renderer):
    cam = renderer.camera
    # a ground point seen just inside the image's left edge (the body leans out of the image)
    edge = cam.image_to_ground(np.array([[8.0, cam.height * 0.6]]))[0]
    _, ann = renderer.render(standing_crowd([edge]), 0.0)
    assert len(ann) == 1
    assert ann.boxes[0, 0] == 0.0
    assert 0.1 < ann.visible[0] < 0.9


def test_visibility_can_be_skipped(renderer):
    _, ann = renderer.render(standing_crowd([(16.0, 3.0)]), 0.0, visibility=False)
    assert np.isnan(ann.visible).all()


def test_lying_person_is_drawn_along_the_floor(renderer):
    # seen from the side (heading along the image's x axis), lying is wider than tall
    _, standing = renderer.render(standing_crowd([(16.0, 3.0)], heading=0.0), 0.0)
    _, lying = renderer.render(standing_crowd([(16.0, 3.0)], heading=0.0, posture=Posture.LYING, progress=1.0), 0.0)
    _, half = renderer.render(standing_crowd([(16.0, 3.0)], heading=0.0, posture=Posture.FALLING, progress=0.5), 0.0)
    ws, hs = standing.boxes[0, 2:]
    wl, hl = lying.boxes[0, 2:]
    wh, hh = half.boxes[0, 2:]
    assert hs > 2 * ws
    assert wl > 2 * hl
    assert hl < hh < hs


def test_brightness_scales_the_frame(platform):
    crowd = standing_crowd([(12.0, 3.0), (18.0, 2.0)])
    base = platform.with_overrides(**{"render.noise_std": 0.0, "render.jpeg_quality": 0})
    dim = base.with_overrides(**{"render.brightness": 0.5})
    m_full = Renderer(base, "platform", seed=0, supersample=1).render(crowd, 0.0)[0].mean()
    m_dim = Renderer(dim, "platform", seed=0, supersample=1).render(crowd, 0.0)[0].mean()
    assert m_dim / m_full == pytest.approx(0.5, abs=0.01)


def test_blur_softens_edges(clean_platform):
    crowd = standing_crowd([(16.0, 3.0)])
    sharp = Renderer(clean_platform, "platform", seed=0, supersample=1).render(crowd, 0.0)[0]
    blurred_sc = clean_platform.with_overrides(**{"render.blur_px": 2.0})
    soft = Renderer(blurred_sc, "platform", seed=0, supersample=1).render(crowd, 0.0)[0]

    def edge_energy(im):
        g = cv2.cvtColor(im, cv2.COLOR_BGR2GRAY).astype(np.float64)
        return np.abs(np.diff(g, axis=1)).mean()

    assert edge_energy(soft) < 0.7 * edge_energy(sharp)


def test_shake_translates_image_and_annotations(clean_platform):
    crowd = standing_crowd([(16.0, 3.0)])
    still = Renderer(clean_platform, "platform", seed=4, supersample=1)
    shaky_sc = clean_platform.with_overrides(**{"render.shake_px": 4.0})
    shaky = Renderer(shaky_sc, "platform", seed=4, supersample=1)
    moved = 0
    for t in np.arange(0.0, 2.0, 0.1):
        dx, dy = shaky.shake_offset(t)
        assert abs(dx) <= 4 and abs(dy) <= 4
        a, ann_a = still.render(crowd, t)
        b, ann_b = shaky.render(crowd, t)
        # output pixel (u, v) of the shaken camera shows nominal pixel (u + dx, v + dy)
        h, w = a.shape[:2]
        ys, xs = slice(8, h - 8), slice(8, w - 8)
        assert np.array_equal(b[ys, xs], a[8 + dy:h - 8 + dy, 8 + dx:w - 8 + dx])
        assert ann_b.heads[0] == pytest.approx(ann_a.heads[0] - np.array([dx, dy]))
        moved += (dx, dy) != (0, 0)
    assert moved > 5


@pytest.mark.parametrize("name", LIBRARY)
def test_library_cameras_show_the_floor(name):
    sc = load_scenario(name)
    for spec in sc.cameras:
        r = Renderer(sc, spec, seed=0, supersample=1)
        img, _ = r.render(CrowdState.empty(), 0.0)
        assert img.shape == (spec.resolution[1], spec.resolution[0], 3)
        cam = r.camera
        # the walkable floor: pixels around its visible points are floor-grey, and vary (tiles, texture)
        walk = np.asarray(sc.station.walkable, float)
        rng = np.random.default_rng(0)
        pts = rng.uniform(walk.min(axis=0), walk.max(axis=0), size=(400, 2))
        uv = cam.ground_to_image(pts)
        inside = cam.in_image(uv, margin_px=-2)
        assert inside.sum() > 50, "the camera sees little of the walkable floor"
        px = np.rint(uv[inside]).astype(int)
        floor = img[px[:, 1], px[:, 0]].astype(float)
        assert 90 < np.median(floor) < 210
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200
        assert img.std() > 15


def test_renderer_accepts_a_camera_name_and_rejects_an_unknown_one(platform):
    assert Renderer(platform, "platform", supersample=1).camera.name == "platform"
    with pytest.raises(KeyError, match="has no camera 'nope'"):
        Renderer(platform, "nope")


# --- annotations ------------------------------------------------------------------------------------


def test_frame_annotations_validate_shapes():
    with pytest.raises(ValueError, match=r"FrameAnnotations.boxes must have shape \(2, 4\); got \(2, 3\)"):
        FrameAnnotations(frame=0, t=0.0, camera="c", ids=np.arange(2), boxes=np.zeros((2, 3)),
                         heads=np.zeros((2, 2)), visible=np.ones(2))


def test_annotations_parquet_round_trip(tmp_path, renderer):
    frames = [renderer.render(standing_crowd([(14, 3), (18, 2)], ids=[4, 9], t=t), t)[1] for t in (0.0, 0.1, 0.2)]
    frames.append(FrameAnnotations.empty(frame=3, t=0.3, camera="platform"))
    path = tmp_path / "ann.parquet"
    assert write_annotations_parquet(path, frames) == 6
    import pyarrow.parquet as pq

    tab = pq.read_table(path)
    assert tab.column_names == ["frame", "t", "camera", "class", "person_id", "x", "y", "w", "h", "head_u", "head_v",
                                "visible", "appearance_group"]
    assert set(tab.column("class").to_pylist()) == {"person"}
    assert tab.column("frame").to_pylist() == [0, 0, 1, 1, 2, 2]
    back = read_annotations_parquet(path)
    assert len(back) == 3
    for a, b in zip(frames[:3], back):
        assert (a.frame, a.camera) == (b.frame, b.camera) and a.t == pytest.approx(b.t)
        assert np.array_equal(a.ids, b.ids) and np.array_equal(a.boxes, b.boxes) and np.array_equal(a.visible, b.visible)
        assert np.array_equal(a.appearance_group, b.appearance_group)
    # a table from before the appearance_group column reads with the unknown group
    pq.write_table(tab.drop_columns(["appearance_group"]), tmp_path / "old.parquet")
    old = read_annotations_parquet(tmp_path / "old.parquet")
    assert [fa.appearance_group.tolist() for fa in old] == [[-1, -1]] * 3


def test_appearance_group_reaches_the_annotations(renderer):
    crowd = standing_crowd([(14, 3), (18, 2)], ids=[4, 9])
    crowd = CrowdState(**{**{f: getattr(crowd, f) for f in crowd.__dataclass_fields__},
                          "appearance_group": np.array([3, 1], np.int16)})
    _, ann = renderer.render(crowd, 0.0)
    assert ann.appearance_group[ann.row_of(4)] == 3 and ann.appearance_group[ann.row_of(9)] == 1
    assert ann[ann.ids == 9].appearance_group.tolist() == [1]


def _ann(frame, t, ids, boxes, visible):
    n = len(ids)
    return FrameAnnotations(frame=frame, t=t, camera="cam", ids=np.asarray(ids), boxes=np.asarray(boxes, float).reshape(n, 4),
                            heads=np.zeros((n, 2)), visible=np.asarray(visible, float))


def test_camera_instances_from_agents_hand_computed():
    frames = [
        _ann(0, 0.0, [1], [[0, 0, 5, 5]], [1.0]),
        _ann(1, 1.0, [1, 2], [[10, 20, 30, 40], [50, 10, 10, 10]], [0.1, 0.15]),  # onset frame of event "a"
        _ann(2, 2.0, [1, 2], [[12, 20, 30, 40], [50, 10, 10, 10]], [0.5, 0.15]),
        _ann(3, 3.0, [3], [[0, 0, 5, 5]], [0.1]),
    ]
    ev = lambda i, typ, t0, t1, agents: SimpleNamespace(id=i, type=typ, t_start=t0, t_end=t1, agent_ids=agents,  # noqa: E731
                                                        zone=None, position_m=None, source="test")
    events = [
        ev("a", "person_on_ground", 0.5, 2.5, [1, 2]),  # seen: agent 1 shows at 0.5 > 0.2 in frame 2
        ev("b", "intrusion", 2.5, 3.5, [3]),  # never above 0.2 visible: another camera's event
        ev("c", "wrong_way", 5.0, 6.0, [1]),  # after the last frame: not seen
    ]
    out = camera_instances(events, "cam", frames)
    assert camera_instances(events, "cam", {fa.frame: fa for fa in reversed(frames)}) == out
    assert [d["id"] for d in out] == ["a"]
    a = out[0]
    assert a["type"] == "person_on_ground" and a["camera"] == "cam"
    assert (a["t_start"], a["t_end"]) == (0.5, 2.5)
    # union of the boxes of agents 1 and 2 in frame 1: x 10..60, y 10..60
    assert a["bbox_at_onset"] == [10.0, 10.0, 60.0 - 10.0, 60.0 - 10.0]
    assert a["visible_fraction_at_onset"] == pytest.approx(0.15)


def test_camera_instances_of_zone_events(platform):
    cam = PinholeCamera.from_spec(platform.camera("platform"))
    events = [SimpleNamespace(id="d1", type="intrusion", t_start=1.0, t_end=None, agent_ids=(), zone="tracks",
                              position_m=None, source="test")]
    out = camera_instances(events, "platform", [], scenario=platform)
    assert len(out) == 1 and out[0]["t_end"] is None
    box, share = zone_in_image(cam, np.asarray(platform.station.zones[0].polygon, float))
    assert out[0]["bbox_at_onset"] == [round(v, 2) for v in box]
    assert 0 < share <= 1
    # the track bed spans the image's width: its box does too
    assert box[0] == 0.0 and box[2] == pytest.approx(cam.width - 1.0)
    with pytest.raises(ValueError, match="names zone 'nowhere'"):
        camera_instances([SimpleNamespace(id="x", type="excessive_density", t_start=0, t_end=1, agent_ids=(),
                                          zone="nowhere", position_m=None, source="t")], "platform", [], scenario=platform)


def test_density_event_is_placed_by_its_zone_not_its_agents():
    sc = load_scenario("concourse_quiet")
    cam = PinholeCamera.from_spec(sc.camera("hall"))
    frames = [_ann(0, 0.0, [5], [[1, 2, 3, 4]], [1.0])]
    ev = SimpleNamespace(id="dense", type="excessive_density", t_start=0.0, t_end=9.0, agent_ids=(5,),
                         zone="gate_approach", position_m=(19.0, 8.0), source="emergent")
    out = camera_instances([ev], "hall", frames, scenario=sc)
    box, share = zone_in_image(cam, np.asarray(sc.station.zones[0].polygon, float))
    assert out[0]["bbox_at_onset"] == [round(v, 2) for v in box]
    assert out[0]["visible_fraction_at_onset"] == pytest.approx(share, abs=1e-4)
    assert box[2] > 100 and box[3] > 50  # the gate approach fills a good part of the hall camera's view


def test_zone_behind_the_camera_is_not_in_the_image(platform):
    cam = PinholeCamera.from_spec(platform.camera("platform"))
    behind = np.array([[10, 20], [20, 20], [20, 30], [10, 30]], float)  # the camera stands at y = 11 looking to -y
    assert zone_in_image(cam, behind) == (None, 0.0)


# --- video ------------------------------------------------------------------------------------------


def test_video_writer_round_trip(tmp_path, renderer):
    path = tmp_path / "clip.mp4"
    crowd = standing_crowd([(16.0, 3.0)])
    frames = [renderer.render(crowd, t)[0] for t in (0.0, 0.1, 0.2, 0.3, 0.4)]
    assert write_video(path, frames, fps=10) == 5
    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, img = cap.read()
        if not ok:
            break
        assert img.shape == frames[0].shape
        n += 1
    cap.release()
    assert n == 5
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]  # no temporary file left


def test_video_writer_is_atomic_and_checks_frames(tmp_path):
    path = tmp_path / "bad.mp4"
    with pytest.raises(VideoError, match=r"frame must be a \(36, 64, 3\) uint8 BGR array"):
        with VideoWriter(path, fps=10, size=(64, 36)) as out:
            out.write(np.zeros((36, 64, 3), np.uint8))
            out.write(np.zeros((10, 10, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="folder .* does not exist"):
        VideoWriter(tmp_path / "no" / "x.mp4", fps=10, size=(64, 36))
    with pytest.raises(VideoError, match="cannot open a writer with codec 'avc1'|cannot open a writer"):
        VideoWriter(tmp_path / "x.unknownext", fps=10, size=(64, 36), fourcc="zzzz")
    assert list(tmp_path.iterdir()) == []


# --- site configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIBRARY)
def test_site_config_round_trips_through_detectors_site(tmp_path, name):
    from detectors.site import SiteConfig

    sc = load_scenario(name)
    spec = sc.cameras[0]
    path = tmp_path / "site.yaml"
    write_site_config(sc, spec.name, path)
    site = SiteConfig.load(path)
    cam = PinholeCamera.from_spec(spec)
    assert site.camera == spec.name and site.image_size == tuple(spec.resolution) and site.fps == spec.fps
    walk = np.asarray(sc.station.walkable, float)
    pts = np.random.default_rng(1).uniform(walk.min(axis=0), walk.max(axis=0), size=(200, 2))
    pts = pts[cam.in_image(cam.ground_to_image(pts))]  # the floor the camera sees
    assert len(pts) > 20
    assert np.allclose(site.ground_to_image(pts), cam.ground_to_image(pts), atol=1e-6)
    assert np.allclose(site.image_to_ground(cam.ground_to_image(pts)), pts, atol=1e-6)
    # the projection gives a person's height in pixels as the camera does
    top, _ = cam.project(np.c_[pts, np.full(len(pts), 1.7)])
    assert np.allclose(site.person_height_px(pts, 1.7), np.abs(cam.ground_to_image(pts)[:, 1] - top[:, 1]), atol=1e-6)
    assert [z.name for z in site.zones] == [z.name for z in sc.station.zones]
    for z, zs in zip(site.zones, sc.station.zones):
        assert z.kind.value == zs.kind and np.allclose(z.polygon_m, zs.polygon)
        assert z.capacity_per_m2 == zs.capacity_per_m2 and z.direction_deg == zs.direction_deg


def test_site_config_dict_has_exactly_the_documented_keys(platform):
    d = site_config_dict(platform, "platform")
    assert list(d) == ["camera", "image_size", "fps", "calibration", "zones", "abandoned_after_s"]
    assert d["abandoned_after_s"] == 10.0  # the truth rule of the scenario, as the site states it
    assert list(d["calibration"]) == ["homography", "projection"]
    assert d["zones"][0] == {"name": "tracks", "kind": "forbidden",
                             "polygon": [[0.0, -4.5], [32.0, -4.5], [32.0, 0.0], [0.0, 0.0]]}


def test_sample_crowd_places_people_on_free_floor_and_says_when_full(platform):
    cam = PinholeCamera.from_spec(platform.camera("platform"))
    crowd = sample_crowd(platform, 40, seed=1, camera=cam)
    assert len(crowd) == 40
    assert np.all(cam.in_image(cam.ground_to_image(crowd.pos_m)))
    d = np.linalg.norm(crowd.pos_m[:, None] - crowd.pos_m[None], axis=2) + np.eye(40) * 1e9
    assert np.all(d >= crowd.radius_m[:, None] + crowd.radius_m[None] + 0.05 - 1e-9)
    with pytest.raises(ValueError, match=r"only \d+ of n=1000 people fit on the floor in view of the camera"):
        sample_crowd(platform, 1000, seed=1, camera=cam)


def test_background_is_the_frame_without_people(clean_platform):
    r = Renderer(clean_platform, "platform", seed=0, supersample=1)
    img, ann = r.render(CrowdState.empty(), 0.0)
    assert len(ann) == 0
    assert np.array_equal(img, r.background)


def test_batched_fill_draws_the_same_bytes_as_the_per_shape_loop(monkeypatch):
    import sim.render.painter as render_mod
    from sim.render import Renderer, sample_crowd
    from sim.scenario import load_scenario

    sc = load_scenario("platform_intrusion")  # pillars stand in front of some people
    hashes = {}
    for backend in ("numba", "opencv"):
        monkeypatch.setattr(render_mod, "raster_backend", lambda b=backend: b)
        r = Renderer(sc, sc.cameras[0], seed=2)
        state = sample_crowd(sc, 200, seed=4, camera=r.camera)
        img, _ = r.render(state, 2.0)
        hashes[backend] = frame_sha(img)
    assert hashes["numba"] == hashes["opencv"]


def test_put_off_restores_draw_the_same_bytes_as_the_per_shape_loop(monkeypatch):
    """A dense concourse behind hanging signs: many people have occluded pixels restored, most of
    them put off to the end of a batch; the frame must match the per-shape loop's, byte for byte."""
    import sim.render.painter as render_mod
    from sim.render import Renderer, sample_crowd
    from sim.scenario import load_scenario

    signs = [{"center": [14.0, 6.0, 2.9], "size": [3.0, 0.8], "yaw_deg": 200, "colour_bgr": [120, 62, 18]},
             {"center": [19.5, 11.5, 3.0], "size": [2.0, 0.6], "yaw_deg": 250, "colour_bgr": [20, 120, 30]}]
    sc = load_scenario("concourse_quiet", overrides={"render.occluders": signs, "render.lens_k1": -0.12})
    hashes = {}
    for backend in ("numba", "opencv"):
        monkeypatch.setattr(render_mod, "raster_backend", lambda b=backend: b)
        r = Renderer(sc, sc.cameras[0], seed=2)
        state = sample_crowd(sc, 400, seed=5, camera=r.camera, standing_fraction=0.2)
        g = r._people(state)
        assert int(g.behind.sum()) >= 50  # the case under test: many restores
        img, _ = r.render(state, 0.5)
        hashes[backend] = frame_sha(img)
    assert hashes["numba"] == hashes["opencv"]
