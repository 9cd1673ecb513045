"""The alert rule: threshold, minimum duration, cooldown; offline replay equals the online gate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import EventType
from detectors.policy import TIME_EPS_S, AlertGate, AlertPolicy, alerts_from_scores

FPS = 10.0
SCORES = [0.0, 0.6, 0.7, 0.2, 0.8]
TIMES = [i / FPS for i in range(len(SCORES))]  # 0.0, 0.1, 0.2, 0.3, 0.4


def _times(policy, scores=SCORES, times=TIMES, bboxes=None):
    return [a.t for a in alerts_from_scores(times, scores, bboxes, policy, "cam", EventType.INTRUSION)]


def test_min_duration_hand_oracle():
    # threshold 0.5: frames 1, 2 form a run starting at t = 0.1; frame 3 (0.2) drops; frame 4 starts a new run.
    # min_duration 0.1: at t = 0.2 the run has lasted 0.2 - 0.1 = 0.1 >= 0.1 -> fires (score 0.7);
    # at t = 0.4 the new run has lasted 0.4 - 0.4 = 0 < 0.1 and the stream ends -> nothing.
    alerts = alerts_from_scores(TIMES, SCORES, None, AlertPolicy(threshold=0.5, min_duration_s=0.1, cooldown_s=0.0),
                                "cam", EventType.INTRUSION)
    assert [a.t for a in alerts] == [0.2]
    assert alerts[0].score == 0.7
    assert alerts[0].camera == "cam" and alerts[0].type is EventType.INTRUSION


@pytest.mark.parametrize("min_duration_s, cooldown_s, expected", [
    # no duration, no cooldown: first frame of each run, t = 0.1 and t = 0.4
    (0.0, 0.0, [0.1, 0.4]),
    # cooldown 0.5: 0.4 - 0.1 = 0.3 < 0.5 -> the second run is silenced
    (0.0, 0.5, [0.1]),
    # cooldown 0.3: 0.4 - 0.1 = 0.3 >= 0.3 (within TIME_EPS_S) -> both
    (0.0, 0.3, [0.1, 0.4]),
    # min duration 0.2: the first run lasts only 0.2 - 0.1 = 0.1 -> nothing fires
    (0.2, 0.0, []),
])
def test_duration_and_cooldown_table(min_duration_s, cooldown_s, expected):
    assert _times(AlertPolicy(threshold=0.5, min_duration_s=min_duration_s, cooldown_s=cooldown_s)) == expected


def test_one_alert_per_run_even_after_the_cooldown():
    # above for 5 s without a drop: one alert at t = 0 although the 1 s cooldown passed long ago
    times = [i / FPS for i in range(50)]
    assert _times(AlertPolicy(threshold=0.5, cooldown_s=1.0), [1.0] * 50, times) == [0.0]


@pytest.mark.parametrize("min_duration_s, expected", [
    # t = 0 fires (first alert, duration 0 >= 0); t = 0.1 drops; the run from t = 0.2 is held
    # back by the cooldown until t - 0.0 >= 1.0, so it fires at t = 1.0
    (0.0, [0.0, 1.0]),
    # the one-frame run at t = 0 lasts 0 < 0.5 s; the run from t = 0.2 has lasted
    # 0.7 - 0.2 = 0.5 s at t = 0.7 and there was no earlier alert -> fires at t = 0.7 only
    (0.5, [0.7]),
])
def test_run_starting_inside_the_cooldown(min_duration_s, expected):
    scores = [1.0, 0.0] + [1.0] * 18
    times = [i / FPS for i in range(20)]
    assert _times(AlertPolicy(threshold=0.5, min_duration_s=min_duration_s, cooldown_s=1.0), scores, times) == expected


def test_nan_score_is_below_threshold_and_box_is_carried():
    gate = AlertGate(AlertPolicy(threshold=0.5, cooldown_s=0.0), "cam", EventType.EXCESSIVE_DENSITY)
    assert gate.update(0.0, 0.9, (1, 2, 3, 4)).bbox == (1.0, 2.0, 3.0, 4.0)
    assert gate.update(0.1, math.nan) is None  # nan ends the run
    alert = gate.update(0.2, 0.6, None)
    assert alert is not None and alert.t == 0.2 and alert.bbox is None


def test_nan_box_rows_become_none_offline():
    boxes = np.array([[np.nan] * 4, [10, 20, 30, 40], [np.nan] * 4])
    alerts = alerts_from_scores([0.0, 0.1, 0.2], [0.9, 0.0, 0.9], boxes, AlertPolicy(threshold=0.5, cooldown_s=0.0),
                                "cam", EventType.INTRUSION)
    assert [a.bbox for a in alerts] == [None, None]
    alerts = alerts_from_scores([0.0, 0.1], [0.0, 0.9], boxes[:2], AlertPolicy(threshold=0.5), "cam", EventType.INTRUSION)
    assert alerts[0].bbox == (10.0, 20.0, 30.0, 40.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": math.nan}, "threshold must be finite; got nan"),
    ({"threshold": 0.5, "min_duration_s": -1.0}, r"min_duration_s must be a finite number >= 0 s; got -1.0"),
    ({"threshold": 0.5, "cooldown_s": math.inf}, r"cooldown_s must be a finite number >= 0 s; got inf"),
])
def test_policy_errors_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AlertPolicy(**kwargs)


def test_replay_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="bboxes must have 2 rows; got 1"):
        alerts_from_scores([0.0, 0.1], [0.0, 1.0], [None], AlertPolicy(threshold=0.5), "cam", EventType.INTRUSION)


def _reference(times, scores, policy):
    """An independent statement of the rule, run by run: the first frame of each run that
    satisfies both the duration and the cooldown fires; at most one per run."""
    above = np.asarray(scores) >= policy.threshold
    out, last = [], None
    i, n = 0, len(times)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        for k in range(i, j):  # the run is frames i .. j-1
            long_enough = times[k] - times[i] >= policy.min_duration_s - TIME_EPS_S
            cooled = last is None or times[k] - last >= policy.cooldown_s - TIME_EPS_S
            if long_enough and cooled:
                out.append(times[k])
                last = times[k]
                break
        i = j
    return out


@settings(max_examples=200, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=0, max_size=80),
       threshold=st.floats(0.05, 0.95), min_frames=st.integers(0, 5), cooldown_frames=st.integers(0, 20))
def test_gate_matches_run_based_reference(scores, threshold, min_frames, cooldown_frames):
    times = [i / FPS for i in range(len(scores))]
    policy = AlertPolicy(threshold=threshold, min_duration_s=min_frames / FPS, cooldown_s=cooldown_frames / FPS)
    online = []
    gate = AlertGate(policy, "cam", EventType.INTRUSION)
    for t, s in zip(times, scores):
        a = gate.update(t, s)
        if a is not None:
            online.append(a.t)
    assert online == _reference(times, scores, policy)
    assert _times(policy, scores, times) == online  # the offline replay is the same gate


# --- gates per event instance ------------------------------------------------------------


def _instances(rows):
    """[(t, [(key, score), ...]), ...] -> per-frame InstanceScore tuples."""
    from detectors.base import InstanceScore

    return [(t, [InstanceScore(k, s, (10.0, 10.0, 5.0, 5.0)) for k, s in items]) for t, items in rows]


def test_instance_gates_fire_once_per_instance_within_the_cooldown():
    from detectors.policy import InstanceGates

    gates = InstanceGates(AlertPolicy(threshold=0.5, min_duration_s=0.0, cooldown_s=10.0), "cam", EventType.INTRUSION)
    # first intruder from t = 1; a second one from t = 5 (4 s later); the first leaves and comes back at t = 8
    frames = _instances([(0.0, []), (1.0, [("tracks/1", 0.9)]), (2.0, [("tracks/1", 0.9)]),
                         (5.0, [("tracks/1", 0.9), ("tracks/2", 0.8)]), (6.0, [("tracks/2", 0.8)]),
                         (8.0, [("tracks/1", 0.9)]), (12.0, [("tracks/1", 0.9)])])
    fired = [(a.t, a.score) for t, items in frames for a in gates.update(t, items)]
    # tracks/1 at t = 1; tracks/2 at t = 5 (its own gate); tracks/1 again at t = 12 only (8 - 1 < 10 s cooldown,
    # and at 12 the run that began at 8 has already fired nothing: 12 - 1 >= 10)
    assert fired == [(1.0, 0.9), (5.0, 0.8), (12.0, 0.9)]


def test_instance_gates_forget_instances_past_their_cooldown():
    from detectors.policy import InstanceGates

    gates = InstanceGates(AlertPolicy(threshold=0.5, cooldown_s=2.0), "cam", EventType.WRONG_WAY)
    for t, items in _instances([(0.0, [("a", 0.9)]), (1.0, []), (2.5, []), (3.0, [("b", 0.1)])]):
        gates.update(t, items)
    assert len(gates) == 0  # 'a' fired at 0 and is past its 2 s cooldown; 'b' never rose


def test_offline_instance_replay_equals_online():
    from detectors.policy import InstanceGates, alerts_from_instances

    rng = np.random.default_rng(3)
    policy = AlertPolicy(threshold=0.5, min_duration_s=0.3, cooldown_s=2.0)
    gates = InstanceGates(policy, "cam", EventType.INTRUSION)
    times, rows, online = np.arange(200) / 10.0, [], []
    for t in times:
        items = [(f"z/{k}", float(rng.random())) for k in range(3) if rng.random() < 0.7]
        rows += [(t, k, s) for k, s in items]
        online += gates.update(float(t), [(k, s, None) for k, s in items])
    t_rows, keys, scores = zip(*rows)
    replay = alerts_from_instances(times, t_rows, keys, scores, None, policy, "cam", EventType.INTRUSION)
    assert replay == online and len(online) > 3
