"""The vectorised tests against OpenCV's one-point-at-a-time routines and plain loops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.processing.geometry import iou, iou_matrix
from edge.zones.geometry import RASTER, LineSet, PolygonSet, crossed


def test_contains_agrees_with_opencv_point_polygon_test() -> None:
    rng = np.random.default_rng(1)
    polygons = [rng.uniform(0, 1, (k, 2)).astype(np.float32) for k in (3, 5, 8, 12)]
    points = rng.uniform(0, 1, (400, 2)).astype(np.float32)
    inside = PolygonSet(polygons).contains(points)
    for p, polygon in enumerate(polygons):
        for n, point in enumerate(points):
            distance = cv2.pointPolygonTest(polygon, (float(point[0]), float(point[1])), True)
            if abs(distance) > 1e-5:  # off the edge: both rules agree there
                # OpenCV fills self-intersecting polygons by even-odd as well.
                assert inside[n, p] == (distance > 0), (p, n, distance)


def test_overlaps_is_exact_up_to_one_raster_cell() -> None:
    square = PolygonSet([[[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]]])
    cell = 1 / RASTER
    boxes = np.asarray(
        [
            [0.1, 0.1, 0.45, 0.45],  # covers the corner
            [0.1, 0.1, 0.4 - 2 * cell, 0.9],  # left of it by two cells
            [0.45, 0.45, 0.5, 0.5],  # inside
            [0.0, 0.0, 1.0, 1.0],  # around it
        ],
        np.float32,
    )
    assert square.overlaps(boxes)[:, 0].tolist() == [True, False, True, True]


def test_crossed_needs_the_segment_and_a_side_change() -> None:
    line = np.asarray([[[0.5, 0.2], [0.5, 0.8]]], np.float32)  # arrow down: right side is x < 0.5
    before = np.asarray([[0.4, 0.5], [0.6, 0.5], [0.4, 0.9], [0.4, 0.5]], np.float32)
    after = np.asarray([[0.6, 0.5], [0.4, 0.5], [0.6, 0.9], [0.45, 0.4]], np.float32)
    assert crossed(before, after, line)[:, 0].tolist() == [-1, 1, 0, 0]


def test_iou_matrix_equals_iou_row_by_row() -> None:
    rng = np.random.default_rng(2)
    corners = rng.uniform(0, 0.7, (30, 2))
    boxes = np.concatenate([corners, corners + rng.uniform(0, 0.3, (30, 2))], 1).astype(np.float32)
    matrix = iou_matrix(boxes[:10], boxes)
    for r in range(10):
        np.testing.assert_allclose(matrix[r], iou(boxes[r], boxes), atol=1e-6)


def reference_crossed(before: np.ndarray, after: np.ndarray, line: np.ndarray) -> int:
    """One step and one line at a time, float32 scalars: the rule ``crossed`` documents."""
    a, b = line
    d = b - a

    def right(p: np.ndarray) -> bool:
        return bool(d[0] * (p[1] - a[1]) - d[1] * (p[0] - a[0]) > 0)

    step = after - before

    def turn(end: np.ndarray) -> bool:
        rel = end - before
        return bool(step[0] * rel[1] - step[1] * rel[0] > 0)

    if right(before) == right(after) or turn(a) == turn(b):
        return 0
    return 1 if right(after) else -1


@pytest.mark.parametrize("seed", range(30))
def test_crossed_equals_the_reference(seed: int) -> None:
    """Lines and points on a 1/8 grid: steps that start, end or pass exactly on a line or
    through its ends, and steps that change no side (the early way out)."""
    rng = np.random.default_rng(seed)
    grid = seed % 2 == 0

    def snap(values: np.ndarray) -> np.ndarray:
        return (np.round(values * 8) / 8 if grid else values).astype(np.float32)

    lines = snap(rng.uniform(0, 1, (int(rng.integers(1, 5)), 2, 2)))
    n = int(rng.integers(0, 60))
    before = snap(rng.uniform(0, 1, (n, 2)))
    after = snap(before + rng.uniform(-0.3, 0.3, (n, 2)) * (seed % 3 != 0))
    signs = LineSet(lines).crossed(before, after)
    steps = zip(before, after, strict=True)
    expected = [[reference_crossed(p, q, line) for line in lines] for p, q in steps]
    assert signs.shape == (n, len(lines)) and signs.tolist() == expected
