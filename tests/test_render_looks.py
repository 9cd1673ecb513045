"""What the renderer draws beyond walking people: poses, props, vests, bodies, objects on the
floor, fires and smoke, and the static distractors (posters, flickering lights, benches).

Frames are rendered without noise or JPEG so that pixels compare exactly; each check is a
property of the frame (a box's size, colours in a region, a difference to the empty scene).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.render import Renderer, light_level
from sim.scenario import load_scenario
from sim.state import BodyKind, CrowdState, FireState, ObjectKind, ObjectState, Posture, Prop, WorldState
from tests.helpers import frame_sha, standing_crowd

CLEAN = {"render.noise_std": 0.0, "render.jpeg_quality": 0}
SPOT = (14.0, 3.0)  #: [m] a free spot of the platform, clear of the pillars, seen side-on along x


#: the looks tests' people: a blue shirt and brown trousers, so that props and vests stand out
people = functools.partial(standing_crowd, shirt=(140, 60, 20), trousers=(50, 40, 30))


def objects(xy, kind=ObjectKind.BAG, size=(0.4, 0.2, 0.3), colour=(0, 255, 0), yaw=0.0) -> ObjectState:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    m = len(xy)
    return ObjectState(ids=np.arange(m, dtype=np.int64), kind=np.full(m, kind, np.uint8), pos_m=xy,
                       size_m=np.tile(np.asarray(size, float), (m, 1)), yaw_rad=np.full(m, yaw),
                       colour_bgr=np.tile(np.array(colour, np.uint8), (m, 1)), owner_id=np.full(m, -1, np.int64))


def fire(xy=(20.0, 3.5), *, age=10.0, radius=0.6, height=1.2, smoke_radius=4.0, smoke=0.0) -> FireState:
    return FireState(ids=np.array([1]), pos_m=np.array([xy], float), flame_radius_m=np.array([radius]),
                     flame_height_m=np.array([height]), smoke_radius_m=np.array([smoke_radius]),
                     smoke_density=np.array([smoke]), age_s=np.array([age]))


def world(crowd=None, objs=None, fires=None, t=0.0) -> WorldState:
    return WorldState(t=t, crowd=CrowdState.empty(t) if crowd is None else crowd,
                      objects=ObjectState.empty() if objs is None else objs,
                      fires=FireState.empty() if fires is None else fires)


def box_of(renderer, crowd) -> np.ndarray:
    _, ann = renderer.render(crowd, 0.0)
    assert len(ann) == 1
    return ann.boxes[0]


def hsv(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int64)


def flame_coloured(img: np.ndarray) -> np.ndarray:
    """Bright, saturated red-orange-yellow pixels (OpenCV hue 0..40 of 180)."""
    h = hsv(img)
    return (h[..., 0] <= 40) & (h[..., 1] >= 120) & (h[..., 2] >= 200)


def quad_mask(shape, uv: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.rint(uv).astype(np.int32), 1)
    return mask.astype(bool)


@pytest.fixture(scope="module")
def platform():
    return load_scenario("platform_intrusion", overrides=CLEAN)


@pytest.fixture(scope="module")
def renderer(platform):
    return Renderer(platform, "platform", seed=5, supersample=1)


# --- poses -------------------------------------------------------------------------------------------


def test_a_sitting_person_is_shorter_than_standing_and_a_bench_raises_the_seat(platform, renderer):
    bench_sc = platform.with_overrides(**{"distractors": [
        {"type": "sitting", "at_s": 0, "at": list(SPOT), "seat": "bench", "facing_deg": 0}]})
    on_bench = Renderer(bench_sc, "platform", seed=5, supersample=1)
    stand = box_of(renderer, people([SPOT]))
    floor = box_of(renderer, people([SPOT], posture=Posture.SITTING, progress=1.0))
    bench = box_of(on_bench, people([SPOT], posture=Posture.SITTING, progress=1.0))
    half = box_of(renderer, people([SPOT], posture=Posture.SITTING, progress=0.5))
    # seated on the floor the head's top is at about 0.09 + 0.455 = 0.55 body lengths; on a bench
    # the hip line is at 0.48 m instead of 0.09 x 1.75 = 0.16 m, so about 0.32 m higher
    assert floor[3] < 0.7 * stand[3]
    assert floor[3] < bench[3] < stand[3]
    assert floor[3] < half[3] < stand[3]  # sitting down passes through the heights in between
    # the legs stretch forward on the floor: seen side-on the seated box is wider
    assert floor[2] > stand[2]


def test_a_crouching_person_is_lower_than_standing(renderer):
    stand = box_of(renderer, people([SPOT]))
    crouch = box_of(renderer, people([SPOT], posture=Posture.CROUCHING, progress=1.0))
    rising = box_of(renderer, people([SPOT], posture=Posture.CROUCHING, progress=0.3))
    assert crouch[3] < 0.75 * stand[3] and crouch[3] < rising[3] < stand[3]
    # the box's bottom (the feet) stays on the floor
    assert crouch[1] + crouch[3] == pytest.approx(stand[1] + stand[3], abs=4.0)


def test_a_lying_person_is_wider_than_tall(renderer):
    x, y, w, h = box_of(renderer, people([SPOT], posture=Posture.LYING, progress=1.0))
    assert w > 2 * h


@settings(max_examples=25, deadline=None)
@given(heading=st.floats(-math.pi, math.pi), progress=st.floats(0.0, 1.0),
       posture=st.sampled_from([Posture.SITTING, Posture.CROUCHING]))
def test_seated_and_crouching_bodies_are_no_taller_than_standing_and_show_their_head(renderer, heading, progress,
                                                                                     posture):
    _, stand = renderer.render(people([SPOT], heading=heading), 0.0)
    _, posed = renderer.render(people([SPOT], heading=heading, posture=posture, progress=progress), 0.0)
    assert posed.boxes[0, 3] <= stand.boxes[0, 3] + 1.0
    x, y, w, h = posed.boxes[0]
    u, v = posed.heads[0]
    assert x <= u <= x + w and y <= v <= y + h
    assert np.all(np.isfinite(posed.boxes))


# --- props, vests, bodies ----------------------------------------------------------------------------


def test_a_raised_rifle_widens_the_box_along_the_heading(renderer):
    low = box_of(renderer, people([SPOT], heading=0.0, prop=Prop.RIFLE, raise_=0.0))
    high = box_of(renderer, people([SPOT], heading=0.0, prop=Prop.RIFLE, raise_=1.0))
    bare = box_of(renderer, people([SPOT], heading=0.0))
    px_per_m = float(renderer.camera.px_per_m(renderer.camera.depth_of(np.array([[*SPOT, 1.4]])))[0])
    # heading +x runs to the image's left here: the muzzle reaches 0.02 + 0.9 = 0.92 m ahead of the
    # shoulder raised, 0.06 + 0.9 cos(0.9 rad) = 0.62 m held low: about 0.3 m more
    assert high[0] < low[0] - 0.2 * px_per_m
    assert high[2] > low[2] + 0.2 * px_per_m
    assert low[2] > bare[2]  # even held low the rifle sticks out of the body's outline


@pytest.mark.parametrize("prop", [Prop.UMBRELLA, Prop.CANE, Prop.GUITAR_CASE, Prop.BAG, Prop.BACKPACK])
def test_look_alike_props_are_dark_and_change_the_person(renderer, prop):
    bare, _ = renderer.render(people([SPOT], heading=0.0), 0.0)
    img, ann = renderer.render(people([SPOT], heading=0.0, prop=prop, raise_=1.0 if prop == Prop.UMBRELLA else 0.0), 0.0)
    changed = np.abs(img.astype(int) - bare.astype(int)).max(axis=2) > 20
    assert changed.sum() > 15
    # the changed pixels are the prop's own dark or muted colours, not the shirt's blue
    assert np.median(img[changed].max(axis=1)) < 140


def test_a_pointed_umbrella_reaches_as_far_as_a_raised_rifle(renderer):
    rifle = box_of(renderer, people([SPOT], heading=0.0, prop=Prop.RIFLE, raise_=1.0))
    umbrella = box_of(renderer, people([SPOT], heading=0.0, prop=Prop.UMBRELLA, raise_=1.0))
    bare = box_of(renderer, people([SPOT], heading=0.0))
    # the hard negative: both stick out ahead of the body by a similar length
    assert umbrella[2] > bare[2] * 2 and abs(umbrella[2] - rifle[2]) < 0.6 * rifle[2]


def test_a_vest_puts_high_visibility_pixels_in_the_box(renderer):
    shares = []
    for vest in (False, True):
        img, ann = renderer.render(people([SPOT], heading=math.pi / 2, vest=vest, shirt=(140, 60, 20)), 0.0)
        x, y, w, h = np.rint(ann.boxes[0]).astype(int)
        roi = hsv(img[y:y + h + 1, x:x + w + 1])
        hivis = (roi[..., 0] >= 15) & (roi[..., 0] <= 40) & (roi[..., 1] >= 180) & (roi[..., 2] >= 180)
        shares.append(hivis.mean())
        if vest:
            # the reflective stripes: pale grey pixels among the yellow
            grey = (roi[..., 1] < 40) & (roi[..., 2] > 170)
            assert grey.sum() >= 3
    # without the vest only the platform's yellow safety line behind the person shows a few
    assert shares[0] < 0.01 and shares[1] > shares[0] + 0.12


def test_a_child_is_smaller_with_a_bigger_head_for_its_height(renderer):
    adult = renderer._people(people([SPOT], heading=math.pi / 2))
    child = renderer._people(people([SPOT], heading=math.pi / 2, body=BodyKind.CHILD, height=1.2, radius=0.17))
    head_share = [g.parts[0, 0, 3] - g.parts[0, 0, 1] for g in (adult, child)]
    heights = [g.box[0, 3] - g.box[0, 1] for g in (adult, child)]
    assert heights[1] < 0.8 * heights[0]
    # head diameter 2 x 0.08 of the height for a child against 2 x 0.06 for an adult
    assert head_share[1] / heights[1] > 1.15 * head_share[0] / heights[0]


def test_a_wheelchair_user_is_seated_in_a_chair_wider_than_a_walker(renderer):
    walker = box_of(renderer, people([SPOT], heading=0.0))
    chair = box_of(renderer, people([SPOT], heading=0.0, body=BodyKind.WHEELCHAIR, height=1.3, radius=0.4))
    assert chair[3] < 0.85 * walker[3] and chair[2] > 1.5 * walker[2]
    # the big wheel: dark tyre pixels near the floor in the box's lower half
    img, _ = renderer.render(people([SPOT], heading=0.0, body=BodyKind.WHEELCHAIR, height=1.3, radius=0.4), 0.0)
    x, y, w, h = np.rint(chair).astype(int)
    lower = img[y + h // 2:y + h, x:x + w].astype(int)
    assert (lower.max(axis=2) < 45).sum() > 10


# --- objects on the floor --------------------------------------------------------------------------------


def test_a_bag_on_the_floor_shows_where_it_is_projected(renderer):
    bag = objects([SPOT], colour=(0, 255, 0))
    empty, _ = renderer.render(world(), 0.0)
    img, ann = renderer.render(world(objs=bag), 0.0)
    assert len(ann) == 0  # objects are drawn, not annotated as people
    (u, v), = renderer.camera.project(np.array([[SPOT[0], SPOT[1], 0.15]]))[0]
    green = (img[..., 1] > 180) & (img[..., 0] < 90) & (img[..., 2] < 90)
    ys, xs = np.nonzero(green)
    assert len(ys) > 10 and abs(np.median(xs) - u) < 3 and abs(np.median(ys) - v) < 3
    # nothing changes far from it
    far = np.abs(img.astype(int) - empty.astype(int)).max(axis=2) > 10
    far[int(v) - 25:int(v) + 25, int(u) - 25:int(u) + 25] = False
    assert far.sum() == 0


def test_objects_and_people_hide_each_other_by_depth(renderer):
    cam = renderer.camera
    bag_at = np.array(SPOT)
    toward = (cam.position[:2] - bag_at) / np.linalg.norm(cam.position[:2] - bag_at)
    suitcase = objects([bag_at], kind=ObjectKind.SUITCASE, size=(0.45, 0.25, 0.65), colour=(0, 255, 0))

    def green(img):
        return int(((img[..., 1] > 180) & (img[..., 0] < 90) & (img[..., 2] < 90)).sum())

    alone = green(renderer.render(world(objs=suitcase), 0.0)[0])
    in_front = green(renderer.render(world(people([bag_at + 0.6 * toward]), suitcase), 0.0)[0])
    behind_img, ann = renderer.render(world(people([bag_at - 0.8 * toward]), suitcase), 0.0)
    assert in_front < 0.7 * alone  # a person nearer the camera hides the case (but between the legs)
    assert green(behind_img) == alone  # a person beyond it is hidden by it where they overlap
    # and the case does cover part of that person's box
    x, y, w, h = ann.boxes[0]
    ys, xs = np.nonzero((behind_img[..., 1] > 180) & (behind_img[..., 0] < 90))
    assert np.any((xs >= x) & (xs <= x + w) & (ys >= y) & (ys <= y + h))


# --- fire and smoke ---------------------------------------------------------------------------------


def test_fire_shows_flame_colours_at_its_place_and_flickers(renderer):
    at = (20.0, 3.5)
    empty, _ = renderer.render(world(), 0.0)
    painted = flame_coloured(empty)  # the platform's yellow safety line
    frames = [renderer.render(world(fires=fire(at, age=10.0 + k * 0.1), t=k * 0.1), k * 0.1)[0] for k in range(8)]
    (u, v), = renderer.camera.project(np.array([[at[0], at[1], 0.5]]))[0]
    for img in frames:
        flame = flame_coloured(img) & ~painted
        ys, xs = np.nonzero(flame)
        assert len(ys) > 40
        assert abs(np.median(xs) - u) < 15 and abs(np.median(ys) - v) < 15
    means = np.array([img.astype(np.float64).mean() for img in frames])
    # the flames and their light change from frame to frame (no noise here: the scene is still)
    assert np.unique(means).size >= 6 and means.std() > 0.01
    # and the firelight warms the floor beside the flames
    (fu, fv), = renderer.camera.project(np.array([[at[0] + 1.2, at[1], 0.0]]))[0]
    patch = (slice(int(fv) - 2, int(fv) + 3), slice(int(fu) - 2, int(fu) + 3))
    warm = frames[0][patch].astype(int) - empty[patch].astype(int)
    assert warm[..., 2].mean() > warm[..., 0].mean() + 3 and warm[..., 2].mean() > 5


def test_fire_grows(renderer):
    painted = flame_coloured(renderer.render(world(), 0.0)[0])
    small = (flame_coloured(renderer.render(world(fires=fire(radius=0.15, height=0.3, age=1.0)), 0.0)[0]) & ~painted).sum()
    big = (flame_coloured(renderer.render(world(fires=fire(radius=0.7, height=1.2, age=1.0)), 0.0)[0]) & ~painted).sum()
    assert big > 4 * small > 0


def test_smoke_greys_and_darkens_the_region_above_the_fire_as_it_thickens(renderer):
    at = (20.0, 3.5)
    cam = renderer.camera
    # the region above the flames: from 1.8 m to 3.2 m over the fire
    uv, _ = cam.project(np.array([[at[0] - 0.8, at[1], 1.8], [at[0] + 0.8, at[1], 1.8], [at[0] + 0.8, at[1], 3.2],
                                  [at[0] - 0.8, at[1], 3.2]]))
    region = quad_mask((cam.height, cam.width), uv)
    assert region.sum() > 200
    stats = []
    for density in (0.0, 0.3, 0.8):
        img, _ = renderer.render(world(fires=fire(at, smoke=density, smoke_radius=4.0 * max(density, 0.1) / 0.8)), 0.0)
        h = hsv(img)[region]
        stats.append((float(h[:, 2].mean()), float(h[:, 1].mean())))
    (v0, s0), (v1, s1), (v2, s2) = stats
    assert v0 > v1 > v2 and v0 - v2 > 20  # darker as the smoke thickens
    assert s2 < 40  # and grey


# --- static distractors ---------------------------------------------------------------------------


def test_a_poster_is_drawn_where_it_is_projected():
    sc = load_scenario("negatives_fire", overrides=CLEAN)
    bare = sc.with_overrides(**{"distractors": [d.model_dump() for d in sc.distractors if d.type != "poster"]})
    img = Renderer(sc, "platform", seed=0, supersample=1).render(CrowdState.empty(), 0.0)[0]
    ref = Renderer(bare, "platform", seed=0, supersample=1).render(CrowdState.empty(), 0.0)[0]
    poster = next(d for d in sc.distractors if d.type == "poster")
    cx, cy, cz = poster.center
    w, h = poster.size
    along = np.array([-math.sin(math.radians(poster.yaw_deg)), math.cos(math.radians(poster.yaw_deg))])
    cam = Renderer(sc, "platform", seed=0, supersample=1).camera
    corners = [(np.array([cx, cy]) + s * along * w / 2 * 0.8, cz + t * h / 2 * 0.8) for s, t in
               ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    uv, _ = cam.project(np.array([[p[0], p[1], z] for p, z in corners]))
    inside = quad_mask(img.shape, uv)
    assert inside.sum() > 300
    changed = np.abs(img.astype(int) - ref.astype(int)).max(axis=2) > 30
    assert changed[inside].mean() > 0.9
    # red dominates (main colour), with accent yellow: warm colours, as a fire's
    px = img[inside].astype(int)
    assert np.mean((px[:, 2] > 150) & (px[:, 2] > px[:, 0] + 60)) > 0.7
    # and nothing changed beyond the poster's edge (its full size, 0.8 of which is tested above)
    ys, xs = np.nonzero(changed)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    pad = (hi - lo) * (1 / 0.8 - 1) / 2 + 2
    assert np.all((xs >= lo[0] - pad[0]) & (xs <= hi[0] + pad[0]) & (ys >= lo[1] - pad[1]) & (ys <= hi[1] + pad[1]))


def test_a_flickering_light_changes_brightness_and_lights_its_surroundings():
    sc = load_scenario("negatives_fire", overrides=CLEAN)
    r = Renderer(sc, "platform", seed=0, supersample=1)
    light = next(d for d in sc.distractors if d.type == "flickering_light")
    (u, v), = r.camera.project(np.array([light.center]))[0]
    patch = (slice(int(v) - 2, int(v) + 3), slice(int(u) - 6, int(u) + 7))
    below = r.camera.project(np.array([[light.center[0], light.center[1] + 0.05, light.center[2] - 0.8]]))[0][0]
    pool = (slice(int(below[1]) - 2, int(below[1]) + 3), slice(int(below[0]) - 2, int(below[0]) + 3))
    times = np.arange(0.0, 3.0, 0.1)
    levels = np.array([light_level(t, light.flicker_hz, r._lights[0].key) for t in times])
    frames = [r.render(CrowdState.empty(t), t)[0] for t in times]
    panel = np.array([f[patch].mean() for f in frames])
    wall = np.array([f[pool].mean() for f in frames])
    assert levels.min() < 0.2 and levels.max() > 0.9  # blinks and full light within 3 s at 7 Hz
    # the panel and the wall under it follow the level
    assert np.corrcoef(levels, panel)[0, 1] > 0.95 and panel.max() - panel.min() > 60
    assert np.corrcoef(levels, wall)[0, 1] > 0.9 and wall.max() - wall.min() > 8
    # the same level from any renderer of the scenario: the light does not depend on the camera's seed
    other = Renderer(sc, "platform", seed=9, supersample=1)
    assert [light_level(t, light.flicker_hz, other._lights[0].key) for t in times] == levels.tolist()


def test_a_bench_is_static_scene_geometry():
    sc = load_scenario("negatives_fall", overrides=CLEAN)
    bench = next(d for d in sc.distractors if getattr(d, "seat", None) == "bench")
    r = Renderer(sc, "platform", seed=0, supersample=1)
    ref = Renderer(sc.with_overrides(**{"distractors": []}), "platform", seed=0, supersample=1)
    (u, v), = r.camera.project(np.array([[bench.at[0], bench.at[1], 0.45]]))[0]
    diff = np.abs(r.background.astype(int) - ref.background.astype(int)).max(axis=2)
    assert diff[int(v) - 2:int(v) + 3, int(u) - 10:int(u) + 11].min() > 20
    assert r.scene.benches and np.allclose(r.scene.benches[0][0], bench.at)


# --- the API ----------------------------------------------------------------------------------------


def test_a_world_of_only_people_renders_as_the_crowd_does(renderer):
    crowd = people([SPOT, (18.0, 2.0)], heading=[0.0, 2.0], prop=[Prop.RIFLE, Prop.NONE], vest=[False, True])
    a, ann_a = renderer.render(crowd, 0.5)
    b, ann_b = renderer.render(WorldState.of(crowd), 0.5)
    assert frame_sha(a) == frame_sha(b) and np.array_equal(ann_a.boxes, ann_b.boxes)


def test_render_rejects_what_is_not_a_state(renderer):
    with pytest.raises(TypeError, match="state must be a WorldState or a CrowdState; got dict"):
        renderer.render({}, 0.0)


def test_same_seed_same_bytes_with_everything_present():
    sc = load_scenario("negatives_fire", overrides={
        "render.shake_px": 2.0, "render.lens_k1": -0.1, "render.blur_px": 0.5, "cameras.0.resolution": [320, 180],
        "distractors": [*[d.model_dump() for d in load_scenario("negatives_fire").distractors],
                        {"type": "sitting", "at_s": 0, "at": [19, 5.8], "seat": "bench", "facing_deg": -90}]})
    crowd = people([(8, 2), (10, 2), (12, 2), (14, 2), (18, 2), (20, 2), (22, 2), (24, 2), (19, 5.8)],
                   heading=np.linspace(-3, 3, 9),
                   posture=[Posture.WALKING, Posture.SITTING, Posture.CROUCHING, Posture.STANDING, Posture.LYING,
                            Posture.STANDING, Posture.STANDING, Posture.FALLING, Posture.SITTING],
                   progress=[0, 1, 0.5, 0, 1, 0, 0, 0.4, 1],
                   prop=[Prop.SUITCASE, Prop.BAG, Prop.BACKPACK, Prop.RIFLE, Prop.NONE, Prop.UMBRELLA, Prop.CANE,
                         Prop.GUITAR_CASE, Prop.NONE],
                   raise_=[0, 0, 0, 1, 0, 0.5, 0, 0, 0], vest=[0, 0, 0, 0, 0, 1, 0, 0, 0],
                   body=[0, 0, 0, 0, 0, 0, BodyKind.WHEELCHAIR, BodyKind.CHILD, 0])
    w = world(crowd, objects([(16, 1.5), (17, 1.0)], colour=(40, 40, 90)), fire((26, 3), smoke=0.6))
    a = Renderer(sc, "platform", seed=3)
    b = Renderer(sc, "platform", seed=3)
    for t in (0.0, 0.7):
        ia, aa = a.render(w, t)
        ib, ab = b.render(w, t)
        assert frame_sha(ia) == frame_sha(ib) and np.array_equal(aa.boxes, ab.boxes)
    # a frame does not depend on the frames rendered before it
    assert frame_sha(Renderer(sc, "platform", seed=3).render(w, 0.7)[0]) == frame_sha(ia)


# --- the documentation's event frames ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["platform_fall", "negatives_fire"])
def test_the_event_frames_script_draws_the_truth_or_the_look_alikes(tmp_path, name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "make_event_frames.py"
    spec = importlib.util.spec_from_file_location("make_event_frames", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = script.make(name, tmp_path)
    img = cv2.imread(str(out))
    assert img.shape == (360, 640, 3)
    # the box of the event (green) or of its look-alikes (orange) is drawn
    colour = script.GREEN if name in script.EVENTS else script.ORANGE
    assert np.all(img == np.array(colour, np.uint8), axis=2).sum() > 40
