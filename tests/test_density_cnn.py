"""The density CNN: target splatting, the shipped weights, the detector option, the training command."""

from __future__ import annotations

import os

import numpy as np
import pytest

from detectors.density_cnn import STRIDE, WEIGHTS_FILE, DensityCNN, cell_foot_points, output_size, splat_feet

torch = pytest.importorskip("torch")
shipped = pytest.mark.skipif(not os.path.exists(WEIGHTS_FILE), reason="no shipped density CNN weights")


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


def test_missing_weights_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="density_cnn_missing.pt"):
        DensityCNN(str(tmp_path / "density_cnn_missing.pt"))


def test_predict_rejects_colour_images(tmp_path):
    from detectors.density_cnn import build_net

    path = tmp_path / "w.pt"
    torch.save(build_net().state_dict(), path)
    with pytest.raises(ValueError, match=r"\(H, W\) uint8"):
        DensityCNN(str(path)).predict(np.zeros((180, 320, 3), np.uint8))


def _rendered_greys(counts):
    """Grey 320x180 frames of the overcrowding concourse at 50 s with the first k persons drawn, per k."""
    import cv2

    from sim.world.model import StationModel
    from sim.render import Renderer
    from sim.scenario import load_scenario

    sc = load_scenario("concourse_overcrowding")
    model = StationModel(sc, seed=5)
    model.run_until(50.0)
    crowd = model.snapshot()
    rend = Renderer(sc, sc.cameras[0], seed=5)
    out = []
    for k in counts:
        image, _ = rend.render(crowd[np.arange(len(crowd)) < k], 50.0, visibility=False)
        out.append(cv2.cvtColor(cv2.resize(image, (320, 180), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY))
    return len(crowd), out


@shipped
def test_shipped_model_shape_determinism_and_more_people_drawn_more_counted():
    cnn = DensityCNN()
    n, greys = _rendered_greys([0, 40, 10_000])
    assert n > 80  # the train has emptied onto the concourse
    maps = [cnn.predict(g) for g in greys]
    assert maps[0].shape == (45, 80)
    assert all((m >= 0).all() for m in maps)
    assert np.array_equal(maps[1], cnn.predict(greys[1]))
    counts = [float(m.sum()) for m in maps]
    assert counts[0] < counts[1] < counts[2], counts
    # 40 more persons drawn add about 40 to the map's sum (an empty station already reads ~12
    # over the whole view, mostly near the horizon)
    assert 20 < counts[1] - counts[0] < 60, counts


@shipped
def test_shipped_weights_are_small_and_documented():
    import json

    assert os.path.getsize(WEIGHTS_FILE) < 1_000_000
    with open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8") as fh:
        meta = json.load(fh)
    assert meta["command"].startswith("stationwatch train-density")
    assert isinstance(meta["seed"], int)
    # the demo's evaluation run is never trained on
    assert ["concourse_overcrowding", 12] not in [[s["scenario"], s["seed"]] for s in meta["train"]]


@shipped
def test_detector_cnn_counts_the_map_over_the_zone_cells():
    from detectors.density import DensityDetector
    from detectors.perception import Perception
    from detectors.source import Frame
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from detectors.site import SiteConfig

    sc = load_scenario("concourse_overcrowding")
    site = SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name))
    det = DensityDetector(site, method="cnn", smoothing_s=0)
    perception = Perception(site, warmup_s=0)
    w, h = site.image_size
    percept = perception.update(Frame(index=0, t=0.0, image=np.full((h, w, 3), 128, np.uint8)))
    persons = det.persons(percept)
    dmap = det._cnn.predict(percept.grey).reshape(-1)
    assert persons[0] == pytest.approx(float(dmap[det._cells[0]].sum()))
    assert len(det._cells[0]) > 0


def test_train_command_runs_on_a_tiny_setting(tmp_path):
    import json

    from eval.train_density import save, train

    items = (("concourse_surge", 5, None, 8.0, 10),)
    held = (("concourse_surge", 6, None, 5.0, 10),)
    res = train(items, held, seed=1, frames=4, epochs=1, progress=False)
    assert res.train_frames == 4  # frames 30, 40, 50, 60, 70 exist past 3 s; capped at 4
    assert np.isfinite(res.final_loss)
    assert res.held_out_frames == 2  # frames 30 and 40 of 0..49
    meta = save(res, str(tmp_path / "w.pt"), seed=1, epochs=1, items=items, held_out=held, argv=["--epochs", "1"])
    data = json.load(open(meta, encoding="utf-8"))
    assert data["command"] == "stationwatch train-density --epochs 1"
    assert data["train"][0]["scenario"] == "concourse_surge"
    assert DensityCNN(str(tmp_path / "w.pt")).predict(np.zeros((180, 320), np.uint8)).shape == (45, 80)


def test_saving_weights_is_atomic_and_0644(tmp_path, monkeypatch):
    """Weights are written through the atomic writer: an interrupted save keeps the previous file whole and leaves
    no temporary file; a finished one is readable by all."""
    import os

    import torch

    from eval.train_density import TrainResult, save

    res = TrainResult(final_loss=1.0, train_frames=1, held_out_frames=1, held_out_mae_persons=0.0,
                      held_out_true_mean=0.0, held_out_patch_rmse=0.0, seconds=0.0,
                      state_dict={"w": torch.zeros(3)})
    (tmp_path / "w.pt").write_bytes(b"previous weights")
    real = torch.save

    def interrupted(obj, f, *args, **kwargs):
        real(obj, f, *args, **kwargs)
        raise KeyboardInterrupt  # after some bytes reached the disk

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save(res, str(tmp_path / "w.pt"), seed=0, epochs=1)
    assert (tmp_path / "w.pt").read_bytes() == b"previous weights" and os.listdir(tmp_path) == ["w.pt"]
    monkeypatch.setattr(torch, "save", real)
    save(res, str(tmp_path / "w.pt"), seed=0, epochs=1)
    assert torch.load(tmp_path / "w.pt")["w"].tolist() == [0, 0, 0]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()} == {"w.pt": "0o644", "w.json": "0o644"}
