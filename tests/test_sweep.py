"""The offline sweep against a full replay of the alert policy, threshold by threshold.

The oracle is the online rule itself: :func:`detectors.policy.alerts_from_instances` where the
policy gates each instance apart (else one :class:`~detectors.policy.AlertGate` per instance
key fed every frame, an absent key below the threshold), :func:`alerts_from_scores` for one
gate per camera, then :func:`eval.matching.match`. The sweep's counts and latencies at every
threshold must be exactly theirs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import detectors.policy as policy_module
from detectors.events import EventType
from detectors.policy import AlertGate, AlertPolicy, alerts_from_scores
from eval.matching import Instance, match
from eval.sweep import (ScoreRows, SweepError, SweepGroup, SweepPolicy, average_precision, default_thresholds,
                        sweep_counts)

FIRE = EventType.FIRE


def replay_instances(times, frame_of_row, keys, scores, boxes, pol: AlertPolicy, cam: str):
    """The online per-instance rule over recorded rows (the oracle of the instance sweep)."""
    times = np.asarray(times, np.float64)
    if hasattr(policy_module, "alerts_from_instances"):
        return policy_module.alerts_from_instances(times, times[frame_of_row], keys, scores, boxes, pol, cam, FIRE)
    out = []
    for key in sorted(set(keys)):
        gate = AlertGate(pol, cam, FIRE)
        sel = [r for r, k in enumerate(keys) if k == key]
        by_frame = {int(frame_of_row[r]): r for r in sel}
        for f, t in enumerate(times.tolist()):
            r = by_frame.get(f)
            b = None if r is None or np.isnan(boxes[r]).any() else tuple(boxes[r])
            a = gate.update(t, 0.0 if r is None else float(scores[r]), b)
            if a is not None:
                out.append(a)
    return out


def expected(alerts, instances):
    m = match(alerts, list(instances))
    return (len(alerts), m.tp, m.fp, m.n_duplicates), sorted(m.latency_s.tolist())


def got(sc, i, g=0):
    lat = sorted(float(x) for x, grp in zip(sc.latency_s[i], sc.inst_group) if grp == g and not math.isnan(x))
    return (int(sc.n_alerts[i, g]), int(sc.tp[i, g]), int(sc.fp[i, g]), int(sc.duplicates[i, g])), lat


def test_micro_case_by_hand():
    # 1 frame per second; one fire from t=2 to t=4 (window [1, 14] with the fire's 10 s grace)
    s = [0.0, 0.6, 0.8, 0.6, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.7, 0.7, 0.0, 0.0]
    t = np.arange(len(s), dtype=float)
    inst = (Instance("fire1", FIRE, "cam", 2.0, 4.0),)
    rows = ScoreRows.from_columns(np.zeros(len(s)), np.zeros(len(s)), np.arange(len(s)), t, s)
    sc = sweep_counts(rows, [SweepGroup("r", "c", "cam", 20.0, inst)], FIRE, [0.5, 0.75, 0.85],
                      SweepPolicy(min_duration_s=1.0, cooldown_s=3.0))
    # th 0.5: runs [1,3], [6,7], [16,17]; each fires one second in: t=2, t=7 (7-2 >= 3), t=17
    #   t=2 detects fire1 (latency 2 - 2 = 0), t=7 is a duplicate (inside [1, 14]), t=17 a false alarm
    assert got(sc, 0) == ((3, 1, 1, 1), [0.0])
    # th 0.75: runs [2], [6,7]: the single frame at t=2 has lasted 0 s < 1 s; t=7 fires (latency 5)
    assert got(sc, 1) == ((1, 1, 0, 0), [7.0 - 2.0])
    # th 0.85: run [6,7] fires at 7 as well
    assert got(sc, 2) == ((1, 1, 0, 0), [5.0])
    r = sc.rates()
    assert r["rfa_per_hour"][0] == 1 / (20.0 / 3600.0)
    assert r["p_miss"].tolist() == [0.0, 0.0, 0.0]


def test_thresholds_must_be_positive():
    rows = ScoreRows.from_columns([0], [0], [0], [0.0], [0.5])
    with pytest.raises(SweepError, match="thresholds must be finite numbers > 0; got \\[0.0\\]"):
        sweep_counts(rows, [SweepGroup("r", "c", "cam", 1.0)], FIRE, [0.0, 0.5])


scores_st = st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.55, 0.7, 0.9, 1.0]), min_size=1, max_size=120)


@st.composite
def instances_st(draw, n_frames, fps):
    out = []
    for k in range(draw(st.integers(0, 3))):
        t0 = draw(st.integers(0, max(n_frames - 1, 0))) / fps
        dur = draw(st.integers(0, 30)) / fps
        box = draw(st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(1, 20),
                                                  st.integers(1, 20))))
        out.append(Instance(f"i{k}", FIRE, "cam", t0, t0 + dur, bbox=None if box is None else tuple(map(float, box))))
    return tuple(out)


policies_st = st.builds(SweepPolicy, min_duration_s=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]),
                        cooldown_s=st.sampled_from([0.0, 0.2, 0.5, 2.0, 10.0]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), scores=scores_st, pol=policies_st, fps=st.sampled_from([10.0, 25.0]))
def test_sweep_equals_replay_of_one_gate_per_camera(data, scores, pol, fps):
    n = len(scores)
    t = np.arange(n) / fps
    insts = data.draw(instances_st(n, fps))
    with_box = data.draw(st.booleans())
    boxes = np.full((n, 4), np.nan)
    if with_box:
        boxes[:] = np.array(data.draw(st.lists(st.tuples(*[st.integers(0, 40)] * 2, *[st.integers(1, 20)] * 2),
                                               min_size=n, max_size=n)), float)
    rows = ScoreRows.from_columns(np.zeros(n), np.zeros(n), np.arange(n), t, scores, boxes)
    ths = default_thresholds(np.asarray(scores), extra=[0.05, 0.42])
    sc = sweep_counts(rows, [SweepGroup("r", "c", "cam", n / fps, insts)], FIRE, ths, pol)
    for i, th in enumerate(ths):
        ap = AlertPolicy(threshold=float(th), min_duration_s=pol.min_duration_s, cooldown_s=pol.cooldown_s)
        alerts = alerts_from_scores(t, scores, boxes if with_box else None, ap, "cam", FIRE)
        assert got(sc, i) == expected(alerts, insts), f"threshold {th}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), pol=policies_st)
def test_sweep_equals_replay_of_instance_gates(data, pol):
    fps = 10.0
    n = data.draw(st.integers(1, 80))
    t = np.arange(n) / fps
    frames, keys, scores, boxes = [], [], [], []
    for key in ["zone/1", "zone/2", "zone/3"][:data.draw(st.integers(1, 3))]:
        present = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        for f in np.flatnonzero(present):
            frames.append(int(f))
            keys.append(key)
            scores.append(data.draw(st.sampled_from([0.1, 0.4, 0.6, 0.8, 1.0])))
            x = data.draw(st.integers(0, 40))
            boxes.append([x, 10.0, 8.0, 8.0])
    m = len(frames)
    insts = data.draw(instances_st(n, fps))
    frames_a = np.asarray(frames, np.int64)
    boxes_a = np.asarray(boxes, float).reshape(m, 4)
    _, key_codes = np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True) if m else (None, [])
    rows = ScoreRows.from_columns(np.zeros(m), key_codes, frames_a, t[frames_a] if m else [], scores, boxes_a)
    ths = default_thresholds(np.asarray(scores), extra=[0.5])
    sc = sweep_counts(rows, [SweepGroup("r", "c", "cam", n / fps, insts)], FIRE, ths, pol)
    for i, th in enumerate(ths):
        ap = AlertPolicy(threshold=float(th), min_duration_s=pol.min_duration_s, cooldown_s=pol.cooldown_s)
        alerts = replay_instances(t, frames_a, keys, scores, boxes_a, ap, "cam")
        assert got(sc, i) == expected(alerts, insts), f"threshold {th}"


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_recorded_alerts_are_thresholded_on_their_score(data):
    """A black box's alerts: at threshold th, the alerts scoring at least th, matched as they are."""
    n = data.draw(st.integers(0, 12))
    t = sorted(data.draw(st.lists(st.integers(0, 300), min_size=n, max_size=n)))
    scores = data.draw(st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=n, max_size=n))
    insts = data.draw(instances_st(300, 10.0))
    tt = np.asarray(t, float) / 10.0
    rows = ScoreRows.from_columns(np.zeros(n), np.zeros(n), np.arange(n), tt, scores)
    g = SweepGroup("r", "c", "cam", 30.0, insts, gated=False)
    sc = sweep_counts(rows, [g], FIRE, [0.1, 0.5, 0.95], SweepPolicy(cooldown_s=10.0))
    from detectors.events import Alert

    for i, th in enumerate([0.1, 0.5, 0.95]):
        alerts = [Alert("cam", FIRE, float(x), float(s)) for x, s in zip(tt, scores) if s >= th]
        assert got(sc, i) == expected(alerts, insts)


def test_groups_are_apart_and_rates_divide_once():
    # two runs of 30 s; the same scores; a fire in the first run only
    t = np.arange(30.0)
    s = np.r_[np.zeros(10), np.full(5, 0.8), np.zeros(15)]
    rows = ScoreRows.from_columns(np.r_[np.zeros(30), np.ones(30)], np.zeros(60), np.r_[np.arange(30), np.arange(30)],
                                  np.r_[t, t], np.r_[s, s])
    groups = [SweepGroup("r1", "c1", "cam", 30.0, (Instance("f", FIRE, "cam", 10.0, 14.0),)),
              SweepGroup("r2", "c2", "cam", 30.0, ())]
    sc = sweep_counts(rows, groups, FIRE, [0.5], SweepPolicy())
    assert sc.tp[0].tolist() == [1, 0] and sc.fp[0].tolist() == [0, 1]
    r = sc.rates()
    assert r["rfa_per_hour"][0] == 1 / (60.0 / 3600.0)  # one false alarm over 60 camera-seconds
    assert r["recall"][0] == 1 / 1
    assert sc.rates(np.array([True, False]))["rfa_per_hour"][0] == 0.0


def test_summaries_of_a_curve_by_hand():
    # four thresholds: (RFA/h, Pmiss) = (0, 1), (0.5, 0.5), (2, 0.25), (8, 0)
    from eval.sweep import SweepCounts

    groups = (SweepGroup("r", "c", "cam", 3600.0 * 2, ()),)  # 2 camera-hours
    fp = np.array([[0], [1], [4], [16]])
    tp = np.array([[0], [2], [3], [4]])
    lat = np.array([[np.nan] * 4, [0.0, 5.0, np.nan, np.nan], [0.0, 5.0, 9.0, np.nan], [0.0, 5.0, 9.0, 10.0]])
    sc = SweepCounts(event_type=FIRE, thresholds=np.array([0.9, 0.7, 0.5, 0.3]), policy=SweepPolicy(), groups=groups,
                     n_alerts=fp + tp, fp=fp, duplicates=np.zeros_like(fp), tp=tp, latency_s=lat,
                     inst_group=np.zeros(4, np.int64), inst_ids=("a", "b", "c", "d"))
    assert sc.p_miss_at_rfa(1.0) == (0.5, 0.7)
    assert sc.p_miss_at_rfa(0.1) == (1.0, 0.9)
    # nAUDC over [0, 1]: Pmiss 1 on [0, 0.5), 0.5 on [0.5, 1]
    assert sc.naudc(1.0) == (0.5 * 1.0 + 0.5 * 0.5) / 1.0
    assert sc.latency_median_s().tolist()[1:] == [2.5, 5.0, 7.0]
    # AP: precision 2/3 at recall 0.5, 3/7 at 0.75, 4/20 at 1 -> 0.5 * 2/3 + 0.25 * 3/7 + 0.25 * 0.2
    assert sc.summary()["ap"] == pytest.approx(0.5 * 2 / 3 + 0.25 * 3 / 7 + 0.25 * 0.2, abs=1e-12)
    # LaAP: the fire's max latency is 10 s; at budget 2.5 s only the 0 s detection is on time
    assert sc.laap(budgets=(0.25,)) == pytest.approx(0.25 * (1 / 3), abs=1e-12)
    nd = sc.rates()["ndcr"]
    beta = 1 / (10 * 1.8)
    assert nd.tolist() == pytest.approx([1.0, 0.5 + beta * 0.5, 0.25 + beta * 2, 0.0 + beta * 8])


def test_average_precision_of_a_perfect_detector_is_one():
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == 1.0
    assert math.isnan(average_precision(np.array([np.nan]), np.array([np.nan])))


def _two_run_curve():
    """Two runs of one camera-hour each, two thresholds; run a finds its instance at 2 s with no
    false alarm at 0.8 and 1 at 0.4, run b misses its instance at 0.8 and finds it at 6 s with
    3 false alarms at 0.4."""
    from eval.sweep import SweepCounts

    groups = (SweepGroup("a", "c1", "cam", 3600.0, ()), SweepGroup("b", "c2", "cam", 3600.0, ()))
    tp = np.array([[1, 1], [1, 0]])  # thresholds ascending: 0.4, then 0.8
    fp = np.array([[1, 3], [0, 0]])
    lat = np.array([[2.0, 6.0], [2.0, np.nan]])
    return SweepCounts(event_type=FIRE, thresholds=np.array([0.4, 0.8]), policy=SweepPolicy(),
                       groups=groups, n_alerts=tp + fp, fp=fp, duplicates=np.zeros_like(fp), tp=tp, latency_s=lat,
                       inst_group=np.array([0, 1]), inst_ids=("x", "y"))


def test_summary_intervals_bracket_the_figures_and_collapse_on_one_run():
    sc = _two_run_curve()
    s = sc.summary()
    # pooled: threshold 0.4 -> Pmiss 0 at 4 FA / 2 h; 0.8 -> Pmiss 1/2 at 0 FA/h
    assert (s["p_miss_at_rfa_1"], s["threshold_at_rfa_1"]) == (1 / 2, 0.8)
    iv = sc.summary_intervals(n_boot=400, seed=3)
    for k in ("p_miss_at_rfa_1", "naudc", "min_ndcr", "ap", "laap"):
        assert iv[f"{k}_lo"] <= s[k] <= iv[f"{k}_hi"], k
    # resampling {a, a} gives Pmiss 0, {b, b} gives Pmiss 1: both ends are reached
    assert (iv["p_miss_at_rfa_1_lo"], iv["p_miss_at_rfa_1_hi"]) == (0.0, 1.0)
    assert iv == sc.summary_intervals(n_boot=400, seed=3)  # seeded
    # one run: every resample is that run, the interval is the point
    only_a = sc.summary_intervals(n_boot=50, groups=np.array([True, False]))
    assert only_a["naudc_lo"] == only_a["naudc_hi"] == sc.summary(np.array([True, False]))["naudc"] == 0.0
    assert math.isnan(sc.summary_intervals(n_boot=0)["naudc_lo"])


def test_latency_median_interval_by_order_statistics():
    from scipy.stats import binom

    from eval.sweep import SweepCounts

    lat = np.arange(1.0, 11.0)[None, :]  # ten detections, 1..10 s
    groups = (SweepGroup("r", "c", "cam", 3600.0, ()),)
    sc = SweepCounts(event_type=FIRE, thresholds=np.array([0.5]), policy=SweepPolicy(), groups=groups,
                     n_alerts=np.array([[10]]), fp=np.array([[0]]), duplicates=np.array([[0]]), tp=np.array([[10]]),
                     latency_s=lat, inst_group=np.zeros(10, np.int64), inst_ids=tuple("abcdefghij"))
    lo, hi = sc.latency_median_interval_s()
    # binomial(10, 1/2): P(B <= 1) = 11/1024 < 0.025 <= P(B <= 2) = 56/1024 -> ranks 2 and 9
    assert binom.cdf(1, 10, 0.5) == 11 / 1024 and binom.ppf(0.025, 10, 0.5) == 2
    assert (lo[0], hi[0]) == (2.0, 9.0)
    assert sc.latency_median_s()[0] == 5.5
