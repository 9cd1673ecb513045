"""The density detector's calibrated gain: where it comes from and how it is read."""

import json

import pytest

from detectors.density import load_gain


def test_no_calibration_file_means_gain_one(tmp_path):
    assert load_gain("pixels", str(tmp_path / "absent.json")) == 1.0


def test_gain_is_read_per_method(tmp_path):
    p = tmp_path / "gain.json"
    p.write_text(json.dumps({"gain": {"pixels": 1.25}}))
    assert load_gain("pixels", str(p)) == 1.25
    assert load_gain("blobs", str(p)) == 1.0


def test_a_bad_gain_is_refused(tmp_path):
    p = tmp_path / "gain.json"
    p.write_text(json.dumps({"gain": {"pixels": -2}}))
    with pytest.raises(ValueError, match=r"gain\.pixels must be > 0; got -2"):
        load_gain("pixels", str(p))


def test_calibration_fits_a_gain_through_the_origin(monkeypatch):
    import numpy as np

    from train import calibrate

    # two fake scenarios: the detector sees 80 % of the truth
    truth = np.array([0.2, 0.6, 1.0, 1.5, 2.0, 2.5] * 5)
    monkeypatch.setattr(calibrate, "density_pairs", lambda sc, seed, progress=True: (0.8 * truth, truth))
    monkeypatch.setattr("sim.scenario.load_scenario", lambda name: name)
    cal = calibrate.calibrate([("a", 10_001), ("b", 10_002)], min_true_per_m2=0.5, progress=False)
    assert cal.gain == pytest.approx(1 / 0.8)
    assert cal.n_frames == 2 * 5 * 5  # the 0.2 persons/m² frames are left out
    assert cal.rms_after == pytest.approx(0.0, abs=1e-12)
    assert cal.rms_before > 0.1
    assert cal.to_dict(argv=[])["gain"]["pixels"] == pytest.approx(1.25)


def test_calibration_refuses_evaluation_seeds():
    from sim.seeds import SeedSplitError
    from train import calibrate

    with pytest.raises(SeedSplitError, match="density gain calibration: seed 12 is a scenario library default seed"):
        calibrate.calibrate([("concourse_overcrowding", 12)], progress=False)
