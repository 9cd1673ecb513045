"""Behaviours from small steps: the timing of a Sequence worked out by hand, and the
sequences of the library's events in a small room."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.events.atomics import Cast, Dwell, Freeze, Hold, Leave, Ramp, Sequence, WaitUntil
from sim.events.scripts import BUILDERS, build_scripts
from sim.scenario import EVENT_TYPE_NAMES
from sim.state import Posture
from sim.world.model import StationModel
from tests.helpers import room

SIT, CROUCH = Posture.SITTING, Posture.CROUCHING


class Actor:
    unique_id = 7
    present = True
    position = np.zeros(2)


class Host:
    """Records what a script asks (the poses set, the releases)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.arrive = None

    def stand(self, agent, *, frozen=False):
        self.calls.append(("stand", frozen))

    def heading_of(self, agent):
        return 0.25

    def set_heading(self, agent, heading_rad):
        self.calls.append(("heading", heading_rad))

    def set_pose(self, agent, posture, progress=0.0):
        self.calls.append(("pose", posture, progress))

    def set_arrive(self, agent, arrive):
        self.arrive = arrive

    def release(self, agent, exit=None):
        self.calls.append(("release", exit))


class Given(Cast):
    def __call__(self, host, stage):
        stage.actor = Actor()


class Spec:
    at_s = 0.0


def run(steps, times):
    """Run a sequence of ``steps`` at the update times; the poses and releases of each update."""
    host = Host()
    seq = Sequence(Spec(), "e", Given(), steps)
    seq.prepare(host)
    seq.begin(host, times[0])
    out = []
    for t in times:
        host.calls = []
        going = seq.update(host, t)
        out.append((t, [c for c in host.calls if c[0] in ("pose", "release")], going))
    return out


def test_a_sit_down_ramps_holds_and_ramps_back_by_elapsed_time():
    # sit down over 1 s, seated 2 s, get up over 1 s, leave: updates every 0.5 s from t = 10
    steps = [Freeze(), Ramp(SIT, 0, 1, 1.0), Hold(SIT, 2.0), Ramp(SIT, 1, 0, 1.0), Leave("east")]
    got = run(steps, [10.0, 10.5, 11.0, 12.5, 13.0, 13.5, 14.0])
    assert got == [
        (10.0, [("pose", SIT, 0.0)], True),  # 0 s in: the ramp starts at its low end
        (10.5, [("pose", SIT, 0.5)], True),
        (11.0, [("pose", SIT, 1.0)], True),  # the ramp is over: held, seated
        (12.5, [("pose", SIT, 1.0)], True),
        (13.0, [("pose", SIT, 1.0 - 0.0)], True),  # 3 s in: 1 s ramp + 2 s hold done, getting up
        (13.5, [("pose", SIT, 1.0 - 0.5)], True),
        (14.0, [("release", "east")], False),  # up: the script lets go and is over
    ]


def test_freeze_stands_still_once_and_remembers_the_facing_for_a_sway():
    host = Host()
    seq = Sequence(Spec(), "e", Given(), [Freeze(), Hold(Posture.LYING, None, sway_rad=0.1, sway_hz=0.25)])
    seq.begin(host, 0.0)
    for t in (0.0, 1.0, 2.0):
        seq.update(host, t)
    assert host.calls.count(("stand", True)) == 1
    headings = [c[1] for c in host.calls if c[0] == "heading"]
    # about the frozen facing 0.25 rad: + 0.1 sin(2 pi 0.25 t) at t = 0, 1, 2 s
    assert headings == pytest.approx([0.25, 0.25 + 0.1, 0.25 + 0.1 * math.sin(math.pi)])


def test_timed_steps_count_from_the_end_of_the_last_untimed_one():
    # wait until 5.2 s, then a 1 s crouch: its progress counts from 5.2 s, not from the start
    got = run([WaitUntil(5.2), Ramp(CROUCH, 0, 1, 1.0), Leave(None)], [5.0, 5.2, 5.7, 6.2])
    assert [(t, calls) for t, calls, _ in got] == [
        (5.0, []), (5.2, [("pose", CROUCH, 0.0)]), (5.7, [("pose", CROUCH, (5.7 - 5.2) / 1.0)]),
        (6.2, [("release", None)]),
    ]


def test_a_dwell_slows_onto_the_goal_and_ends_at_the_first_update_past_its_time():
    host = Host()
    seq = Sequence(Spec(), "e", Given(), [Dwell(1.0), Leave(None)])
    seq.begin(host, 3.0)
    assert seq.update(host, 3.0) and host.arrive is True
    assert seq.update(host, 3.95) and host.arrive is True
    assert not seq.update(host, 4.0) and host.arrive is False
    assert host.calls[-1] == ("release", None)


# --- the library's sequences in a small room ---------------------------------------------------------


def test_a_bag_set_down_and_picked_up_lies_on_the_floor_once(monkeypatch):
    sc = room(duration_s=60, seed=3, distractors=[{"type": "bag_with_owner", "id": "bag", "at_s": 1.0, "at": [8, 5], "duration_s": 4,
                            "exit": "east"}])
    model = StationModel(sc)
    placed, removed = [], []
    add, remove = model.add_object, model.remove_object
    monkeypatch.setattr(model, "add_object", lambda *a, **k: placed.append(add(*a, **k)) or placed[-1])
    monkeypatch.setattr(model, "remove_object", lambda oid: removed.append(oid) or remove(oid))
    on_floor = 0
    while model.time < 25.0:
        model.step()
        on_floor += len(model.world().objects)
    # set down at 1 + 0.5 s, picked up 0.5 + 4 + 0.5 s later: one object, on the floor 5 s
    assert placed == removed == [1]
    assert on_floor * 0.05 == pytest.approx(0.5 + 4.0 + 0.5, abs=2 * 0.05)
    assert model.exits_by_name["east"] == 1  # and walked out


def test_an_intrusion_walker_starts_with_the_arrivals_before_other_scripts():
    sc = room(duration_s=60, seed=3, events=[{"type": "person_on_ground", "id": "fall", "at_s": 2.0, "at": [5, 5]},
                      {"type": "intrusion", "id": "walker", "at_s": 2.0, "start": [2, 2], "path": [[6, 2]]}])
    scripts = build_scripts(sc)
    assert [s.event_id for s in scripts] == ["fall", "walker"]  # file order
    assert [s.begin_order for s in scripts] == [1, 0]
    model = StationModel(sc)
    model.run_until(2.0)
    ids = sorted(model.snapshot().ids.tolist())
    walker = model.agent(ids[0])  # created first, although the fall comes first in the file
    assert np.hypot(*(walker.position - [2, 2])) < 0.1


def test_every_event_type_has_a_builder():
    assert set(EVENT_TYPE_NAMES) <= set(BUILDERS)
