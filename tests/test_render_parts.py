"""The parts of sim.render on their own: the body model, the drawer and shader registries, occlusion, the package."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from sim.render.bodies import (ELBOW_R, FOOT_L, FOOT_R, HAND_L, HAND_R, HEAD, HIP_LINE, KNEE_R, N_JOINTS, NECK,
                               SHOULDER_R, BodyFrame, pose_bodies)
from sim.render.occlusion import OCCLUSION_MARGIN_M, OcclusionScreen, VisibilityBuffer, restore_static
from sim.render import Renderer
from sim.render.props import PROP_DRAWERS
from sim.render.scene import Surface
from sim.render.shaders import SHADERS
from sim.scenario import load_scenario
from sim.state import Posture, Prop
from tests.helpers import standing_crowd

RENDER = Path(__file__).resolve().parents[1] / "sim" / "render"


# --- the body model: hand-computed joints ----------------------------------------------------------


def test_a_standing_adult_has_its_joints_where_the_proportions_put_them():
    h = 1.75
    frame = pose_bodies(standing_crowd([(0.0, 0.0)], height=h), benches=[]).frame
    # straight legs: the foot is 0.52 - 0.25 - 0.245 = 0.025 body lengths up, so the body does not bob
    assert frame.z[FOOT_L, 0] == pytest.approx(0.025 * h) and frame.z[FOOT_R, 0] == pytest.approx(0.025 * h)
    assert frame.z[KNEE_R, 0] == pytest.approx((0.52 - 0.25) * h)
    assert frame.z[HEAD, 0] == pytest.approx(0.935 * h) and frame.z[NECK, 0] == pytest.approx(0.865 * h)
    # arms hang with the elbow bent by 0.15 rad: the upper arm 0.17 h straight down, the forearm forward
    assert frame.z[ELBOW_R, 0] == pytest.approx((0.80 - 0.17) * h)
    assert frame.a[HAND_R, 0] == pytest.approx(0.19 * h * math.sin(0.15))
    assert frame.z[HAND_R, 0] == pytest.approx((0.80 - 0.17 - 0.19 * math.cos(0.15)) * h)
    # the shoulders sit 0.9 r - 0.05 = 0.157 m out, the hands 0.04 m further; left is +b
    assert frame.b[SHOULDER_R, 0] == pytest.approx(-(0.9 * 0.23 - 0.05))
    assert frame.b[HAND_L, 0] == pytest.approx(0.9 * 0.23 - 0.05 + 0.04)


def test_a_lying_body_is_the_standing_one_tipped_forward_onto_the_floor():
    h = 1.75
    stand = pose_bodies(standing_crowd([(0.0, 0.0)], height=h), benches=[]).frame
    lying = pose_bodies(standing_crowd([(0.0, 0.0)], height=h, posture=Posture.LYING, progress=1.0), benches=[]).frame
    # a quarter turn about the feet: up becomes forward, and the body rests 0.1 m above the floor
    assert np.allclose(lying.a, stand.z)
    assert np.allclose(lying.z, 0.1 - stand.a)


def test_body_frames_select_people_and_move_joints():
    a, b, z = (np.arange(N_JOINTS * 3, dtype=float).reshape(N_JOINTS, 3) + k for k in (0.0, 100.0, 200.0))
    frame = BodyFrame(a.copy(), b.copy(), z.copy())
    sub = frame[np.array([False, True, True])]
    assert len(sub) == 2 and np.array_equal(sub.a, a[:, 1:]) and np.array_equal(sub.z, z[:, 1:])
    assert np.array_equal(frame.point(HIP_LINE, [2]), [[a[HIP_LINE, 2]], [b[HIP_LINE, 2]], [z[HIP_LINE, 2]]])
    frame.set_point(HAND_R, [0], np.array([[1.0], [2.0], [3.0]]))
    assert (frame.a[HAND_R, 0], frame.b[HAND_R, 0], frame.z[HAND_R, 0]) == (1.0, 2.0, 3.0)
    assert sub.a[HAND_R, 0] == a[HAND_R, 1]  # a selection is a copy


def test_a_raised_rifle_puts_both_hands_forward_of_the_shoulder():
    crowd = standing_crowd([(0.0, 0.0), (2.0, 0.0)], prop=Prop.RIFLE, raise_=[0.0, 1.0])
    frame = pose_bodies(crowd, benches=[]).frame
    reach = frame.a[[HAND_L, HAND_R]] - frame.a[SHOULDER_R]
    assert np.all(reach[:, 1] > reach[:, 0]) and np.all(reach[:, 1] > 0.25)


# --- registries: one drawer per prop, one shader per surface ----------------------------------------


def test_every_prop_has_one_drawer_and_every_surface_one_shader():
    assert set(PROP_DRAWERS) == set(Prop) - {Prop.NONE}
    assert set(SHADERS) == set(Surface) - {Surface.NONE, Surface.GROUND_OUT}


def test_a_frames_people_select_by_mask_with_their_extra_shapes():
    sc = load_scenario("platform_intrusion", overrides={"cameras.0.resolution": [320, 180]})
    r = Renderer(sc, "platform", seed=0, supersample=1)
    crowd = standing_crowd([(12.0, 3.0), (16.0, 2.0), (19.5, 3.5)], prop=[Prop.BAG, Prop.NONE, Prop.RIFLE],
                           ids=[7, 8, 9])
    g = r._people(crowd)
    keep = g.ids != 8
    sub = g[keep]
    assert len(g) == 3 and sub.ids.tolist() == g.ids[keep].tolist() and 8 not in sub.ids
    assert np.array_equal(sub.polys, g.polys[keep]) and np.array_equal(sub.box, g.box[keep])
    assert sub.extras == [e for e, k in zip(g.extras, keep) if k] and all(e is not None for e in sub.extras)
    assert g[g.ids == 8].extras == [None]  # the one without a prop has no extra shapes


# --- occlusion: hand-computed boxes -----------------------------------------------------------------


def test_the_screen_flags_people_behind_an_occluder_and_the_box_to_restore():
    occ = np.full((64, 64), np.inf, np.float32)
    occ[16:32, 16:32] = 4.0  # a pillar 4 m away covering tile (1, 1)
    screen = OcclusionScreen(occ)
    boxes = np.array([[20.0, 20.0, 40.0, 50.0], [20.0, 20.0, 40.0, 50.0], [40.0, 40.0, 60.0, 60.0]])
    behind, roi = screen.maybe_hidden(boxes, np.array([6.0, 4.0 + OCCLUSION_MARGIN_M, 6.0]))
    assert behind.tolist() == [True, False, False]  # nearer than the pillar by less than the margin: not hidden
    # the covered tile (16..32) clipped to the box grown by a pixel: x from max(16, 19) to min(32, 42)
    assert roi[0].tolist() == [19, 19, 32, 32] and roi[1:].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]


def test_restoring_paints_back_only_the_nearer_occluder_pixels():
    img = np.zeros((4, 4, 3), np.uint8)
    static = np.full((4, 4, 3), 200, np.uint8)
    occ = np.full((4, 4), np.inf, np.float32)
    occ[:, :2] = 3.0
    restore_static(img, static, occ, [((0, 0, 3, 4), 5.0 - OCCLUSION_MARGIN_M)])
    assert img[..., 0].tolist() == [[200, 200, 0, 0]] * 4
    restore_static(img, static, occ, [((3, 0, 3, 4), 99.0)])  # an empty box restores nothing
    assert int(img[:, 3].max()) == 0


@pytest.fixture(params=["compiled", "vectorised"])
def id_buffer_path(request, monkeypatch):
    """Both paths of the visible fraction: the numba pixel loop and the vectorised numpy one."""
    from sim.render import occlusion

    if request.param == "vectorised":
        monkeypatch.setattr(occlusion, "_NUMBA_ENABLED", False)
    elif occlusion.compiled_counts() is None:
        pytest.skip("numba cannot be imported here")
    return request.param


def test_visible_fraction_counts_the_unhidden_share_of_the_silhouette(id_buffer_path):
    occ = np.full((40, 40), np.inf, np.float32)
    occ[:, :20] = 2.0  # the left half of the image is behind a wall 2 m away
    buf = VisibilityBuffer(occ, width=40, height=40, margin=0)
    # one person 5 m away standing across the wall's edge (head, torso, legs: one 20 x 32 px column)
    parts = np.tile(np.array([10.0, 4.0, 30.0, 36.0]), (1, 3, 1))
    frac = buf.visible_fraction(parts, np.array([5.0]), np.zeros(4))
    assert frac.tolist() == [0.5]
    # and a second, nearer person in front of the wall covering the first one's right half
    parts2 = np.concatenate([parts, np.tile(np.array([20.0, 4.0, 40.0, 36.0]), (1, 3, 1))])
    assert buf.visible_fraction(parts2, np.array([5.0, 1.0]), np.zeros(4)).tolist() == [0.0, 1.0]


def test_the_compiled_visible_fraction_equals_the_vectorised_one(monkeypatch):
    """Random crowds over a random occluder depth (boxes off the image's edges, empty boxes, depths
    tied with the occluders at the margin): the same fractions, bit for bit."""
    from sim.render import occlusion

    if occlusion.compiled_counts() is None:
        pytest.skip("numba cannot be imported here")
    rng = np.random.default_rng(7)
    for trial in range(40):
        occ = np.where(rng.random((96, 128)) < 0.3, rng.choice([2.0, 4.0, 6.0], (96, 128)), np.inf).astype(np.float32)
        buf = VisibilityBuffer(occ, width=120, height=90, margin=3)
        m = int(rng.integers(0, 12))
        xy = rng.uniform(-20, 140, (m, 3, 2))
        wh = rng.uniform(-4, 40, (m, 3, 2))  # some boxes empty (x1 <= x0)
        parts = np.concatenate([xy, xy + wh], axis=2)
        depth = rng.choice([2.0 + OCCLUSION_MARGIN_M, 3.0, 5.0, 7.5], m) + rng.normal(0, 0.01, m) * (trial % 2)
        off = np.array([3.0, 3.0, 3.0, 3.0])
        compiled = buf.visible_fraction(parts, depth, off)
        monkeypatch.setattr(occlusion, "_NUMBA_ENABLED", False)
        vectorised = buf.visible_fraction(parts, depth, off)
        monkeypatch.setattr(occlusion, "_NUMBA_ENABLED", True)
        assert compiled.dtype == vectorised.dtype and compiled.shape == (m,)
        assert compiled.tobytes() == vectorised.tobytes(), trial


# --- the package: public names, and the house rules on size ----------------------------------------------


def test_the_public_names_stay_importable_from_the_package():
    import sim.render as render
    from sim.render.background import light_level
    from sim.render.renderer import Renderer, RenderError

    assert render.Renderer is Renderer and render.RenderError is RenderError and render.light_level is light_level
    assert set(render.__all__) == {"PinholeCamera", "RenderError", "Renderer", "light_level", "sample_crowd"}


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


@pytest.mark.parametrize("path", sorted(RENDER.glob("*.py")), ids=lambda p: p.name)
def test_modules_stay_small_and_long_functions_say_why(path):
    lines = path.read_text().splitlines()
    assert len(lines) <= 800, f"{path.name} has {len(lines)} lines (at most 800)"
    for fn in _functions(ast.parse("\n".join(lines))):
        length = fn.end_lineno - fn.lineno + 1
        first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
        said = "long on purpose" in "\n".join(lines[max(0, first - 4):first]).lower()
        assert length <= 120 or said, f"{path.name}: {fn.name} has {length} lines and no comment saying why"
