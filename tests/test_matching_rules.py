"""The spatial matching rules (box at the alert's time, box at onset, temporal only) on hand-built cases.

Every case states what each rule must give, with the arithmetic of the metrics in the
assertion. Boxes are [x, y, w, h] in pixels; a walking intruder's track moves 100 px per
second to the right.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.events import MAX_LATENCY_S, Alert, EventType
from eval.matching import Instance, Outcome, SpatialRule, match
from eval.metrics import evaluate

INTRUSION = EventType.INTRUSION
GRACE = MAX_LATENCY_S[INTRUSION]  # 3 s
RULES = [SpatialRule.ALERT_TIME, SpatialRule.ONSET, SpatialRule.NONE]


def walker(iid="p1", t_start=10.0, t_end=14.0, *, cam="cam1", track=True):
    """An intruder entering at x=100 at t_start and walking right at 100 px/s, seen every 0.1 s."""
    t = np.round(np.arange(t_start - 1.0, t_end + GRACE + 1e-9, 0.1), 6)
    rows = np.c_[t, 100.0 + 100.0 * (t - t_start), np.full_like(t, 50.0), np.full_like(t, 20.0), np.full_like(t, 60.0)]
    return Instance(id=iid, type=INTRUSION, camera=cam, t_start=t_start, t_end=t_end, bbox=(100.0, 50.0, 20.0, 60.0),
                    track=rows if track else None)


def alert(t, x, *, cam="cam1", score=0.9):
    """An alert whose box sits at column x (the walker's box at time t is at 100 + 100 (t - t_start))."""
    return Alert(camera=cam, type=INTRUSION, t=t, score=score, bbox=(x, 50.0, 20.0, 60.0))


def outcomes(alerts, instances, rule, **kw):
    r = match(alerts, instances, spatial=rule, **kw)
    return r.alert_outcomes().tolist(), r.missed.tolist()


TP, FA, DUP = Outcome.TRUE_POSITIVE, Outcome.FALSE_ALARM, Outcome.DUPLICATE


@pytest.mark.parametrize("rule, expected", [
    (SpatialRule.ALERT_TIME, ([TP], [])),  # the box at 12 s is at x = 100 + 100 * 2 = 300: overlaps
    (SpatialRule.ONSET, ([FA], [0])),  # the box at onset is at x = 100: [300, 320] and [100, 120] are apart
    (SpatialRule.NONE, ([TP], [])),  # time alone: 12 s is inside [10 - 1, 14 + 3]
])
def test_an_alert_two_seconds_after_a_walking_intruder_entered(rule, expected):
    assert outcomes([alert(12.0, 300.0)], [walker()], rule) == expected


def test_the_metrics_of_the_walking_intruder_under_each_rule():
    gt, alerts = [walker()], [alert(12.0, 300.0)]
    at_time = evaluate(alerts, gt, duration_s=3600.0, cameras=["cam1"], spatial="alert_time")[INTRUSION]
    at_onset = evaluate(alerts, gt, duration_s=3600.0, cameras=["cam1"], spatial="onset")[INTRUSION]
    assert (at_time.tp, at_time.fp, at_time.fn) == (1, 0, 0)
    assert at_time.latency_median_s == 12.0 - 10.0
    # onset: one false alarm in one camera-hour and one miss out of one instance
    assert (at_onset.tp, at_onset.fp, at_onset.fn) == (0, 1, 1)
    assert at_onset.rfa_per_hour == 1 / (3600.0 / 3600)
    assert at_onset.p_miss == 1 / 1
    assert at_onset.ndcr == 1 / 1 + 1 / (10 * 1.8) * 1.0


@pytest.mark.parametrize("t, box_x", [
    (8.5, 100.0 + 100.0 * (9.0 - 10.0)),  # before the track's first row (9.0 s): the first row
    (12.04, 100.0 + 100.0 * (12.0 - 10.0)),  # between rows: the last row at or before 12.04 s (12.0 s)
    (12.1, 100.0 + 100.0 * (12.1 - 10.0)),  # on a row (frame time)
    (30.0, 100.0 + 100.0 * (17.0 - 10.0)),  # after the last row (17.0 s): the last row
])
def test_box_at_looks_up_the_track(t, box_x):
    assert walker().box_at(t) == pytest.approx((box_x, 50.0, 20.0, 60.0))


def test_an_instance_without_track_is_matched_on_its_onset_box_under_alert_time():
    gt = [walker(track=False)]
    assert outcomes([alert(12.0, 300.0)], gt, SpatialRule.ALERT_TIME) == ([FA], [0])
    assert outcomes([alert(12.0, 105.0)], gt, SpatialRule.ALERT_TIME) == ([TP], [])


# ---- windows: just inside and just outside, with the box of that time -----------------------------------

@pytest.mark.parametrize("t, expected", [
    (10.0 - 1.0, TP),  # exactly t_start - early_s, box of the first row (x = 0)
    (10.0 - 1.0 - 1e-6, FA),  # just before the window
    (14.0 + GRACE, TP),  # exactly t_end + grace, box of the last row (x = 800)
    (14.0 + GRACE + 1e-6, FA),  # just after the window
])
def test_window_edges_under_every_rule(t, expected):
    x = 100.0 + 100.0 * (min(max(t, 9.0), 17.0) - 10.0)  # where the track is at that time (clamped)
    for rule in RULES:
        got, missed = outcomes([alert(t, x)], [walker()], rule if rule is not SpatialRule.ONSET else SpatialRule.NONE)
        assert got == [expected], rule
        assert missed == ([] if expected == TP else [0])


# ---- ties and duplicates ------------------------------------------------------------------------------

def test_two_alerts_at_the_same_time_the_higher_score_is_the_match():
    a = [alert(10.1, 110.0, score=0.6), alert(10.1, 110.0, score=0.8)]  # on the walker at 10.1 s and at onset
    for rule in RULES:
        r = match(a, [walker()], spatial=rule)
        assert r.pairs.tolist() == [[1, 0]], rule  # the canonical order puts the higher score first
        assert r.duplicates.tolist() == [0]
        assert (r.tp, r.fp, r.n_duplicates) == (1, 0, 1)


def test_two_instances_tied_on_onset_share_one_alert_by_id():
    gt = [walker("b", track=False), walker("a", track=False)]
    r = match([alert(10.5, 100.0)], gt, spatial=SpatialRule.NONE)
    # onsets and ends tie: instances are taken in (t_start, t_end, id) order, so "a" (index 1) gets the alert
    assert r.pairs.tolist() == [[0, 1]]
    assert r.missed.tolist() == [0]


def test_repeated_alerts_on_the_walker_are_duplicates_only_where_the_box_follows_it():
    # 11 s at x=200 (on the walker), 12 s at x=300 (on the walker), 13 s at x=100 (where it was at onset)
    alerts = [alert(11.0, 200.0), alert(12.0, 300.0), alert(13.0, 100.0)]
    assert outcomes(alerts, [walker()], SpatialRule.ALERT_TIME) == ([TP, DUP, FA], [])
    assert outcomes(alerts, [walker()], SpatialRule.ONSET) == ([FA, FA, TP], [])
    assert outcomes(alerts, [walker()], SpatialRule.NONE) == ([TP, DUP, DUP], [])
    m = evaluate(alerts, [walker()], duration_s=1800.0, cameras=["cam1"])[INTRUSION]
    assert (m.tp, m.duplicates, m.fp, m.n_alerts) == (1, 1, 1, 3)
    assert m.precision == 1 / (1 + 1)
    assert m.rfa_per_hour == 1 / (1800 / 3600)
    assert m.duplicates_per_hour == 1 / (1800 / 3600)


def test_two_walkers_crossing_each_alert_goes_to_the_one_under_its_box():
    # p1 enters at 10 s at x=100; p2 enters at 10.5 s at x=100: at 12 s p1 is at 300, p2 at 250
    gt = [walker("p1"), walker("p2", t_start=10.5, t_end=14.5)]
    a = [alert(12.0, 305.0), alert(12.0, 246.0)]  # 305..325 overlaps only p1 (300..320); 246..266 only p2
    r = match(a, gt, spatial=SpatialRule.ALERT_TIME)
    assert sorted(r.pairs.tolist()) == [[0, 0], [1, 1]]
    assert r.latency_s.tolist() == [12.0 - 10.0, 12.0 - 10.5]


# ---- empty inputs, cameras, the end of the footage -----------------------------------------------------

@pytest.mark.parametrize("rule", RULES)
def test_zero_instances_and_zero_alerts(rule):
    m = evaluate([], [], duration_s=7200.0, cameras=["cam1"], spatial=rule)[INTRUSION]
    assert (m.n_instances, m.tp, m.fp, m.fn, m.n_alerts) == (0, 0, 0, 0, 0)
    assert m.rfa_per_hour == 0 / (7200 / 3600)
    assert m.camera_hours == 7200 / 3600
    assert math.isnan(m.precision) and m.undefined["precision"] == "no alerts other than duplicates"
    assert math.isnan(m.recall) and m.undefined["recall"] == "no instances"


def test_zero_alerts_against_one_instance_is_one_miss():
    m = evaluate([], [walker()], duration_s=60.0, cameras=["cam1"])[INTRUSION]
    assert (m.tp, m.fn, m.fp) == (0, 1, 0)
    assert m.p_miss == 1 / 1
    assert m.ndcr == 1 / 1 + (1 / 18) * 0


def test_zero_instances_and_one_alert_is_one_false_alarm_per_scored_time():
    m = evaluate([alert(5.0, 0.0)], [], duration_s=60.0, cameras=["cam1"])[INTRUSION]
    assert (m.tp, m.fp, m.n_instances) == (0, 1, 0)
    assert m.rfa_per_hour == 1 / (60 / 3600)
    assert m.precision == 0 / (0 + 1)


def test_a_camera_absent_from_the_ground_truth():
    alerts = [alert(12.0, 300.0), alert(12.0, 300.0, cam="cam2")]
    # scored cameras named: an alert of another camera is an error naming it
    with pytest.raises(ValueError, match=r"alerts\[1\]\.camera 'cam2' is not among the scored cameras \['cam1'\]"):
        evaluate(alerts, [walker()], duration_s=60.0, cameras=["cam1"])
    # cameras taken from the inputs: cam2 is scored too (its 60 s count) and its alert is a false alarm
    m = evaluate(alerts, [walker()], duration_s=60.0)[INTRUSION]
    assert (m.tp, m.fp, m.n_streams) == (1, 1, 2)
    assert m.camera_hours == 2 * 60 / 3600
    assert m.rfa_per_hour == 1 / (2 * 60 / 3600)


@pytest.mark.parametrize("rule", RULES)
def test_an_alert_past_the_end_of_the_footage_is_a_false_alarm(rule):
    # a 70 s clip, one instance matched at 12 s, one alert at 5000 s
    alerts = [alert(12.0, 300.0), alert(5000.0, 300.0)]
    m = evaluate(alerts, [walker()], duration_s=70.0, cameras=["cam1"], spatial=rule)[INTRUSION]
    tp = 0 if rule is SpatialRule.ONSET else 1
    assert (m.tp, m.fp) == (tp, 2 - tp)
    assert m.rfa_per_hour == (2 - tp) / (70 / 3600)


@pytest.mark.parametrize("bad, message", [
    ([[0.0, 1.0, 2.0, 3.0]], r"p1\.track: expected rows \[t, x, y, w, h\]; got an array of shape \(1, 4\)"),
    ([[0.0, 1, 2, 3, 4], [0.0, 1, 2, 3, 4]], r"p1\.track\[1\]: times must increase; got t=0\.0 after t=0\.0"),
    ([[0.0, 1, 2, -3, 4]], r"p1\.track\[0\]: box width and height must be >= 0"),
    ([[0.0, 1, 2, float("nan"), 4]], r"p1\.track\[0\]: expected finite numbers"),
    ("abc", r"p1\.track: expected rows \[t, x, y, w, h\] of numbers; got 'abc'"),
])
def test_a_malformed_track_names_the_key(bad, message):
    rec = walker().to_dict()
    rec["track"] = bad
    with pytest.raises(ValueError, match=message):
        Instance.from_dict(rec, where="p1")


def test_track_round_trips_through_the_record():
    w = walker()
    again = Instance.from_dict(w.to_dict())
    assert np.array_equal(again.track, np.round(w.track, 4))
    assert again == w  # the track takes no part in equality
