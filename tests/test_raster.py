"""Batch convex-polygon filling (sim.render.raster): parity with cv2.fillConvexPoly, painter's order, edge cases, backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.render.raster as raster
from sim.render.raster import RasterError, fill_convex_polys, fill_convex_polys_ids, raster_backend

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def batch(polys_px: list, shift: int = 8, max_vertices: int | None = None):
    """Polygons given in pixels -> (K, V, 2) int32 fixed point and (K,) vertex counts (zero-padded rows)."""
    v = max_vertices or max((len(p) for p in polys_px), default=1)
    out = np.zeros((len(polys_px), v, 2), np.int32)
    n = np.zeros(len(polys_px), np.int64)
    for k, p in enumerate(polys_px):
        p = np.asarray(p, np.float64).reshape(-1, 2)
        out[k, : len(p)] = np.rint(p * (1 << shift))
        n[k] = len(p)
    return out, n


def opencv_reference(img: np.ndarray, polys, n_vertices, values, shift: int) -> np.ndarray:
    """The same polygons by one cv2.fillConvexPoly call each (lineType 8)."""
    out = img.copy()
    for pts, n, value in zip(polys, n_vertices, values):
        if n > 0:
            value = tuple(int(c) for c in value) if np.ndim(value) else int(value)
            cv2.fillConvexPoly(out, pts[:n], value, 8, shift)
    return out


def agreement(ours: np.ndarray, ref: np.ndarray, background: np.ndarray) -> tuple[int, int]:
    """(pixels that differ, pixels that either result covered)."""
    if ours.ndim == 3:
        differ = (ours != ref).any(axis=2)
        covered = (ours != background).any(axis=2) | (ref != background).any(axis=2)
    else:
        differ = ours != ref
        covered = (ours != background) | (ref != background)
    return int(differ.sum()), int(covered.sum())


def random_convex(rng: np.random.Generator, width: int, height: int, shift: int) -> np.ndarray:
    """A random convex polygon [fixed point]: ellipse points at sorted angles, 3 to 12 vertices,
    from sub-pixel to larger than the image, some partly or wholly outside, either winding."""
    n = int(rng.integers(3, 13))
    radius = float(np.exp(rng.uniform(np.log(0.3), np.log(2.0 * max(width, height)))))
    centre = rng.uniform([-0.3 * width, -0.3 * height], [1.3 * width, 1.3 * height])
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n))
    if rng.random() < 0.5:
        angles = angles[::-1]
    sx, sy = rng.uniform(0.1, 1.0, 2)
    pts = np.c_[centre[0] + radius * sx * np.cos(angles + 0.3), centre[1] + radius * sy * np.sin(angles)]
    return np.rint(pts * (1 << shift)).astype(np.int32)


def random_batch(rng: np.random.Generator, k: int, width: int, height: int, shift: int):
    polys = np.zeros((k, 12, 2), np.int32)
    n = np.zeros(k, np.int64)
    for i in range(k):
        p = random_convex(rng, width, height, shift)
        polys[i, : len(p)] = p
        n[i] = len(p)
    return polys, n


# --- parity with OpenCV -----------------------------------------------------------------------------


@pytest.mark.parametrize("shift", [0, 3, 8, 16])
def test_agreement_with_opencv_on_random_polygons(shift):
    """>= 99 % of the covered pixels agree (the kernel repeats OpenCV's arithmetic: in fact all do)."""
    rng = np.random.default_rng(100 + shift)
    differ = covered = 0
    for _ in range(40):
        w, h = int(rng.integers(8, 97)), int(rng.integers(8, 73))
        polys, n = random_batch(rng, 12, w, h, shift)
        colours = rng.integers(0, 256, (12, 3)).astype(np.uint8)
        background = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        ours = background.copy()
        fill_convex_polys(ours, polys, n, colours, shift=shift)
        d, c = agreement(ours, opencv_reference(background, polys, n, colours, shift), background)
        differ += d
        covered += c
    assert covered > 20_000  # the polygons do cover the images
    assert 1 - differ / covered >= 0.99
    assert differ == 0, f"{differ} of {covered} pixels differ from cv2.fillConvexPoly: has its rasteriser changed?"


@settings(max_examples=150, deadline=None)
@given(points=st.lists(st.tuples(st.integers(-3000, 14000), st.integers(-3000, 11000)), min_size=1, max_size=16),
       shift=st.sampled_from([1, 4, 8]))
def test_hull_of_any_points_agrees_with_opencv(points, shift):
    """The convex hull of arbitrary points (1/2**shift px units, around a 40x30 image): >= 99 % agreement."""
    pts = np.asarray(points, np.int32) * (1 << shift) // 256
    hull = cv2.convexHull(pts.reshape(-1, 1, 2)).reshape(-1, 2) if len(pts) >= 3 else pts
    polys, n = hull[None].astype(np.int32), np.array([len(hull)])
    background = np.zeros((30, 40, 3), np.uint8)
    ours = background.copy()
    fill_convex_polys(ours, polys, n, np.array([[7, 77, 177]], np.uint8), shift=shift)
    d, c = agreement(ours, opencv_reference(background, polys, n, [(7, 77, 177)], shift), background)
    assert d <= 0.01 * c


# --- painter's order, clipping, degenerate input ----------------------------------------------------


def test_later_polygons_cover_earlier_ones():
    # squares with corners on pixel centres: 2..9 and 6..13 on both axes (8 x 8 = 64 px each, 4 x 4 overlap)
    a = [(2, 2), (9, 2), (9, 9), (2, 9)]
    b = [(6, 6), (13, 6), (13, 13), (6, 13)]
    polys, n = batch([a, b])
    img = np.zeros((16, 16, 3), np.uint8)
    fill_convex_polys(img, polys, n, np.array([RED, GREEN], np.uint8))
    is_red = (img == RED).all(axis=2)
    is_green = (img == GREEN).all(axis=2)
    assert is_green.sum() == 8 * 8
    assert is_red.sum() == 8 * 8 - 4 * 4
    assert is_green[6:10, 6:10].all()
    # the other order: the red square is whole, the green one loses the overlap
    img[:] = 0
    fill_convex_polys(img, polys[::-1], n[::-1], np.array([GREEN, RED], np.uint8))
    assert (img == RED).all(axis=2).sum() == 64
    assert (img == GREEN).all(axis=2).sum() == 64 - 16


def test_disabled_polygons_are_skipped():
    polys, n = batch([[(2, 2), (9, 2), (9, 9), (2, 9)], [(6, 6), (13, 6), (13, 13), (6, 13)]])
    img = np.zeros((16, 16, 3), np.uint8)
    fill_convex_polys(img, polys, n, np.array([RED, GREEN], np.uint8), enabled=np.array([True, False]))
    assert (img == RED).all(axis=2).sum() == 64
    assert not (img == GREEN).all(axis=2).any()


@pytest.mark.parametrize("square, expected_px", [
    ([(-5, -5), (4, -5), (4, 4), (-5, 4)], 5 * 5),  # top-left corner: columns and rows 0..4
    ([(15, 3), (40, 3), (40, 6), (15, 6)], 5 * 4),  # right border of a 20-wide image: columns 15..19, rows 3..6
    ([(3, 10), (6, 10), (6, 30), (3, 30)], 4 * 6),  # bottom border of a 16-high image: columns 3..6, rows 10..15
    ([(-50, -50), (70, -50), (70, 70), (-50, 70)], 20 * 16),  # covers the whole image
    ([(25, 2), (30, 2), (30, 8), (25, 8)], 0),  # wholly to the right
    ([(2, -9), (8, -9), (8, -1), (2, -1)], 0),  # wholly above
])
def test_clipping_at_the_borders(square, expected_px):
    polys, n = batch([square])
    img = np.zeros((16, 20, 3), np.uint8)
    fill_convex_polys(img, polys, n, np.array([BLUE], np.uint8))
    assert (img == BLUE).all(axis=2).sum() == expected_px
    assert np.array_equal(img, opencv_reference(np.zeros_like(img), polys, n, [BLUE], 8))


def test_polygon_reaching_far_above_the_image():
    # 2**22 px above the image at shift 8: OpenCV steps through every one of those rows
    polys = np.array([[[10 << 8, -(1 << 30)], [30 << 8, 12 << 8], [2 << 8, 12 << 8]]], np.int32)
    img = np.zeros((16, 40, 3), np.uint8)
    fill_convex_polys(img, polys, np.array([3]), np.array([RED], np.uint8))
    assert np.array_equal(img, opencv_reference(np.zeros_like(img), polys, np.array([3]), [RED], 8))
    assert (img == RED).all(axis=2)[12].sum() == 30 - 2 + 1  # the bottom edge, columns 2..30
    # 2**31 rows above (shift 0): the rows above the image are skipped, not walked one by one
    # (cv2.fillConvexPoly takes about 6 s over this polygon and gives the pixels below)
    polys = np.array([[[10, -(2**31) + 1], [30, 12], [2, 12]]], np.int32)
    img[:] = 0
    t0 = time.perf_counter()
    fill_convex_polys(img, polys, np.array([3]), np.array([RED], np.uint8), shift=0)
    assert time.perf_counter() - t0 < 1.0
    expected = np.zeros((16, 40), bool)
    # OpenCV's edges step by whole 1/65536 px per row: over 2**31 rows, an x step under 1/2 of
    # that rounds to 0, so both edges stay at the top vertex's column 10 ...
    expected[0:12, 10] = True
    # ... while its outline, clipped to the image in double precision, takes columns 3 then 2 and 29 then 30
    expected[0:6, 3] = expected[6:12, 2] = expected[0:7, 29] = expected[7:12, 30] = True
    expected[12, 2:31] = True
    assert np.array_equal((img == RED).all(axis=2), expected)


def test_empty_batch_and_empty_polygons_draw_nothing():
    img = np.full((8, 8, 3), 9, np.uint8)
    fill_convex_polys(img, np.zeros((0, 4, 2), np.int32), np.zeros(0, np.int64), np.zeros((0, 3), np.uint8))
    polys, n = batch([[(1, 1), (6, 1), (6, 6)]])
    fill_convex_polys(img, polys, np.array([0]), np.array([RED], np.uint8))
    assert (img == 9).all()


@pytest.mark.parametrize("name, pts, expected_px", [
    ("one point", [(3.4, 5.6)], 1),  # rounds to pixel (3, 6)
    ("a point repeated", [(3.4, 5.6)] * 5, 1),
    ("a segment", [(1, 2), (9, 2)], 9),  # columns 1..9 of row 2
    ("three collinear points", [(1, 1), (4, 4), (7, 7)], 7),  # the diagonal, (1, 1) .. (7, 7)
    ("a triangle with a repeated vertex", [(2, 2), (2, 2), (8, 2), (2, 8)], None),
])
def test_degenerate_polygons_match_opencv(name, pts, expected_px):
    polys, n = batch([pts], max_vertices=6)  # padded: the rows past n are ignored
    img = np.zeros((12, 12, 3), np.uint8)
    fill_convex_polys(img, polys, n, np.array([RED], np.uint8))
    assert np.array_equal(img, opencv_reference(np.zeros_like(img), polys, n, [RED], 8)), name
    if expected_px is not None:
        assert (img == RED).all(axis=2).sum() == expected_px, name
    if name == "one point":
        assert (img[6, 3] == RED).all()


def test_non_contiguous_image_view():
    canvas = np.zeros((30, 40, 3), np.uint8)
    view = canvas[5:25, 10:30]  # 20 x 20, rows strided
    polys, n = batch([[(-3, -3), (5, -3), (5, 5), (-3, 5)]])
    fill_convex_polys(view, polys, n, np.array([RED], np.uint8))
    assert (canvas == RED).all(axis=2).sum() == 6 * 6  # view columns and rows 0..5
    assert (canvas[5:11, 10:16] == RED).all()


# --- the id buffer ----------------------------------------------------------------------------------------


def test_id_buffer_holds_the_last_owner():
    a = [(2, 2), (9, 2), (9, 9), (2, 9)]  # 8 x 8 = 64 px, owner 1
    b = [(6, 6), (13, 6), (13, 13), (6, 13)]  # 64 px over a's corner 6..9 x 6..9 (16 px), owner 2
    c = [(0, 0), (3, 0), (3, 3)]  # 0 <= y <= x <= 3: 1 + 2 + 3 + 4 = 10 px, owner 1 again
    polys, n = batch([a, b, c])
    ids = np.zeros((16, 16), np.int32)
    fill_convex_polys_ids(ids, polys, n, np.array([1, 2, 1], np.int32))
    counts = np.bincount(ids.ravel(), minlength=3)
    assert counts[2] == 64
    assert counts[1] == (64 - 16) + 10 - 3  # (2, 2), (3, 2) and (3, 3) of the triangle were a's already
    assert counts[0] == 16 * 16 - counts[1] - counts[2]
    assert ids[7, 7] == 2 and ids[2, 2] == 1 and ids[0, 3] == 1 and ids[3, 0] == 0 and ids[15, 15] == 0


def test_id_buffer_matches_opencv_on_int32_and_the_colour_pass():
    rng = np.random.default_rng(7)
    polys, n = random_batch(rng, 60, 64, 48, 8)
    owner = rng.integers(1, 2**31 - 1, 60).astype(np.int32)
    ids = np.full((48, 64), -1, np.int32)
    fill_convex_polys_ids(ids, polys, n, owner)
    assert np.array_equal(ids, opencv_reference(np.full((48, 64), -1, np.int32), polys, n, owner, 8))
    # the same pixels as the colour pass: owner k <-> colour k
    colours = np.stack([np.arange(60) + 1, np.zeros(60), np.zeros(60)], axis=1).astype(np.uint8)
    img = np.zeros((48, 64, 3), np.uint8)
    fill_convex_polys(img, polys, n, colours)
    index = np.full((48, 64), -1, np.int64)
    index[img[..., 0] > 0] = img[..., 0][img[..., 0] > 0].astype(np.int64) - 1
    assert np.array_equal(np.where(index >= 0, owner[np.maximum(index, 0)], -1), ids)


# --- inputs -------------------------------------------------------------------------------------------


def test_other_integer_types_are_converted():
    polys, n = batch([[(1, 1), (6, 1), (6, 6)]])
    ref = np.zeros((8, 8, 3), np.uint8)
    fill_convex_polys(ref, polys, n, np.array([RED], np.uint8))
    img = np.zeros((8, 8, 3), np.uint8)
    fill_convex_polys(img, polys.astype(np.int64), n.astype(np.int32), np.array([RED], np.int64))
    assert np.array_equal(img, ref)


@pytest.mark.parametrize("kwargs, match", [
    ({"img": np.zeros((8, 8), np.uint8)}, r"img must be an \(H, W, 3\) uint8 array, got uint8 \(8, 8\)"),
    ({"img": np.zeros((8, 8, 3), np.float32)}, r"img must be an \(H, W, 3\) uint8 array, got float32"),
    ({"img": np.zeros((1, 2**20 + 1, 3), np.uint8)}, r"img sides must be at most 1048576 px, got \(1, 1048577\)"),
    ({"polys": np.zeros((1, 3), np.int32)}, r"polys must have shape \(K, V, 2\), got \(1, 3\)"),
    ({"polys": np.zeros((1, 3, 2), np.float64)}, r"polys must be an integer array \(int32\), got dtype float64"),
    ({"polys": np.full((1, 3, 2), 2**40)}, r"polys must lie in \[-2147483648, 2147483647\]"),
    ({"n_vertices": np.array([4])}, r"n_vertices must lie in \[0, V=3\], got values in \[4, 4\]"),
    ({"n_vertices": np.array([3, 3])}, r"n_vertices must have shape \(1,\), got \(2,\)"),
    ({"colours": np.array([[0, 0, 256]])}, r"colours must lie in \[0, 255\] \(uint8\), got values in \[0, 256\]"),
    ({"colours": np.array([0, 0, 255])}, r"colours must have shape \(1, 3\), got \(3,\)"),
    ({"shift": 17}, r"shift must be an int in \[0, 16\], got 17"),
    ({"shift": 2.0}, r"shift must be an int in \[0, 16\], got 2.0"),
    ({"enabled": np.array([1])}, r"enabled must be a bool array of shape \(1,\), got int64 \(1,\)"),
])
def test_invalid_arguments_name_the_field(kwargs, match):
    args = {"img": np.zeros((8, 8, 3), np.uint8), "polys": np.zeros((1, 3, 2), np.int32),
            "n_vertices": np.array([3]), "colours": np.array([[0, 0, 255]], np.uint8), "shift": 8, "enabled": None}
    args.update(kwargs)
    with pytest.raises(RasterError, match=match):
        fill_convex_polys(**args)


def test_read_only_image_is_refused():
    img = np.zeros((8, 8, 3), np.uint8)
    img.flags.writeable = False
    with pytest.raises(RasterError, match="img must be writable"):
        fill_convex_polys(img, np.zeros((1, 3, 2), np.int32), np.array([3]), np.zeros((1, 3), np.uint8))
    with pytest.raises(RasterError, match=r"ids must be an \(H, W\) int32 array, got int64 \(4, 4\)"):
        fill_convex_polys_ids(np.zeros((4, 4), np.int64), np.zeros((1, 3, 2), np.int32), np.array([3]), np.array([1]))


# --- backends: the OpenCV fallback, lazy compilation, the cache ---------------------------------------------


def test_opencv_fallback_gives_the_same_pixels(monkeypatch):
    rng = np.random.default_rng(11)
    polys, n = random_batch(rng, 40, 64, 48, 8)
    colours = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    owner = np.arange(1, 41, dtype=np.int32)
    compiled, compiled_ids = np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.int32)
    fill_convex_polys(compiled, polys, n, colours)
    fill_convex_polys_ids(compiled_ids, polys, n, owner)
    assert raster_backend() == "numba"

    def no_kernel():
        raise AssertionError("the numba kernel must not be used")

    monkeypatch.setattr(raster, "_NUMBA_ENABLED", False)
    monkeypatch.setattr(raster, "compiled_kernel", no_kernel)
    assert raster_backend() == "opencv"
    fallback, fallback_ids = np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.int32)
    fill_convex_polys(fallback, polys, n, colours)
    fill_convex_polys_ids(fallback_ids, polys, n, owner)
    assert np.array_equal(fallback, compiled)
    assert np.array_equal(fallback_ids, compiled_ids)
    assert compiled.any() and compiled_ids.any()


def _run_python(code: str, env: dict | None = None, cwd: Path | None = None) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, cwd=cwd)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_does_not_load_numba_or_compile():
    res = _run_python("import json, sys, sim.render.raster as r; "
                      "print(json.dumps({'numba': 'numba' in sys.modules, 'kernel': r._kernel is not None, "
                      "'backend': r.raster_backend()}))")
    assert res == {"numba": False, "kernel": False, "backend": "numba"}


_CACHE_PROBE = """
import json, sys, time
import numpy as np, cv2
sys.path.insert(0, '.')
import raster
polys = np.array([[[10, 20], [300, 40], [120, 500]]], np.int32) << 4
img = np.zeros((48, 64, 3), np.uint8)
t0 = time.perf_counter()
raster.fill_convex_polys(img, polys, np.array([3]), np.array([[0, 0, 255]], np.uint8), shift=8)
first_call_s = time.perf_counter() - t0
ref = np.zeros_like(img)
cv2.fillConvexPoly(ref, polys[0], (0, 0, 255), 8, 8)
stats = raster._kernel.stats
print(json.dumps({"same": bool(np.array_equal(img, ref)), "drawn": int(img.any(axis=2).sum()),
                  "cache_path": stats.cache_path,
                  "hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "first_call_s": first_call_s}))
"""


def testcompiled_kernel_is_cached_and_works_without_a_writable_cache(tmp_path):
    """A copy of the module compiles on its first call and writes the cache; the next process loads it.
    Where no cache directory is writable (a read-only install) it still works, compiled in the process."""
    writable = tmp_path / "writable"
    writable.mkdir()
    shutil.copy(raster.__file__, writable / "raster.py")
    env = {"NUMBA_CACHE_DIR": ""}
    first = _run_python(_CACHE_PROBE, env, writable)
    second = _run_python(_CACHE_PROBE, env, writable)
    assert first["same"] and first["drawn"] > 0 and first["misses"] >= 1
    assert first["cache_path"] == str(writable / "__pycache__")
    assert list((writable / "__pycache__").glob("raster._fill_kernel-*.nbi"))
    assert second["same"] and second["hits"] >= 1 and second["misses"] == 0

    read_only = tmp_path / "read_only"
    read_only.mkdir()
    shutil.copy(raster.__file__, read_only / "raster.py")
    (read_only / "__pycache__").write_text("a file where numba wants its cache directory")
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    env = {"NUMBA_CACHE_DIR": str(blocker / "numba"), "XDG_CACHE_HOME": str(blocker / "cache"),
           "HOME": str(blocker), "PYTHONDONTWRITEBYTECODE": "1"}
    third = _run_python(_CACHE_PROBE, env, read_only)
    assert third["same"] and third["drawn"] == first["drawn"]
    assert third["cache_path"] is None and third["hits"] == 0
