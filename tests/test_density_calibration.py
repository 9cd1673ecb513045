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
    from sim.seeds import library_seeds

    library_seeds()  # the seed check reads the real library (cached) before load_scenario is faked
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


def test_reading_map_fits_a_piecewise_linear_truth_and_stays_monotone():
    import numpy as np

    from train.calibrate import CNN_KNOTS, fit_reading_map

    reading = np.linspace(0.0, 3.5, 351)
    truth = np.where(reading < 2.0, 1.1 * reading, 2.2 + 0.5 * (reading - 2.0))  # reads low above 2: saturation
    values = fit_reading_map(reading, truth)
    # knots 0, 0.5, ..., 3.0: 1.1 x below 2, then 2.2 + 0.5 (x - 2)
    assert np.allclose(values, [0.0, 0.55, 1.1, 1.65, 2.2, 2.45, 2.7], atol=1e-6)
    assert list(CNN_KNOTS) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    noisy = fit_reading_map(reading, truth[::-1])  # a decreasing truth: the running maximum keeps it flat
    assert np.all(np.diff(noisy) >= 0)
    with pytest.raises(ValueError, match=r"two 1-D arrays of one length >= 7; got \(3,\) and \(2,\)"):
        fit_reading_map(np.zeros(3), np.zeros(2))


def test_reading_map_is_applied_linearly_with_slope_one_beyond_the_last_knot(tmp_path):
    import json

    import numpy as np

    from detectors.density_cnn import apply_reading_map, load_calibration

    knots, values = [0.0, 1.0, 2.0], [0.1, 1.3, 2.4]
    out = apply_reading_map([0.5, 1.5, 3.0], knots, values)
    assert out.tolist() == pytest.approx([(0.1 + 1.3) / 2, (1.3 + 2.4) / 2, 2.4 + 1.0])
    card = tmp_path / "w.json"
    assert load_calibration(str(card)) is None  # no card: no map
    card.write_text(json.dumps({"seed": 0}))
    assert load_calibration(str(card)) is None  # a card without a map
    card.write_text(json.dumps({"calibration": {"reading_per_m2": knots, "density_per_m2": values}}))
    k, v = load_calibration(str(card))
    assert k.tolist() == knots and v.tolist() == values
    card.write_text(json.dumps({"calibration": {"reading_per_m2": knots, "density_per_m2": [1.0, 0.5, 2.0]}}))
    with pytest.raises(ValueError, match=r"non-decreasing density_per_m2 .* got \[0.0, 1.0, 2.0\] and \[1.0, 0.5, 2.0\]"):
        load_calibration(str(card))
