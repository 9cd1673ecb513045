"""Trains: their motion over time, their doors and the passengers through them, their pixels, light
and boxes, their place in the ground truth (context, never an intrusion), the exports, the errors
of their keys."""

import json
import math

import numpy as np
import pytest

from sim.annotate import read_annotations_parquet, write_annotations_parquet
from sim.events.truth import TruthRecorder, points_in_quads
from sim.export import TRAIN_CATEGORY, coco_dict, mot_rows
from sim.render import Renderer
from sim.scenario import ScenarioError, ZoneSpec, load_scenario
from sim.source import SyntheticFeed
from sim.state import CrowdState, FireState, ObjectState, TrainPhase, WorldState
from sim.world.agents import Behaviour
from sim.world.model import StationModel
from sim.world.train_runs import PASSAGE_SLACK_M, TrainRuns
from tests.helpers import frame_sha, standing_crowd

#: no sensor noise, no compression: pixel comparisons are exact
QUIET = {"render.noise_std": 0, "render.jpeg_quality": 0}


@pytest.fixture(scope="module")
def platform():
    """platform_intrusion, quiet: a two-car train (15 m cars) on a 32 m edge, standing 50-66 s."""
    return load_scenario("platform_intrusion", QUIET)


def world(t, crowd=None, trains=None):
    crowd = CrowdState.empty(t) if crowd is None else crowd
    kw = {} if trains is None else {"trains": trains}
    return WorldState(t=t, crowd=crowd, objects=ObjectState.empty(), fires=FireState.empty(), **kw)


# --- motion and doors ------------------------------------------------------------------------------


def test_a_train_brakes_into_the_platform_and_accelerates_away_at_constant_rates(platform):
    run = TrainRuns(platform)[0]
    # two cars of 15 m; the head stops 1 m short of the far end of the 32 m edge (s along +x from x = 0)
    assert run.body.length_m == 2 * 15 and run.stop_s == 32 - 1
    # braking at 1 m/s² from 14 m/s, standing still at 50 s: tau s before, 1/2 tau² m short, at tau m/s
    for tau in (0.0, 1.0, 4.0, 10.0, 14.0):
        s, v = run.motion(50.0 - tau)
        assert s == pytest.approx(31 - 0.5 * tau**2) and v == pytest.approx(tau)
    # before the braking (14 s and 98 m before the stop) it runs at line speed
    s, v = run.motion(50.0 - 20.0)
    assert s == pytest.approx(31 - 98 - 14 * (20 - 14)) and v == 14
    assert run.motion(58.0) == (31.0, 0.0)  # standing
    s, v = run.motion(66.0 + 3.0)  # leaving at 66 s, 1 m/s²
    assert s == pytest.approx(31 + 0.5 * 3**2) and v == pytest.approx(3.0)
    s, v = run.motion(66.0 + 30.0)  # line speed after 14 s and 98 m
    assert s == pytest.approx(31 + 98 + 14 * 16) and v == 14
    # it comes out of the tunnel mouth at s = 0 when 31 m short of the stop, and its tail (30 m
    # behind the head) goes into the far one at s = 32 when the head is 31 m beyond it
    assert run.enter_s == pytest.approx(50 - math.sqrt(2 * 31 / 1.0))
    assert run.gone_s == pytest.approx(66 + math.sqrt(2 * 31 / 1.0))


def test_doors_open_only_while_the_train_stands_at_the_platform(platform):
    runs = TrainRuns(platform)
    run = runs[0]
    for t in np.arange(38.0, 75.0, 0.05):
        if run.door_open(t) > 0:
            assert run.motion(t)[1] == 0 and run.phase(t) is TrainPhase.DWELLING
    # opening over door_s = 2 s from the stop (a smoothstep: half way at 1 s), fully open from 52 s,
    # closing from 66 - 1 - 2 = 63 s, shut 1 s before the departure at 66 s
    assert run.door_open(50.0) == 0 and run.door_open(51.0) == pytest.approx(0.5)
    assert [run.door_open(t) for t in (52.0, 57.5, 63.0)] == [1.0, 1.0, 1.0]
    assert run.door_open(64.0) == pytest.approx(0.5) and run.door_open(65.0) == 0 and run.door_open(65.5) == 0
    assert run.passable(52.0) and not run.passable(51.9) and not run.passable(63.0)
    states = {t: runs.state(t) for t in (30.0, 45.0, 55.0, 70.0)}
    assert len(states[30.0]) == 0  # still far in the tunnel
    assert [int(states[t].phase[0]) for t in (45.0, 55.0, 70.0)] == [TrainPhase.ARRIVING, TrainPhase.DWELLING,
                                                                      TrainPhase.DEPARTING]
    assert states[55.0].door_open[0] == 1 and states[45.0].door_open[0] == 0 == states[70.0].door_open[0]


def test_passengers_step_out_of_the_doors_and_boarders_step_in():
    sc = load_scenario("negatives_train")
    model = StationModel(sc)
    run = model.trains.runs[0]
    model.run_until(sc.duration_s)
    tracks = model.truth.tracks_table().to_pandas()
    first = tracks.sort_values("t").groupby("id").first()
    alighted = first[first["y"] < 0]
    # the 30 passengers come in from inside the cars (y < 0), in a doorway, once the doors are open
    assert len(alighted) == 30 and model.arrivals_by_entrance["train_doors"] == 30
    assert (alighted["t"] >= run.open_s - 1e-9).all() and (alighted["t"] < run.close_s).all()
    doors = run.door_s_m()
    gap = np.abs(alighted["x"].to_numpy()[:, None] - doors[None, :]).min(axis=1)
    assert (gap <= run.body.door_width_m / 2).all()
    assert (alighted["y"] > -(run.body.gap_m + run.body.width_m)).all()
    # the waiting people went in through the doors, and nobody else left by the boarding exit
    assert model.boarded_by_train[0] >= 5 and model.exits_by_name["train_board"] == model.boarded_by_train[0]
    last = tracks.sort_values("t").groupby("id").last()
    boarded = last[last["y"] < 0]
    assert len(boarded) == model.boarded_by_train[0]
    # every position beyond the edge, alighting or boarding, lies in an open door's passage
    beyond = tracks[tracks["y"] < 0]
    assert points_in_quads(beyond[["x", "y"]].to_numpy(), run.passages()).all()
    assert beyond["t"].min() >= run.at_s and beyond["t"].max() < run.closed_s


def test_runners_for_the_departing_train_get_in_through_its_doors():
    # negatives_crowd: four people run for the train's boarding line at 35 s, its doors shut at 39 s
    sc = load_scenario("negatives_crowd")
    model = StationModel(sc)
    model.run_until(35.0)
    board = [e.name for e in sc.station.exits].index("train_board")
    runners = [a for a in model.agents if a.behaviour is Behaviour.LEAVING and a.exit_index == board]
    assert len(runners) == 4
    run = model.trains.runs[0]
    model.run_until(run.closed_s)
    assert not any(a.present for a in runners)  # all four in
    model.run_until(sc.duration_s)
    assert model.exits_by_name["train_board"] == model.boarded_by_train[0] >= 4
    tracks = model.truth.tracks_table().to_pandas()
    last = tracks[tracks["id"].isin([a.unique_id for a in runners])].sort_values("t").groupby("id").last()
    assert (last["y"] < 0).all() and (last["t"] < run.closed_s).all()  # last seen in a doorway, before the doors shut


# --- ground truth -----------------------------------------------------------------------------------


def test_crossing_the_edge_through_an_open_door_is_no_intrusion_standing_on_the_track_is(platform):
    run = TrainRuns(platform)[0]
    door = float(run.door_s_m()[2])  # [m] x of a door (the train runs along +x from x = 0)
    zone = ZoneSpec(name="tracks", kind="forbidden", polygon=[[0, -4.5], [32, -4.5], [32, 0], [0, 0]])
    with_train, without = TruthRecorder([zone]), TruthRecorder([zone])
    # person 1 in the doorway, its foot 0.3 m beyond the edge; person 2 on the far side of the
    # track, behind the train; person 3 in the gap beside the door, just outside its passage
    pos = np.array([[door, -0.3], [door, -4.0], [door + run.body.door_width_m / 2 + PASSAGE_SLACK_M + 0.05, -0.05]])
    for t in np.arange(0.0, 2.0, 0.1):
        with_train.observe(t, np.array([1, 2, 3]), pos, passages=run.passages())
        without.observe(t, np.array([1, 2, 3]), pos)
    assert sorted(e.agent_ids[0] for e in with_train.events(t_end=2.0)) == [2, 3]
    assert sorted(e.agent_ids[0] for e in without.events(t_end=2.0)) == [1, 2, 3]


def test_the_library_keeps_trains_out_of_the_intrusion_ground_truth():
    for name, expected in (("negatives_train", []), ("platform_intrusion", ["intruder"])):
        model = StationModel(load_scenario(name))
        model.run_until(model.scenario.duration_s)
        assert [e.id for e in model.truth.events(t_end=model.time)] == expected, name


def test_the_train_phases_are_context_in_the_ground_truth(platform):
    feed = SyntheticFeed(platform, ["platform"], duration_s=70.0)
    feed.model.run_until(70.0)
    # the arrival from the headlights' first light in the station: the head 30 m inside the tunnel,
    # 31 + 30 m short of its stop, braking at 1 m/s² (within the 98 m of braking from 14 m/s)
    lit = 50 - math.sqrt(2 * (31 + 30) / 1.0)
    assert feed.world_context() == [
        {"kind": "train", "id": "train_0", "phase": "arrival", "t_start": round(lit, 6), "t_end": 50.0,
         "platform_edge": 0},
        {"kind": "train", "id": "train_0", "phase": "dwell", "t_start": 50.0, "t_end": 66.0, "platform_edge": 0,
         "doors_open": [50.0, 65.0]},
        {"kind": "train", "id": "train_0", "phase": "departure", "t_start": 66.0, "t_end": 70.0, "platform_edge": 0},
    ]


# --- pixels -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer(platform):
    return Renderer(platform, seed=0)


def test_a_standing_train_hides_the_track_bed_and_a_person_behind_it_not_one_in_front(platform, renderer):
    trains = TrainRuns(platform).state(57.0)  # standing, doors open
    behind = standing_crowd([(8.0, -3.9)], ids=[1], t=57.0)  # on the track bed beyond the train
    front = standing_crowd([(20.0, 2.0)], ids=[2], t=57.0)  # on the platform
    bare, _ = renderer.render(world(57.0))
    train_only, ann = renderer.render(world(57.0, trains=trains))
    # the train covers the track bed: the ground point 1.5 m beyond the edge looks different
    uv, _ = renderer.camera.project(np.array([[12.0, -1.5, 0.0]]))
    u, v = (int(round(c)) for c in uv[0])
    assert np.abs(train_only[v, u].astype(int) - bare[v, u]).max() > 40
    with_behind, ann_b = renderer.render(world(57.0, behind, trains))
    assert frame_sha(with_behind) == frame_sha(train_only)  # not one pixel of the person shows
    assert ann_b.visible[0] < 0.05
    alone, ann_alone = renderer.render(world(57.0, behind))
    assert frame_sha(alone) != frame_sha(bare) and ann_alone.visible[0] > 0.9  # without the train it shows
    with_front, ann_f = renderer.render(world(57.0, front, trains))
    x, y, w, h = (int(round(c)) for c in ann_f.boxes[0])
    assert ann_f.visible[0] > 0.95
    assert (with_front[y:y + h, x:x + w] != train_only[y:y + h, x:x + w]).any(axis=2).mean() > 0.3


def test_the_train_box_in_the_annotations_covers_the_drawn_train():
    sc = load_scenario("platform_intrusion", {**QUIET, "station.trains.0.vehicle.headlights": False})
    r = Renderer(sc, seed=0)
    trains = TrainRuns(sc).state(46.0)  # braking in, doors shut: its only light is the windows' (<= 10 levels)
    bare, _ = r.render(world(46.0))
    img, ann = r.render(world(46.0, trains=trains))
    changed = np.abs(img.astype(int) - bare.astype(int)).max(axis=2) > 12
    rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    assert list(ann.trains.ids) == [0]
    x, y, w, h = ann.trains.boxes[0]
    assert (rows[0], rows[-1], cols[0], cols[-1]) == pytest.approx((y, y + h, x, x + w), abs=2)
    assert 0.9 < ann.trains.visible[0] <= 1.0  # a pillar on the platform hides a little of it


def test_headlights_light_the_track_before_the_train_comes_out_of_the_tunnel(platform, renderer):
    runs = TrainRuns(platform)
    t = runs[0].enter_s - 0.5
    trains = runs.state(t)
    assert len(trains) == 1 and trains.head_s_m[0] < 0  # in the tunnel
    bare, _ = renderer.render(world(t))
    lit, ann = renderer.render(world(t, trains=trains))
    assert len(ann.trains) == 0  # nothing of it shows yet
    pts = np.array([[x, y, 0.0] for x in np.arange(2.0, 10.0, 0.5) for y in (-1.0, -1.5, -2.0)])
    uv, _ = renderer.camera.project(pts)
    ok = (uv[:, 0] >= 0) & (uv[:, 0] < 640) & (uv[:, 1] >= 0) & (uv[:, 1] < 360)
    u, v = uv[ok].astype(int).T
    assert ok.sum() >= 10
    assert (lit[v, u].astype(float) - bare[v, u]).mean() > 3.0


def test_same_seed_same_frames_with_a_train():
    sc = load_scenario("negatives_train")
    hashes = []
    for seed in (3, 3, 4):
        feed = SyntheticFeed(sc, seed=seed)
        r = feed.renderers[sc.cameras[0].name]
        out = []
        for t in (15.0, 25.0):
            feed.model.run_until(t)
            img, ann = r.render(feed.model.world(), t)
            assert len(ann.trains) == 1
            out.append(frame_sha(img) + ann.trains.boxes.tobytes().hex())
        hashes.append(out)
    assert hashes[0] == hashes[1] and hashes[0] != hashes[2]


# --- annotations and exports ---------------------------------------------------------------------------


def test_trains_are_their_own_class_in_the_annotations_and_coco_not_in_mot(tmp_path, platform, renderer):
    trains = TrainRuns(platform).state(57.0)
    _, ann = renderer.render(world(57.0, standing_crowd([(20.0, 2.0)], ids=[7], t=57.0), trains))
    assert list(ann.ids) == [7] and list(ann.trains.ids) == [0]
    frames = [ann.at(frame=0, t=0.0, camera="platform"), ann.at(frame=1, t=0.1, camera="platform")]
    path = tmp_path / "ann.parquet"
    assert write_annotations_parquet(path, frames) == 4
    back = read_annotations_parquet(path)
    assert [list(fa.ids) for fa in back] == [[7], [7]] and [list(fa.trains.ids) for fa in back] == [[0], [0]]
    assert np.array_equal(back[0].trains.boxes, ann.trains.boxes)
    coco = coco_dict(frames, (640, 360))
    assert coco["categories"][1] == TRAIN_CATEGORY == {"id": 7, "name": "train", "supercategory": "vehicle"}
    cats = [a["category_id"] for a in coco["annotations"]]
    assert cats == [1, 7, 1, 7]
    train_ann = coco["annotations"][1]
    x, y, w, h = (float(v) for v in ann.trains.boxes[0])
    assert train_ann["bbox"] == [round(x + 0.5, 3), round(y + 0.5, 3), round(w, 3), round(h, 3)]
    assert train_ann["track_id"] == 0 and "head_point" not in train_ann
    json.dumps(coco)  # plain JSON
    mot = mot_rows(frames)
    assert mot[:, 1].tolist() == [8.0, 8.0]  # person 7 (+1), twice; no train row


# --- scenario keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("override, match", [
    ({"station.trains.0.vehicle.platform_edge": 3},
     r"station\.trains\[0\]\.vehicle\.platform_edge must be an index of station\.platform_edges \(1 defined\); got 3"),
    ({"station.trains.0.vehicle.cars": 3},
     r"station\.trains\[0\]\.vehicle\.cars: 3 cars of 15 m \(45 m\) and stop_margin_m=1 do not fit along "
     r"platform_edges\[0\] \(32 m\)"),
    ({"station.trains.0.vehicle.width_m": 3.0, "station.trains.0.vehicle.platform_gap_m": 0.5,
      "station.track_beds": [[[0, -3.2], [32, -3.2], [32, 0], [0, 0]]],
      "station.zones.0.polygon": [[0, -3.2], [32, -3.2], [32, 0], [0, 0]]},
     r"station\.trains\[0\]\.vehicle\.width_m: platform_gap_m \+ width_m = 3\.5 m must fit in the track bed beside "
     r"platform_edges\[0\] \(3\.2 m across\)"),
    ({"station.trains.0.release_s": 12},
     r"station\.trains\[0\]\.release_s must fit while the doors are open: dwell_s - 2 \* vehicle\.door_s - 1 s = "
     r"11 s; got 12"),
    ({"station.trains.0.vehicle.door_height_m": 2.6, "station.trains.0.vehicle.height_m": 2.8},
     r"station\.trains\[0\]\.vehicle: door_height_m must be <= height_m - 0\.3 = 2\.5 m; got 2\.6"),
    ({"station.trains.0.vehicle.doors_per_car": 6, "station.trains.0.vehicle.door_width_m": 2.2},
     r"station\.trains\[0\]\.vehicle: 6 doors of 2\.2 m .* need cars of 16\.8 m; car_length_m is 15"),
    ({"station.trains.0.vehicle.colour": [1, 2, 3]}, r"station\.trains\[0\]\.vehicle\.colour: unknown key"),
    ({"station.trains.0.vehicle.livery.body_bgr": [300, 0, 0]}, r"station\.trains\[0\]\.vehicle\.livery\.body_bgr\[0\]: Input should be less than or equal to 255; got 300"),
    ({"station.trains.0.vehicle.enters_from": "north"}, r"station\.trains\[0\]\.vehicle\.enters_from"),
    ({"station.entrances.2.segment": [[1, 0], [1.5, 0]]},
     r"station\.trains\[0\]\.entrance: no door of the train stopped at platform_edges\[0\] lies along 'train_doors'"),
])
def test_bad_train_keys_are_named(override, match):
    with pytest.raises(ScenarioError, match=match) as info:
        load_scenario("platform_intrusion", override)
    assert str(info.value).startswith("scenario 'platform_intrusion': ")


def test_trains_off_stage_and_scenarios_without_trains_have_no_vehicle():
    # concourse_overcrowding's train empties onto stairs far from any platform edge: no vehicle, the
    # passengers come from at_s as they always did
    assert not TrainRuns(load_scenario("concourse_overcrowding"))
    for name in ("negatives_fall", "negatives_fire", "negatives_intrusion"):
        sc = load_scenario(name)
        assert sc.station.trains == [] and not TrainRuns(sc)
