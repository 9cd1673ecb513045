"""One frame's people as the painter draws them: outlines, colours and boxes in canvas pixels, far to near.

:func:`build_people` culls the people far outside the view, poses the others
(:mod:`sim.render.bodies`), builds each body's points in the world (joints, a torso hexagon
across the line of sight, a shadow octagon on the floor), projects them at once, and turns
them into filled outlines: shadow, far leg, far arm, near leg, torso, near arm, hair and face
(the parts :data:`SHADOW` .. :data:`FACE`), in fixed point, through the lens. Annotation boxes and head points come from
the same (distorted) vertices, so the ground truth matches the pixels. Props, vests and
wheelchairs add shapes of their own (:mod:`sim.render.props`).

Arrays are laid out points first, (points, people): reductions over a body's points then
run across whole rows, which numpy does an order of magnitude faster than over a short last
axis.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.render.bodies import (FOOT_L, FOOT_R, HEAD, HIP_L, HIP_LINE, HIP_R, LIMB_CHAINS, N_JOINTS, N_POINTS, NECK,
                               SHADOW_POINTS, SHOULDER_L, SHOULDER_LINE, SHOULDER_R, TORSO_POINTS, TORSO_SIDE_A,
                               TORSO_SIDE_B, Bodies, pose_bodies)
from sim.render.occlusion import OcclusionScreen
from sim.render.props import VEST_BGR, Carriers, VestStripes, Wheelchair, draw_props
from sim.render.scene import BENCH_DEPTH_M
from sim.render.shapes import ExtraShapes
from sim.render.view import COORD_LIMIT, SHIFT, CanvasView
from sim.state import CrowdState

#: the parts of a drawn person, in painting order: rows of People.colours, ranges of People.polys
SHADOW, FAR_LEG, FAR_ARM, NEAR_LEG, TORSO, NEAR_ARM, HAIR, FACE = range(8)
#: vertex ranges of the parts' outlines in People.polys
OUTLINES = (slice(0, 8), slice(8, 14), slice(14, 20), slice(20, 26), slice(26, 32), slice(32, 38), slice(38, 50),
            slice(50, 62))
N_VERTICES = 62  #: outline vertices drawn per person
_COS8 = np.cos(np.arange(8) * (np.pi / 4))
_SIN8 = np.sin(np.arange(8) * (np.pi / 4))
_COS12 = np.cos(np.arange(12) * (np.pi / 6))
_SIN12 = np.sin(np.arange(12) * (np.pi / 6))
#: [m] limb widths at the joints of LIMB_CHAINS (hip/shoulder, knee/elbow, foot/hand)
_LIMB_WIDTHS = np.array([[0.16, 0.16, 0.095, 0.095], [0.12, 0.12, 0.08, 0.08], [0.10, 0.10, 0.065, 0.065]])
#: brightness of far leg, far arm, near leg, torso, near arm, hair, face relative to the person's colours
_PART_SHADE = np.array([0.78, 0.74, 1.0, 1.0, 0.9, 1.0, 1.0])[None, :, None]
_HEAD_LOD_PX = 3.0  #: [px] head radius under which hair and face are drawn as one polygon
_SHADOW_OF_FLOOR = 0.62  #: a shadow's colour: the floor under it times this
_NEAR_M = 0.3  #: [m] bodies with a point nearer than this to the camera are not drawn


@dataclass(frozen=True, kw_only=True)
class People:
    """One frame's people in drawing order (far to near), canvas pixel coordinates; ``people[mask]`` selects."""

    ids: np.ndarray  #: (m,) pedestrian ids
    groups: np.ndarray  #: (m,) appearance groups
    depth: np.ndarray  #: (m,) [m] depth of the body's ground centre (sort key)
    box: np.ndarray  #: (m, 4) x0 y0 x1 y1 of the body
    drawn: np.ndarray  #: (m, 4) x0 y0 x1 y1 of everything drawn (body and shadow)
    parts: np.ndarray  #: (m, 3, 4) boxes of head, torso with arms, legs
    head: np.ndarray  #: (m, 2) head centre
    behind: np.ndarray  #: (m,) bool: a static occluder may stand in front
    restore: np.ndarray  #: (m, 4) int x0 y0 x1 y1 (exclusive) where occluders may cover the person
    #: (m, 62, 2) int32 fixed-point outlines of the parts SHADOW .. FACE (vertex ranges OUTLINES)
    polys: np.ndarray
    colours: np.ndarray  #: (m, 8, 3) int BGR of the parts SHADOW .. FACE
    show_face: np.ndarray  #: (m,) bool
    #: per person None, or three lists of drawing commands (before the body, after the torso,
    #: after everything: props, vest stripes, wheelchairs); None when nobody has any
    extras: list | None = None
    occ_depth: np.ndarray | None = None  #: (m,) [m] depth for the occlusion tests (default ``depth``)
    #: (m, 4) int x0 y0 x1 y1 (inclusive) [canvas px]: bounds every pixel the body's polygons (not the
    #: shadow) can fill; None when unknown
    body_px: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, mask) -> "People":
        rows = np.arange(len(self))[mask]
        kw = {}
        for f in fields(self):
            value = getattr(self, f.name)
            kw[f.name] = None if value is None else ([value[i] for i in rows] if f.name == "extras" else value[rows])
        return People(**kw)


@dataclass(kw_only=True)
class _Shown:
    """The bodies that show, in drawing order (m columns): their image geometry before it becomes outlines."""

    rows: np.ndarray  #: (m,) rows of the posed bodies
    depth_body: np.ndarray  #: (m,) [m] depth of the torso's centre
    u: np.ndarray  #: (N_POINTS, m) [px] canvas column of each point (through the lens)
    v: np.ndarray  #: (N_POINTS, m) [px] canvas row
    limb_u: np.ndarray  #: (6, 4, m) limb outlines in painting order: far leg, far arm, near leg, near arm
    limb_v: np.ndarray
    hair_u: np.ndarray  #: (12, m)
    hair_v: np.ndarray
    face_u: np.ndarray  #: (12, m)
    face_v: np.ndarray
    head_r: np.ndarray  #: (m,) [px] head radius
    head_u: np.ndarray  #: (m,) head centre
    head_v: np.ndarray
    limb_box: tuple  #: x0, x1, y0, y1 of each limb, (4, m) each
    torso_box: tuple  #: x0, x1, y0, y1 of the torso, (m,) each
    head_box: tuple  #: x0, x1, y0, y1 of the hair, (m,) each
    body_box: tuple  #: x0, y0, x1, y1 of the body, (m,) each
    order_depth: np.ndarray  #: (m,) [m] depth of the shadow's centre (the sort key)
    tilt: np.ndarray  #: (m,) [rad] forward rotation of a fall
    cos_heading: np.ndarray  #: (m,)
    sin_heading: np.ndarray
    pos: np.ndarray  #: (m, 2) [m]


def build_people(view: CanvasView, state: CrowdState, *, benches, background: np.ndarray,
                 screen: OcclusionScreen) -> People | None:
    """Image-space geometry of every person of ``state`` that shows, sorted far to near (canvas pixels).

    ``benches`` are the scene's (a sitter on one sits at its height), ``background`` the canvas's
    static image (shadows take the floor's colour), ``screen`` flags people a static occluder
    may hide. None when nobody shows.
    """
    state = _cull(view, state)
    if state is None:
        return None
    bodies = pose_bodies(state, benches)
    pts, shadow_c, c_left, c_front = _figure_points(view, bodies)
    shown = _project(view, bodies, pts, shadow_c)
    if shown is None:
        return None
    rows = shown.rows
    fixed, body_px = _outlines(shown)
    cols, vest = _colours(view, state, rows, shown, background)
    show_face = _faces(view, shown, cols)
    box, drawn, parts = _boxes(shown)
    extras = _extras(view, bodies, shown, vest, box, drawn, parts, c_left, c_front)
    pdepth = shown.order_depth
    occ_depth = pdepth
    if bodies.seated_on_bench is not None:
        # the bench under a sitter is part of the scene's occluders, but it does not hide its
        # sitter: only occluders nearer than the bench's front edge do. The bench's own
        # shadow stands for the sitter's (the outline is moved off the canvas).
        on = np.isin(rows, bodies.seated_on_bench)
        occ_depth = pdepth.copy()
        occ_depth[on] -= BENCH_DEPTH_M + 0.35
        fixed[on, OUTLINES[SHADOW]] = -(1 << 24)
    behind, restore = screen.maybe_hidden(drawn, occ_depth)
    return People(ids=np.asarray(state.ids)[rows], groups=np.asarray(state.appearance_group)[rows], depth=pdepth,
                  box=box, drawn=drawn, parts=parts, head=np.stack([shown.head_u, shown.head_v], axis=1),
                  behind=behind, restore=restore, polys=fixed, colours=cols, show_face=show_face, extras=extras,
                  occ_depth=occ_depth, body_px=body_px)


def _cull(view: CanvasView, state: CrowdState) -> CrowdState | None:
    """The people who may show: a body reaches at most its height from its foot point, which
    bounds its image by the height in pixels there. None when nobody may."""
    if len(state) == 0:
        return None
    cam = view.camera
    K = cam.K
    pos = np.asarray(state.pos_m, dtype=np.float64)
    rel = pos - cam.position[:2]
    fc = rel @ cam.R[:, :2].T - cam.position[2] * cam.R[:, 2]  # foot points in camera coordinates
    fd = fc[:, 2]
    reach = 1.3 * np.asarray(state.height_m, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fu = K[0, 0] * fc[:, 0] / fd + K[0, 2]
        fv = K[1, 1] * fc[:, 1] / fd + K[1, 2]
        span = view.focal_px * reach / (fd - reach)  # [px] generous: the nearest part of the body sets the scale
    near_enough = fd > _NEAR_M
    span = np.where(near_enough & (fd > reach + _NEAR_M), span, np.inf)
    cx0, cy0, cx1, cy1 = view.cull_box
    keep = near_enough & (fu + span >= cx0) & (fu - span <= cx1) & (fv + span >= cy0) & (fv - span <= cy1)
    if keep.all():
        return state
    return state[np.nonzero(keep)[0]] if keep.any() else None


def _figure_points(view: CanvasView, bodies: Bodies) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """World points (N_POINTS, n, 3) of the figures: joints, the torso hexagon, the shadow octagon.

    The torso is a flat hexagon across the line of sight (its width depends on the view). Also
    returns the shadow's centre (n, 2) and, per body, how much of the torso's width (left axis)
    and depth (front axis) the hexagon shows, ``c_left`` and ``c_front`` (n,)."""
    n = len(bodies)
    cam = view.camera
    j = bodies.frame
    pos = np.asarray(bodies.state.pos_m, dtype=np.float64)
    ct, st = bodies.cos_heading, bodies.sin_heading
    sg, cg = bodies.sin_tilt, bodies.cos_tilt
    r_body, posed = bodies.body_radius, bodies.posed
    any_posed = bool(posed.any())
    pts = np.empty((N_POINTS, n, 3))
    pts[:N_JOINTS, :, 0] = pos[:, 0] + j.a * ct - j.b * st
    pts[:N_JOINTS, :, 1] = pos[:, 1] + j.a * st + j.b * ct
    pts[:N_JOINTS, :, 2] = j.z
    if any_posed:
        axis = pts[NECK] - pts[HIP_LINE]  # hip line to neck: a crouch leans it
        axis /= np.sqrt(np.einsum("ij,ij->i", axis, axis))[:, None]
    else:
        axis = np.stack([sg * ct, sg * st, cg], axis=1)  # body axis, feet to head
    view_dir = 0.5 * (pts[NECK] + pts[HIP_LINE]) - cam.position
    across = np.cross(axis, view_dir)
    norm = np.sqrt(np.einsum("ij,ij->i", across, across))
    flat = norm < 1e-9
    across /= np.where(flat, 1.0, norm)[:, None]
    if flat.any():
        across[flat] = np.stack([-st, ct, np.zeros(n)], axis=1)[flat]
    c_left = np.abs(-across[:, 0] * st + across[:, 1] * ct)
    # the torso's front: left x axis (a fall or a lean rotates it about the left axis)
    c_front = np.abs((across[:, 0] * ct + across[:, 1] * st) * axis[:, 2]
                     - across[:, 2] * (st * axis[:, 1] + ct * axis[:, 0]))
    half_sh = np.sqrt((0.95 * r_body * c_left) ** 2 + (0.55 * r_body * c_front) ** 2)
    half_hip = np.sqrt((0.78 * r_body * c_left) ** 2 + (0.55 * r_body * c_front) ** 2)
    halves = np.stack([0.3 * half_sh, half_sh, half_hip])[:, :, None] * across  # neck, shoulders, hips
    pts[TORSO_SIDE_A] = pts[NECK:HIP_LINE + 1] + halves
    pts[TORSO_SIDE_B] = (pts[NECK:HIP_LINE + 1] - halves)[::-1]
    # shadow: an ellipse on the floor under the body
    h, amp = bodies.height, bodies.swing
    shadow_c = pos + np.stack([ct, st], axis=1) * (sg * 0.45 * h)[:, None]
    ax_f = 0.24 + 0.15 * amp + sg * 0.42 * h
    ax_l = 0.22 * (bodies.radius / 0.23)
    if any_posed:
        # a seated or crouching body: the ellipse covers hips to feet
        k = np.nonzero(posed)[0]
        hip_a, feet_a = j.a[HIP_LINE, k], 0.5 * (j.a[FOOT_L, k] + j.a[FOOT_R, k])
        mid = 0.5 * (hip_a + feet_a)
        shadow_c[k] = pos[k] + np.stack([ct[k], st[k]], axis=1) * mid[:, None]
        ax_f = np.broadcast_to(ax_f, (n,)).copy()
        ax_f[k] = np.maximum(0.5 * np.abs(feet_a - hip_a) + 0.18, np.where(bodies.wheelchair[k], 0.45, 0.24))
    pts[SHADOW_POINTS, :, 0] = shadow_c[:, 0] + _COS8[:, None] * (ax_f * ct) - _SIN8[:, None] * (ax_l * st)
    pts[SHADOW_POINTS, :, 1] = shadow_c[:, 1] + _COS8[:, None] * (ax_f * st) + _SIN8[:, None] * (ax_l * ct)
    pts[SHADOW_POINTS, :, 2] = 0.0
    return pts, shadow_c, c_left, c_front


def _project(view: CanvasView, bodies: Bodies, pts: np.ndarray, shadow_c: np.ndarray) -> _Shown | None:
    """Project every figure at once: limb and head outlines through the lens, boxes, and the
    figures that show in the image, sorted far to near. None when none shows."""
    cam = view.camera
    K = cam.K
    n = len(bodies)
    h, ws, gamma = bodies.height, bodies.width_scale, bodies.tilt
    ct, st = bodies.cos_heading, bodies.sin_heading
    pos = np.asarray(bodies.state.pos_m, dtype=np.float64)
    head_f = bodies.proportions.head
    pc = (pts - cam.position) @ cam.R.T
    depth = np.ascontiguousarray(pc[..., 2])  # (N_POINTS, n)
    ok = depth.min(axis=0) > _NEAR_M
    sel = np.arange(n)
    if not ok.all():
        sel = np.nonzero(ok)[0]
        if len(sel) == 0:
            return None
        pc, depth = pc[:, sel], depth[:, sel]
        h, ws, gamma, shadow_c, ct, st, pos = (x[sel] for x in (h, ws, gamma, shadow_c, ct, st, pos))
        head_f = head_f if np.ndim(head_f) == 0 else head_f[sel]
    inv = 1.0 / depth
    U = K[0, 0] * pc[..., 0] * inv + K[0, 2]  # (N_POINTS, n') pixel coordinates
    V = K[1, 1] * pc[..., 1] * inv + K[1, 2]
    px = view.focal_px * inv  # [px/m] at each point
    # limb outlines (6 vertices, 4 limbs, n'): left leg, right leg, left arm, right arm
    lu, lv = _limb_polygons(U[LIMB_CHAINS], V[LIMB_CHAINS], (_LIMB_WIDTHS[:, :, None] * ws) * px[LIMB_CHAINS])
    # head: hair and face as 12-gons (cheaper to fill than circles, and they go through the lens)
    head_r = head_f * h * px[HEAD]
    hu, hv = U[HEAD], V[HEAD]
    hair_u = hu + _COS12[:, None] * head_r
    hair_v = hv + _SIN12[:, None] * head_r
    face_u = hu + _COS12[:, None] * (0.8 * head_r)
    face_v = (hv + 0.14 * head_r) + _SIN12[:, None] * (0.8 * head_r)
    lens = view.lens
    if lens is not None:
        # every outline vertex through the lens: the drawing and the boxes follow the distortion
        U, V = lens.distort(U, V)
        lu, lv = lens.distort(lu, lv)
        hair_u, hair_v = lens.distort(hair_u, hair_v)
        face_u, face_v = lens.distort(face_u, face_v)
        hu, hv = lens.distort(hu, hv)
    # part boxes: limbs (4, n'), torso and head (n',)
    lx0, lx1, ly0, ly1 = lu.min(axis=0), lu.max(axis=0), lv.min(axis=0), lv.max(axis=0)
    tu, tv = U[TORSO_POINTS], V[TORSO_POINTS]
    tx0, tx1, ty0, ty1 = tu.min(axis=0), tu.max(axis=0), tv.min(axis=0), tv.max(axis=0)
    hx0, hx1, hy0, hy1 = hair_u.min(axis=0), hair_u.max(axis=0), hair_v.min(axis=0), hair_v.max(axis=0)
    x0 = np.minimum(np.minimum(lx0.min(axis=0), tx0), hx0)
    x1 = np.maximum(np.maximum(lx1.max(axis=0), tx1), hx1)
    y0 = np.minimum(np.minimum(ly0.min(axis=0), ty0), hy0)
    y1 = np.maximum(np.maximum(ly1.max(axis=0), ty1), hy1)
    ok = (x1 >= -0.5) & (x0 <= cam.width - 0.5) & (y1 >= -0.5) & (y0 <= cam.height - 0.5)
    order_depth = view.ground_depth(shadow_c)
    v = np.nonzero(ok)[0]
    v = v[np.argsort(-order_depth[v], kind="stable")]
    if len(v) == 0:
        return None
    # painting order inside a person: far leg, far arm, near leg, torso, near arm
    far_leg = (depth[HIP_L, v] < depth[HIP_R, v]).astype(np.int64)  # 1 when the right leg is the farther one
    far_arm = (depth[SHOULDER_L, v] < depth[SHOULDER_R, v]).astype(np.int64)
    part = np.stack([far_leg, 2 + far_arm, 1 - far_leg, 3 - far_arm])  # (4, m) limb index per slot
    depth_body = 0.5 * (depth[SHOULDER_LINE, v] + depth[HIP_LINE, v])
    return _Shown(rows=sel[v], depth_body=depth_body, u=U[:, v], v=V[:, v], limb_u=lu[:, part, v], limb_v=lv[:, part, v],
                  hair_u=hair_u[:, v], hair_v=hair_v[:, v], face_u=face_u[:, v], face_v=face_v[:, v],
                  head_r=head_r[v], head_u=hu[v], head_v=hv[v], limb_box=(lx0[:, v], lx1[:, v], ly0[:, v], ly1[:, v]),
                  torso_box=(tx0[v], tx1[v], ty0[v], ty1[v]), head_box=(hx0[v], hx1[v], hy0[v], hy1[v]),
                  body_box=(x0[v], y0[v], x1[v], y1[v]), order_depth=order_depth[v], tilt=gamma[v],
                  cos_heading=ct[v], sin_heading=st[v], pos=pos[v])


def _limb_polygons(u: np.ndarray, v: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outlines of limbs through 3 image points, points first: u, v, widths [px] (3, ...) -> u, v (6, ...)."""
    du = u[1:] - u[:-1]  # (2, ...): upper and lower segment
    dv = v[1:] - v[:-1]
    length = np.sqrt(du * du + dv * dv)
    short = length < 1e-9
    inv = 1.0 / np.where(short, 1.0, length)
    nu = np.where(short, -1.0, -dv * inv)  # unit normals (-dv, du); a zero-length segment gets (-1, 0)
    nv = np.where(short, 0.0, du * inv)
    ku = nu[0] + nu[1]
    kv = nv[0] + nv[1]
    k_len = np.sqrt(ku * ku + kv * kv)
    bent = k_len > 1e-6
    k_inv = 1.0 / np.where(bent, k_len, 1.0)
    ku = np.where(bent, ku * k_inv, nu[0])
    kv = np.where(bent, kv * k_inv, nv[0])
    hw = 0.5 * widths
    ou = np.stack([nu[0] * hw[0], ku * hw[1], nu[1] * hw[2]])
    ov = np.stack([nv[0] * hw[0], kv * hw[1], nv[1] * hw[2]])
    pu = np.concatenate([u + ou, (u - ou)[::-1]])
    pv = np.concatenate([v + ov, (v - ov)[::-1]])
    return pu, pv


def _outlines(shown: _Shown) -> tuple[np.ndarray, np.ndarray]:
    """(m, N_VERTICES, 2) int32 fixed-point outlines of the parts, the far limbs first, and
    (m, 4) int32 bounds of the pixels the body's fills (not the shadow) can touch."""
    m = len(shown.rows)
    lu, lv = shown.limb_u, shown.limb_v
    U, V = shown.u, shown.v
    # the outlines points first (vertex, u/v, person), one transpose at the end for OpenCV
    pf = np.empty((N_VERTICES, 2, m))
    sources = ((U[SHADOW_POINTS], V[SHADOW_POINTS]), (lu[:, 0], lv[:, 0]), (lu[:, 1], lv[:, 1]), (lu[:, 2], lv[:, 2]),
               (U[TORSO_POINTS], V[TORSO_POINTS]), (lu[:, 3], lv[:, 3]), (shown.hair_u, shown.hair_v),
               (shown.face_u, shown.face_v))
    for rng, (pu, pv) in zip(OUTLINES, sources):
        pf[rng, 0] = pu
        pf[rng, 1] = pv
    scale = float(1 << SHIFT)
    pf *= scale
    np.clip(pf, -COORD_LIMIT * scale, COORD_LIMIT * scale, out=pf)
    fixed = np.ascontiguousarray(np.rint(pf, out=pf).astype(np.int32).transpose(2, 0, 1))
    # pixels the body's fills can touch (limbs, torso, head; not the shadow), with a pixel to spare
    body = slice(OUTLINES[FAR_LEG].start, N_VERTICES)
    body_lo = np.floor(pf[body].min(axis=0) * (1.0 / scale)) - 2.0  # (2, m) x, y
    body_hi = np.ceil(pf[body].max(axis=0) * (1.0 / scale)) + 2.0
    body_px = np.concatenate([body_lo, body_hi]).T.astype(np.int32)  # (m, 4) x0 y0 x1 y1 inclusive
    return fixed, body_px


def _colours(view: CanvasView, state: CrowdState, rows: np.ndarray, shown: _Shown, background: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(m, 8, 3) int BGR of the parts (shaded per part, times the brightness; a shadow darkens the
    floor under it) and (m,) bool: who wears a vest (it covers the torso)."""
    m = len(rows)
    cam = view.camera
    gain = float(view.brightness)
    tr, sh = state.trousers_bgr[rows], state.shirt_bgr[rows]
    # the materials of the body's parts, FAR_LEG to FACE
    mats = np.stack([tr, sh, tr, sh, sh, state.hair_bgr[rows], state.skin_bgr[rows]], axis=1).astype(np.float64)
    vest = np.asarray(state.vest)[rows]
    if vest.any():
        mats[vest, TORSO - FAR_LEG] = VEST_BGR  # the vest covers the torso; the sleeves stay the shirt's
    cols = np.empty((m, 8, 3))
    cols[:, FAR_LEG:] = mats * (_PART_SHADE * gain)
    su_f, sv_f = shown.u[SHADOW_POINTS], shown.v[SHADOW_POINTS]
    su = np.clip(np.rint(su_f.mean(axis=0)), 0, cam.width - 1).astype(np.int64)
    sv = np.clip(np.rint(sv_f.mean(axis=0)), 0, cam.height - 1).astype(np.int64)
    cols[:, SHADOW] = background[sv, su] * _SHADOW_OF_FLOOR
    np.clip(np.rint(cols, out=cols), 0, 255, out=cols)
    return cols.astype(np.int64), vest  # small Python ints are cached: tolist() is cheap


def _faces(view: CanvasView, shown: _Shown, cols: np.ndarray) -> np.ndarray:
    """(m,) bool: the face shows when the person faces the camera at least partly (and is not
    lying). A head too small for two polygons is one, hair and face blended (in ``cols``)."""
    view_h = shown.pos - view.camera.position[:2]
    facing = ((shown.cos_heading * view_h[:, 0] + shown.sin_heading * view_h[:, 1])
              / np.maximum(np.hypot(view_h[:, 0], view_h[:, 1]), 1e-9))
    show_face = (facing < 0.35) & (shown.tilt < 1.2)
    # level of detail: a small head is one polygon, hair and face blended (the hair would show as a
    # crescent under a pixel thick)
    tiny = show_face & (shown.head_r < _HEAD_LOD_PX)
    cols[tiny, HAIR] = (cols[tiny, HAIR] + cols[tiny, FACE]) // 2
    return show_face & ~tiny


def _boxes(shown: _Shown) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes x0 y0 x1 y1 [canvas px]: the body (m, 4), everything drawn (m, 4), and three parts for
    the visible fractions (m, 3, 4): head, torso with arms, legs."""
    x0, y0, x1, y1 = shown.body_box
    box = np.stack([x0, y0, x1, y1], axis=1)
    su_f, sv_f = shown.u[SHADOW_POINTS], shown.v[SHADOW_POINTS]
    drawn = np.stack([np.minimum(x0, su_f.min(axis=0)), np.minimum(y0, sv_f.min(axis=0)),
                      np.maximum(x1, su_f.max(axis=0)), np.maximum(y1, sv_f.max(axis=0))], axis=1)
    lx0, lx1, ly0, ly1 = shown.limb_box
    tx0, tx1, ty0, ty1 = shown.torso_box
    hx0, hx1, hy0, hy1 = shown.head_box
    parts = np.empty((len(x0), 3, 4))
    parts[:, 0] = np.stack([hx0, hy0, hx1, hy1], axis=1)
    parts[:, 1, 0] = np.minimum(np.minimum(lx0[2], lx0[3]), tx0)  # arms and torso
    parts[:, 1, 1] = np.minimum(np.minimum(ly0[2], ly0[3]), ty0)
    parts[:, 1, 2] = np.maximum(np.maximum(lx1[2], lx1[3]), tx1)
    parts[:, 1, 3] = np.maximum(np.maximum(ly1[2], ly1[3]), ty1)
    parts[:, 2, 0] = np.minimum(lx0[0], lx0[1])  # legs
    parts[:, 2, 1] = np.minimum(ly0[0], ly0[1])
    parts[:, 2, 2] = np.maximum(lx1[0], lx1[1])
    parts[:, 2, 3] = np.maximum(ly1[0], ly1[1])
    return box, drawn, parts


_VEST_STRIPES = VestStripes()
_WHEELCHAIR = Wheelchair()


def _extras(view: CanvasView, bodies: Bodies, shown: _Shown, vest: np.ndarray, box: np.ndarray, drawn: np.ndarray,
            parts: np.ndarray, c_left: np.ndarray, c_front: np.ndarray) -> list | None:
    """What some people have: a vest's stripes, a prop, a wheelchair, as per-person drawing lists
    (the boxes grow to cover them); None when nobody in the frame's crowd has any."""
    any_vest, any_prop, any_wheel = bool(vest.any()), bool(bodies.carried.any()), bool(bodies.wheelchair.any())
    if not (any_vest or any_prop or any_wheel):
        return None
    rows = shown.rows
    lists = [None] * len(rows)
    shapes = ExtraShapes(view, lists, box, drawn, parts)
    if any_vest:
        _VEST_STRIPES.draw(shapes, np.nonzero(vest)[0], shown.u, shown.v)
    depth_body = shown.depth_body
    if any_prop:
        j = np.nonzero(bodies.carried[rows])[0]
        if len(j):
            who = _carriers(bodies, j, rows[j], depth_body[j], c_left, c_front)
            draw_props(shapes, who, np.asarray(bodies.state.prop)[rows[j]])
    if any_wheel:
        j = np.nonzero(bodies.wheelchair[rows] & ~bodies.down[rows])[0]
        if len(j):
            _WHEELCHAIR.draw(shapes, _carriers(bodies, j, rows[j], depth_body[j], c_left, c_front))
    return lists


def _carriers(bodies: Bodies, slots: np.ndarray, rr: np.ndarray, depth_body: np.ndarray, c_left: np.ndarray,
              c_front: np.ndarray) -> Carriers:
    """The bodies ``rr`` (drawn at ``slots``) as carriers of extra shapes."""
    state = bodies.state
    return Carriers(slot=slots, pos=np.asarray(state.pos_m, dtype=np.float64)[rr], cos_heading=bodies.cos_heading[rr],
                    sin_heading=bodies.sin_heading[rr], depth_m=depth_body, joints=bodies.frame[rr],
                    height=bodies.height[rr], body_radius=bodies.body_radius[rr],
                    gait_phase=np.asarray(state.gait_phase, dtype=np.float64)[rr],
                    raised=np.asarray(state.prop_raise, dtype=np.float64)[rr], ids=np.asarray(state.ids)[rr],
                    c_left=c_left[rr], c_front=c_front[rr])
