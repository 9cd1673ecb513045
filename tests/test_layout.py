"""Layout pieces compose into one station floor."""

import numpy as np
import pytest
import yaml

from sim.scenario.layout import union_outline
from sim.scenario import ScenarioError, load_scenario

PIECES = [
    {"piece": "platform", "name": "p1", "origin": [0, 0], "length_m": 40, "width_m": 6, "tracks": "south"},
    {"piece": "corridor", "name": "link", "from": [18, 6], "to": [18, 12], "width_m": 4, "one_way_deg": 90},
    {"piece": "concourse", "name": "hall", "origin": [0, 12], "size_m": [40, 16]},
    {"piece": "gates", "name": "barrier", "center": [30, 20], "axis": "y", "span_m": 16, "gates": 5},
    {"piece": "stairs", "name": "street", "segment": [[0, 18], [0, 22]], "role": "both", "rate_per_min": 20},
    {"piece": "escalator", "name": "esc", "segment": [[40, 2], [40, 4]], "role": "entrance", "direction": "down"},
]


def _scenario(tmp_path, pieces, **station):
    data = {"name": "lay", "duration_s": 30, "station": {"layout": pieces, **station},
            "cameras": [{"name": "c", "position": [20, 30, 7], "look_at": [20, 15, 0]}]}
    p = tmp_path / "lay.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(p)


def _area(poly):
    p = np.asarray(poly, float)
    return 0.5 * (np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))


def test_union_outline_is_exact_and_counter_clockwise():
    # an L: 4x2 plus 2x2 on top of its left half
    outline, holes = union_outline([[[0, 0], [4, 0], [4, 2], [0, 2]], [[0, 2], [2, 2], [2, 4], [0, 4]]])
    assert outline == [[0, 0], [4, 0], [4, 2], [2, 2], [2, 4], [0, 4]] and holes == []
    assert _area(outline) == 4 * 2 + 2 * 2


def test_a_block_enclosed_by_floor_is_a_hole():
    # a 6x6 ring of 1 m wide floor around a 4x4 block
    ring = [[[0, 0], [6, 0], [6, 1], [0, 1]], [[0, 5], [6, 5], [6, 6], [0, 6]],
            [[0, 1], [1, 1], [1, 5], [0, 5]], [[5, 1], [6, 1], [6, 5], [5, 5]]]
    outline, holes = union_outline(ring)
    assert _area(outline) == 36
    assert len(holes) == 1 and _area(holes[0]) == 4 * 4  # counter-clockwise like any obstacle


def test_pieces_give_floor_tracks_zones_gates_and_portals(tmp_path):
    st = _scenario(tmp_path, PIECES).station
    # platform 40x6 + corridor 4x6 + concourse 40x16
    assert _area(st.walkable) == pytest.approx(40 * 6 + 4 * 6 + 40 * 16)
    assert st.track_beds == [[(0, -4.5), (40, -4.5), (40, 0), (0, 0)]]
    assert st.platform_edges == [((0, 0), (40, 0))]
    kinds = {z.name: (z.kind, z.direction_deg) for z in st.zones}
    assert kinds == {"p1_tracks": ("forbidden", None), "link": ("one_way", 90.0), "esc": ("one_way", 180.0)}
    # 5 gates of 0.8 m and 4 housings of 0.6 m leave (16 - 6.4) / 2 = 4.8 m of wall on each side
    heights = sorted(round(o[2][1] - o[0][1], 6) for o in st.obstacles)
    assert heights == [0.6, 0.6, 0.6, 0.6, 4.8, 4.8]
    assert [e.name for e in st.entrances] == ["street", "esc"] and [e.name for e in st.exits] == ["street"]


def test_a_layout_scenario_simulates(tmp_path):
    from sim.world.model import StationModel

    m = StationModel(_scenario(tmp_path, PIECES), seed=1)
    m.run_until(15.0)
    assert m.agent_count > 0


@pytest.mark.parametrize("pieces, match", [
    ([PIECES[0], {"piece": "concourse", "name": "far", "origin": [0, 20], "size_m": [5, 5]}],
     r"station\.layout: the layout's floors form 2 separate areas"),
    ([{"piece": "corridor", "name": "c", "from": [0, 0], "to": [5, 5], "width_m": 2}],
     r"station\.layout\[0\]: a corridor must run along x or y"),
    ([PIECES[2], {"piece": "gates", "name": "g", "center": [30, 20], "span_m": 2, "gates": 4}],
     r"station\.layout\[1\]: 4 gates of 0\.8 m with 0\.6 m housings need 5\S* m; span_m is 2"),
    ([{"piece": "plaza", "name": "x"}], r"station\.layout\[0\]"),
], ids=["disconnected", "diagonal-corridor", "gates-too-wide", "unknown-piece"])
def test_bad_layouts_name_the_piece(tmp_path, pieces, match):
    with pytest.raises(ScenarioError, match=match):
        _scenario(tmp_path, pieces)
