"""Ground truth recorder: hand-made positions with the expected intervals worked out by hand."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from detectors.events import EventType
from sim.events.truth import TruthRecorder, WorldEvent

SQUARE = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]  # 4 m²


def zone(name, kind, polygon=SQUARE, capacity=None):
    return SimpleNamespace(name=name, kind=kind, polygon=polygon, capacity_per_m2=capacity)


def test_intrusion_interval_is_first_to_last_observation_inside():
    rec = TruthRecorder([zone("tracks", "forbidden")])
    # x = -0.75 + 0.5 t at y = 1: inside the square (0 < x < 2) for t = 2 (x=0.25) .. 5 (x=1.75)
    for k in range(10):
        t = float(k)
        rec.observe(t, np.array([7]), np.array([[-0.75 + 0.5 * t, 1.0]]))
    (ev,) = rec.events()
    assert (ev.t_start, ev.t_end) == (2.0, 5.0)
    assert ev.id == "intrusion_7_0"
    assert ev.type is EventType.INTRUSION
    assert ev.zone == "tracks" and ev.source == "emergent"
    assert ev.agent_ids == (7,)
    assert ev.position_m == (-0.75 + 0.5 * 2.0, 1.0)


def test_injected_runs_take_the_event_id_and_emergent_runs_count_per_agent():
    rec = TruthRecorder([zone("tracks", "forbidden")])
    rec.register_injected(3, "intruder")
    inside, outside = [1.0, 1.0], [5.0, 1.0]
    # agent 3 (injected): in at t=1..2, out at 3, in at 4; agent 9: in at t=2..3, gone from t=4 on
    script = {
        0: {3: outside, 9: outside},
        1: {3: inside, 9: outside},
        2: {3: inside, 9: inside},
        3: {3: outside, 9: inside},
        4: {3: inside},
        5: {3: inside},
    }
    for t, rows in script.items():
        ids = np.array(list(rows), dtype=np.int64)
        pos = np.array(list(rows.values()), dtype=float)
        rec.observe(float(t), ids, pos)
    events = rec.events(t_end=6.5)
    got = [(e.id, e.t_start, e.t_end, e.source) for e in events]
    assert got == [
        ("intruder", 1.0, 2.0, "injected"),
        ("intrusion_9_0", 2.0, 3.0, "emergent"),  # closed at its last sighting when it vanished
        ("intruder_1", 4.0, 6.5, "injected"),  # still open: closed at t_end
    ]
    # without t_end the open run ends at the last observation
    assert rec.events()[-1].t_end == 5.0


def density_recorder(**kw):
    return TruthRecorder([zone("hall", "density", capacity=1.0)], **kw)


def feed_counts(rec, times, counts):
    for t, c in zip(times, counts):
        ids = np.arange(c, dtype=np.int64)
        pos = np.tile([[1.0, 1.0]], (c, 1)) + 0.01 * np.arange(c)[:, None]
        rec.observe(t, ids, pos)


def test_density_is_averaged_over_the_trailing_two_seconds():
    rec = density_recorder()
    times = [0.5 * k for k in range(12)]  # 0 .. 5.5 s
    counts = [8 if t in (1.5, 2.0, 2.5, 3.0) else 0 for t in times]
    feed_counts(rec, times, counts)
    (ev,) = rec.events()
    # window = samples with t - 2 < t_i <= t (4 samples); zone 4 m², capacity 1/m²:
    # t=2.0: (0+0+8+8)/4/4 = 1.0, not above; t=2.5: (0+8+8+8)/4/4 = 1.5 above;
    # t=3.0: 32/4/4 = 2.0 (peak); t=3.5: 24/4/4 = 1.5; t=4.0: 16/4/4 = 1.0, not above
    assert (ev.t_start, ev.t_end) == (2.5, 3.5)
    assert ev.peak_density_per_m2 == 32 / 4 / 4
    assert ev.type is EventType.EXCESSIVE_DENSITY and ev.zone == "hall"
    assert ev.id == "excessive_density_hall_0"
    assert len(ev.agent_ids) == 8  # the people in the zone at onset (t=2.5)


def test_density_runs_merge_across_short_gaps_and_short_runs_are_dropped():
    # a 0.5 s window with samples every 0.5 s holds one sample: the average is the count
    rec = density_recorder(density_window_s=0.5)
    above = {1.0, 1.5, 2.0, 5.0, 5.5, 6.0, 20.0, 30.0, 30.5, 31.0, 31.5}
    times = [0.5 * k for k in range(70)]
    counts = [6 if t in above else 1 for t in times]
    feed_counts(rec, times, counts)
    got = [(e.id, e.t_start, e.t_end, e.peak_density_per_m2) for e in rec.events()]
    assert got == [
        ("excessive_density_hall_0", 1.0, 6.0, 6 / 4),  # gap 5.0 - 2.0 = 3 s < 5 s: merged
        # t=20 alone lasts 0 s < 1 s: dropped (gap 14 s, so not merged either)
        ("excessive_density_hall_1", 30.0, 31.5, 6 / 4),
    ]


def test_gap_of_exactly_merge_gap_is_not_merged():
    rec = density_recorder(density_window_s=0.5)
    above = {1.0, 1.5, 2.0, 7.0, 7.5, 8.0}  # gap 7.0 - 2.0 = 5.0, not < 5
    times = [0.5 * k for k in range(20)]
    feed_counts(rec, times, [6 if t in above else 0 for t in times])
    assert [(e.t_start, e.t_end) for e in rec.events()] == [(1.0, 2.0), (7.0, 8.0)]


def test_time_must_increase():
    rec = TruthRecorder([])
    rec.observe(1.0, np.array([1]), np.array([[0.0, 0.0]]))
    with pytest.raises(ValueError, match="t must increase"):
        rec.observe(1.0, np.array([1]), np.array([[0.0, 0.0]]))


def test_density_zone_needs_capacity():
    with pytest.raises(ValueError, match="capacity_per_m2 > 0"):
        TruthRecorder([zone("hall", "density", capacity=None)])


def test_tracks_are_sampled_at_the_interval():
    rec = TruthRecorder([], track_interval_s=1.0)
    for k in range(7):  # observations every 0.5 s: t = 0 .. 3
        rec.observe(0.5 * k, np.array([4, 5]), np.array([[k, 0.0], [0.0, k]], dtype=float),
                    np.array([1, 0], np.uint8))
    tab = rec.tracks_table()
    assert tab.column_names == ["t", "id", "x", "y", "posture"]
    assert tab.column("t").to_pylist() == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert tab.column("x").to_pylist()[:4] == [0.0, 0.0, 2.0, 0.0]  # t=1 is observation k=2
    assert tab.column("posture").to_pylist()[:2] == [1, 0]


def test_to_dict_is_json_ready():
    rec = TruthRecorder([zone("tracks", "forbidden"), zone("hall", "density", capacity=0.5)])
    for k in range(5):
        rec.observe(float(k), np.array([1, 2, 3]), np.array([[1.0, 1.0], [1.2, 1.0], [1.4, 1.0]]))
    d = json.loads(json.dumps(rec.to_dict()))
    types = sorted(e["type"] for e in d["events"])
    assert types == ["excessive_density", "intrusion", "intrusion", "intrusion"]
    assert d["zones"]["density"] == [{"name": "hall", "area_m2": 4.0, "capacity_per_m2": 0.5}]


def test_world_event_validates():
    with pytest.raises(ValueError, match="t_end must be >= t_start"):
        WorldEvent(id="x", type="intrusion", t_start=2.0, t_end=1.0, agent_ids=(), zone=None,
                   position_m=(0.0, 0.0), source="emergent")
    with pytest.raises(ValueError, match="source must be"):
        WorldEvent(id="x", type="intrusion", t_start=1.0, t_end=1.0, agent_ids=(), zone=None,
                   position_m=(0.0, 0.0), source="other")
