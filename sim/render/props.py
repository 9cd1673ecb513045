"""What some people carry or wear, drawn with their bodies: one small drawer per prop, vests and wheelchairs.

Props hang from the joints of the posed bodies (:mod:`sim.render.bodies`): a bag at the
hand, a backpack and a guitar case on the back, a suitcase pulled behind on its handle, a
cane to the floor, and two long dark look-alikes that ``prop_raise`` lifts to the shoulder
and points along the heading (a rifle with its stock and magazine, both hands on it; a
closed umbrella with its crook). A vest turns the torso fluorescent yellow with two
reflective stripes; a wheelchair user sits in a chair with two big wheels and casters.

Each drawer has one method, ``draw(shapes, who)``: it adds its shapes for the people
``who`` (:class:`Carriers`) to :class:`~sim.render.shapes.ExtraShapes`. :data:`PROP_DRAWERS`
maps each :class:`~sim.state.Prop` to its drawer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.render.bodies import (HAND_R, HIP_LINE, SHOULDER_LINE, TORSO_HIP_A, TORSO_HIP_B, TORSO_SHOULDER_A,
                               TORSO_SHOULDER_B, WHEELCHAIR_SEAT_M, WHEELCHAIR_WHEEL_M, BodyFrame, rifle_frame)
from sim.render.shapes import OVER_TORSO, Anchors, ExtraShapes, Fill, FillConvex, ring_points
from sim.render.textures import hash01, smoothstep
from sim.render.view import fixed_points
from sim.state import Prop

VEST_BGR = (24.0, 226.0, 238.0)  #: fluorescent yellow of a high-visibility vest
VEST_STRIPE_BGR = (196.0, 198.0, 196.0)  #: its reflective silver stripes
#: (from, to) of the vest's stripes, as shares of the way from the shoulder line to the hip line
VEST_STRIPES = ((0.40, 0.52), (0.70, 0.82))
RIFLE_LENGTH_M = 0.9  #: [m] butt to muzzle
UMBRELLA_LENGTH_M = 0.88  #: [m] handle to tip of a closed umbrella
GUITAR_CASE_LENGTH_M = 1.05  #: [m]
#: dark colours of bags, backpacks and umbrellas (picked per person by id)
BAG_PALETTE = ((30, 30, 30), (60, 40, 30), (40, 40, 90), (90, 60, 40), (50, 80, 50), (20, 20, 110), (70, 70, 74))
UMBRELLA_PALETTE = ((26, 26, 30), (70, 32, 22), (34, 30, 96), (32, 62, 34), (62, 24, 62))
RIFLE_BGR = (27, 28, 31)
CANE_BGR = (30, 42, 58)
GUITAR_CASE_BGR = (30, 30, 33)
HANDLE_BGR = (52, 54, 58)
CHAIR_FRAME_BGR = (88, 88, 92)
CHAIR_SEAT_BGR = (36, 36, 40)
TYRE_BGR = (28, 28, 30)
# rifle: centre line (s [m] from the butt) and thickness [m]: stock, grip, receiver, handguard, barrel
_RIFLE_S = np.array([0.0, 0.2, 0.28, 0.36, 0.58, 0.62, RIFLE_LENGTH_M])
_RIFLE_W = np.array([0.11, 0.05, 0.06, 0.075, 0.065, 0.032, 0.026])
# closed umbrella: shaft from the handle; the folded canopy bulges, the ferrule is a point
_UMBRELLA_S = np.array([0.0, 0.1, 0.16, 0.35, 0.6, 0.8, UMBRELLA_LENGTH_M])
_UMBRELLA_W = np.array([0.028, 0.03, 0.055, 0.072, 0.06, 0.03, 0.012])
# guitar case: lower bout, waist, upper bout, neck, head (share of the length, width [m])
_GUITAR_S = np.array([0.0, 0.08, 0.2, 0.33, 0.45, 0.55, 0.62, 0.9, 0.95, 1.0])
_GUITAR_W = np.array([0.26, 0.36, 0.38, 0.30, 0.33, 0.26, 0.14, 0.13, 0.17, 0.14])
_GUITAR_DEPTH_M = 0.13
_HANDLE_WIDTH_M = 0.024  #: [m] a crook handle's thickness (umbrella, cane)


@dataclass(frozen=True, kw_only=True)
class Carriers(Anchors):
    """People who carry a prop (or sit in a wheelchair), as parallel arrays (k,); ``carriers[mask]`` selects."""

    joints: BodyFrame  #: their joints (after posing), (N_JOINTS, k)
    height: np.ndarray  #: [m] body length
    body_radius: np.ndarray  #: [m]
    gait_phase: np.ndarray  #: [rad]
    raised: np.ndarray  #: ``prop_raise`` in [0, 1]
    ids: np.ndarray  #: pedestrian ids (pick a prop's colour)
    c_left: np.ndarray  #: |cos| of the angle between the torso's left axis and the plane it is drawn in
    c_front: np.ndarray  #: the same for the torso's front axis


class PropDrawer(Protocol):
    def draw(self, shapes: ExtraShapes, who: Carriers) -> None:
        """Add the shapes of this prop for the people ``who``."""


def palette(colours, ids: np.ndarray) -> np.ndarray:
    """A colour of ``colours`` per id, spread by a hash of the id (the same person always gets the same one)."""
    pick = (hash01(np.asarray(ids, dtype=np.int64), np.zeros(len(ids), np.int64), 21) * len(colours)).astype(np.int64)
    return np.asarray(colours, dtype=np.float64)[pick]


def _axis(x: float, y: float, z: float, k: int) -> np.ndarray:
    """(3, k) the same body-frame direction for k people."""
    return np.array([x, y, z])[:, None] * np.ones(k)


def _torso_frame(j: BodyFrame) -> tuple[np.ndarray, np.ndarray]:
    """Unit front and up of the torso in the body frame (a, z components), from the hip line to the shoulder line."""
    da, dz = j.a[SHOULDER_LINE] - j.a[HIP_LINE], j.z[SHOULDER_LINE] - j.z[HIP_LINE]
    n = np.maximum(np.hypot(da, dz), 1e-9)
    ua, uz = da / n, dz / n
    zero = np.zeros(len(j))
    return np.stack([uz, zero, -ua]), np.stack([ua, zero, uz])  # front, up


def _line(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """(3, 3, k) three points from p0 to p1 (3, k): ends and middle, for a strip."""
    return np.stack([p0 + (p1 - p0) * s for s in (0.0, 0.5, 1.0)], axis=1)


class Bag:
    """A shoulder or hand bag: a box at the right hand."""

    def draw(self, shapes, who):
        j = who.joints
        hand = np.stack([j.a[HAND_R], j.b[HAND_R] - 0.03, j.z[HAND_R] - 0.16])
        fwd = _axis(1.0, 0.0, 0.0, len(who))
        left, up = np.roll(fwd, 1, axis=0), np.roll(fwd, 2, axis=0)
        half = _axis(0.17, 0.065, 0.13, len(who))
        shapes.boxes(who, hand, np.stack([fwd, left, up]), half, palette(BAG_PALETTE, who.ids))


class Backpack:
    """A box on the back, at 60 % of the way from the hip line to the shoulder line."""

    def draw(self, shapes, who):
        j = who.joints
        k = len(who)
        front, up = _torso_frame(j)
        mid = np.stack([j.a[HIP_LINE], np.zeros(k), j.z[HIP_LINE]]) + 0.6 * np.stack(
            [j.a[SHOULDER_LINE] - j.a[HIP_LINE], np.zeros(k), j.z[SHOULDER_LINE] - j.z[HIP_LINE]])
        centre = mid - front * (0.55 * who.body_radius + 0.1)
        half = _axis(0.09, 0.15, 0.2, k)
        shapes.boxes(who, centre, np.stack([front, _axis(0.0, 1.0, 0.0, k), up]), half,
                     palette(BAG_PALETTE, who.ids + 3))


class Suitcase:
    """A wheeled case pulled behind, leaning on its wheels, its handle up to the right hand."""

    TILT_RAD = 0.45  #: leaning on its wheels toward the person pulling it

    def draw(self, shapes, who):
        j = who.joints
        k = len(who)
        tilt = self.TILT_RAD
        up = np.stack([np.full(k, math.sin(tilt)), np.zeros(k), np.full(k, math.cos(tilt))])
        fwd = np.stack([np.full(k, math.cos(tilt)), np.zeros(k), np.full(k, -math.sin(tilt))])
        half = _axis(0.125, 0.21, 0.31, k)
        bottom = np.stack([np.full(k, -0.72), j.b[HAND_R] - 0.02, np.zeros(k)])
        centre = bottom + up * half[2] + fwd * half[0]
        layers = shapes.boxes(who, centre, np.stack([fwd, _axis(0.0, 1.0, 0.0, k), up]), half,
                              palette(BAG_PALETTE, who.ids + 5), in_box=False)
        # the handle, from the top of the case to the hand
        top = centre + up * half[2] + fwd * (0.6 * half[0])
        line = _line(top, j.point(HAND_R))  # (3, p, k)
        shapes.strip(who, line[0], line[1], line[2], np.full((3, 1), 0.025), np.tile(HANDLE_BGR, (k, 1)),
                     in_box=False, layer=layers)


class Rifle:
    """A long rifle held in both hands: low across the front, or raised to the shoulder and aimed."""

    def draw(self, shapes, who):
        butt, ang = rifle_frame(who.joints, who.height, who.raised)
        k = len(who)
        d = np.stack([np.cos(ang), np.zeros(k), np.sin(ang)])
        down = np.stack([np.sin(ang), np.zeros(k), -np.cos(ang)])
        line = butt[:, None, :] + d[:, None, :] * _RIFLE_S[None, :, None]  # (3, p, k)
        colours = np.tile(RIFLE_BGR, (k, 1))
        layers = shapes.strip(who, line[0], line[1], line[2], _RIFLE_W[:, None], colours)
        # the magazine and the pistol grip below the receiver
        for s0, s1, drop, width in ((0.40, 0.46, 0.15, 0.05), (0.27, 0.29, 0.09, 0.04)):
            p0 = butt + d * (0.5 * (s0 + s1))
            p1 = p0 + down * drop + d * 0.35 * drop
            seg = np.stack([p0, 0.5 * (p0 + p1), p1], axis=1)
            shapes.strip(who, seg[0], seg[1], seg[2], np.full((3, 1), width), colours, layer=layers)


def _long_pointed(who: Carriers, low_angle: float, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Handle at the right hand, pointing down-forward at ``low_angle`` (kept above the floor)
    when low, level along the heading when raised. Returns handle (3, k), direction (3, k)."""
    hand = who.joints.point(HAND_R)
    floor_limit = -np.arcsin(np.clip((hand[2] - 0.03) / length, 0.0, 1.0))
    ang = np.maximum(low_angle, floor_limit) * (1.0 - smoothstep(who.raised))
    return hand, np.stack([np.cos(ang), np.zeros(len(who)), np.sin(ang)])


class Umbrella:
    """A closed umbrella hanging from the hand, or pointed forward like a rifle; a J-shaped crook."""

    def draw(self, shapes, who):
        k = len(who)
        handle, d = _long_pointed(who, -1.22, UMBRELLA_LENGTH_M)
        line = handle[:, None, :] + d[:, None, :] * _UMBRELLA_S[None, :, None]
        layers = shapes.strip(who, line[0], line[1], line[2], _UMBRELLA_W[:, None], palette(UMBRELLA_PALETTE, who.ids))
        # the crook: a J behind the hand, curling forward (hanging) or down (pointed)
        n = np.stack([-d[2], np.zeros(k), d[0]]) * np.where(who.raised > 0.5, -1.0, 1.0)
        p1 = handle - d * 0.06
        hook = np.stack([handle, p1, p1 - d * 0.035 + n * 0.035, p1 + n * 0.07, p1 + n * 0.075 + d * 0.03], axis=1)
        shapes.strip(who, hook[0], hook[1], hook[2], np.full((5, 1), _HANDLE_WIDTH_M), np.tile(CANE_BGR, (k, 1)),
                     layer=layers)


class Cane:
    """A walking cane from the hand to the floor, swinging with the stride, with a crook over the hand."""

    def draw(self, shapes, who):
        k = len(who)
        handle = who.joints.point(HAND_R)
        swing = np.sin(who.gait_phase + np.pi)
        tip_low = np.stack([handle[0] + 0.1 + 0.06 * swing, handle[1] - 0.04, np.zeros(k)])
        tip_high = handle + _axis(0.88, 0.0, 0.0, 1)
        tip = tip_low + (tip_high - tip_low) * smoothstep(who.raised)
        colours = np.tile(CANE_BGR, (k, 1))
        line = _line(handle, tip)
        layers = shapes.strip(who, line[0], line[1], line[2], np.array([[0.024], [0.022], [0.02]]), colours)
        # the crook handle over the hand, curling forward
        hook = np.stack([handle, handle + _axis(0.0, 0.0, 0.04, 1), handle + _axis(0.05, 0.0, 0.06, 1),
                         handle + _axis(0.1, 0.0, 0.035, 1)], axis=1)
        shapes.strip(who, hook[0], hook[1], hook[2], np.full((4, 1), _HANDLE_WIDTH_M), colours, layer=layers)


class GuitarCase:
    """A guitar case slung diagonally on the back, its outline wide across the back, thin edge-on."""

    def draw(self, shapes, who):
        j = who.joints
        k = len(who)
        front, up = _torso_frame(j)
        left = _axis(0.0, 1.0, 0.0, k)
        bottom = (np.stack([j.a[HIP_LINE], np.zeros(k), j.z[HIP_LINE]]) - front * (0.55 * who.body_radius + 0.09)
                  - left * 0.12 - up * 0.12)
        d = up * 0.94 + left * 0.34
        line = bottom[:, None, :] + d[:, None, :] * (_GUITAR_S * GUITAR_CASE_LENGTH_M)[None, :, None]
        # a case flat on the back: wide across the back, its depth seen edge-on from the side
        widths = np.sqrt((_GUITAR_W[:, None] * who.c_left[None, :]) ** 2 + (_GUITAR_DEPTH_M * who.c_front[None, :]) ** 2)
        shapes.strip(who, line[0], line[1], line[2], widths, np.tile(GUITAR_CASE_BGR, (k, 1)))


#: the drawer of each prop a person can carry
PROP_DRAWERS: dict[Prop, PropDrawer] = {
    Prop.BAG: Bag(), Prop.SUITCASE: Suitcase(), Prop.BACKPACK: Backpack(), Prop.RIFLE: Rifle(),
    Prop.UMBRELLA: Umbrella(), Prop.CANE: Cane(), Prop.GUITAR_CASE: GuitarCase(),
}


def draw_props(shapes: ExtraShapes, who: Carriers, prop: np.ndarray) -> None:
    """The props ``prop`` (k,) of the carriers ``who``, each kind by its drawer."""
    for kind in np.unique(prop).tolist():
        PROP_DRAWERS[Prop(kind)].draw(shapes, who[prop == kind])


class VestStripes:
    """Two reflective stripes across the torso hexagon of the people wearing a vest."""

    def draw(self, shapes: ExtraShapes, slots_of: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        """``u``, ``v`` (points, people) are the frame's outline points in drawing order; ``slots_of`` the wearers."""
        s = slots_of
        for f0, f1 in VEST_STRIPES:
            qu, qv = [], []  # down one side of the torso, back up the other
            for top, hip, shares in ((TORSO_SHOULDER_A, TORSO_HIP_A, (f0, f1)), (TORSO_SHOULDER_B, TORSO_HIP_B, (f1, f0))):
                for f in shares:
                    qu.append(u[top, s] + (u[hip, s] - u[top, s]) * f)
                    qv.append(v[top, s] + (v[hip, s] - v[top, s]) * f)
            shapes.emit(slots_of, OVER_TORSO, FillConvex, fixed_points(np.array(qu), np.array(qv)), VEST_STRIPE_BGR)


def _wheelchair_geometry():
    """Points (body frame a, b, z [m]) of a wheelchair's parts, and per part (slice, kind, colour, ring size)."""
    ring = ring_points(16)
    pts, parts = [], []

    def add(p, kind, colour, rings=0):
        start = sum(len(q) for q in pts)
        pts.append(np.asarray(p, dtype=np.float64))
        parts.append(((start, start + len(p)), kind, colour, rings))

    for side in (1.0, -1.0):
        for radius, ca, cz, width, wb in ((WHEELCHAIR_WHEEL_M, -0.1, WHEELCHAIR_WHEEL_M, 0.035, 0.31),
                                          (0.075, 0.3, 0.075, 0.03, 0.22)):
            rim = [(ca + math.cos(t) * r, side * wb, cz + math.sin(t) * r) for r in (radius, radius - width) for t in ring]
            add(rim, Fill, TYRE_BGR, 16)
            if radius > 0.1:  # the hub
                add([(ca + math.cos(t) * 0.045, side * wb, cz + math.sin(t) * 0.045) for t in ring[::4]], FillConvex,
                    CHAIR_FRAME_BGR)
    z = WHEELCHAIR_SEAT_M
    add([(-0.25, 0.22, z), (0.2, 0.22, z), (0.2, -0.22, z), (-0.25, -0.22, z)], FillConvex, CHAIR_SEAT_BGR)  # seat
    add([(-0.27, 0.22, z), (-0.3, 0.22, z + 0.45), (-0.3, -0.22, z + 0.45), (-0.27, -0.22, z)], FillConvex,
        CHAIR_SEAT_BGR)  # backrest
    add([(0.26, 0.18, 0.1), (0.4, 0.18, 0.1), (0.4, -0.18, 0.1), (0.26, -0.18, 0.1)], FillConvex,
        CHAIR_FRAME_BGR)  # footplate
    return np.concatenate(pts), tuple(parts)


class Wheelchair:
    """A chair under each seated wheelchair user: seat, backrest, footplate and its struts, two big
    wheels (rings with a hub) and two casters. Each part goes behind the body when it lies beyond
    the body's centre, over it otherwise."""

    POINTS, PARTS = _wheelchair_geometry()  #: (P, 3) body-frame points of all parts; per part its slice of them

    def draw(self, shapes: ExtraShapes, who: Carriers) -> None:
        k = len(who)
        pts = self.POINTS
        x, y, zz = shapes.world(who, pts[:, 0:1] * np.ones(k), pts[:, 1:2] * np.ones(k), pts[:, 2:3] * np.ones(k))
        u, v, d = shapes.view.project_with_depth(x, y, zz)
        fixed = fixed_points(u, v)  # (k, P, 2)
        for (a, b), kind, colour, rings in self.PARTS:
            layers = shapes.layer(d[a:b].mean(axis=0), who.depth_m)
            shapes.emit(who.slot, layers, kind, np.ascontiguousarray(fixed[:, a:b]), colour, rings=rings)
        # struts from the seat's front down to the footplate
        for sb in (0.2, -0.2):
            strut = np.array([[0.18, sb, WHEELCHAIR_SEAT_M], [0.3, sb, 0.1]])
            pa, pb, pz = (strut[:, i][:, None] * np.ones(k) for i in range(3))
            shapes.strip(who, pa, pb, pz, np.full((2, 1), 0.03), np.tile(CHAIR_FRAME_BGR, (k, 1)))
