"""Per-frame person ground truth as COCO (for training detectors) and MOTChallenge (for trackers).

Both take the :class:`sim.annotate.FrameAnnotations` of rendered frames (what
:meth:`sim.render.Renderer.render` returns, or :func:`sim.annotate.read_annotations_parquet`
reads back) and write files atomically (a temporary file in the same folder, then a
rename), so that a crash never leaves a half-written file under the final name.

COCO (:func:`coco_dict`, :func:`write_coco`): one image per (camera, frame), ids from 1 in
(camera, frame) order; one ``person`` annotation per annotated person with
``bbox = [x, y, w, h]`` [px], ``area = w * h``, ``iscrowd = 0`` and the extra fields
``track_id`` (the pedestrian id), ``visible_fraction`` (null when not computed),
``head_point`` ([u, v] px) and ``appearance_group`` (-1 when unknown). Images carry
``camera``, ``frame_index`` and ``t`` [s] besides the standard fields. Frames without
people are listed as images without annotations (negatives). Trains are annotations of
their own category ``train`` (COCO's id 7, supercategory ``vehicle``) with ``bbox``,
``area``, ``iscrowd``, ``track_id`` (the train's number) and ``visible_fraction``; the
MOTChallenge files hold pedestrians only.

MOTChallenge (:func:`write_mot`, :func:`write_mot_sequence`): the ``gt.txt`` format of
MOT16/17, one line per person per frame::

    <frame>, <id>, <bb_left>, <bb_top>, <bb_width>, <bb_height>, <conf>, <class>, <visibility>

with ``frame`` 1-based (frame index + 1), ``id = person_id + id_offset`` (MOTChallenge ids
start at 1, pedestrian ids may start at 0, so the offset defaults to 1), ``conf = 1``,
``class = 1`` (pedestrian) and ``visibility`` the visible fraction in [0, 1] (-1 when not
computed). One file holds one camera.

Boxes are those of the annotations: clipped to the image, and, with lens distortion, of
the distorted image. Each format keeps its own pixel origin: the annotations put (0, 0) at
the centre of the top-left pixel; COCO puts it at the image's top-left corner
(``x_coco = x + 0.5``, :data:`COCO_OFFSET_PX`); MOTChallenge counts pixels from 1 (Matlab's
convention, ``bb_left = x + 1``, :data:`MOT_OFFSET_PX`; py-motmetrics subtracts the 1 again
when it loads the file).
"""

from __future__ import annotations

import json
import math
import os
from typing import Iterable, Mapping

import numpy as np

from detectors import files
from sim.annotate import FrameAnnotations

#: COCO category of a person (COCO's own id)
PERSON_CATEGORY = {"id": 1, "name": "person", "supercategory": "person"}
#: COCO category of a train (COCO's own id, so that detectors trained on COCO read it as one)
TRAIN_CATEGORY = {"id": 7, "name": "train", "supercategory": "vehicle"}
#: MOTChallenge class of a pedestrian
MOT_PEDESTRIAN = 1
#: [px] added to annotation x, y for COCO (origin at the image's corner, not a pixel's centre)
COCO_OFFSET_PX = 0.5
#: [px] added to annotation x, y for MOTChallenge (1-based pixels)
MOT_OFFSET_PX = 1.0


class ExportError(ValueError):
    """Annotations that cannot be exported as asked."""


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`detectors.files.atomic_write_text`, raising :class:`ExportError` for a missing folder."""
    try:
        files.atomic_write_text(path, text)
    except FileNotFoundError as exc:
        raise ExportError(str(exc)) from None


def _ordered(frames: Iterable[FrameAnnotations]) -> list[FrameAnnotations]:
    """Frames sorted by (camera, frame); a repeated (camera, frame) is an error."""
    out = sorted(frames, key=lambda fa: (fa.camera, fa.frame))
    for a, b in zip(out, out[1:]):
        if (a.camera, a.frame) == (b.camera, b.frame):
            raise ExportError(f"frame {a.frame} of camera {a.camera!r} appears twice in the annotations")
    return out


def _size_of(image_size, camera: str) -> tuple[int, int]:
    size = image_size.get(camera) if isinstance(image_size, Mapping) else image_size
    if size is None:
        raise ExportError(f"image_size has no entry for camera {camera!r}; got cameras {sorted(image_size)}")
    w, h = (int(v) for v in size)
    if w <= 0 or h <= 0:
        raise ExportError(f"image_size of camera {camera!r} must be (width, height) > 0 px; got {tuple(size)}")
    return w, h


def _num(x: float, digits: int = 3) -> float:
    return round(float(x), digits)


# --- COCO ---------------------------------------------------------------------------------------


def coco_dict(frames: Iterable[FrameAnnotations], image_size: tuple[int, int] | Mapping[str, tuple[int, int]], *,
              file_pattern: str = "{camera}/{frame:06d}.jpg", min_visible: float = 0.0,
              description: str = "stationwatch synthetic ground truth") -> dict:
    """The annotations as a COCO detection dataset (a dict ready for ``json.dump``).

    ``image_size`` is (width, height) [px] of every camera, or a mapping camera -> size.
    Box and head coordinates are shifted by :data:`COCO_OFFSET_PX` to COCO's origin.
    ``file_pattern`` names each image's file (``camera``, ``frame`` and ``t`` are
    available). People and trains whose visible fraction is below ``min_visible`` are left
    out (a visible fraction that was not computed counts as fully visible).
    """
    images, annotations = [], []
    ann_id = 0
    for image_id, fa in enumerate(_ordered(frames), start=1):
        w, h = _size_of(image_size, fa.camera)
        images.append({"id": image_id, "file_name": file_pattern.format(camera=fa.camera, frame=fa.frame, t=fa.t),
                       "width": w, "height": h, "camera": fa.camera, "frame_index": int(fa.frame), "t": float(fa.t)})
        vis = fa.visible
        keep = ~(vis < min_visible)  # nan compares False: kept
        for i in np.nonzero(keep)[0]:
            x, y, bw, bh = (_num(v) for v in fa.boxes[i])
            x, y = _num(x + COCO_OFFSET_PX), _num(y + COCO_OFFSET_PX)
            ann_id += 1
            v = float(vis[i])
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": PERSON_CATEGORY["id"],
                "bbox": [x, y, bw, bh], "area": _num(bw * bh), "iscrowd": 0,
                "track_id": int(fa.ids[i]), "visible_fraction": None if math.isnan(v) else _num(v, 4),
                "head_point": [_num(fa.heads[i, 0] + COCO_OFFSET_PX), _num(fa.heads[i, 1] + COCO_OFFSET_PX)],
                "appearance_group": int(fa.appearance_group[i]),
            })
        tr = fa.trains
        for i in np.nonzero(~(tr.visible < min_visible))[0]:
            x, y, bw, bh = (_num(v) for v in tr.boxes[i])
            ann_id += 1
            annotations.append({
                "id": ann_id, "image_id": image_id, "category_id": TRAIN_CATEGORY["id"],
                "bbox": [_num(x + COCO_OFFSET_PX), _num(y + COCO_OFFSET_PX), bw, bh], "area": _num(bw * bh),
                "iscrowd": 0, "track_id": int(tr.ids[i]), "visible_fraction": _num(float(tr.visible[i]), 4),
            })
    return {
        "info": {"description": description, "version": "1.0", "contributor": "stationwatch"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [dict(PERSON_CATEGORY), dict(TRAIN_CATEGORY)],
    }


def write_coco(path: str | os.PathLike, frames: Iterable[FrameAnnotations],
               image_size: tuple[int, int] | Mapping[str, tuple[int, int]], **kwargs) -> tuple[int, int]:
    """Write :func:`coco_dict` as JSON to ``path`` atomically; return (images, annotations) written."""
    d = coco_dict(frames, image_size, **kwargs)
    atomic_write_text(path, json.dumps(d, separators=(",", ":")))
    return len(d["images"]), len(d["annotations"])


# --- MOTChallenge ---------------------------------------------------------------------------------


def mot_rows(frames: Iterable[FrameAnnotations], *, camera: str | None = None, id_offset: int = 1,
             min_visible: float = 0.0) -> np.ndarray:
    """(N, 9) float64 rows of ``gt.txt`` (frame, id, bb_left, bb_top, w, h, conf, class, visibility), by frame, id.

    ``camera`` selects one camera's frames; it may be left out when the frames come from one
    camera only. People below ``min_visible`` are left out (unknown visibility is kept).
    """
    frames = list(frames)
    cams = sorted({fa.camera for fa in frames})
    if camera is None:
        if len(cams) > 1:
            raise ExportError(f"the annotations hold cameras {cams}; a MOT file holds one: pass camera=")
    else:
        frames = [fa for fa in frames if fa.camera == camera]
        if not frames and cams:
            raise ExportError(f"no frames of camera {camera!r}; the annotations hold cameras {cams}")
    parts = []
    for fa in _ordered(frames):
        vis = fa.visible
        keep = ~(vis < min_visible)
        n = int(keep.sum())
        if n == 0:
            continue
        rows = np.empty((n, 9))
        rows[:, 0] = fa.frame + 1
        rows[:, 1] = fa.ids[keep] + id_offset
        rows[:, 2:6] = fa.boxes[keep]
        rows[:, 2:4] += MOT_OFFSET_PX
        rows[:, 6] = 1.0
        rows[:, 7] = MOT_PEDESTRIAN
        v = vis[keep].astype(np.float64)
        rows[:, 8] = np.where(np.isnan(v), -1.0, v)
        parts.append(rows[np.argsort(rows[:, 1], kind="stable")])
    rows = np.concatenate(parts) if parts else np.zeros((0, 9))
    if len(rows) and np.any(rows[:, 1] < 1):
        raise ExportError(f"MOT ids must be >= 1; got {int(rows[:, 1].min())} (person id + id_offset={id_offset})")
    return rows


def mot_text(rows: np.ndarray) -> str:
    """``gt.txt`` lines of :func:`mot_rows` output (boxes to 1/100 px, visibility to 1e-4)."""
    return "".join(f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},{int(r[6])},{int(r[7])},"
                   f"{r[8]:.4f}\n" for r in rows)


def write_mot(path: str | os.PathLike, frames: Iterable[FrameAnnotations], **kwargs) -> int:
    """Write one camera's annotations as a MOTChallenge ``gt.txt`` atomically; return the rows written."""
    rows = mot_rows(frames, **kwargs)
    atomic_write_text(path, mot_text(rows))
    return len(rows)


def write_mot_sequence(folder: str | os.PathLike, frames: Iterable[FrameAnnotations], *, camera: str,
                       fps: float, image_size: tuple[int, int], n_frames: int | None = None,
                       name: str | None = None, **kwargs) -> int:
    """A MOTChallenge sequence folder: ``seqinfo.ini`` and ``gt/gt.txt`` (images go in ``img1/``).

    ``n_frames`` (the ``seqLength``) defaults to the last annotated frame + 1. Returns the
    rows written to ``gt.txt``.
    """
    frames = [fa for fa in frames if fa.camera == camera]
    folder = os.fspath(folder)
    os.makedirs(os.path.join(folder, "gt"), exist_ok=True)
    rows = write_mot(os.path.join(folder, "gt", "gt.txt"), frames, camera=camera, **kwargs)
    w, h = (int(v) for v in image_size)
    length = int(n_frames if n_frames is not None else (max((fa.frame for fa in frames), default=-1) + 1))
    info = (f"[Sequence]\nname={name or camera}\nimDir=img1\nframeRate={float(fps):g}\nseqLength={length}\n"
            f"imWidth={w}\nimHeight={h}\nimExt=.jpg\n")
    atomic_write_text(os.path.join(folder, "seqinfo.ini"), info)
    return rows
