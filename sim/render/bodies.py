"""The articulated body model: joints of every person in their own frame, posed for the whole crowd at once.

A body's frame has ``a`` forward (along the heading), ``b`` to the left and ``z`` up, in
metres from the foot point. :class:`BodyFrame` holds the 16 joints of n bodies as three
(joints, people) arrays; rows are named by the joint constants below (``HAND_R``,
``HIP_LINE``, ...). :func:`pose_bodies` builds them: walking (legs swing with the gait
phase, knees flex, arms swing opposite to the legs), standing, sitting (on the floor, legs
forward; on a bench, hip at the seat), crouching, seated in a wheelchair, hands on the
props they carry, and a fall that tips the body forward about the feet onto the floor.
Children have shorter legs and a bigger head for their height (:class:`Proportions`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.render.scene import BENCH_DEPTH_M, BENCH_HEIGHT_M, BENCH_LENGTH_M
from sim.render.textures import smoothstep
from sim.state import BodyKind, CrowdState, Posture, Prop

# --- joints: rows of a BodyFrame's arrays --------------------------------------------------------
HIP_L, HIP_R, KNEE_L, KNEE_R, FOOT_L, FOOT_R = range(6)
SHOULDER_L, SHOULDER_R, ELBOW_L, ELBOW_R, HAND_L, HAND_R = range(6, 12)
HEAD, NECK, SHOULDER_LINE, HIP_LINE = range(12, 16)  #: on the body's centre line
N_JOINTS = 16
HIPS, KNEES, FEET = slice(HIP_L, HIP_R + 1), slice(KNEE_L, KNEE_R + 1), slice(FOOT_L, FOOT_R + 1)
SHOULDERS, ELBOWS, HANDS = slice(SHOULDER_L, SHOULDER_R + 1), slice(ELBOW_L, ELBOW_R + 1), slice(HAND_L, HAND_R + 1)
LEG_JOINTS = slice(HIP_L, FOOT_R + 1)
CENTRE_LINE = slice(HEAD, HIP_LINE + 1)  #: head, neck, shoulder line, hip line
#: the joints along each limb, root to tip (columns: left leg, right leg, left arm, right arm)
LIMB_CHAINS = np.array([[HIP_L, HIP_R, SHOULDER_L, SHOULDER_R], [KNEE_L, KNEE_R, ELBOW_L, ELBOW_R],
                        [FOOT_L, FOOT_R, HAND_L, HAND_R]])
# --- a figure's points beyond its joints: the torso hexagon across the line of sight (neck,
# shoulder line and hip line on one side, back up the other) and the shadow octagon on the floor
TORSO_NECK_A, TORSO_SHOULDER_A, TORSO_HIP_A, TORSO_HIP_B, TORSO_SHOULDER_B, TORSO_NECK_B = range(16, 22)
TORSO_SIDE_A, TORSO_SIDE_B = slice(TORSO_NECK_A, TORSO_HIP_A + 1), slice(TORSO_HIP_B, TORSO_NECK_B + 1)
TORSO_POINTS = slice(TORSO_NECK_A, TORSO_NECK_B + 1)
SHADOW_POINTS = slice(22, 30)
N_POINTS = 30  #: points per figure: joints, torso hexagon, shadow octagon

SIDE = np.array([1.0, -1.0])  #: sign of ``b`` of the left and right joints of a pair
_SIDE_PHASE = np.array([0.0, np.pi])  #: the right leg's gait phase lags the left's by half a stride
WHEELCHAIR_SEAT_M = 0.5  #: [m] seat height of a wheelchair
WHEELCHAIR_WHEEL_M = 0.30  #: [m] radius of its big wheels
#: hip line to the top of the head, in body lengths (an adult): fixes a seated wheelchair user's body length
_SEATED_TOP = 0.935 - 0.54 + 0.06
_WHEELCHAIR_BODY_RADIUS_M = 0.23  #: [m] a wheelchair user's own body radius (their disc is the chair's)


@dataclass(frozen=True)
class Proportions:
    """Body proportions as shares of the body length (scalars, or per-person arrays with children)."""

    hip: object
    shoulder: object
    thigh: object
    shin: object
    upper_arm: object
    forearm: object
    head: object  #: head radius
    centre: np.ndarray  #: (4, 1) or (4, n): head, neck, shoulder line, hip line

    def rows(self, name: str, k: np.ndarray):
        """Proportion ``name`` for rows ``k``: a scalar stays a scalar."""
        x = getattr(self, name)
        return x if np.ndim(x) == 0 else x[..., k]


ADULT = Proportions(hip=0.52, shoulder=0.80, thigh=0.25, shin=0.245, upper_arm=0.17, forearm=0.19, head=0.06,
                    centre=np.array([0.935, 0.865, 0.82, 0.54])[:, None])
#: a child: shorter legs and a bigger head for its height
CHILD = Proportions(hip=0.47, shoulder=0.78, thigh=0.225, shin=0.22, upper_arm=0.16, forearm=0.17, head=0.08,
                    centre=np.array([0.915, 0.84, 0.78, 0.495])[:, None])


def proportions(child: np.ndarray | None) -> Proportions:
    """Per-person proportions for a crowd with children (``child`` (n,) bool), :data:`ADULT` without."""
    if child is None:
        return ADULT
    kw = {}
    for name in ("hip", "shoulder", "thigh", "shin", "upper_arm", "forearm", "head"):
        kw[name] = np.where(child, getattr(CHILD, name), getattr(ADULT, name))
    kw["centre"] = np.where(child[None, :], CHILD.centre, ADULT.centre)
    return Proportions(**kw)


@dataclass
class BodyFrame:
    """Joints of n bodies in their own frames [m]: ``a`` forward, ``b`` left, ``z`` up, each (N_JOINTS, n).

    ``frame[rows]`` is the frame of some bodies (a copy); ``point(j)`` one joint as (3, n).
    """

    a: np.ndarray
    b: np.ndarray
    z: np.ndarray

    def __len__(self) -> int:
        return self.a.shape[1]

    def __getitem__(self, rows) -> "BodyFrame":
        return BodyFrame(self.a[:, rows], self.b[:, rows], self.z[:, rows])

    def point(self, joint: int, rows=slice(None)) -> np.ndarray:
        """(3, k) joint ``joint`` of bodies ``rows``."""
        return np.stack([self.a[joint, rows], self.b[joint, rows], self.z[joint, rows]])

    def set_point(self, joint: int, rows, p: np.ndarray) -> None:
        """Move joint ``joint`` of bodies ``rows`` (in place) to ``p`` (3, k)."""
        self.a[joint, rows], self.b[joint, rows], self.z[joint, rows] = p


@dataclass(kw_only=True)
class Bodies:
    """The posed bodies of a frame: the rows of the crowd state the renderer kept, as parallel arrays (n,)."""

    state: CrowdState  #: the people, one row per body
    frame: BodyFrame  #: joints after posing and tipping over
    height: np.ndarray  #: [m] body length (a wheelchair user's standing length)
    radius: np.ndarray  #: [m] the state's radius (a wheelchair user's is the chair's)
    body_radius: np.ndarray  #: [m] the body's own radius
    width_scale: np.ndarray  #: body width relative to an average adult
    swing: np.ndarray  #: [rad] amplitude of the leg swing (0 unless walking)
    tilt: np.ndarray  #: [rad] forward rotation of a fall (0 upright, pi/2 lying)
    cos_tilt: np.ndarray
    sin_tilt: np.ndarray
    cos_heading: np.ndarray
    sin_heading: np.ndarray
    proportions: Proportions
    posed: np.ndarray  #: bool: sitting, crouching or in a wheelchair (upright)
    down: np.ndarray  #: bool: falling or lying
    wheelchair: np.ndarray  #: bool
    carried: np.ndarray  #: bool: holds a prop (not while down)
    seated_on_bench: np.ndarray | None  #: rows seated on a bench of the scene (None if none)

    def __len__(self) -> int:
        return len(self.state)


def pose_bodies(state: CrowdState, benches: list[tuple[np.ndarray, float]]) -> Bodies:
    """Joints of every person of ``state`` in the pose its posture, body kind and prop give it.

    ``benches`` are the scene's benches, (centre (2,) [m], facing [rad]): a person sitting on
    one sits at its height. Poses other than standing and walking, children, wheelchairs and
    props are computed for the rows that have them only.
    """
    n = len(state)
    h = np.asarray(state.height_m, dtype=np.float64)
    r = np.asarray(state.radius_m, dtype=np.float64)
    th = np.asarray(state.heading_rad, dtype=np.float64)
    posture = np.asarray(state.posture)
    lying = posture == Posture.LYING
    falling = posture == Posture.FALLING
    gamma = np.where(lying, np.pi / 2,
                     np.where(falling, np.clip(state.posture_progress, 0.0, 1.0) * (np.pi / 2), 0.0))
    down = lying | falling
    body = np.asarray(state.body)
    child = body == BodyKind.CHILD
    wheel = body == BodyKind.WHEELCHAIR
    any_child, any_wheel = bool(child.any()), bool(wheel.any())
    posed = (posture == Posture.SITTING) | (posture == Posture.CROUCHING)
    walking = posture == Posture.WALKING
    r_body = r
    if any_wheel:
        posed |= wheel & ~down
        walking = walking & ~wheel  # a wheelchair rolls: no gait
        r_body = np.where(wheel, _WHEELCHAIR_BODY_RADIUS_M, r)  # the disc is the chair's; the body is an adult's
        # height_m is the seated height: the body length that puts the top of the head there
        h = np.where(wheel, np.maximum(h - WHEELCHAIR_SEAT_M - 0.05, 0.3) / _SEATED_TOP, h)
    vel = np.asarray(state.vel_mps, dtype=np.float64)
    speed = np.sqrt(vel[:, 0] ** 2 + vel[:, 1] ** 2)
    amp = np.where(walking, 0.42 * np.clip(speed / 1.3, 0.4, 1.3), 0.0)
    pr = proportions(child if any_child else None)
    frame = _walk(n, h, r_body, amp, np.asarray(state.gait_phase, dtype=np.float64), pr)
    seated_on_bench = None
    if posed.any():
        seated_on_bench = _seat(frame, np.nonzero(posed)[0], state, h, pr, wheel, benches)
    carried = (np.asarray(state.prop) != 0) & ~down
    if carried.any():
        _grip_props(frame, np.nonzero(carried)[0], state, h, pr)
    # a fall tips the body forward about the feet, onto the floor
    cg, sg = np.cos(gamma), np.sin(gamma)
    a, z = frame.a * cg + frame.z * sg, frame.z * cg - frame.a * sg + 0.1 * sg
    return Bodies(state=state, frame=BodyFrame(a, frame.b, z), height=h, radius=r, body_radius=r_body,
                  width_scale=r_body / 0.23, swing=amp, tilt=gamma, cos_tilt=cg, sin_tilt=sg, cos_heading=np.cos(th),
                  sin_heading=np.sin(th), proportions=pr, posed=posed, down=down, wheelchair=wheel, carried=carried,
                  seated_on_bench=seated_on_bench)


def _walk(n: int, h: np.ndarray, r_body: np.ndarray, amp: np.ndarray, gait_phase: np.ndarray,
          pr: Proportions) -> BodyFrame:
    """Standing and walking bodies: legs swing by ``amp`` with the gait phase and flex at the knee,
    arms swing opposite to the legs; the lowest foot touches the floor."""
    a = np.zeros((N_JOINTS, n))
    b = np.zeros((N_JOINTS, n))
    z = np.empty((N_JOINTS, n))
    phase = _SIDE_PHASE[:, None] + gait_phase  # (2, n): left, right
    sin_p, cos_p = np.sin(phase), np.cos(phase)
    leg = amp * sin_p
    flex = (1.1 * amp) * np.maximum(0.0, cos_p)
    hip_z, sh_z = pr.hip * h, pr.shoulder * h
    thigh, shin = pr.thigh * h, pr.shin * h
    upper_arm, forearm = pr.upper_arm * h, pr.forearm * h
    b[LEG_JOINTS] = np.tile(SIDE[:, None] * (0.055 * h), (3, 1))
    z[HIPS] = hip_z
    a[KNEES] = thigh * np.sin(leg)
    z[KNEES] = hip_z - thigh * np.cos(leg)
    a[FEET] = a[KNEES] + shin * np.sin(leg - flex)
    z[FEET] = z[KNEES] - shin * np.cos(leg - flex)
    arm = (-0.65 * amp) * sin_p
    bend = arm + (0.15 + 0.5 * amp)
    root = SIDE[:, None] * np.maximum(0.9 * r_body - 0.05, 0.08)
    b[SHOULDERS] = root
    b[ELBOWS] = root + 0.025 * SIDE[:, None]
    b[HANDS] = root + 0.04 * SIDE[:, None]
    z[SHOULDERS] = sh_z
    a[ELBOWS] = upper_arm * np.sin(arm)
    z[ELBOWS] = sh_z - upper_arm * np.cos(arm)
    a[HANDS] = a[ELBOWS] + forearm * np.sin(bend)
    z[HANDS] = z[ELBOWS] - forearm * np.cos(bend)
    z[CENTRE_LINE] = pr.centre * h
    # the lowest foot touches the floor: the body bobs with the stride
    z -= np.minimum(z[FOOT_L], z[FOOT_R]) - 0.025 * h
    return BodyFrame(a, b, z)


def _on_bench(p: np.ndarray, sit: np.ndarray, benches) -> np.ndarray:
    """Which of the sitters at ground points ``p`` (k, 2) sit on one of the scene's benches."""
    on_bench = np.zeros(len(p), bool)
    for c, facing in benches:
        d = p - c
        dep = d[:, 0] * math.cos(facing) + d[:, 1] * math.sin(facing)
        along = -d[:, 0] * math.sin(facing) + d[:, 1] * math.cos(facing)
        on_bench |= sit & (np.abs(along) <= BENCH_LENGTH_M / 2 + 0.1) & (np.abs(dep) <= BENCH_DEPTH_M / 2 + 0.35)
    return on_bench


def _seat(frame: BodyFrame, k: np.ndarray, state: CrowdState, h, pr: Proportions, wheel, benches
          ) -> np.ndarray | None:
    """Sitting (on the floor, legs forward; on a bench, hip at the seat), crouching (knees
    bent, torso low and leaning forward) and seated in a wheelchair, for rows ``k``: the
    joints (in place) blend from the standing pose by ``posture_progress``.
    Returns the rows seated on a bench of the scene (None if none)."""
    posture = np.asarray(state.posture)[k]
    progress = np.asarray(state.posture_progress, dtype=np.float64)[k]
    H = h[k]
    n = len(k)
    on_wheel = wheel[k]
    crouch = (posture == Posture.CROUCHING) & ~on_wheel
    sit = (posture == Posture.SITTING) & ~on_wheel
    on_bench = np.zeros(n, bool)
    if benches and sit.any():
        on_bench = _on_bench(np.asarray(state.pos_m, dtype=np.float64)[k], sit, benches)
    floor = sit & ~on_bench
    w = np.where(on_wheel, 1.0, smoothstep(progress))
    kinds = [floor, on_bench, crouch]  # anything else here is a wheelchair
    # hip line (a, z) [m] and the torso's forward lean [rad]
    a_h = np.select(kinds, [-0.12 * H, np.full(n, -0.06), -0.12 * H], -0.06)
    z_h = np.select(kinds, [0.09 * H, np.full(n, BENCH_HEIGHT_M + 0.03), 0.22 * H], WHEELCHAIR_SEAT_M + 0.05)
    lean = np.select(kinds, [np.full(n, -0.12), np.full(n, -0.04), np.full(n, 0.7)], 0.08)
    sl, cl = np.sin(lean), np.cos(lean)
    centre = pr.centre if pr.centre.shape[1] == 1 else pr.centre[:, k]
    hip_line = centre[3]

    def on_torso(frac):
        d = (frac - hip_line) * H
        return a_h + d * sl, z_h + d * cl

    now = frame[k]
    ta = np.empty((N_JOINTS, n))
    tz = np.empty((N_JOINTS, n))
    tb = now.b.copy()
    ta[CENTRE_LINE], tz[CENTRE_LINE] = on_torso(centre)
    ta[SHOULDERS], tz[SHOULDERS] = on_torso(pr.rows("shoulder", k))
    ta[HIPS], tz[HIPS] = on_torso(pr.rows("hip", k))
    # legs: thighs forward (up a little on the floor, level on a seat, up steeply in a crouch)
    hip_a, hip_z = ta[HIP_L], tz[HIP_L]
    l_th, l_sh = pr.rows("thigh", k) * H, pr.rows("shin", k) * H
    knee_a = hip_a + l_th * np.select(kinds, [np.full(n, 0.906), np.full(n, 0.99), np.full(n, 0.917)], 0.99)
    knee_z = hip_z + l_th * np.select(kinds, [np.full(n, 0.423), np.full(n, 0.05), np.full(n, 0.4)], 0.05)
    foot_z = np.select(kinds, [0.03 * H, np.maximum(0.025 * H, knee_z - l_sh), 0.025 * H],
                       np.maximum(0.12, knee_z - l_sh))
    run = np.sqrt(np.maximum(l_sh * l_sh - (knee_z - foot_z) ** 2, 0.0))
    foot_a = np.select(kinds, [knee_a + run, knee_a + np.minimum(run, 0.1) + 0.04, 0.04 * H],
                       knee_a + np.minimum(run, 0.1) + 0.04)
    ta[KNEES], tz[KNEES] = knee_a, knee_z
    ta[FEET], tz[FEET] = foot_a, foot_z
    spread = np.where(crouch, 0.06, 0.07) * H
    tb[KNEE_L:FOOT_R + 1] = np.tile(SIDE[:, None] * spread, (2, 1))
    # hands: on the knees (floor), on the thighs (bench), near the floor (crouch), on the rims (wheelchair)
    swing = np.sin(np.asarray(state.gait_phase, dtype=np.float64)[k])
    hand_a = np.select(kinds, [knee_a - 0.03 * H, hip_a + 0.55 * l_th, 0.2 * H], -0.02 + 0.06 * swing)
    hand_z = np.select(kinds, [knee_z + 0.03 * H, hip_z + 0.09, 0.09 * H], np.full(n, WHEELCHAIR_SEAT_M + 0.08))
    hand_b = np.select(kinds, [0.075 * H, np.full(n, 0.1), 0.07 * H], 0.27)
    target = BodyFrame(ta, tb, tz)
    for side in (0, 1):
        sgn = SIDE[side]
        elbow, hand = _two_link(target.point(SHOULDER_L + side), np.stack([hand_a, sgn * hand_b, hand_z]),
                                pr.rows("upper_arm", k) * H, pr.rows("forearm", k) * H, sgn)
        target.set_point(ELBOW_L + side, slice(None), elbow)
        target.set_point(HAND_L + side, slice(None), hand)
    wb = 1.0 - w
    frame.a[:, k] = now.a * wb + ta * w
    frame.b[:, k] = now.b * wb + tb * w
    frame.z[:, k] = now.z * wb + tz * w
    return k[on_bench] if on_bench.any() else None


def _two_link(s: np.ndarray, hand: np.ndarray, l1: np.ndarray, l2: np.ndarray, side: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Elbow of an arm from shoulder ``s`` to ``hand`` (both (3, k) in the body frame a, b, z),
    upper arm ``l1`` and forearm ``l2`` [m]: bent down, outward (``side`` +1 left, -1 right)
    and back. A hand out of reach is pulled in along the line to the shoulder. Returns
    (elbow, hand)."""
    d = hand - s
    dist = np.sqrt((d * d).sum(axis=0))
    reach = 0.98 * (l1 + l2)
    far = dist > reach
    if far.any():
        hand = np.where(far, s + d * (reach / np.maximum(dist, 1e-9)), hand)
        d = hand - s
        dist = np.minimum(dist, reach)
    u = d / np.maximum(dist, 1e-9)
    a1 = np.clip((l1 * l1 - l2 * l2 + dist * dist) / (2 * np.maximum(dist, 1e-9)), -l1, l1)
    lift = np.sqrt(np.maximum(l1 * l1 - a1 * a1, 0.0))
    pole = np.array([-0.3, 0.5 * side, -1.0])[:, None]
    perp = pole - u * (pole * u).sum(axis=0)
    perp /= np.maximum(np.sqrt((perp * perp).sum(axis=0)), 1e-9)
    return s + u * a1 + perp * lift, hand


def _set_arm(frame: BodyFrame, k, side: int, hand: np.ndarray, h: np.ndarray, pr: Proportions) -> None:
    """Put the hand of arm ``side`` (0 left, 1 right) of rows ``k`` at ``hand`` (3, len(k)), elbow by :func:`_two_link`."""
    elbow, hand = _two_link(frame.point(SHOULDER_L + side, k), hand, pr.rows("upper_arm", k) * h[k],
                            pr.rows("forearm", k) * h[k], 1.0 if side == 0 else -1.0)
    frame.set_point(ELBOW_L + side, k, elbow)
    frame.set_point(HAND_L + side, k, hand)


def rifle_frame(frame: BodyFrame, height: np.ndarray, raised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Butt (3, k) and pointing angle [rad] (0 level, < 0 down) of the rifles of bodies ``frame``
    (heights ``height``): held low across the front, pointing down, at ``raised`` 0; butt at
    the shoulder, level along the heading at 1."""
    r = smoothstep(raised)
    k = len(frame)
    low = np.stack([np.full(k, 0.06), np.full(k, 0.05), -0.14 * height])
    high = np.stack([np.full(k, 0.02), np.full(k, 0.05), -0.02 * height])
    return frame.point(SHOULDER_R) + low + (high - low) * r, -0.9 * (1.0 - r)


def _pointing_hand(frame: BodyFrame, raised: np.ndarray) -> np.ndarray:
    """Where a hand pointing a long object forward holds it: arm out at shoulder height (3, k)."""
    r = smoothstep(raised)
    hand = frame.point(HAND_R)
    out = np.stack([frame.a[SHOULDER_R] + 0.5, frame.b[SHOULDER_R] + 0.06, frame.z[SHOULDER_R] - 0.04])
    return hand + (out - hand) * r


def _grip_rifle(frame, j, state, h, pr, raised) -> None:
    """Both hands on the rifle: the right at the grip, the left on the handguard."""
    butt, ang = rifle_frame(frame[j], h[j], raised)
    d = np.stack([np.cos(ang), np.zeros(len(j)), np.sin(ang)])
    down = np.stack([np.sin(ang), np.zeros(len(j)), -np.cos(ang)])
    _set_arm(frame, j, 1, butt + d * 0.3 + down * 0.05, h, pr)
    _set_arm(frame, j, 0, butt + d * 0.52 + down * 0.03, h, pr)


def _grip_umbrella(frame, j, state, h, pr, raised) -> None:
    """A raised umbrella is pointed forward with the right arm out; a hanging one swings with the arm."""
    if (raised > 0).any():
        _set_arm(frame, j, 1, _pointing_hand(frame[j], raised), h, pr)


def _grip_cane(frame, j, state, h, pr, raised) -> None:
    """The right hand on the cane's handle, swinging with the stride (raised: pointed forward)."""
    swing = np.sin(np.asarray(state.gait_phase, dtype=np.float64)[j] + np.pi)
    low = np.stack([0.14 + 0.05 * swing, frame.b[SHOULDER_R, j] - 0.03, 0.5 * h[j]])
    out = np.stack([frame.a[SHOULDER_R, j] + 0.5, frame.b[SHOULDER_R, j] + 0.06, frame.z[SHOULDER_R, j] - 0.04])
    _set_arm(frame, j, 1, low + (out - low) * smoothstep(raised), h, pr)


def _grip_suitcase(frame, j, state, h, pr, raised) -> None:
    """The right hand behind, on the extended handle of the suitcase it pulls."""
    _set_arm(frame, j, 1, np.stack([np.full(len(j), -0.22), frame.b[SHOULDER_R, j] - 0.03, 0.5 * h[j]]), h, pr)


#: how the hands hold each prop that needs them (the others hang from the hand as it swings)
_GRIPS = {Prop.RIFLE: _grip_rifle, Prop.UMBRELLA: _grip_umbrella, Prop.CANE: _grip_cane,
          Prop.SUITCASE: _grip_suitcase}


def _grip_props(frame: BodyFrame, k: np.ndarray, state: CrowdState, h, pr: Proportions) -> None:
    """Hands on the props of rows ``k`` (in place)."""
    prop = np.asarray(state.prop)[k]
    raised = np.asarray(state.prop_raise, dtype=np.float64)[k]
    for kind, grip in _GRIPS.items():
        sel = prop == kind
        if sel.any():
            grip(frame, k[sel], state, h, pr, raised[sel])
