"""Regenerate ``docs/events/<scenario>.png``: one frame of each event type and of each family of
hard negatives in the scenario library, at a moment the event (or its look-alike) shows.

Usage::

    python docs/make_event_frames.py [--out docs/events] [scenario ...]

Each scenario is simulated with its own seed (``seed`` in its file) and its first camera is
rendered with ``sim.render.Renderer`` (seed: the scenario's seed; the scenario's own noise
and JPEG settings). Event scenarios are simulated twice: once to the end, to find the
ground-truth instance; once to the chosen moment, ``t_start`` of the instance plus the lead
time of :data:`EVENTS`. The event's box in that frame (:func:`sim.annotate.event_box_in_frame`:
its people's boxes, its object's or fire's column, its zone) is drawn in green with its type
and id. Hard-negative scenarios have no ground truth: the look-alikes are boxed in orange,
labelled "not an event", at the moment of :data:`NEGATIVES`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from sim.annotate import column_box, event_box_in_frame, zone_in_image
from sim.events.truth import points_in_quads
from sim.world.model import StationModel
from sim.render import Renderer
from sim.scenario import load_scenario
from sim.state import Posture, Prop

#: scenario -> seconds after the ground-truth instance's start
EVENTS = {
    "platform_fall": 3.0,  # on the floor after the fall
    "concourse_abandoned_bag": 3.0,  # the owner has been away 13 s
    "concourse_surge": 1.5,  # the crowd running out
    "corridor_wrong_way": 6.0,  # well inside the passage, against the flow
    "platform_fire": 22.0,  # 22 s after ignition: flames grown, smoke spreading for 17 s
    "concourse_weapon": 12.0,  # present from 12 s; raised to the shoulder from 22 s
    "platform_intrusion": 3.0,  # on the track bed
    "concourse_overcrowding": 8.0,  # the gate approach over capacity
}

#: hard-negative scenario -> the moment [s] its look-alikes show
NEGATIVES = {
    "negatives_fall": 30.0,  # one seated on the floor, one on a bench, one tying a shoe
    "negatives_bag": 20.0,  # a bag set down beside its owner, suitcases in a queue
    "negatives_crowd": 36.5,  # four passengers running for a train
    "negatives_density_queue": 20.0,  # a dense orderly queue below capacity
    "negatives_intrusion": 27.0,  # a staff member on the track bed, a passenger on the safety line
    "negatives_wrong_way": 25.5,  # a walker turning round for a second
    "negatives_fire": 10.0,  # a red poster, a flickering light, orange tops
    "negatives_weapon": 19.5,  # an umbrella pointed, a cane, a guitar case
    "negatives_train": 25.0,  # a train at the platform, doors open, passengers stepping out across the edge
}

GREEN = (0, 220, 0)
ORANGE = (0, 150, 255)
SIZE = (640, 360)


def frame_time(sc, t: float) -> float:
    """``t`` on the first camera's frame grid, inside the scenario."""
    fps = sc.cameras[0].fps
    return min(round(t * fps) / fps, sc.duration_s - 1.0 / fps)


def render_at(sc, t: float):
    """The first camera's frame at ``t`` [s]: (image, annotations, world state, model, renderer)."""
    model = StationModel(sc)
    model.run_until(t)
    world = model.world()
    renderer = Renderer(sc, sc.cameras[0].name, seed=sc.seed)
    image, ann = renderer.render(world, t)
    return image, ann, world, model, renderer


def draw_box(img: np.ndarray, box, label: str, colour) -> None:
    if box is None:
        return
    x, y, w, h = (int(round(v)) for v in box)
    cv2.rectangle(img, (x, y), (x + w, y + h), colour, 2)
    if not label:
        return
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    ty = y - 4 if y - th - 6 >= 0 else min(y + h + th + 4, img.shape[0] - 2)
    tx = min(max(x, 0), img.shape[1] - tw - 2)
    cv2.rectangle(img, (tx - 1, ty - th - 3), (tx + tw + 1, ty + base - 1), (20, 20, 20), -1)
    cv2.putText(img, label, (tx, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)


def caption(img: np.ndarray, text: str) -> None:
    cv2.rectangle(img, (0, img.shape[0] - 18), (img.shape[1], img.shape[0]), (20, 20, 20), -1)
    cv2.putText(img, text, (4, img.shape[0] - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)


def union(boxes):
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    b = np.asarray(boxes, dtype=np.float64)
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    return [x0, y0, (b[:, 0] + b[:, 2]).max() - x0, (b[:, 1] + b[:, 3]).max() - y0]


def person_box(ann, pid):
    row = ann.row_of(int(pid))
    return None if row is None else ann.boxes[row].tolist()


def wall_item_box(camera, item):
    """Image box of a poster or light panel (a vertical rectangle on a wall)."""
    cx, cy, cz = item.center
    w, h = item.size
    yaw = math.radians(item.yaw_deg)
    along = np.array([-math.sin(yaw), math.cos(yaw)]) * w / 2
    pts = np.array([[cx + s * along[0], cy + s * along[1], cz + u * h / 2] for s in (-1, 1) for u in (-1, 1)])
    uv, _ = camera.project(pts)
    x0, y0 = uv.min(axis=0)
    x1, y1 = uv.max(axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


# --- the look-alikes of each family of hard negatives ------------------------------------------


def look_alikes(name, sc, world, ann, camera, model=None):
    """[(box, label)] of the things in the frame that look like an event but are not one."""
    crowd = world.crowd
    out = []
    speed = np.hypot(crowd.vel_mps[:, 0], crowd.vel_mps[:, 1])
    if name == "negatives_fall":
        for pid, p in zip(crowd.ids, crowd.posture):
            if p in (Posture.SITTING, Posture.CROUCHING):
                out.append((person_box(ann, pid), "sitting" if p == Posture.SITTING else "crouching"))
    elif name == "negatives_bag":
        for k in range(len(world.objects)):
            w, d, h = world.objects.size_m[k]
            kind = {1: "bag", 2: "suitcase", 3: "backpack"}[int(world.objects.kind[k])]
            out.append((column_box(camera, world.objects.pos_m[k], max(w, d), h)[0], f"{kind}, owner beside it"))
    elif name == "negatives_crowd":
        out.append((union([person_box(ann, pid) for pid in crowd.ids[speed > 2.2]]), "a few runners"))
    elif name == "negatives_density_queue":
        zone = next(z for z in sc.station.zones if z.name == "machine_queue")
        out.append((zone_in_image(camera, np.asarray(zone.polygon, float))[0], "orderly queue, below capacity"))
    elif name == "negatives_intrusion":
        for pid in crowd.ids[crowd.vest]:
            out.append((person_box(ann, pid), "staff in vest (allowed)"))
        line = np.hypot(crowd.pos_m[:, 0] - 10.0, crowd.pos_m[:, 1] - 0.45) < 0.4
        for pid in crowd.ids[line & (speed < 0.2)]:
            out.append((person_box(ann, pid), "on the safety line"))
    elif name == "negatives_wrong_way":
        inside = (crowd.pos_m[:, 0] > 2) & (crowd.pos_m[:, 0] < 28)
        for pid in crowd.ids[inside & (crowd.vel_mps[:, 0] < -0.3)]:
            out.append((person_box(ann, pid), "turning round"))
        for pid in crowd.ids[inside & (np.abs(crowd.vel_mps[:, 1]) > 0.8)]:
            out.append((person_box(ann, pid), "crossing"))
    elif name == "negatives_fire":
        for d in sc.distractors:
            if d.type in ("poster", "flickering_light"):
                out.append((wall_item_box(camera, d), d.type.replace("_", " ")))
    elif name == "negatives_train":
        for tid, box in zip(ann.trains.ids, ann.trains.boxes):
            out.append((box.tolist(), f"train {int(tid)} at the platform (context)"))
        passages = model.trains.runs.passages(world.t)
        if passages is not None:
            beyond = points_in_quads(crowd.pos_m, passages) & (crowd.pos_m[:, 1] < 0.3)
            for pid in crowd.ids[beyond]:
                out.append((person_box(ann, pid), "crossing the edge through a door"))
    elif name == "negatives_weapon":
        names = {Prop.UMBRELLA: "umbrella", Prop.CANE: "cane", Prop.GUITAR_CASE: "guitar case"}
        for pid, prop, level in zip(crowd.ids, crowd.prop, crowd.prop_raise):
            if prop in names:
                out.append((person_box(ann, pid), names[Prop(int(prop))] + (" (pointed)" if level > 0.5 else "")))
    return [(b, label) for b, label in out if b is not None]


def make(name: str, out_dir: Path) -> Path:
    sc = load_scenario(name)
    if name in EVENTS:
        full = StationModel(sc)
        full.run_until(sc.duration_s)
        events = full.truth.events(t_end=full.time)
        if not events:
            raise RuntimeError(f"{name}: the run produced no ground-truth event")
        t = frame_time(sc, events[0].t_start + EVENTS[name])
        image, ann, world, model, renderer = render_at(sc, t)
        shown = 0
        for ev in model.truth.events(t_end=model.time):
            if ev.t_start <= t + 1e-9:
                box = event_box_in_frame(ev, ann, camera=renderer.camera, scenario=sc, world=world)
                draw_box(image, box, f"{ev.type.value} ({ev.id})", GREEN)
                shown += box is not None
        if not shown:
            raise RuntimeError(f"{name}: no ground-truth event shows in the frame at t={t:g} s")
        caption(image, f"{name}  t={t:.1f} s  green: ground truth")
    else:
        t = frame_time(sc, NEGATIVES[name])
        image, ann, world, model, renderer = render_at(sc, t)
        found = look_alikes(name, sc, world, ann, renderer.camera, model)
        if not found:
            raise RuntimeError(f"{name}: no look-alike shows in the frame at t={t:g} s")
        labelled = set()
        for box, label in found:  # one label per kind of look-alike (a queue's suitcases share one)
            draw_box(image, box, "" if label in labelled else f"not an event: {label}", ORANGE)
            labelled.add(label)
        caption(image, f"{name}  t={t:.1f} s  orange: hard negatives (no ground truth)")
    if (image.shape[1], image.shape[0]) != SIZE:
        image = cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    cv2.imwrite(str(path), image)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="scenarios (default: all of EVENTS and NEGATIVES)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "events"))
    args = ap.parse_args()
    names = args.names or [*EVENTS, *NEGATIVES]
    for name in names:
        if name not in EVENTS and name not in NEGATIVES:
            raise SystemExit(f"unknown scenario {name!r}; known: {', '.join([*EVENTS, *NEGATIVES])}")
    failed = []
    for name in names:
        try:
            print(make(name, Path(args.out)))
        except RuntimeError as exc:  # a run without its event: say so, make the others
            print(f"skipped: {exc}", file=sys.stderr)
            failed.append(name)
    if failed:
        raise SystemExit(f"no frame for {', '.join(failed)}")


if __name__ == "__main__":
    main()
