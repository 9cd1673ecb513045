"""COCO and MOTChallenge export of the per-frame person ground truth, read back by the tools themselves."""

from __future__ import annotations

import configparser
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.annotate import FrameAnnotations, read_annotations_parquet, write_annotations_parquet
from sim.export import (COCO_OFFSET_PX, MOT_OFFSET_PX, ExportError, coco_dict, mot_rows, mot_text, write_coco,
                        write_mot, write_mot_sequence)


def ann(frame, ids, boxes, visible, *, camera="cam", groups=None, t=None) -> FrameAnnotations:
    n = len(ids)
    boxes = np.asarray(boxes, float).reshape(n, 4)
    heads = boxes[:, :2] + boxes[:, 2:] * [0.5, 0.1]
    return FrameAnnotations(frame=frame, t=frame / 10 if t is None else t, camera=camera, ids=np.asarray(ids),
                            boxes=boxes, heads=heads, visible=np.asarray(visible, float),
                            appearance_group=None if groups is None else np.asarray(groups))


@pytest.fixture
def frames():
    return [
        ann(0, [0, 7], [[10, 20, 30, 60], [100, 50, 12.5, 40]], [1.0, 0.25], groups=[2, 0]),
        ann(1, [], [], []),  # nobody: an image without annotations
        ann(2, [7], [[101, 51, 12.5, 40]], [float("nan")]),  # visible fraction not computed
    ]


def load_mot(path):
    """py-motmetrics' MOTChallenge reader (its pandas calls raise deprecation warnings on pandas 3; not ours)."""
    import motmetrics as mm

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*Operation with tuple is deprecated.*")
        return mm.io.loadtxt(str(path), fmt="mot15-2D")


# --- COCO ------------------------------------------------------------------------------------------


def test_coco_loads_in_pycocotools_with_the_boxes_written(tmp_path, frames):
    from pycocotools.coco import COCO

    path = tmp_path / "gt.json"
    assert write_coco(path, frames, (640, 360)) == (3, 3)
    coco = COCO(str(path))
    assert coco.getImgIds() == [1, 2, 3]
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["person", "train"]
    assert coco.getCatIds(catNms=["person"]) == [1] and coco.getCatIds(catNms=["train"]) == [7]  # COCO's own ids
    assert coco.getAnnIds(catIds=[7]) == []  # these frames show no train
    first = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    # COCO's origin is the image's corner: half a pixel left of and above the first pixel's centre
    assert [a["bbox"] for a in first] == [[10.5, 20.5, 30.0, 60.0], [100.5, 50.5, 12.5, 40.0]]
    assert [a["area"] for a in first] == [30.0 * 60.0, 12.5 * 40.0]
    assert [a["iscrowd"] for a in first] == [0, 0]
    assert [a["track_id"] for a in first] == [0, 7]
    assert [a["visible_fraction"] for a in first] == [1.0, 0.25]
    assert [a["appearance_group"] for a in first] == [2, 0]
    assert first[0]["head_point"] == [10 + 15 + COCO_OFFSET_PX, 20 + 6 + COCO_OFFSET_PX]
    assert coco.getAnnIds(imgIds=[2]) == []
    third = coco.loadAnns(coco.getAnnIds(imgIds=[3]))
    assert third[0]["visible_fraction"] is None and third[0]["appearance_group"] == -1
    img = coco.loadImgs([3])[0]
    assert (img["file_name"], img["width"], img["height"], img["frame_index"], img["camera"]) == (
        "cam/000002.jpg", 640, 360, 2, "cam")
    assert len(coco.getAnnIds(catIds=[1])) == 3
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_coco_options_and_errors(tmp_path, frames):
    d = coco_dict(frames, {"cam": (320, 180)}, min_visible=0.5, file_pattern="{camera}_{frame}.png")
    assert [a["track_id"] for a in d["annotations"]] == [0, 7]  # 0.25 < 0.5 left out; nan kept
    assert d["images"][0]["file_name"] == "cam_0.png" and d["images"][0]["width"] == 320
    with pytest.raises(ExportError, match=r"image_size has no entry for camera 'cam'; got cameras \['other'\]"):
        coco_dict(frames, {"other": (1, 1)})
    with pytest.raises(ExportError, match=r"frame 0 of camera 'cam' appears twice"):
        coco_dict(frames + frames[:1], (640, 360))
    with pytest.raises(ExportError, match="folder .* does not exist"):
        write_coco(tmp_path / "no" / "gt.json", frames, (640, 360))


def test_coco_images_of_several_cameras_get_distinct_ids():
    two = [ann(0, [1], [[0, 0, 5, 5]], [1.0], camera="b"), ann(0, [1], [[0, 0, 5, 5]], [1.0], camera="a"),
           ann(1, [1], [[1, 0, 5, 5]], [1.0], camera="a")]
    d = coco_dict(two, {"a": (64, 36), "b": (32, 18)})
    assert [(im["id"], im["camera"], im["frame_index"], im["width"]) for im in d["images"]] == [
        (1, "a", 0, 64), (2, "a", 1, 64), (3, "b", 0, 32)]
    assert [a["image_id"] for a in d["annotations"]] == [1, 2, 3]
    assert [a["id"] for a in d["annotations"]] == [1, 2, 3]
    json.dumps(d)  # plain JSON types only


# --- MOTChallenge ----------------------------------------------------------------------------------


def test_mot_file_loads_in_motmetrics_with_the_rows_written(tmp_path, frames):
    path = tmp_path / "gt.txt"
    assert write_mot(path, frames) == 3
    df = load_mot(path)
    assert len(df) == 3
    # frames 1-based, ids = person id + 1
    assert list(df.index) == [(1, 1), (1, 8), (3, 8)]
    # motmetrics takes MOT's 1-based pixels back to 0-based: the annotation boxes again
    assert df[["X", "Y", "Width", "Height"]].to_numpy().tolist() == [[10, 20, 30, 60], [100, 50, 12.5, 40],
                                                                      [101, 51, 12.5, 40]]
    assert df["Confidence"].tolist() == [1, 1, 1] and df["ClassId"].tolist() == [1, 1, 1]
    assert df["Visibility"].tolist() == [1.0, 0.25, -1.0]
    lines = path.read_text().splitlines()
    assert lines[0] == f"1,1,{10 + MOT_OFFSET_PX:.2f},{20 + MOT_OFFSET_PX:.2f},30.00,60.00,1,1,1.0000"
    assert list(tmp_path.iterdir()) == [path]


def test_mot_one_camera_per_file(tmp_path):
    two = [ann(0, [1], [[0, 0, 5, 5]], [1.0], camera="a"), ann(0, [2, 3], [[1, 1, 5, 5], [9, 9, 2, 2]], [1.0, 0.5],
                                                            camera="b")]
    with pytest.raises(ExportError, match=r"the annotations hold cameras \['a', 'b'\]; a MOT file holds one"):
        mot_rows(two)
    assert write_mot(tmp_path / "b.txt", two, camera="b") == 2
    assert len(load_mot(tmp_path / "b.txt")) == 2
    with pytest.raises(ExportError, match=r"no frames of camera 'c'"):
        mot_rows(two, camera="c")
    with pytest.raises(ExportError, match=r"MOT ids must be >= 1; got 0"):
        mot_rows(two, camera="a", id_offset=-1)


def test_mot_sequence_folder(tmp_path, frames):
    seq = tmp_path / "cam-01"
    assert write_mot_sequence(seq, frames, camera="cam", fps=10, image_size=(640, 360), n_frames=30) == 3
    ini = configparser.ConfigParser()
    ini.read(seq / "seqinfo.ini")
    s = ini["Sequence"]
    assert (s["name"], s["imDir"], s["frameRate"], s["seqLength"], s["imWidth"], s["imHeight"]) == (
        "cam", "img1", "10", "30", "640", "360")
    assert len(load_mot(seq / "gt" / "gt.txt")) == 3


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10**6), st.floats(-5, 2000), st.floats(-5, 2000),
                          st.floats(0, 500), st.floats(0, 500), st.floats(0, 1)), min_size=1, max_size=30,
                unique_by=lambda r: (r[0], r[1])))
def test_mot_text_parses_back_to_the_rows(rows):
    frames = {}
    for f, i, x, y, w, h, v in rows:
        frames.setdefault(f, []).append((i, x, y, w, h, v))
    fas = [ann(f, [r[0] for r in rs], [r[1:5] for r in rs], [r[5] for r in rs]) for f, rs in frames.items()]
    written = mot_rows(fas)
    assert len(written) == len(rows)
    back = np.loadtxt(mot_text(written).splitlines(), delimiter=",", ndmin=2)
    assert np.array_equal(back[:, [0, 1, 6, 7]], written[:, [0, 1, 6, 7]])
    assert np.allclose(back[:, 2:6], written[:, 2:6], atol=0.005 + 1e-9)
    assert np.allclose(back[:, 8], written[:, 8], atol=0.00005 + 1e-9)
    # sorted by frame, then id
    assert np.all(np.diff(back[:, 0]) >= 0)
    order = np.lexsort((back[:, 1], back[:, 0]))
    assert np.array_equal(order, np.arange(len(back)))


# --- from rendered frames -------------------------------------------------------------------------


def test_rendered_annotations_export_with_equal_counts(tmp_path):
    from pycocotools.coco import COCO

    from sim.render import Renderer, sample_crowd
    from sim.scenario import load_scenario

    sc = load_scenario("platform_intrusion", overrides={"cameras.0.resolution": [320, 180]})
    r = Renderer(sc, "platform", seed=1, supersample=1)
    crowd = sample_crowd(sc, 12, seed=5, camera=r.camera)
    frames = [r.render(crowd, k / 10)[1] for k in range(4)]
    total = sum(len(fa) for fa in frames)
    assert total >= 12
    # through the Parquet file, as a finished run would
    write_annotations_parquet(tmp_path / "ann.parquet", frames)
    back = read_annotations_parquet(tmp_path / "ann.parquet")
    assert write_coco(tmp_path / "gt.json", back, (320, 180)) == (4, total)
    coco = COCO(str(tmp_path / "gt.json"))
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == total
    assert {a["appearance_group"] for a in anns} <= set(range(len(sc.crowd.appearance.groups)))
    for a in anns:
        x, y, w, h = a["bbox"]
        assert a["area"] == pytest.approx(w * h, abs=0.001) and 0 <= a["visible_fraction"] <= 1
    assert write_mot(tmp_path / "gt.txt", back) == total
    df = load_mot(tmp_path / "gt.txt")
    assert len(df) == total and sorted(set(df.index.get_level_values(0))) == [1, 2, 3, 4]
    first = frames[0]
    row = df.loc[(1, int(first.ids[0]) + 1)]
    assert [row["X"], row["Y"], row["Width"], row["Height"]] == pytest.approx(first.boxes[0].tolist(), abs=0.006)
    assert math.isclose(row["Visibility"], float(first.visible[0]), abs_tol=1e-4)
