"""Figures: files are written, are PNGs of the stated size, and show what they claim to show."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pyarrow as pa
import pytest

from detectors.events import Alert, EventType
from eval.matching import Instance, Outcome
from eval.plots import annotated_frame, timeline_plot

FIRE = EventType.FIRE
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCORE_BGR = (180, 119, 31)  # matplotlib "tab:blue" #1f77b4 in BGR


def _scores(n_cameras: int = 1):
    t = np.arange(0.0, 60.0, 0.5)
    score = 0.1 + 0.8 * np.exp(-(((t - 22.0) / 2.0) ** 2)) + 0.5 * np.exp(-(((t - 45.0) / 1.0) ** 2))
    rows = {"t": np.tile(t, n_cameras), "type": ["fire"] * (len(t) * n_cameras),
            "score": np.tile(score, n_cameras), "camera": np.repeat([f"cam{k + 1}" for k in range(n_cameras)], len(t))}
    # rows of another event type must be ignored
    rows["t"] = np.r_[rows["t"], t]
    rows["type"] = rows["type"] + ["weapon"] * len(t)
    rows["score"] = np.r_[rows["score"], np.full(len(t), 0.99)]
    rows["camera"] = np.r_[rows["camera"], ["cam1"] * len(t)]
    return pa.table(rows), t, score


ALERTS = [Alert("cam1", FIRE, 21.0, 0.85), Alert("cam1", FIRE, 23.0, 0.8), Alert("cam1", FIRE, 45.0, 0.6),
          Alert("cam1", EventType.WEAPON, 10.0, 0.99)]
GT = [Instance("e1", FIRE, "cam1", 20.0, 25.0)]


def _is_score_colour(pixels: np.ndarray) -> np.ndarray:
    return np.all(np.abs(pixels.astype(int) - np.array(SCORE_BGR)) <= 40, axis=-1)


def test_timeline_plot_writes_a_png_with_the_score_line_where_expected(tmp_path):
    table, t, score = _scores()
    path = tmp_path / "timeline.png"
    plot = timeline_plot(table, 0.5, ALERTS, GT, FIRE, path, size_px=(1000, 360), dpi=100, duration_s=60.0)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img.shape == (360, 1000, 3)
    assert plot.size_px == (1000, 360)
    assert os.listdir(tmp_path) == ["timeline.png"]  # no temporary file left behind
    # the score line: at sample times, pixels of the line's colour sit within 3 px of the
    # expected row, and no such pixel is far from it in that column
    left, top, right, bottom = plot.axes_px
    for tk, sk in zip(t[4:-4:9], score[4:-4:9]):
        x, y = plot.data_to_px(tk, sk)
        col = int(round(float(x)))
        rows = np.flatnonzero(_is_score_colour(img[int(top) + 2:int(bottom) - 2, col])) + int(top) + 2
        assert rows.size > 0, f"no score-coloured pixel in column {col} (t = {tk})"
        assert np.abs(rows - float(y)).min() <= 3
        assert np.abs(rows - float(y)).max() <= 12  # the line's width, where it is steep
    # the weapon rows (score 0.99) are not drawn: nothing score-coloured near the top of the plot
    assert not _is_score_colour(img[int(top) + 3:int(top) + 10, int(left) + 5:int(right) - 5]).any()
    # outcomes and metrics shown in the title
    assert plot.outcomes.tolist() == [Outcome.TRUE_POSITIVE, Outcome.DUPLICATE, Outcome.FALSE_ALARM]
    assert (plot.metrics.precision, plot.metrics.recall) == (1 / (1 + 1), 1 / 1)
    assert plot.metrics.rfa_per_hour == 1 / (60.0 / 3600)


def test_timeline_markers_and_threshold_are_drawn(tmp_path):
    table, _, _ = _scores()
    plot = timeline_plot(table, 0.5, ALERTS, GT, FIRE, tmp_path / "t.png")
    img = cv2.imread(str(tmp_path / "t.png"), cv2.IMREAD_COLOR)
    # the false alarm marker (tab:red #d62728) at (45 s, 0.6)
    x, y = (int(round(float(v))) for v in plot.data_to_px(45.0, 0.6))
    patch = img[y - 3:y + 4, x - 3:x + 4].astype(int)
    assert np.any(np.all(np.abs(patch - np.array((40, 39, 214))) <= 40, axis=-1))
    # the dashed threshold: dark pixels on its row, in dashes (some gaps) across the plot
    _, ty = plot.data_to_px(5.0, 0.5)
    row = img[int(round(float(ty))), int(plot.axes_px[0]) + 5:int(plot.axes_px[2]) - 5].astype(int).sum(axis=1)
    dark = row < 200
    assert 0.3 < dark.mean() < 0.95


def test_timeline_accepts_pandas_and_several_cameras(tmp_path):
    table, _, _ = _scores(n_cameras=2)
    plot = timeline_plot(table.to_pandas(), 0.5, ALERTS, GT, "fire", tmp_path / "t.png", size_px=(800, 300))
    assert cv2.imread(str(tmp_path / "t.png")).shape == (300, 800, 3)
    assert plot.metrics.camera_hours == 2 * 60.0 / 3600  # two cameras, span of the scores 59.5 s + one 0.5 s step
    one = timeline_plot(table, 0.5, ALERTS, GT, FIRE, tmp_path / "one.png", camera="cam2")
    assert (one.metrics.tp, one.metrics.fn, one.metrics.fp) == (0, 0, 0)  # nothing happens on cam2


def test_timeline_with_an_event_that_never_ended(tmp_path):
    table, _, _ = _scores()
    open_event = Instance("e2", FIRE, "cam1", 40.0, float("inf"))
    plot = timeline_plot(table, 0.5, ALERTS, [open_event], FIRE, tmp_path / "t.png")
    assert plot.xlim == (0.0, 59.5)
    assert plot.outcomes.tolist() == [Outcome.FALSE_ALARM, Outcome.FALSE_ALARM, Outcome.TRUE_POSITIVE]


def test_timeline_errors(tmp_path):
    with pytest.raises(ValueError, match=r"scores_table must have columns t, type, score; missing \['score'\]"):
        timeline_plot({"t": [0.0], "type": ["fire"]}, 0.5, [], [], FIRE, tmp_path / "x.png")
    with pytest.raises(ValueError, match="event_type must be one of"):
        timeline_plot({"t": [0.0], "type": ["fire"], "score": [0.1]}, 0.5, [], [], "smoke", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_importing_plots_does_not_import_matplotlib():
    code = "import sys, eval.plots; assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_annotated_frame_draws_boxes_and_saves_the_same_image(tmp_path):
    image = np.full((180, 320, 3), 90, np.uint8)
    alerts = [Alert("cam1", FIRE, 1.0, 0.9, (50, 40, 60, 50)), Alert("cam1", EventType.WEAPON, 1.0, 0.4)]
    gts = [Instance("e1", FIRE, "cam1", 0.0, 2.0, (200, 60, 40, 80)), ("person 7", (10, 120, 30, 40))]
    out = annotated_frame(image, alerts, gts, tmp_path / "f.png")
    assert np.all(image == 90)  # the input is not drawn on
    saved = cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_COLOR)
    assert np.array_equal(saved, out)
    red, green = np.array((0, 0, 230)), np.array((0, 170, 0))
    # box edges: left edge of the alert box is red, of the GT boxes green
    assert np.all(out[50:80, 50] == red)
    assert np.all(out[80:130, 200] == green)
    assert np.all(out[130:155, 10] == green)
    # labels: the alert without a box is listed at the top left, on a red label
    assert (np.all(out[0:20, 0:120] == red, axis=-1)).sum() > 200
    # far from every box and label the frame is untouched
    assert np.all(out[150:180, 260:320] == 90)


def test_annotated_frame_checks_its_inputs():
    with pytest.raises(ValueError, match=r"image must be BGR uint8 of shape \(H, W, 3\); got float64"):
        annotated_frame(np.zeros((4, 4, 3)), [], [])
    with pytest.raises(ValueError, match=r"instances_boxes\[0\] box must be \[x, y, w, h\]"):
        annotated_frame(np.zeros((4, 4, 3), np.uint8), [], [("x", (1, 2, 3))])


def _curve():
    """Four thresholds over 2 camera-hours: (FA/h, Pmiss) = (0, 1), (0.5, 0.5), (2, 0.25), (8, 0)."""
    from eval.sweep import SweepCounts, SweepGroup, SweepPolicy

    fp = np.array([[16], [4], [1], [0]])
    tp = np.array([[4], [3], [2], [0]])
    lat = np.array([[0.0, 5.0, 9.0, 10.0], [0.0, 5.0, 9.0, np.nan], [0.0, 5.0, np.nan, np.nan], [np.nan] * 4])
    return SweepCounts(event_type=FIRE, thresholds=np.array([0.3, 0.5, 0.7, 0.9]), policy=SweepPolicy(),
                       groups=(SweepGroup("r", "c", "cam", 7200.0, ()),), n_alerts=fp + tp, fp=fp,
                       duplicates=np.zeros_like(fp), tp=tp, latency_s=lat, inst_group=np.zeros(4, np.int64),
                       inst_ids=("a", "b", "c", "d"), detector="vendor")


def test_decision_plots_draw_the_curves_they_claim():
    from eval.plots import det_plot, figure_png, latency_plot, pr_plot

    sc = _curve()
    det = det_plot([sc], floor=1e-3, operating={"vendor (fire)": 0.5})
    ax = det.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    x, y = ax.lines[0].get_data()  # the step line through the DET points, zeros drawn at the floor
    assert sorted(zip(x.tolist(), y.tolist())) == [(1e-3, 1.0), (0.5, 0.5), (2.0, 0.25), (8.0, 1e-3)]
    assert ax.lines[1].get_data()[0].tolist() == [2.0]  # the operating point at threshold 0.5: 4 FA / 2 h
    pr = pr_plot([sc]).axes[0].lines[0].get_data()
    assert pr[0].tolist() == [0.5, 0.75, 1.0] and pr[1].tolist() == [2 / 3, 3 / 7, 4 / 20]
    lat = latency_plot([sc]).axes[0]
    assert lat.lines[0].get_data()[1].tolist() == [7.0, 5.0, 2.5]  # medians at thresholds 0.3, 0.5, 0.7
    assert len(lat.collections) == 1  # its 95 % band
    assert figure_png(det).startswith(PNG_SIGNATURE)
