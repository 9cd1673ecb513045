"""A train's visible surfaces as flat panels in train coordinates, ready to project and fill.

A train (:class:`sim.state.TrainBody`) is drawn as one long box, cut at the track bed's
tunnel mouths, with details painted on its faces: a dark skirt, a band of the livery's
stripe colour under the windows and another along the roof line, windows between the
doors, dark gangways between the cars, door frames with two leaves that slide apart as the
doors open (the opening between them shows the lit interior), a roof with equipment boxes,
and at the ends a cab with a windscreen, a destination display, headlights at the head and
red lights at the tail. Only the faces that turn toward the camera are built (a box seen
from outside shows each of its faces at most once, so they never overlap); details follow
their face in drawing order.

Every panel is an axis-aligned rectangle in train coordinates (``s`` along the track, ``n``
across from the platform edge, ``z`` up): it lies in a plane ``s``, ``n`` or ``z`` =
constant, which makes clipping at the tunnel mouths an interval cut. Each carries the
depth plane it stands for in the depth buffer: its own face, or, for windows and open
doorways, the car's far inner wall (what one sees through them), so that a person inside a
car shows through a window and a person in a doorway is not hidden by the door.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sim.render.shaders import HALL_LIGHT_DIR
from sim.state import TrainBody

#: planes of the depth buffer: the faces of the box and the far inner wall seen through openings
PLANE_NEAR_SIDE, PLANE_FAR_SIDE, PLANE_ROOF, PLANE_HEAD, PLANE_TAIL, PLANE_INSIDE = range(6)
N_PLANES = 6

SKIRT_TOP_M = 0.28  #: [m] the dark underframe skirt
STRIPE_Z_M = (0.82, 0.98)  #: [m] the livery stripe under the windows
WINDOW_Z_M = (1.08, 1.92)  #: [m]
ROOF_STRIPE_DOWN_M = (0.42, 0.30)  #: [m] the roof-line stripe, below the roof
CANT_M = 0.18  #: [m] the darker rounded edge under the roof
GANGWAY_M = 0.32  #: [m] width of the dark gap between two cars
DOOR_FRAME_M = 0.07  #: [m]
INTERIOR_BGR = (172, 176, 174)  #: the lit far wall of a car seen through an open door
INTERIOR_FLOOR_BGR = (96, 104, 112)
CEILING_BGR = (212, 220, 224)  #: the lit ceiling panels seen through windows and doors
FAR_WINDOW_BGR = (70, 68, 64)  #: the far side's windows (the dark tunnel wall behind them)
SEAT_BGR = (128, 96, 70)  #: seat backs under the windows
GLASS_BGR = (62, 60, 58)  #: the windows' dark frames
FRAME_BGR = (58, 58, 62)
GANGWAY_BGR = (30, 30, 34)
SKIRT_BGR = (46, 48, 52)
ROOF_BGR = (150, 152, 150)
ROOF_BOX_BGR = (104, 106, 106)
HEADLIGHT_BGR = (238, 250, 255)
HEADLIGHT_OFF_BGR = (150, 150, 140)
TAIL_LIGHT_BGR = (40, 40, 235)
DISPLAY_BGR = (30, 168, 236)  #: the amber destination display
WINDSCREEN_BGR = (70, 62, 54)


@dataclass(frozen=True, kw_only=True)
class Panels:
    """Flat rectangles of one train, in drawing order."""

    axis: np.ndarray  #: (P,) int: the coordinate that is constant on the panel (0 s, 1 n, 2 z)
    lo: np.ndarray  #: (P, 3) [m] lower corner (s, n, z); on the constant axis lo == hi
    hi: np.ndarray  #: (P, 3) [m] upper corner
    colour: np.ndarray  #: (P, 3) float BGR
    plane: np.ndarray  #: (P,) int: the depth plane it stands for (PLANE_*)

    def __len__(self) -> int:
        return len(self.axis)

    def corners(self) -> np.ndarray:
        """(P, 4, 3) the rectangles' corners in train coordinates (s, n, z), in outline order."""
        lo, hi = self.lo, self.hi
        out = np.repeat(lo[:, None, :], 4, axis=1)
        # the two free axes of each panel, in increasing order
        free = np.array([[1, 2], [0, 2], [0, 1]])[self.axis]
        rows = np.arange(len(lo))
        a, b = free[:, 0], free[:, 1]
        out[rows, 1, a] = hi[rows, a]
        out[rows, 2, a] = hi[rows, a]
        out[rows, 2, b] = hi[rows, b]
        out[rows, 3, b] = hi[rows, b]
        return out


#: what a panel belongs to: the long body (cut at the tunnel mouths), the cab at the head, the one at the tail
_BODY, _HEAD_CAB, _TAIL_CAB = range(3)


class _Builder:
    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.part = _BODY  # the part the next panels belong to

    def add(self, axis: int, lo, hi, colour, plane: int) -> None:
        self.rows.append((axis, tuple(lo), tuple(hi), tuple(colour), plane, self.part))

    def panels(self) -> tuple[Panels, np.ndarray]:
        """The panels and the part (``_BODY``, ``_HEAD_CAB``, ``_TAIL_CAB``) of each."""
        if not self.rows:
            z = np.zeros((0, 3))
            return (Panels(axis=np.zeros(0, np.int64), lo=z, hi=z.copy(), colour=z.copy(),
                           plane=np.zeros(0, np.int64)), np.zeros(0, np.int64))
        axis, lo, hi, colour, plane, part = zip(*self.rows)
        return (Panels(axis=np.array(axis, np.int64), lo=np.array(lo, float), hi=np.array(hi, float),
                       colour=np.array(colour, float), plane=np.array(plane, np.int64)), np.array(part, np.int64))


def _shade(colour, factor: float) -> tuple[float, float, float]:
    return tuple(float(c) * factor for c in colour)


def train_panels(body: TrainBody, head_s: float, door_open: float, camera_position: np.ndarray, *,
                 lights_on: bool = True) -> Panels:
    """The panels of ``body`` with its head at ``head_s`` [m] and its doors ``door_open`` (0..1),
    seen from ``camera_position`` (world, [m]); empty when nothing of it is between the tunnel mouths.

    The panels of a train standing with its head at 0 are built once per look (doors, the sides
    and roof the camera sees) and moved along the track, cut at the tunnel mouths."""
    tail_s = head_s - body.length_m
    s_lo, s_hi = max(tail_s, body.portal_s_m[0]), min(head_s, body.portal_s_m[1])
    cam_s, cam_n = body.local(np.asarray(camera_position[:2], dtype=np.float64))
    side = 1 if cam_n < body.gap_m else (2 if cam_n > body.gap_m + body.width_m else 0)
    local, part = _panels_at_zero(body, round(float(door_open), 4), side, float(camera_position[2]) > body.height_m,
                                  lights_on)
    if s_hi <= s_lo or not len(local):
        return _Builder().panels()[0]
    keep = part == _BODY
    if cam_s > head_s and head_s <= body.portal_s_m[1] + 1e-6:
        keep |= part == _HEAD_CAB
    if cam_s < tail_s and tail_s >= body.portal_s_m[0] - 1e-6:
        keep |= part == _TAIL_CAB
    lo, hi = local.lo[keep].copy(), local.hi[keep].copy()
    lo[:, 0] += head_s
    hi[:, 0] += head_s
    axis = local.axis[keep]
    along = axis != 0  # panels that run along the track are cut at the tunnel mouths
    lo[along, 0] = np.maximum(lo[along, 0], s_lo)
    hi[along, 0] = np.minimum(hi[along, 0], s_hi)
    shown = ~along | (hi[:, 0] > lo[:, 0] + 1e-6)
    return Panels(axis=axis[shown], lo=lo[shown], hi=hi[shown], colour=local.colour[keep][shown],
                  plane=local.plane[keep][shown])


@lru_cache(maxsize=64)
def _panels_at_zero(body: TrainBody, door_open: float, side: int, roof: bool, lights_on: bool
                    ) -> tuple[Panels, np.ndarray]:
    """The panels of ``body`` with its head at s = 0 (uncut), seen from the platform side (``side``
    1), the far side (2) or neither (0), from above the roof or not, and the part of each."""
    build = _Builder()
    g, w = body.gap_m, body.width_m
    normal = np.asarray(body.normal)
    if side == 1:
        _side(build, body, 0.0, door_open, g, PLANE_NEAR_SIDE, _facing(-normal), doors=True)
    elif side == 2:
        _side(build, body, 0.0, 0.0, g + w, PLANE_FAR_SIDE, _facing(normal), doors=False)
    if roof:
        _roof(build, body, 0.0)
    build.part = _HEAD_CAB
    _cab(build, body, 0.0, PLANE_HEAD, head=True, lights_on=lights_on)
    build.part = _TAIL_CAB
    _cab(build, body, -body.length_m, PLANE_TAIL, head=False, lights_on=lights_on)
    return build.panels()


def _facing(normal: np.ndarray) -> float:
    """Brightness of a side facing ``normal`` under the hall light (as the walls, a little more contrast)."""
    return float(0.86 + 0.14 * float(normal @ HALL_LIGHT_DIR))


def _side(build: _Builder, body: TrainBody, head_s: float, door_open: float, n: float, plane: int,
          light: float, *, doors: bool) -> None:
    """A long side of the train at ``n``: body, skirt, stripes, windows, gangways and doors."""
    h = body.height_m
    tail_s = head_s - body.length_m
    col = _shade(body.body_bgr, light)
    stripe = _shade(body.stripe_bgr, light)

    def band(z0, z1, colour, s0=tail_s, s1=head_s, pl=plane):
        build.add(1, (s0, n, z0), (s1, n, z1), colour, pl)

    band(0.0, h, col)
    band(0.0, SKIRT_TOP_M, _shade(SKIRT_BGR, light))
    band(*STRIPE_Z_M, stripe)
    band(h - ROOF_STRIPE_DOWN_M[0], h - ROOF_STRIPE_DOWN_M[1], stripe)
    band(h - CANT_M, h, _shade(col, 0.8))
    doors_s = head_s - body.door_offsets_m()
    half = body.door_width_m / 2
    glass = _shade(GLASS_BGR, light)
    # windows: one glazed bay between two doors (and between the end doors and the car ends)
    cab = 1.6  # [m] the cabs at the train's ends have no passenger windows
    for c in range(body.cars):
        c1 = head_s - c * body.car_length_m
        c0 = c1 - body.car_length_m
        edges = [c0 + (cab if c == body.cars - 1 else 0.5), c1 - (cab if c == 0 else 0.5)]
        mine = np.sort(doors_s[(doors_s > c0) & (doors_s < c1)])
        cuts = [edges[0]] + [v for d in mine for v in (d - half - 0.35, d + half + 0.35)] + [edges[1]]
        for a, b in zip(cuts[0::2], cuts[1::2]):
            if b - a < 0.5:
                continue
            band(WINDOW_Z_M[0], WINDOW_Z_M[1], glass, a, b)
            panes = max(1, int(round((b - a) / 1.6)))
            step = (b - a) / panes
            for k in range(panes):
                _pane(band, a + k * step + 0.06, a + (k + 1) * step - 0.06, WINDOW_Z_M[0] + 0.06, WINDOW_Z_M[1] - 0.05,
                      light)
        if c > 0:  # the gangway between this car and the one ahead
            band(0.0, h, GANGWAY_BGR, c1 - GANGWAY_M / 2, c1 + GANGWAY_M / 2)
    for d in doors_s:
        _door(build, body, d, door_open if doors else 0.0, n, plane, light)


def _door(build: _Builder, body: TrainBody, centre: float, door_open: float, n: float, plane: int, light: float) -> None:
    """A door at ``centre``: its frame, the lit interior where open, two leaves slid apart."""
    half = body.door_width_m / 2
    top = body.door_height_m
    f = DOOR_FRAME_M
    build.add(1, (centre - half - f, n, 0.0), (centre + half + f, n, top + f), _shade(FRAME_BGR, light), plane)
    gap = half * door_open  # each leaf slides this far away from the centre
    if gap > 0.01:
        def inside(z0, z1, colour, a=centre - gap, b=centre + gap):
            build.add(1, (a, n, z0), (b, n, z1), _shade(colour, light), PLANE_INSIDE)

        inside(0.0, top, INTERIOR_BGR)  # the far wall: its door, a window, the floor, the ceiling
        inside(1.1, 1.85, FAR_WINDOW_BGR, centre - min(gap, 0.45), centre + min(gap, 0.45))
        inside(0.0, 0.12, INTERIOR_FLOOR_BGR)
        inside(top - 0.16, top, CEILING_BGR)
    leaf = _shade(body.door_bgr, light)
    for sign in (-1.0, 1.0):
        a, b = sorted((centre + sign * gap, centre + sign * (gap + half)))
        build.add(1, (a, n, 0.02), (b, n, top - 0.02), leaf, plane)

        def pane_band(z0, z1, colour, s0=a + 0.1, s1=b - 0.1, pl=PLANE_INSIDE):
            build.add(1, (s0, n, z0), (s1, n, z1), colour, pl)

        _pane(pane_band, a + 0.1, b - 0.1, 1.12, 1.85, light)


def _pane(band, s0: float, s1: float, z0: float, z1: float, light: float) -> None:
    """A window pane from ``s0`` to ``s1``, ``z0`` to ``z1`` [m]: the far side's dark windows seen
    through it, the lit ceiling above them, seat backs below."""
    if s1 <= s0:
        return
    band(z0, z1, _shade(FAR_WINDOW_BGR, light), s0, s1, PLANE_INSIDE)
    band(z1 - 0.2 * (z1 - z0), z1, _shade(CEILING_BGR, light), s0, s1, PLANE_INSIDE)
    band(z0, z0 + 0.3 * (z1 - z0), _shade(SEAT_BGR, light), s0, s1, PLANE_INSIDE)


def _roof(build: _Builder, body: TrainBody, head_s: float) -> None:
    """The roof, with an equipment box on each car."""
    g, w, h = body.gap_m, body.width_m, body.height_m
    build.add(2, (head_s - body.length_m, g, h), (head_s, g + w, h), ROOF_BGR, PLANE_ROOF)
    for c in range(body.cars):
        mid = head_s - (c + 0.5) * body.car_length_m
        build.add(2, (mid - 2.0, g + 0.7, h), (mid + 2.0, g + w - 0.7, h), ROOF_BOX_BGR, PLANE_ROOF)


def _cab(build: _Builder, body: TrainBody, s: float, plane: int, *, head: bool, lights_on: bool) -> None:
    """An end of the train at ``s``: the livery, the dark mask with the windscreen, the display and lamps."""
    g, w, h = body.gap_m, body.width_m, body.height_m

    def face(n0, n1, z0, z1, colour, pl=plane):
        build.add(0, (s, g + n0, z0), (s, g + n1, z1), colour, pl)

    face(0.0, w, 0.0, h, _shade(body.body_bgr, 0.82))
    face(0.0, w, 0.0, SKIRT_TOP_M, SKIRT_BGR)
    face(0.0, w, *STRIPE_Z_M, _shade(body.stripe_bgr, 0.9))
    face(0.18, w - 0.18, 1.1, h - 0.35, body.cab_bgr)
    face(0.3, w - 0.3, 1.25, h - 0.75, WINDSCREEN_BGR)
    face(w / 2 - 0.55, w / 2 + 0.55, h - 0.68, h - 0.45, DISPLAY_BGR if head else body.cab_bgr)
    lamp = (HEADLIGHT_BGR if lights_on else HEADLIGHT_OFF_BGR) if head else (TAIL_LIGHT_BGR if lights_on else FRAME_BGR)
    for n0 in (0.3, w - 0.62):
        face(n0, n0 + 0.32, 0.52, 0.72, lamp)
