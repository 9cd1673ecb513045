"""Who is in the crowd and how trains take them: boarding, parties, children, wheelchairs,
luggage, looks, one-way corridors, and the quiet rush hour of the library."""

import math

import numpy as np
import pytest

import sim.world.parties as parties_module
from detectors.events import EventType
from sim.errors import SimulationError
from sim.world.agents import Behaviour
from sim.world.appearance import (
    CHILD_HEIGHT_M,
    CHILD_RADIUS_M,
    SUITCASE_SPEED_FACTOR,
    WHEELCHAIR_HEIGHT_M,
    WHEELCHAIR_RADIUS_M,
)
from sim.world.model import StationModel
from sim.world.trains import BOARD_REACH_M
from sim.scenario import ScenarioError, build_scenario, load_scenario
from sim.state import BodyKind, Prop

CAMERA = {"name": "c", "position": [10, -8, 8], "look_at": [10, 6, 0]}


def scenario(station: dict, crowd: dict | None = None, **top) -> object:
    data = {"name": "composition", "duration_s": 120, "seed": 7, "dt_s": 0.05, "station": station,
            "crowd": {"initial_count": 0, "wait_fraction": 0.0, **(crowd or {})}, "cameras": [CAMERA], **top}
    return build_scenario(data)


def distance_to_doors(pos: np.ndarray, x0=2.0, x1=18.0, y=0.3) -> np.ndarray:
    """[m] distance from points to the door line y = 0.3, x in [2, 18], worked out by cases."""
    dx = np.maximum(np.maximum(x0 - pos[:, 0], pos[:, 0] - x1), 0.0)
    return np.hypot(dx, pos[:, 1] - y)


# a platform room 20 m x 16 m: train doors along the south side, stairs to the street north
PLATFORM = {
    "walkable": [[0, 0], [20, 0], [20, 16], [0, 16]],
    "entrances": [{"name": "train", "segment": [[2, 0], [18, 0]]}],
    "exits": [{"name": "street", "segment": [[8, 16], [12, 16]]},
              {"name": "doors", "segment": [[2, 0.3], [18, 0.3]]}],
}


# --- trains take the people waiting on the platform ---------------------------------------


def test_a_train_takes_the_people_waiting_near_its_doors_and_only_them():
    sc = scenario({**PLATFORM, "trains": [{"at_s": 40, "entrance": "train", "count": 4, "release_s": 2,
                                           "exit": "street", "board": "doors", "dwell_s": 25}]},
                  {"initial_count": 16, "wait_fraction": 1.0, "wait_s": [300, 300]})
    model = StationModel(sc)
    model.run_until(40.0 - sc.dt_s)
    snap = model.snapshot()
    state = model.people.state[: model.agent_count]
    assert (state == Behaviour.WAITING).all()  # everybody stands at a waiting point before the train
    near = distance_to_doors(snap.pos_m) <= BOARD_REACH_M
    near_ids, far_ids = set(snap.ids[near].tolist()), set(snap.ids[~near].tolist())
    assert len(near_ids) >= 3 and len(far_ids) >= 3  # the room has both (y up to 16 m, reach 8 m)
    assert model.exits_by_name == {"street": 0, "doors": 0}
    model.run_until(40.0 + 25.0)
    after = model.snapshot()
    present = set(after.ids.tolist())
    assert not (near_ids & present)  # every one of them boarded
    assert model.exits_by_name["doors"] == len(near_ids) == model.boarded_by_train[0]
    assert far_ids <= present  # the ones farther than 8 m stay, waiting
    far_rows = np.isin(after.ids, list(far_ids))
    assert (model.people.state[: model.agent_count][far_rows] == Behaviour.WAITING).all()
    # the 4 alighting passengers walked up to the street (16 m in 25 s) and boarded nothing
    assert model.exits_by_name["street"] == 4 and model.arrivals_by_entrance["train"] == 4
    assert model.agent_count == 16 + 4 - len(near_ids) - 4


def test_a_boarding_exit_lets_nobody_out_while_no_train_stands_there():
    # two people run for the doors at 5 s; the train comes at 30 s: they wait at the doors till then
    sc = scenario({**PLATFORM, "trains": [{"at_s": 30, "entrance": "train", "count": 1, "exit": "street",
                                           "board": "doors", "dwell_s": 20}]},
                  {"initial_count": 8, "wait_fraction": 1.0, "wait_s": [300, 300]},
                  distractors=[{"type": "run_for_train", "at_s": 5, "at": [10, 14], "count": 2, "exit": "doors",
                                "speed_mps": [2.5, 3.0]}])
    model = StationModel(sc)
    model.run_until(5.0)
    runners = [a for a in model.agents if a.behaviour is Behaviour.LEAVING and a.exit_index == 1]
    assert len(runners) == 2
    model.run_until(29.9)
    assert model.exits_by_name["doors"] == 0
    for a in runners:
        assert a.present and a.behaviour is Behaviour.WAITING
        assert distance_to_doors(a.position[None])[0] < 0.5 + 0.3  # at the door line (reached within 0.5 m)
    model.run_until(50.0)
    assert not any(a.present for a in runners)
    assert model.exits_by_name["doors"] >= 2


def test_arrivals_never_choose_a_boarding_exit():
    sc = scenario({**PLATFORM, "entrances": PLATFORM["entrances"] + [
        {"name": "stairs", "segment": [[14, 16], [18, 16]], "rate_per_min": 90}],
        "timetable": [{"entrance": "train", "first_at_s": 5, "headway_s": 20, "count": 3, "release_s": 3,
                       "board": "doors", "dwell_s": 10}]},
        {"initial_count": 10, "group_sizes": {1: 0.5, 2: 0.5}}, duration_s=60)
    assert len(sc.station.trains) == 3  # at 5, 25, 45 s
    model = StationModel(sc)
    used_doors = 0
    while model.time < 60.0 - 1e-9:
        model.step()
        used_doors += int(np.count_nonzero(model.people.exit_idx[: model.agent_count] == 1))
    # nobody waits, so nobody boards: every arrival, alighting passenger and initial person
    # leaves by the street
    assert used_doors == 0 and model.exits_by_name["doors"] == 0 and model.boarded_by_train == [0, 0, 0]
    assert model.exits_by_name["street"] >= 60


# --- parties, children, wheelchairs, luggage ----------------------------------------------------


def party_scenario(**crowd):
    return scenario({"walkable": [[0, 0], [40, 0], [40, 8], [0, 8]],
                     "entrances": [{"name": "west", "segment": [[0, 1], [0, 7]], "rate_per_min": 40}],
                     "exits": [{"name": "east", "segment": [[40, 1], [40, 7]]}],
                     "obstacles": [[[14, 2], [16, 2], [16, 6], [14, 6]]]},
                    {"speed_std_mps": 0.4, "group_sizes": {2: 0.5, 3: 0.3, 4: 0.2}, **crowd},
                    seed=5, duration_s=60)


def party_spreads(model: StationModel, until_s: float = 60.0) -> np.ndarray:
    """[m] the largest distance between two members of a party, every 0.5 s, for every party."""
    out = []
    while model.time < until_s - 1e-9:
        model.step()
        if model.steps % 10:
            continue
        slot = {int(i): k for k, i in enumerate(model.people.ids[: model.agent_count])}
        for members in model.parties().values():
            p = model.people.pos[[slot[i] for i in members]]
            out.append(np.hypot(*(p[:, None] - p[None]).transpose(2, 0, 1)).max())
    return np.array(out)


def test_party_members_keep_together_round_a_pillar(monkeypatch):
    model = StationModel(party_scenario())
    spread = party_spreads(model)
    assert len(spread) > 300 and model.exits_by_name["east"] >= 8
    assert spread.max() < 4.5  # a few metres, pillar (4 m wide) included
    # the same parties without the cohesion term split round the pillar
    monkeypatch.setattr(parties_module, "PARTY_PULL_PER_M", 0.0)
    apart = party_spreads(StationModel(party_scenario()))
    assert apart.max() > 6.0


def test_party_members_share_their_exit_waiting_spot_and_pace():
    sc = party_scenario(wait_fraction=1.0, wait_s=[20, 20])
    model = StationModel(sc)
    model.run_until(30.0)
    parties = model.parties()
    assert len(parties) >= 5
    for members in parties.values():
        agents = [model.agent(i) for i in members]
        slots = [a.slot for a in agents]
        assert len({a.exit_index for a in agents}) == 1
        assert len({float(model.people.v0[s]) for s in slots}) == 1  # the slowest member's pace
        goals = model.people.goal[slots]
        # one spot, points scattered at most 0.8 m round it (members who wait stand where they stopped)
        assert np.hypot(*(goals - goals.mean(axis=0)).T).max() < 2 * 0.8 + 1.5


def test_children_wheelchairs_and_luggage_come_in_their_shares():
    # 1 / 0.5 + 2 / 0.3 ... mean party size 0.5 + 0.6 + 0.6 = 1.7; a share 0.7 / 1.7 = 0.41 of the
    # people walk behind an adult, enough for 10 % children
    crowd = {"group_sizes": {1: 0.5, 2: 0.3, 3: 0.2}, "child_share": 0.1, "wheelchair_share": 0.05,
             "luggage_share": 0.3, "luggage_kinds": {"suitcase": 1, "bag": 1, "backpack": 1}}
    sc = scenario({"walkable": [[0, 0], [12, 0], [12, 30], [0, 30]],
                   "entrances": [{"name": "south", "segment": [[0.5, 0], [11.5, 0]], "rate_per_min": 600}],
                   "exits": [{"name": "north", "segment": [[0.5, 30], [11.5, 30]]}]}, crowd, duration_s=90, dt_s=0.1)
    model = StationModel(sc)
    seen: dict[int, tuple] = {}
    while model.time < 90.0 - 1e-9:
        model.step()
        for a in model._slot_agent:
            if a.unique_id not in seen:
                s = a.slot
                party = model._parties.get(a.party, [a])
                seen[a.unique_id] = (int(model.people.body[s]), int(model.people.prop[s]), float(model.people.radius[s]),
                                     float(model.people.height[s]), float(model.people.v0[s]), len(party),
                                     all(model.people.body[o.slot] == BodyKind.CHILD for o in party))
    rows = np.array(list(seen.values()))
    n = len(rows)
    assert n >= 700 and model.dropped_arrivals == 0
    body, prop, radius, height, v0, size = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3], rows[:, 4], rows[:, 5]
    for share, count in ((0.1, np.sum(body == BodyKind.CHILD)), (0.05, np.sum(body == BodyKind.WHEELCHAIR)),
                         (0.3, np.sum(prop != Prop.NONE))):
        assert abs(count - share * n) < 4.5 * math.sqrt(n * share * (1 - share)), (share, count, n)
    # luggage kinds one third each among the carriers (wheelchair users carry a bag, not a suitcase)
    carriers = np.sum(prop != Prop.NONE)
    for kind in (Prop.SUITCASE, Prop.BACKPACK):
        assert abs(np.sum(prop == kind) - carriers / 3) < 4.5 * math.sqrt(carriers * 2 / 9)
    assert not np.any((body == BodyKind.WHEELCHAIR) & (prop == Prop.SUITCASE))
    child = body == BodyKind.CHILD
    assert np.all((size[child] >= 2) & (rows[child, 6] == 0))  # in a party, never a party of children only
    assert np.all((radius[child] >= CHILD_RADIUS_M[0]) & (radius[child] <= CHILD_RADIUS_M[1]))
    assert np.all((height[child] >= CHILD_HEIGHT_M[0]) & (height[child] <= CHILD_HEIGHT_M[1]))
    chair = body == BodyKind.WHEELCHAIR
    assert np.all(radius[chair] == WHEELCHAIR_RADIUS_M) and np.all(height[chair] == WHEELCHAIR_HEIGHT_M)
    assert np.all(v0[chair] <= 1.2)
    # alone and adult: a suitcase takes 10 % off the desired speed, on average
    alone = (size == 1) & (body == BodyKind.ADULT)
    ratio = v0[alone & (prop == Prop.SUITCASE)].mean() / v0[alone & (prop == Prop.NONE)].mean()
    assert abs(ratio - SUITCASE_SPEED_FACTOR) < 0.06
    # the ground-truth tracks carry body, prop and appearance group
    tracks = model.truth.tracks_table().to_pandas()
    first = tracks.groupby("id").first()
    assert {"body", "prop", "appearance_group"} <= set(tracks.columns)
    ids = np.array(list(seen))
    assert np.array_equal(first.loc[ids, "body"].to_numpy(), body.astype(np.uint8))
    assert np.array_equal(first.loc[ids, "prop"].to_numpy(), prop.astype(np.uint8))


def test_the_scenario_appearance_sets_the_colours_and_the_group():
    looks = {"groups": [{"name": "red", "weight": 3, "shirt_palette": [[0, 0, 255]], "trousers_palette": [[10, 10, 10]]},
                        {"name": "blue", "weight": 1, "shirt_palette": [[255, 0, 0]], "trousers_palette": [[20, 20, 20]]}],
             "jitter": 0}
    sc = scenario({"walkable": [[0, 0], [60, 0], [60, 60], [0, 60]],
                   "exits": [{"name": "e", "segment": [[60, 1], [60, 5]]}]},
                  {"initial_count": 400, "appearance": looks})
    snap = StationModel(sc).snapshot()
    red = snap.appearance_group == 0
    assert set(np.unique(snap.appearance_group)) == {0, 1}
    assert (snap.shirt_bgr[red] == [0, 0, 255]).all() and (snap.shirt_bgr[~red] == [255, 0, 0]).all()
    assert (snap.trousers_bgr[red] == 10).all() and (snap.trousers_bgr[~red] == 20).all()
    # weights 3 : 1 -> 300 of 400 expected, binomial sd sqrt(400 * 0.75 * 0.25) = 8.7
    assert abs(red.sum() - 300) < 4.5 * math.sqrt(400 * 0.75 * 0.25)
    # looks have their own random stream: other colours, same motion
    plain = StationModel(scenario(sc.station.model_dump(mode="json"), {"initial_count": 400}))
    assert np.array_equal(plain.snapshot().pos_m, snap.pos_m)


# --- determinism ---------------------------------------------------------------------------------


def full_scenario(seed=11):
    return scenario({**PLATFORM, "entrances": PLATFORM["entrances"] + [
        {"name": "stairs", "segment": [[14, 16], [18, 16]], "rate_per_min": 60}],
        "timetable": [{"entrance": "train", "first_at_s": 10, "headway_s": 30, "count": 12, "release_s": 8,
                       "exit": "street", "board": "doors", "dwell_s": 15}]},
        {"initial_count": 12, "wait_fraction": 0.4, "train_share": 0.6, "group_sizes": {1: 0.5, 2: 0.3, 3: 0.2},
         "child_share": 0.15, "wheelchair_share": 0.05, "luggage_share": 0.4}, seed=seed, duration_s=60)


def test_same_seed_same_crowd_with_every_feature_on():
    a, b, c = StationModel(full_scenario()), StationModel(full_scenario()), StationModel(full_scenario(12))
    for t in (0.0, 20.0, 45.0):
        for m in (a, b, c):
            m.run_until(t)
        sa, sb = a.snapshot(), b.snapshot()
        for f in ("ids", "pos_m", "vel_mps", "radius_m", "height_m", "shirt_bgr", "appearance_group", "prop", "body"):
            assert getattr(sa, f).tobytes() == getattr(sb, f).tobytes(), f
    assert a.boarded_by_train == b.boarded_by_train and sum(a.boarded_by_train) > 0
    assert not np.array_equal(a.snapshot().pos_m, c.snapshot().pos_m) or a.agent_count != c.agent_count
    ta, tb = a.truth.tracks_table(), b.truth.tracks_table()
    assert ta.equals(tb)


# --- one-way corridors --------------------------------------------------------------------------


def test_people_keep_to_the_direction_of_one_way_corridors():
    # two halls joined by an up corridor (x 3..5) and a down corridor (x 15..17); people cross
    # both ways and none walks against a corridor, although the shorter way often would
    station = {
        "layout": [
            {"piece": "concourse", "name": "south", "origin": [0, 0], "size_m": [20, 6]},
            {"piece": "corridor", "name": "up", "from": [4, 6], "to": [4, 12], "width_m": 2, "one_way_deg": 90},
            {"piece": "corridor", "name": "down", "from": [16, 6], "to": [16, 12], "width_m": 2, "one_way_deg": -90},
            {"piece": "concourse", "name": "north", "origin": [0, 12], "size_m": [20, 6]},
        ],
        "entrances": [{"name": "s_in", "segment": [[14, 0], [18, 0]], "rate_per_min": 20},
                      {"name": "n_in", "segment": [[2, 18], [6, 18]], "rate_per_min": 20}],
        "exits": [{"name": "n_out", "segment": [[14, 18], [18, 18]]}, {"name": "s_out", "segment": [[2, 0], [6, 0]]}],
    }
    sc = scenario(station, {"initial_count": 10, "wait_fraction": 0.3, "wait_s": [5, 10]}, duration_s=90)
    model = StationModel(sc)
    ups = downs = 0
    prev = {}
    while model.time < 90.0 - 1e-9:
        model.step()
        snap = model.snapshot()
        for i, (x, y) in zip(snap.ids.tolist(), snap.pos_m.tolist()):
            if i in prev and prev[i] < 9.0 <= y:
                ups += 1
                assert 3 <= x <= 5, "crossed y = 9 upward outside the up corridor"
            if i in prev and prev[i] >= 9.0 > y:
                downs += 1
                assert 15 <= x <= 17, "crossed y = 9 downward outside the down corridor"
            prev[i] = y
    assert ups >= 10 and downs >= 10
    events = model.truth.events(t_end=model.time)
    assert [e for e in events if e.type is EventType.WRONG_WAY] == []


# --- the library's quiet rush hour ---------------------------------------------------------------


def test_rush_hour_quiet_has_no_event_in_its_first_two_minutes():
    sc = load_scenario("rush_hour_quiet")
    assert sc.duration_s == 600 and sc.events == [] and len(sc.cameras) == 3
    assert [tr.at_s for tr in sc.station.trains][:3] == [20.0, 110.0, 200.0]
    model = StationModel(sc)
    model.run_until(120.0)
    assert model.truth.events(t_end=model.time) == []
    assert model.boarded_by_train[0] >= 20 and model.boarded_by_train[1] >= 20  # the trains took people
    assert model.exits_by_name["street"] >= 40  # the first train's passengers reached the street
    assert len(model.parties()) >= 3


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("crowd, match", [
    ({"group_sizes": {1: 0.6, 2: 0.4}, "child_share": 0.3},
     r"crowd\.child_share must be <= 0\.2857, the share of the people who walk in a group behind an adult"),
    ({"child_share": 0.1}, r"crowd\.child_share must be <= 0, .*got 0\.1"),
    ({"group_sizes": {0: 1.0}}, r"crowd\.group_sizes: keys must be party sizes within \[1, 10\]; got \[0\]"),
    ({"group_sizes": {1: 0.0}}, r"crowd\.group_sizes: weights must be >= 0 with a positive sum; got \{1: 0\.0\}"),
    ({"luggage_kinds": {"trunk": 1.0}}, r"crowd\.luggage_kinds\.trunk"),
    ({"wait_s": [30, 5]}, r"crowd\.wait_s must be \[low, high\] with 0 <= low <= high; got \[30\.0, 5\.0\]"),
])
def test_bad_crowd_keys_are_named(crowd, match):
    with pytest.raises(ScenarioError, match=match):
        scenario(PLATFORM, crowd)


def test_a_train_cannot_send_its_passengers_out_by_a_boarding_exit():
    trains = [{"at_s": 5, "entrance": "train", "count": 3, "board": "doors"},
              {"at_s": 9, "entrance": "train", "count": 3, "exit": "doors"}]
    with pytest.raises(SimulationError, match=r"station\.trains\[1\]\.exit must be an ordinary exit; got 'doors'"):
        StationModel(scenario({**PLATFORM, "trains": trains}))
    with pytest.raises(SimulationError, match=r"crowd\.train_share=0\.5 needs a train that boards .*got none"):
        StationModel(scenario(PLATFORM, {"train_share": 0.5}))
