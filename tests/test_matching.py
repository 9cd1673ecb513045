"""Matching alerts to ground truth: hand-computed micro-cases and property tests."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from detectors.events import MAX_LATENCY_S, Alert, EventType
from eval.matching import Instance, MatchResult, Outcome, match
from eval.results import read_ground_truth, write_ground_truth
from tests.helpers import alert as A  # noqa: N812
from tests.helpers import instance as I  # noqa: E741, N812

FIRE = EventType.FIRE
FALL = EventType.PERSON_ON_GROUND



def counts(r: MatchResult) -> tuple[int, int, int, int]:
    return r.tp, r.fn, r.fp, r.n_duplicates


# ---- time windows ---------------------------------------------------------------------------

@pytest.mark.parametrize("t, outcome", [
    (10.0 - 1.0, Outcome.TRUE_POSITIVE),  # exactly at t_start - early_s: inside (closed window)
    (10.0 - 1.0 - 0.01, Outcome.FALSE_ALARM),  # just before the early window
    (20.0 + 5.0, Outcome.TRUE_POSITIVE),  # exactly at t_end + grace_s
    (20.0 + 5.0 + 0.01, Outcome.FALSE_ALARM),  # just after the grace window
    (15.0, Outcome.TRUE_POSITIVE),
])
def test_alert_just_inside_or_outside_the_window(t, outcome):
    r = match([A(t)], [I("e1", 10.0, 20.0)], early_s=1.0, grace_s=5.0)
    assert r.alert_outcomes().tolist() == [outcome]
    if outcome == Outcome.TRUE_POSITIVE:
        assert counts(r) == (1, 0, 0, 0)
        assert r.latency_s.tolist() == [t - 10.0]
    else:
        assert counts(r) == (0, 1, 1, 0)
        assert r.missed.tolist() == [0]


@pytest.mark.parametrize("etype", list(EventType))
def test_default_grace_is_the_types_max_latency(etype):
    gt = [I("e1", 10.0, 12.0, etype=etype)]
    inside = match([A(12.0 + MAX_LATENCY_S[etype], etype=etype)], gt)
    outside = match([A(12.0 + MAX_LATENCY_S[etype] + 0.01, etype=etype)], gt)
    assert (inside.tp, outside.tp) == (1, 0)


def test_grace_per_type_mapping_and_early_zero():
    gt = [I("f", 10.0, 10.0, etype=FIRE), I("p", 10.0, 10.0, etype=FALL)]
    alerts = [A(12.5, etype=FIRE), A(12.5, etype=FALL), A(9.99, etype=FIRE)]
    r = match(alerts, gt, early_s=0.0, grace_s={FIRE: 2.0, FALL: 3.0})
    # the fire alert at 12.5 is past 10 + 2; the one at 9.99 is before 10 - 0
    assert r.pairs.tolist() == [[1, 1]]
    assert r.false_alarms.tolist() == [0, 2]


@pytest.mark.parametrize("kwargs, message", [
    ({"early_s": -1.0}, "early_s must be"),
    ({"grace_s": -0.5}, r"grace_s must be a finite number of seconds >= 0; got -0.5"),
    ({"grace_s": float("nan")}, r"grace_s must be a finite number of seconds >= 0; got nan"),
    ({"grace_s": {FIRE: -1.0}}, r"grace_s\[fire\] must be a finite number of seconds >= 0; got -1.0"),
    ({"grace_s": {FALL: "x"}}, r"grace_s\[person_on_ground\] must be a number of seconds; got 'x'"),
])
def test_bad_window_settings_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        match([A(1.0)], [I("e1", 1.0, 2.0)], **kwargs)


# ---- duplicates, type and camera --------------------------------------------------------------

def test_two_alerts_for_one_instance_are_one_tp_and_one_duplicate():
    r = match([A(13.5), A(12.0)], [I("e1", 10.0, 20.0)], grace_s=5.0)
    assert counts(r) == (1, 0, 0, 1)
    assert r.pairs.tolist() == [[1, 0]]  # the earlier alert is the match
    assert r.duplicates.tolist() == [0]
    assert r.latency_s.tolist() == [12.0 - 10.0]


def test_latency_is_first_alert_minus_t_start():
    alerts = [A(12.0), A(13.5), A(11.0), A(30.0)]
    r = match(alerts, [I("e1", 10.0, 20.0)], grace_s=5.0)
    assert r.latency_s.tolist() == [11.0 - 10.0]
    assert r.pairs.tolist() == [[2, 0]]
    assert r.duplicates.tolist() == [0, 1]
    assert r.false_alarms.tolist() == [3]  # 30 > 20 + 5


def test_alert_before_onset_has_negative_latency():
    r = match([A(9.5)], [I("e1", 10.0, 20.0)], early_s=1.0, grace_s=0.0)
    assert r.latency_s.tolist() == [9.5 - 10.0]


@pytest.mark.parametrize("alert", [
    A(12.0, etype=FALL),  # wrong type
    A(12.0, cam="cam2"),  # wrong camera
])
def test_alert_of_another_type_or_camera_is_a_false_alarm(alert):
    r = match([alert], [I("e1", 10.0, 20.0)], grace_s=5.0)
    assert counts(r) == (0, 1, 1, 0)
    assert r.false_alarms.tolist() == [0]
    assert r.missed.tolist() == [0]


def test_duplicate_needs_the_instance_matched_by_another_alert():
    # the second alert is in the window of e1 (matched by the first): duplicate;
    # the third is in no window: false alarm
    r = match([A(11.0), A(12.0), A(50.0)], [I("e1", 10.0, 20.0)], grace_s=0.0)
    assert r.alert_outcomes().tolist() == [Outcome.TRUE_POSITIVE, Outcome.DUPLICATE, Outcome.FALSE_ALARM]


# ---- boxes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("alert_box, gt_box, require_overlap, matched", [
    ((0, 0, 10, 10), (5, 5, 10, 10), True, True),  # intersection 5 x 5 > 0
    ((0, 0, 10, 10), (20, 20, 10, 10), True, False),  # disjoint
    ((0, 0, 10, 10), (10, 0, 10, 10), True, False),  # touching edges: zero-area intersection
    ((0, 0, 10, 10), (9.5, 9.5, 10, 10), True, True),  # intersection 0.5 x 0.5
    ((0, 0, 10, 10), (20, 20, 10, 10), False, True),  # overlap not required
    (None, (20, 20, 10, 10), True, True),  # the alert has no location
    ((0, 0, 10, 10), None, True, True),  # the instance has no location
])
def test_boxes_must_overlap_when_both_are_given(alert_box, gt_box, require_overlap, matched):
    r = match([A(12.0, bbox=alert_box)], [I("e1", 10.0, 20.0, bbox=gt_box)], grace_s=5.0,
              require_overlap=require_overlap)
    assert r.tp == int(matched)
    assert r.fp == 1 - int(matched)


# ---- the assignment -------------------------------------------------------------------------

def test_hungarian_beats_greedy_on_crossing_windows():
    # windows (early 1, grace 2): A [0 - 1, 8 + 2] = [-1, 10], B [1 - 1, 1 + 2] = [0, 3].
    # Greedy (each instance in onset order takes its earliest alert) gives alert 2.0 to A,
    # then alert 9.0 cannot match B: 1 TP. The optimum is 2.0 -> B, 9.0 -> A.
    gt = [I("A", 0.0, 8.0), I("B", 1.0, 1.0)]
    r = match([A(2.0), A(9.0)], gt, early_s=1.0, grace_s=2.0)
    assert counts(r) == (2, 0, 0, 0)
    assert r.pairs.tolist() == [[1, 0], [0, 1]]
    assert r.latency_s.tolist() == [9.0 - 0.0, 2.0 - 1.0]


def test_hungarian_beats_greedy_on_boxes():
    # both alerts fall in both windows; the first alert's box overlaps both instances, the
    # second only A's. Greedy by time gives alert 1 to A (earlier onset) and loses B.
    gt = [I("A", 0.0, 10.0, bbox=(0, 0, 100, 100)), I("B", 0.5, 10.0, bbox=(80, 80, 20, 20))]
    alerts = [A(1.0, bbox=(85, 85, 10, 10)), A(2.0, bbox=(0, 0, 10, 10))]
    r = match(alerts, gt, grace_s=0.0)
    assert r.pairs.tolist() == [[1, 0], [0, 1]]
    assert r.latency_s.tolist() == [2.0 - 0.0, 1.0 - 0.5]


def test_earlier_onset_takes_earlier_alert_when_both_fit():
    gt = [I("A", 0.0, 5.0), I("B", 1.0, 5.0)]
    r = match([A(3.0), A(2.0)], gt, grace_s=0.0)
    assert r.pairs.tolist() == [[1, 0], [0, 1]]  # 2.0 -> A, 3.0 -> B
    assert r.latency_s.tolist() == [2.0 - 0.0, 3.0 - 1.0]


def test_one_alert_for_two_instances_goes_to_the_closest_onset():
    gt = [I("A", 0.0, 10.0), I("B", 5.0, 10.0)]
    r = match([A(6.0)], gt, grace_s=0.0)
    assert r.pairs.tolist() == [[0, 1]]
    assert r.missed.tolist() == [0]


def test_first_alert_property_holds_even_if_the_solver_returns_a_later_alert(monkeypatch):
    """The exact pass after the float solve: an earlier free alert that could match takes the place."""
    import eval.matching as matching

    def latest_alert(cost):  # a tie-blind solver: the last row for every column
        cols = np.arange(cost.shape[1])
        return cost.shape[0] - 1 - cols, cols

    monkeypatch.setattr(matching, "linear_sum_assignment", latest_alert)
    r = match([A(11.0), A(12.0), A(13.0)], [I("e1", 10.0, 20.0)], grace_s=0.0)
    assert r.pairs.tolist() == [[0, 0]]
    assert r.latency_s.tolist() == [11.0 - 10.0]
    assert r.duplicates.tolist() == [1, 2]


def test_empty_inputs():
    r = match([], [])
    assert counts(r) == (0, 0, 0, 0)
    assert r.pairs.shape == (0, 2)
    r = match([A(1.0)], [])
    assert r.false_alarms.tolist() == [0]
    r = match([], [I("e1", 1.0, 2.0)])
    assert r.missed.tolist() == [0]


def test_thousands_of_alerts_stay_one_to_one():
    rng = np.random.default_rng(0)
    gt = [I(f"e{k}", float(s), float(s) + 5.0) for k, s in enumerate(np.arange(0, 3600, 60))]
    alerts = [A(float(t)) for t in rng.uniform(0, 3600, 5000)]
    r = match(alerts, gt, grace_s=5.0)
    assert r.tp + r.fn == len(gt)
    assert r.tp + r.fp + r.n_duplicates == len(alerts)
    assert len(set(r.pairs[:, 0].tolist())) == r.tp == len(set(r.pairs[:, 1].tolist()))


def test_inputs_of_the_wrong_kind_are_errors():
    with pytest.raises(TypeError, match=r"alerts\[0\] must be a detectors.events.Alert"):
        match([{"t": 1.0}], [])
    with pytest.raises(TypeError, match=r"instances\[0\] must be an eval.matching.Instance"):
        match([], [{"t_start": 1.0}])


# ---- ground-truth records -------------------------------------------------------------------

RECORD = {"id": "ev1", "type": "fire", "camera": "cam1", "t_start": 10.0, "t_end": 20.0,
          "bbox_at_onset": [1, 2, 3, 4], "visible_fraction_at_onset": 0.8}


def test_instance_from_dict_round_trip_keeps_extra_keys():
    x = Instance.from_dict(RECORD)
    assert (x.id, x.type, x.camera, x.t_start, x.t_end, x.bbox) == ("ev1", FIRE, "cam1", 10.0, 20.0, (1, 2, 3, 4))
    assert x.attributes == {"visible_fraction_at_onset": 0.8}
    assert x.to_dict() == {**RECORD, "bbox_at_onset": [1.0, 2.0, 3.0, 4.0]}
    assert Instance.from_dict({**RECORD, "bbox_at_onset": None}).bbox is None


def test_an_event_that_never_ended_has_an_open_window():
    x = Instance.from_dict({**RECORD, "t_end": None})
    assert x.t_end == float("inf")
    assert x.to_dict()["t_end"] is None
    r = match([A(5000.0), A(9.5)], [x], early_s=1.0)
    assert r.pairs.tolist() == [[1, 0]] and r.duplicates.tolist() == [0]
    assert r.latency_s.tolist() == [9.5 - 10.0]


@pytest.mark.parametrize("change, message", [
    ({"t_end": "soon"}, r"gt\[3\]\.t_end: expected a number; got 'soon'"),
    ({"type": "smoke"}, r"gt\[3\]\.type must be one of"),
    ({"t_end": 5.0}, r"gt\[3\]: instance 'ev1': t_end must be >= t_start=10.0 \(inf: not ended\); got 5.0"),
    ({"bbox_at_onset": [1, 2, 3]}, r"gt\[3\]\.bbox_at_onset: expected \[x, y, w, h\] or null"),
    ({"bbox_at_onset": [1, 2, -3, 4]}, r"bbox width and height must be >= 0"),
    ({"t_start": float("inf")}, r"t_start must be a finite time"),
])
def test_instance_from_dict_errors_name_the_key(change, message):
    with pytest.raises(ValueError, match=message):
        Instance.from_dict({**RECORD, **change}, where="gt[3]")


@pytest.mark.parametrize("key", ["id", "type", "camera", "t_start", "t_end", "bbox_at_onset"])
def test_instance_from_dict_missing_key(key):
    d = {k: v for k, v in RECORD.items() if k != key}
    with pytest.raises(ValueError, match=rf"gt\[0\]: missing key\(s\) {key} "):
        Instance.from_dict(d, where="gt[0]")


def test_ground_truth_file_round_trip(tmp_path):
    gt = [I("a", 1.0, 2.0, bbox=(1, 2, 3, 4)), I("b", 3.0, 4.0, cam="cam2", etype=FALL)]
    write_ground_truth(tmp_path / "ground_truth.json", gt, extra={"scenario": "demo"})
    assert read_ground_truth(tmp_path / "ground_truth.json") == gt
    (tmp_path / "list.json").write_text(json.dumps([x.to_dict() for x in gt]))
    assert read_ground_truth(tmp_path / "list.json") == gt
    (tmp_path / "bad.json").write_text(json.dumps({"events": []}))
    with pytest.raises(ValueError, match="key 'instances'"):
        read_ground_truth(tmp_path / "bad.json")
    (tmp_path / "bad2.json").write_text(json.dumps([{**RECORD, "camera": 3}, {"id": 1}]))
    with pytest.raises(ValueError, match=r"bad2.json\[1\]: missing key\(s\) type"):
        read_ground_truth(tmp_path / "bad2.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "bad2.json", "ground_truth.json", "list.json"]


# ---- properties -----------------------------------------------------------------------------

CAMS = ["c1", "c2"]
TYPES = [FIRE, FALL]
EARLY, GRACE = 1.0, 2.0


def _box():
    return st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                                          st.integers(0, 3)).map(lambda b: tuple(float(v) for v in b)))


alerts_st = st.lists(st.builds(lambda c, e, t, s, b: Alert(c, e, float(t), s, b), st.sampled_from(CAMS),
                               st.sampled_from(TYPES), st.integers(0, 40).map(lambda k: k / 2), st.integers(0, 3)
                               .map(float), _box()), max_size=25)
instances_st = st.lists(st.builds(lambda k, c, e, t, d, b: Instance(str(k), e, c, float(t), float(t + d), b),
                                  st.integers(0, 10**6), st.sampled_from(CAMS), st.sampled_from(TYPES),
                                  st.integers(0, 20), st.sampled_from([0.0, 1.0, 2.0, 4.0, float("inf")]), _box()),
                        max_size=10)


def can_match(a: Alert, x: Instance) -> bool:
    """Independent statement of the matching rule for the property tests."""
    if (a.camera, a.type) != (x.camera, x.type) or not (x.t_start - EARLY <= a.t <= x.t_end + GRACE):
        return False
    if a.bbox is None or x.bbox is None:
        return True
    ax, ay, aw, ah = a.bbox
    bx, by, bw, bh = x.bbox
    return min(ax + aw, bx + bw) - max(ax, bx) > 0 and min(ay + ah, by + bh) - max(ay, by) > 0


@settings(max_examples=300, deadline=None)
@given(alerts_st, instances_st, st.randoms(use_true_random=False))
def test_matching_invariants(alerts, instances, rnd):
    r = match(alerts, instances, early_s=EARLY, grace_s=GRACE)
    feasible = np.array([[can_match(a, x) for x in instances] for a in alerts], dtype=bool).reshape(
        len(alerts), len(instances))
    assert r.tp + r.fn == len(instances)
    assert r.tp + r.fp + r.n_duplicates == len(alerts)
    assert r.tp <= min(len(alerts), len(instances))
    assert all(feasible[a, x] for a, x in r.pairs)
    assert len(set(r.pairs[:, 0].tolist())) == r.tp == len(set(r.pairs[:, 1].tolist()))
    # maximum cardinality, checked by scipy's Hopcroft-Karp
    if len(alerts) and len(instances):
        best = int((maximum_bipartite_matching(csr_matrix(feasible.astype(np.int8)), perm_type="column") >= 0).sum())
    else:
        best = 0
    assert r.tp == best
    matched = np.zeros(len(instances), dtype=bool)
    matched[r.pairs[:, 1]] = True
    for a in r.duplicates:
        assert feasible[a, matched].any()
    for a in r.false_alarms:
        assert not feasible[a].any()
    # no alert left unassigned precedes the assigned alert of an instance it could match
    unassigned = np.r_[r.duplicates, r.false_alarms].astype(int)
    for (a, x), lat in zip(r.pairs, r.latency_s):
        assert lat == alerts[a].t - instances[x].t_start
        assert not any(feasible[u, x] and alerts[u].t < alerts[a].t for u in unassigned)
    # the order of the alerts does not matter
    perm = list(range(len(alerts)))
    rnd.shuffle(perm)
    r2 = match([alerts[k] for k in perm], instances, early_s=EARLY, grace_s=GRACE)
    assert counts(r2) == counts(r)
    assert sorted(r2.latency_s.tolist()) == sorted(r.latency_s.tolist())
    assert sorted(r2.pairs[:, 1].tolist()) == sorted(r.pairs[:, 1].tolist())


@settings(max_examples=100, deadline=None)
@given(alerts_st, instances_st)
def test_parity_with_a_direct_hungarian_solve(alerts, instances):
    """The same objective solved on the whole matrix at once: max matches, then min total latency."""
    r = match(alerts, instances, early_s=EARLY, grace_s=GRACE)
    if not alerts or not instances:
        assert r.tp == 0
        return
    feasible = np.array([[can_match(a, x) for x in instances] for a in alerts], dtype=bool)
    latency = np.array([a.t for a in alerts])[:, None] - np.array([x.t_start for x in instances])[None, :]
    rows, cols = linear_sum_assignment(np.where(feasible, latency, 1e6))
    keep = feasible[rows, cols]
    assert r.tp == int(keep.sum())
    assert abs(r.latency_s.sum() - latency[rows[keep], cols[keep]].sum()) < 1e-9
