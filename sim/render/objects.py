"""Objects on the floor (bags, backpacks, suitcases set down or left behind): shaded boxes with a contact shadow.

An object is drawn as a person's prop is (:class:`~sim.render.shapes.ExtraShapes`), in a
frame of its own: "a person" standing at the object's place, heading along its yaw. A
suitcase shows its retracted handle on top, a bag its carrying strap as an arch
(:data:`OBJECT_DETAILS`); the others are plain boxes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from sim.render.occlusion import OCCLUSION_MARGIN_M, OcclusionScreen
from sim.render.props import HANDLE_BGR
from sim.render.shapes import OVER_BODY, Anchors, ExtraShapes, FillConvex, Item, ring_points
from sim.render.view import CanvasView, fixed_points
from sim.state import ObjectKind

_SHADOW_GROWTH_M = 0.06  #: [m] a contact shadow reaches this far beyond the object's footprint
_STRAP_WIDTH_M = 0.018  #: [m] width of a handle or a strap


def _suitcase_handle(hw: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A suitcase's retracted handle on its top: (along, up) points [m] of a low bracket."""
    return np.stack([-0.3 * hw, -0.3 * hw, 0.3 * hw, 0.3 * hw]), np.stack([top, top + 0.035, top + 0.035, top])


def _bag_strap(hw: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A bag's carrying strap: (along, up) points [m] of an arch over its top."""
    return (np.stack([-0.55 * hw, -0.45 * hw, 0.0 * hw, 0.45 * hw, 0.55 * hw]),
            np.stack([top, top + 0.09, top + 0.13, top + 0.09, top]))


#: the strap or handle drawn on top of each kind of object: (half width, top height) [m] -> (along, up) points
OBJECT_DETAILS: dict[ObjectKind, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    ObjectKind.SUITCASE: _suitcase_handle,
    ObjectKind.BAG: _bag_strap,
}


def object_items(view: CanvasView, objects, *, background: np.ndarray, screen: OcclusionScreen) -> list[Item]:
    """The objects in front of the camera as drawing items: boxes with shaded faces and a contact
    shadow (its colour the floor's in ``background``, the canvas's static image, darkened)."""
    pos = np.asarray(objects.pos_m, dtype=np.float64)
    size = np.asarray(objects.size_m, dtype=np.float64)
    yaw = np.asarray(objects.yaw_rad, dtype=np.float64)
    depth = view.ground_depth(pos)
    keep = np.nonzero(depth > 0.5)[0]
    if not len(keep):
        return []
    # boxes in a frame of their own: "people" at the objects' places, heading along the yaw
    k = len(keep)
    idx = np.arange(k)
    who = Anchors(slot=idx, pos=pos[keep], cos_heading=np.cos(yaw[keep]), sin_heading=np.sin(yaw[keep]),
                  depth_m=np.zeros(k))
    half = (size[keep] / 2).T  # (3, k): width along the yaw, depth, height
    centre = np.stack([np.zeros(k), np.zeros(k), half[2]])
    eye = np.eye(3)[:, :, None] * np.ones(k)
    lists: list = [None] * k
    box = np.full((k, 4), [np.inf, np.inf, -np.inf, -np.inf])
    drawn = box.copy()
    shapes = ExtraShapes(view, lists, box, drawn, np.zeros((k, 3, 4)))
    colours = np.asarray(objects.colour_bgr, dtype=np.float64)[keep]
    shapes.boxes(who, centre, eye, half, colours, layer=np.full(k, OVER_BODY))
    kinds = np.asarray(objects.kind)[keep]
    for kind, detail in OBJECT_DETAILS.items():
        sel = np.nonzero(kinds == kind)[0]
        if not len(sel):
            continue
        pa, pz = detail(half[0, sel], 2 * half[2, sel])
        shapes.strip(who[sel], pa, np.zeros_like(pa), pz, np.full((len(pa), 1), _STRAP_WIDTH_M),
                     np.tile(HANDLE_BGR, (len(sel), 1)) * 0.8, layer=np.full(len(sel), OVER_BODY))
    # contact shadows: the footprint grown a little, on the floor
    ring = ring_points(8)
    sa = np.cos(ring)[:, None] * (half[0] + _SHADOW_GROWTH_M)
    sb = np.sin(ring)[:, None] * (half[1] + _SHADOW_GROWTH_M)
    x, y, zz = shapes.world(who, sa, sb, np.zeros_like(sa))
    su, sv, _ = view.project_with_depth(x, y, zz)
    shadows = fixed_points(su, sv)
    items = []
    margin = OCCLUSION_MARGIN_M / 2
    behind, restore = screen.maybe_hidden(drawn, depth[keep] - margin + OCCLUSION_MARGIN_M)
    h_, w_ = background.shape[:2]
    for i in range(k):
        if lists[i] is None or not (drawn[i, 2] >= 0 and drawn[i, 0] < w_ and drawn[i, 3] >= 0 and drawn[i, 1] < h_):
            continue
        cu = int(np.clip(round(float(su[:, i].mean())), 0, w_ - 1))
        cv_ = int(np.clip(round(float(sv[:, i].mean())), 0, h_ - 1))
        shade = tuple(int(c) for c in background[cv_, cu].astype(np.int64) * 6 // 10)  # the floor, darkened
        items.append(Item(depth=float(depth[keep[i]]), floor=[FillConvex(shadows[i], shade)], cmds=lists[i][OVER_BODY],
                          behind=bool(behind[i]), restore=tuple(int(x) for x in restore[i]), margin_m=margin))
    return items
