"""The density CNN: perspective-normalised targets, the shipped weights and their model card, the
detector's zone counts, the training command."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from detectors.density_cnn import (STRIDE, WEIGHTS_FILE, DensityCNN, cell_foot_points, foot_sigma_cells, output_size,
                                   perspective_channel, splat_feet)

torch = pytest.importorskip("torch")
shipped = pytest.mark.skipif(not os.path.exists(WEIGHTS_FILE), reason="no shipped density CNN weights")
#: [persons/m²] how far the shipped network may read a staged crowd of the concourse from its true density
STAGED_TOLERANCE_PER_M2 = 0.5


def test_output_size_is_a_quarter_rounded_up():
    assert output_size((320, 180)) == (320 // 4, 180 // 4)  # 80 x 45
    assert output_size((321, 181)) == (81, 46)


def test_cell_foot_points_are_cell_centres_in_full_resolution():
    pts = cell_foot_points((320, 180), (640, 360))
    # one cell = 4 working px = 8 full-resolution px; the first centre at (4, 4)
    assert pts.shape == (45, 80, 2)
    assert np.allclose(pts[0, 0], [0.5 * 8, 0.5 * 8])
    assert np.allclose(pts[2, 3], [3.5 * 8, 2.5 * 8])


def test_splat_keeps_one_unit_per_foot_inside_the_image():
    feet = np.array([[100.0, 100.0], [300.5, 200.25], [-5.0, 10.0], [np.nan, np.nan]])
    m = splat_feet(feet, (320, 180), (640, 360), sigma_cells=1.0)
    assert m.shape == (45, 80)
    assert m.sum() == pytest.approx(2.0, abs=1e-4)  # two feet inside, one outside, one nan
    # a foot at a cell centre without blur lands in that cell only: (100, 100) px / 8 = cell (12.5, 12.5)
    one = splat_feet(np.array([[12.5 * 8, 12.5 * 8]]), (320, 180), (640, 360), sigma_cells=0)
    assert one[12, 12] == pytest.approx(1.0)
    assert STRIDE == 4


def test_perspective_normalised_targets_keep_unit_mass_per_person():
    # a near person (120 px tall) spreads wider than a far one (24 px), each of mass 1
    feet = np.array([[100.0, 300.0], [500.0, 80.0]])
    sigma = foot_sigma_cells(np.array([120.0, 24.0]), (320, 180), (640, 360))
    assert sigma[0] > sigma[1] and sigma[1] == pytest.approx(0.5)  # 0.12 * 24 px / 8 px per cell = 0.36 -> floor 0.5
    m = splat_feet(feet, (320, 180), (640, 360), sigma)
    near, far = m[:, :40].sum(), m[:, 40:].sum()
    assert near == pytest.approx(1.0, abs=1e-4) and far == pytest.approx(1.0, abs=1e-4)
    assert m[:, :40].max() < m[:, 40:].max()  # the wide blob's peak is lower


def test_perspective_channel_is_scaled_and_finite():
    rows = np.array([[np.nan, 32.0], [64.0, 1000.0]])
    assert perspective_channel(rows).tolist() == [[0.0, 0.5], [1.0, 8.0]]


def test_missing_weights_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="density_cnn_missing.pt"):
        DensityCNN(str(tmp_path / "density_cnn_missing.pt"))


def test_predict_rejects_colour_images_and_other_architectures(tmp_path):
    from detectors.density_cnn import build_net

    path = tmp_path / "w.pt"
    torch.save(build_net().state_dict(), path)
    persp = np.zeros((180, 320), np.float32)
    with pytest.raises(ValueError, match=r"\(H, W\) uint8"):
        DensityCNN(str(path)).predict(np.zeros((180, 320, 3), np.uint8), persp)
    with pytest.raises(ValueError, match=r"perspective must have the grey image's shape \(180, 320\)"):
        DensityCNN(str(path)).predict(np.zeros((180, 320), np.uint8), persp[:90])
    torch.save(build_net(channels=16).state_dict(), path)
    with pytest.raises(ValueError, match="do not fit this network"):
        DensityCNN(str(path))


def _rendered(counts):
    """Grey 320x180 frames of the overcrowding concourse at 50 s with the first k persons drawn, per k,
    and the camera's perspective channel (a training seed: these frames are not evaluation footage)."""
    import cv2

    from detectors.site import SiteConfig
    from sim.world.model import StationModel
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from train.density import perspective_of

    sc = load_scenario("concourse_overcrowding")
    model = StationModel(sc, seed=19_900)
    model.run_until(50.0)
    crowd = model.snapshot()
    rend = Renderer(sc, sc.cameras[0], seed=19_900)
    out = []
    for k in counts:
        image, _ = rend.render(crowd[np.arange(len(crowd)) < k], 50.0, visibility=False)
        out.append(cv2.cvtColor(cv2.resize(image, (320, 180), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY))
    site = SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name))
    return len(crowd), out, perspective_of(site, (320, 180))


@pytest.fixture(scope="module")
def shipped_counts():
    """The shipped network's maps of an empty concourse, 40 persons drawn, and everyone."""
    cnn = DensityCNN()
    n, greys, persp = _rendered([0, 40, 10_000])
    maps = [cnn.predict(g, persp) for g in greys]
    return n, maps, cnn.predict(greys[1], persp)


@shipped
def test_shipped_model_shape_determinism_and_more_people_drawn_more_counted(shipped_counts):
    n, maps, again = shipped_counts
    assert n > 80  # the train has emptied onto the concourse
    assert maps[0].shape == (45, 80)
    assert all((m >= 0).all() for m in maps)
    assert np.array_equal(maps[1], again)
    counts = [float(m.sum()) for m in maps]
    assert counts[0] < counts[1] < counts[2] - 20, counts  # everyone drawn reads more than 40, 40 more than none


@shipped
def test_shipped_model_counts_40_persons_drawn_as_about_40(shipped_counts):
    _, maps, _ = shipped_counts
    counts = [float(m.sum()) for m in maps]
    assert 25 < counts[1] - counts[0] < 55, counts


@shipped
def test_shipped_model_reads_almost_nobody_on_an_empty_station(shipped_counts):
    _, maps, _ = shipped_counts
    assert float(maps[0].sum()) < 5


@shipped
def test_model_card_describes_the_shipped_weights():
    """The card's checksum and size are those of the weights beside it: a card cannot outlive its weights."""
    import json

    from train.density import weights_sha256

    with open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8") as fh:
        card = json.load(fh)
    assert card["weights_sha256"] == weights_sha256(WEIGHTS_FILE)
    assert card["weights_bytes"] == os.path.getsize(WEIGHTS_FILE)


@shipped
def test_shipped_weights_are_small_and_carry_a_model_card():
    import json

    from sim.seeds import HELD_OUT_SEEDS, TRAINING_SEEDS

    assert os.path.getsize(WEIGHTS_FILE) < 5_000_000
    with open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8") as fh:
        card = json.load(fh)
    assert card["command"].startswith("stationwatch train density")
    assert isinstance(card["seed"], int) and card["train_seconds"] > 0 and card["train_frames"] > 1000
    assert all(c["seed"] in TRAINING_SEEDS for c in card["data"]["clips"])
    val = card["validation"]  # held-out footage, against the classical pixel estimate
    assert val["range_per_m2"] == [0.0, 4.0] and val["frames"] > 100
    assert all(s in HELD_OUT_SEEDS for s in val["seeds"])
    assert math.isfinite(val["cnn_rms"]) and math.isfinite(val["pixels_rms"])


@shipped
def test_shipped_cnn_beats_the_pixel_estimate_and_the_target():
    """The model card's held-out validation (seeds 906 and 907 for the shipped weights: CNN 0.133, pixels 0.342
    persons/m2 RMS over 0-4 persons/m2) against the pixel baseline and the 0.25 persons/m2 target."""
    import json

    with open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8") as fh:
        val = json.load(fh)["validation"]
    assert val["cnn_rms"] < val["pixels_rms"] and val["cnn_rms"] <= 0.25


@shipped
def test_detector_cnn_counts_the_map_over_the_zone_cells():
    from detectors.density import DensityDetector
    from detectors.perception import Perception
    from detectors.site import SiteConfig
    from detectors.source import Frame
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict

    sc = load_scenario("concourse_overcrowding")
    site = SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name))
    det = DensityDetector(site, method="cnn", smoothing_s=0)
    perception = Perception(site, warmup_s=0)
    w, h = site.image_size
    percept = perception.update(Frame(index=0, t=0.0, image=np.full((h, w, 3), 128, np.uint8)))
    persons = det.persons(percept)
    dmap = det._cnn.predict(percept.grey, det._perspective).reshape(-1)
    assert persons[0] == pytest.approx(float(dmap[det._cells[0]].sum()))
    assert len(det._cells[0]) > 0
    # the zone is in view: the cells' ground area is the zone's, to a few per cent
    assert det._view_area[0] == pytest.approx(det.zones[0].area_m2, rel=0.1)


def test_train_command_runs_on_a_tiny_setting(tmp_path):
    import json

    from train.clips import Clip
    from train.density import Samples, fit, render_samples, save

    clips = [Clip("concourse_surge", 10_001, {}, t_from_s=3.0, t_to_s=6.0, every_s=1.0)]
    samples = render_samples(clips, progress=False)
    assert len(samples) == 3  # t = 3, 4, 5
    assert samples.grey.shape == (3, 180, 320) and samples.target.shape == (3, 45, 80)
    assert samples.perspective.shape == (1, 180, 320) and samples.view.tolist() == [0, 0, 0]
    samples.save(str(tmp_path / "s.npz"), clips)
    again = Samples.load(str(tmp_path / "s.npz"), clips)
    assert np.array_equal(again.grey, samples.grey)
    with pytest.raises(ValueError, match="rendered from other clips"):
        Samples.load(str(tmp_path / "s.npz"), [Clip("concourse_surge", 10_002)])
    res = fit(samples, seed=1, epochs=1, progress=False)
    assert res.train_frames == 3 and np.isfinite(res.final_loss)
    meta = save(res, str(tmp_path / "w.pt"), card={"command": "stationwatch train density --epochs 1", "seed": 1})
    data = json.load(open(meta, encoding="utf-8"))
    assert data["command"] == "stationwatch train density --epochs 1" and data["parameters"] > 10_000
    out = DensityCNN(str(tmp_path / "w.pt")).predict(np.zeros((180, 320), np.uint8), samples.perspective[0])
    assert out.shape == (45, 80)
    # a warm start begins from the weights given: with a learning rate of 0 one epoch changes nothing
    again = fit(samples, seed=2, epochs=1, lr=0.0, init=str(tmp_path / "w.pt"), progress=False)
    assert all(torch_equal(again.state_dict[k], res.state_dict[k]) for k in res.state_dict)
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        fit(samples, epochs=1, init=str(tmp_path / "nowhere.pt"), progress=False)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_saving_weights_is_atomic_and_0644(tmp_path, monkeypatch):
    """Weights are written through the atomic writer: an interrupted save keeps the previous file whole and leaves
    no temporary file; a finished one is readable by all."""
    import os

    import torch

    from train.density import TrainResult, save

    res = TrainResult(final_loss=1.0, train_frames=1, seconds=0.0, state_dict={"w": torch.zeros(3)}, losses=[1.0])
    (tmp_path / "w.pt").write_bytes(b"previous weights")
    real = torch.save

    def interrupted(obj, f, *args, **kwargs):
        real(obj, f, *args, **kwargs)
        raise KeyboardInterrupt  # after some bytes reached the disk

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(res, str(tmp_path / "w.pt"), card={"seed": 0})
    assert (tmp_path / "w.pt").read_bytes() == b"previous weights" and os.listdir(tmp_path) == ["w.pt"]
    monkeypatch.setattr(torch, "save", real)
    save(res, str(tmp_path / "w.pt"), card={"seed": 0})
    assert torch.load(tmp_path / "w.pt")["w"].tolist() == [0, 0, 0]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {"w.pt": "0o644", "w.json": "0o644"}


def _staged_crowd(density_per_m2: float, seed: int):
    """The overcrowding concourse's gate approach (17-22 m x 4.5-11.5 m, 35 m²) packed with people standing at
    least 0.38 m apart at ``density_per_m2``, nobody else in the hall, rendered through the hall camera; returns
    (grey 320x180 working image, site, true density of the zone). No seed of any set: nothing is simulated."""
    import cv2

    from detectors.site import SiteConfig
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from tests.helpers import standing_crowd

    sc = load_scenario("concourse_overcrowding")
    rng = np.random.default_rng(seed)
    x0, x1, y0, y1 = 17.1, 21.9, 4.6, 11.4  # a body's radius inside the zone: feet on its edge are ambiguous
    n = int(round(density_per_m2 * 35.0))
    pts = np.zeros((0, 2))
    while len(pts) < n:
        p = rng.uniform([x0, y0], [x1, y1])
        if len(pts) == 0 or np.min(np.hypot(*(pts - p).T)) > 0.38:
            pts = np.vstack([pts, p])
    crowd = standing_crowd(pts, heading=rng.uniform(0, 2 * np.pi, n), shirt=rng.integers(20, 230, (n, 3)),
                           trousers=rng.integers(10, 120, (n, 3)), height=rng.uniform(1.6, 1.9, n))
    image, _ = Renderer(sc, sc.cameras[0], seed=seed).render(crowd, 30.0, visibility=False)
    _staged_crowd.last_image = image  # the full-resolution frame, for weights that read it
    grey = cv2.cvtColor(cv2.resize(image, (320, 180), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    return grey, SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name)), n / 35.0


_SATURATES = pytest.mark.xfail(strict=True, reason="the shipped network still saturates on a packed crowd: it "
                                                   "reads 1.48 persons/m2 at 2.5 and 1.80 at 3.5 (1.71 and 2.01 through "
                                                   "the card's calibration map; the crop-trained weights before read "
                                                   "1.95 and 2.44): the fine-tuning footage holds few zones above "
                                                   "2.5 persons/m2; head-target weights (not shipped) read 1.85 "
                                                   "and 2.00 (2.18 and 2.34 calibrated)")


@shipped
@pytest.mark.parametrize("density", [0.5, 1.5, pytest.param(2.5, marks=_SATURATES), pytest.param(3.5, marks=_SATURATES)])
def test_shipped_cnn_reads_a_staged_crowd_within_tolerance(density):
    from detectors.density import DensityDetector
    from detectors.perception import WorkGrid

    grey, site, truth = _staged_crowd(density, seed=int(density * 10))
    det = DensityDetector(site, method="cnn")
    det._prepare(WorkGrid(site, (320, 180)))
    dmap = det._cnn.predict(grey, det._perspective).reshape(-1)
    estimate = float(dmap[det._cells[0]].sum()) / det._view_area[0]
    assert abs(estimate - truth) <= STAGED_TOLERANCE_PER_M2, (estimate, truth)


def test_dense_clips_are_the_density_scenarios_at_training_seeds():
    from sim.scenario import load_scenario
    from sim.seeds import TRAINING_SEEDS
    from train.clips import dense_clips

    clips = dense_clips(8, first_seed=10_500)
    assert [c.scenario for c in clips] == ["concourse_overcrowding"] * 6 + ["negatives_density_queue"] * 2  # 3/4, 1/4
    assert [c.seed for c in clips] == list(range(10_500, 10_508)) and all(c.seed in TRAINING_SEEDS for c in clips)
    base = load_scenario("concourse_overcrowding")
    for c in clips[:6]:
        sc = load_scenario(c.scenario, c.overrides)
        for k in (0, 1):  # passengers of each train scaled by 0.7 to 1.3
            assert 0.7 * 110 - 0.5 <= sc.station.trains[k].count <= 1.3 * 110 + 0.5
        # the library's own camera, moved by centimetres only
        assert np.allclose(sc.cameras[0].position, base.cameras[0].position, atol=0.25)
        assert 1.0 <= c.every_s <= 2.0 and (c.t_from_s, c.t_to_s) == (10.0, 90.0)
    assert dense_clips(8, first_seed=10_500) == clips  # drawn from the seeds: the same clips again


def test_model_card_names_the_target_and_old_cards_mean_feet(tmp_path):
    import json

    from detectors.density_cnn import load_target

    assert load_target(str(tmp_path / "absent.json")) == "foot"
    (tmp_path / "old.json").write_text(json.dumps({"command": "stationwatch train density"}))
    assert load_target(str(tmp_path / "old.json")) == "foot"
    (tmp_path / "head.json").write_text(json.dumps({"target": "head"}))
    assert load_target(str(tmp_path / "head.json")) == "head"
    (tmp_path / "bad.json").write_text(json.dumps({"target": "hands"}))
    with pytest.raises(ValueError, match="target must be one of foot, head; got 'hands'"):
        load_target(str(tmp_path / "bad.json"))


@pytest.mark.parametrize("target", ["foot", "head"])
def test_zone_cells_count_the_people_standing_in_the_zone(target):
    """A map of exact targets (one unit per person, at its foot point or at its head as drawn) summed over
    the detector's cells of the gate approach gives the number of people whose feet stand in the zone:
    people of 1.6 to 1.9 m around and inside it, so heads of people outside the zone show over it and
    heads of people inside it show over the floor behind. Per frame within 10 % of the people inside,
    over six frames within 4 %."""
    import cv2  # noqa: F401  (the renderer's dependency)

    from detectors.density import DensityDetector
    from detectors.perception import WorkGrid
    from detectors.site import SiteConfig
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from tests.helpers import standing_crowd

    sc = load_scenario("concourse_overcrowding")
    site = SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name))
    det = DensityDetector(site, method="cnn")
    det._cnn.target = target  # the cells depend on the target only
    det._prepare(WorkGrid(site, (320, 180)))
    zone = det.zones[0]
    lo, hi = zone.polygon_m.min(axis=0) - 2.0, zone.polygon_m.max(axis=0) + 2.0
    counted, inside = [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        pts = rng.uniform(lo, hi, (300, 2))
        pts = pts[np.r_[True, [np.min(np.hypot(*(pts[:k] - pts[k]).T)) > 0.4 for k in range(1, len(pts))]]]
        crowd = standing_crowd(pts, height=rng.uniform(1.6, 1.9, len(pts)))
        _, ann = Renderer(sc, sc.cameras[0], seed=seed).render(crowd, 30.0, visibility=False)
        if target == "head":
            m = splat_feet(ann.heads, (320, 180), site.image_size, foot_sigma_cells(ann.boxes[:, 3], (320, 180),
                                                                                   site.image_size))
        else:
            m = splat_feet(site.ground_to_image(pts), (320, 180), site.image_size,
                           foot_sigma_cells(site.person_height_px(pts), (320, 180), site.image_size))
        counted.append(float(m.reshape(-1)[det._cells[0]].sum()))
        inside.append(int(zone.contains(pts).sum()))
    counted, inside = np.array(counted), np.array(inside)
    assert inside.min() >= 40  # a packed zone: 35 m² at more than 1.1 persons/m²
    assert np.all(np.abs(counted - inside) <= 0.10 * inside), (counted, inside)
    assert abs(counted.sum() - inside.sum()) <= 0.04 * inside.sum(), (counted, inside)


def test_packed_clips_pack_a_gathering_near_and_above_capacity():
    from sim.scenario import load_scenario
    from sim.seeds import TRAINING_SEEDS
    from train.clips import PACKED_RANGE, packed_clips

    clips = packed_clips(5, first_seed=10_800)
    assert len(clips) == 5 and all(c.scenario == "concourse_quiet" and c.seed in TRAINING_SEEDS for c in clips)
    assert [c.seed for c in clips] == sorted({c.seed for c in clips}) and clips[0].seed >= 10_800
    for c in clips:
        sc = load_scenario(c.scenario, c.overrides)
        zone = next(z for z in sc.station.zones if z.kind == "density")
        (x0, y0), (x1, y1) = np.min(zone.polygon, axis=0), np.max(zone.polygon, axis=0)
        count = sc.events[0].count
        assert PACKED_RANGE[0] - 0.1 <= count / ((x1 - x0) * (y1 - y0)) <= PACKED_RANGE[1] + 0.1
    assert packed_clips(5, first_seed=10_800) == clips


def test_head_targets_hold_one_unit_per_head_in_the_image(tmp_path):
    from train.clips import Clip
    from train.density import Samples, render_samples

    clips = [Clip("concourse_surge", 10_001, {}, t_from_s=3.0, t_to_s=5.0, every_s=1.0)]
    heads = render_samples(clips, target="head", progress=False)
    feet = render_samples(clips, progress=False)  # feet: the default, as the shipped weights were trained
    assert heads.kind == "head" and feet.kind == "foot"
    assert np.array_equal(heads.grey, feet.grey)  # the same frames, other targets
    # everyone of the frame is in view from head to foot here: as many heads as feet
    assert heads.target.sum(axis=(1, 2)) == pytest.approx(feet.target.sum(axis=(1, 2)), abs=1.0)
    # a head lies above its feet: the heads' mass sits higher in the image
    rows = np.arange(heads.target.shape[1])[None, :, None]
    mean_row = lambda t: (t * rows).sum(axis=(1, 2)) / t.sum(axis=(1, 2))  # noqa: E731
    assert np.all(mean_row(heads.target) < mean_row(feet.target) - 1.0)
    with pytest.raises(ValueError, match="target must be one of foot, head"):
        render_samples(clips, target="hands", progress=False)
    # a cache of head targets is not reused for foot targets, nor the other way round
    heads.save(str(tmp_path / "h.npz"), clips)
    feet.save(str(tmp_path / "f.npz"), clips)
    assert Samples.load(str(tmp_path / "h.npz"), clips, "head").kind == "head"
    assert np.array_equal(Samples.load(str(tmp_path / "f.npz"), clips).target, feet.target)
    with pytest.raises(ValueError, match="rendered from other clips or targets"):
        Samples.load(str(tmp_path / "h.npz"), clips, "foot")
    with pytest.raises(ValueError, match="rendered from other clips or targets"):
        Samples.load(str(tmp_path / "f.npz"), clips, "head")


def test_model_card_input_width_absent_means_the_working_image(tmp_path):
    import json

    from detectors.density_cnn import load_input_width

    assert load_input_width(str(tmp_path / "absent.json")) is None
    (tmp_path / "old.json").write_text(json.dumps({"command": "stationwatch train density"}))
    assert load_input_width(str(tmp_path / "old.json")) is None
    (tmp_path / "full.json").write_text(json.dumps({"input_width": 640}))
    assert load_input_width(str(tmp_path / "full.json")) == 640
    for bad in (642, "640", 8):
        (tmp_path / "bad.json").write_text(json.dumps({"input_width": bad}))
        with pytest.raises(ValueError, match="input_width must be"):
            load_input_width(str(tmp_path / "bad.json"))


def _full_resolution_copy(tmp_path, width: int = 640) -> str:
    """The shipped weights with a model card that says they read ``width`` px wide images."""
    import json
    import shutil

    path = str(tmp_path / "density_cnn.pt")
    shutil.copyfile(WEIGHTS_FILE, path)
    with open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8") as fh:
        card = json.load(fh)
    card["input_width"] = width
    (tmp_path / "density_cnn.json").write_text(json.dumps(card))
    return path


@shipped
def test_full_resolution_weights_read_a_crop_around_the_zone_as_the_whole_frame(tmp_path):
    """Weights whose card says 640 px: the detector runs them on a crop of the full-resolution frame around
    the zone, and the zone's count is that of the whole 640x360 frame's map over the zone's cells (the crop
    keeps CROP_MARGIN_PX of context); its cells are a quarter as large on the ground, their area in view the
    zone's; the crop is smaller than the frame."""
    import types

    import cv2

    from detectors.density import CROP_MARGIN_PX, DensityDetector
    from detectors.perception import WorkGrid

    grey, site, truth = _staged_crowd(2.0, seed=7)
    image = _staged_crowd.last_image
    weights = _full_resolution_copy(tmp_path)
    crop_det = DensityDetector(site, method="cnn", weights=weights)
    work = WorkGrid(site, (320, 180))
    crop_det._prepare(work)
    whole_det = DensityDetector(site, method="cnn", weights=weights)
    whole_det._prepare(WorkGrid(site, (640, 360)))  # the full-resolution grid itself: no crop
    assert whole_det._crop is None and crop_det._crop is not None
    y0, y1, x0, x1 = crop_det._crop
    assert y0 % STRIDE == 0 and x0 % STRIDE == 0 and (y1 - y0) * (x1 - x0) < 0.6 * 640 * 360
    percept = types.SimpleNamespace(image=image, grey=grey, grid=work)
    from_crop = float(crop_det.persons(percept)[0])
    dmap = whole_det._cnn.predict(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), whole_det._perspective).reshape(-1)
    from_whole = float(dmap[whole_det._cells[0]].sum())
    assert from_crop == pytest.approx(from_whole, rel=1e-3, abs=1e-3), (from_crop, from_whole, CROP_MARGIN_PX)
    assert len(crop_det._cells[0]) == len(whole_det._cells[0])
    working = DensityDetector(site, method="cnn")
    working._prepare(work)
    # four full-resolution cells to a working one; each cell's working pixels for the floor test: the same zone
    assert len(crop_det._cells[0]) == pytest.approx(4 * len(working._cells[0]), rel=0.05)
    assert len(crop_det._cell_pixels[0]) == pytest.approx(len(working._cell_pixels[0]), rel=0.05)
    assert crop_det._view_area[0] == pytest.approx(site.zones[0].area_m2, rel=0.05)


def test_validation_takes_tuning_seeds_only_when_told():
    from sim.seeds import SeedSplitError
    from train.density import _validation_seeds

    assert _validation_seeds([901, 902], False) == (901, 902)
    assert _validation_seeds([206, 207], True) == (206, 207)
    with pytest.raises(SeedSplitError, match="not a held-out seed"):
        _validation_seeds([206], False)
    with pytest.raises(SeedSplitError, match="takes tuning seeds"):
        _validation_seeds([906], True)
    with pytest.raises(SeedSplitError, match="training seed"):
        _validation_seeds([10_001], True)


def test_widened_weights_compute_what_the_narrow_ones_did():
    import torch

    from detectors.density_cnn import build_net, widen_state

    torch.manual_seed(3)
    narrow = build_net(16)
    for p in narrow.parameters():  # trained-looking weights: no zero bias left from the initialisation
        p.data.add_(0.05 * torch.randn_like(p))
    wide = build_net(48)
    state = widen_state(narrow.state_dict(), 48, seed=1)
    wide.load_state_dict(state)
    x = torch.rand(2, 2, 64, 96)
    with torch.no_grad():
        assert torch.allclose(narrow.eval()(x), wide.eval()(x), atol=1e-6)
    # the new channels are live (drawn weights in) but silent (zero weights out) until training fills them
    assert float(state["4.weight"][16:].abs().sum()) > 0 and float(state["4.weight"][:16, 16:].abs().sum()) == 0
    assert float(state["12.weight"][:, 16:].abs().sum()) == 0
    with pytest.raises(ValueError, match="wider than"):
        widen_state(wide.state_dict(), 16)


def test_model_card_channels_give_the_network_its_width(tmp_path):
    import json

    import torch

    from detectors.density_cnn import build_net, load_channels

    assert load_channels(str(tmp_path / "absent.json")) == 32
    torch.save(build_net(48).state_dict(), tmp_path / "w.pt")
    with pytest.raises(ValueError, match="do not fit this network"):
        DensityCNN(str(tmp_path / "w.pt"))  # no card: the default width
    (tmp_path / "w.json").write_text(json.dumps({"channels": 48}))
    cnn = DensityCNN(str(tmp_path / "w.pt"))
    assert cnn.predict(np.zeros((180, 320), np.uint8), np.ones((180, 320), np.float32)).shape == (45, 80)
    (tmp_path / "w.json").write_text(json.dumps({"channels": "wide"}))
    with pytest.raises(ValueError, match="channels must be a whole number"):
        load_channels(str(tmp_path / "w.json"))


def test_training_a_wider_network_from_narrow_weights_starts_from_their_function(tmp_path):
    import torch

    from detectors.density_cnn import build_net
    from train.density import Samples, fit

    rng = np.random.default_rng(0)
    samples = Samples(rng.integers(0, 255, (2, 96, 160), dtype=np.uint8), np.zeros(2, np.int64),
                      np.ones((1, 96, 160), np.float32), rng.random((2, 24, 40)).astype(np.float32) * 0.01,
                      [(0, "hall", 0.0), (0, "hall", 1.0)])
    torch.manual_seed(0)
    narrow = build_net()
    torch.save(narrow.state_dict(), tmp_path / "n.pt")
    res = fit(samples, epochs=1, lr=0.0, crop=None, init=str(tmp_path / "n.pt"), channels=48, progress=False)
    assert res.state_dict["4.weight"].shape[0] == 48
    wide = build_net(48)
    wide.load_state_dict(res.state_dict)
    x = torch.rand(1, 2, 96, 160)
    with torch.no_grad():
        assert torch.allclose(narrow.eval()(x), wide.eval()(x), atol=1e-6)
