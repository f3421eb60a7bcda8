"""The fused even-odd test against a one-point, one-edge-at-a-time reference of the same
rule and float32 arithmetic: random convex, concave and self-crossing polygons, with
corners and points on a 1/8 grid so that many points lie exactly on edges and corners."""

from __future__ import annotations

import numpy as np
import pytest

from edge.zones.geometry import PolygonSet

F32 = np.float32


def reference_inside(polygon: np.ndarray, x: np.float32, y: np.float32) -> bool:
    """The rule of ``edge.zones.evenodd``, one edge at a time (numpy float32 scalars)."""
    inside = False
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if (y0 > y) != (y1 > y):  # the edge spans the point's row (never a horizontal one)
            k = (x1 - x0) / (y1 - y0)
            if x < x0 + (y - y0) * k:  # it meets the row strictly right of the point
                inside = not inside
    return inside


def _polygon(rng: np.random.Generator, grid: bool) -> np.ndarray:
    corners = int(rng.integers(3, 11))
    if rng.random() < 0.5:  # a star around a centre: concave when the radii differ
        centre = rng.uniform(0.2, 0.8, 2)
        angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
        radii = rng.uniform(0.05, 0.45, corners)
        points = centre + radii[:, np.newaxis] * np.stack([np.cos(angles), np.sin(angles)], 1)
    else:  # anywhere: often self-crossing
        points = rng.uniform(0, 1, (corners, 2))
    points = np.clip(points, 0, 1)
    snapped: np.ndarray = (np.round(points * 8) / 8 if grid else points).astype(F32)
    return snapped


def _on_the_grid(rng: np.random.Generator, n: int, grid: bool) -> np.ndarray:
    points = rng.uniform(-0.1, 1.1, (n, 2))
    return (np.round(points * 16) / 16 if grid else points).astype(F32)


@pytest.mark.parametrize("seed", range(40))
def test_contains_equals_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = seed % 2 == 0
    polygons = [_polygon(rng, grid) for _ in range(int(rng.integers(1, 7)))]
    points = _on_the_grid(rng, int(rng.integers(1, 120)), grid)
    inside = PolygonSet(polygons).contains(points)
    expected = [[reference_inside(p, x, y) for p in polygons] for x, y in points]
    assert inside.tolist() == expected


@pytest.mark.parametrize("seed", range(40))
def test_contains_anchors_equals_the_reference(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    grid = seed % 2 == 0
    polygons = [_polygon(rng, grid) for _ in range(int(rng.integers(1, 7)))]
    anchors = [str(rng.choice(["bottom_center", "center"])) for _ in polygons]
    corner = _on_the_grid(rng, int(rng.integers(1, 120)), grid)
    size = rng.uniform(0, 0.3, corner.shape)
    boxes = np.concatenate([corner, corner + (np.round(size * 8) / 8 if grid else size)], 1)
    boxes = boxes.astype(F32)
    inside = PolygonSet(polygons, anchors).contains_anchors(boxes)
    expected = []
    for x0, y0, x1, y1 in boxes:
        x, centre_y = (x0 + x1) * F32(0.5), (y0 + y1) * F32(0.5)
        points = {"bottom_center": (x, y1), "center": (x, centre_y)}
        row = [reference_inside(p, *points[a]) for p, a in zip(polygons, anchors, strict=True)]
        expected.append(row)
    assert inside.tolist() == expected


SQUARE = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((0.5, 0.5), True),
        ((0.25, 0.5), True),  # on the left edge
        ((0.5, 0.25), True),  # on the top edge
        ((0.75, 0.5), False),  # on the right edge
        ((0.5, 0.75), False),  # on the bottom edge
        ((0.25, 0.25), True),  # the top-left corner
        ((0.75, 0.25), False),  # the other three corners
        ((0.25, 0.75), False),
        ((0.75, 0.75), False),
    ],
)
def test_on_an_edge_left_and_top_are_inside(point: tuple[float, float], inside: bool) -> None:
    """The half-open rule (pixel ownership): the same as before the tests were fused."""
    assert PolygonSet([SQUARE]).contains(np.asarray([point], F32))[0, 0] == inside


def test_frames_of_every_size_reuse_the_scratch_arrays_correctly() -> None:
    """The scratch arrays are kept per frame width: a small frame after a large one (stale
    columns), and polygons of 3 and 12 corners (padded edges), still give the reference."""
    rng = np.random.default_rng(7)
    polygons = [_polygon(rng, True) for _ in range(3)] + [
        rng.uniform(0, 1, (12, 2)).astype(F32),
        np.asarray([[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]], F32),
    ]
    anchors = ["center", "bottom_center"] * 2 + ["center"]
    tested = PolygonSet(polygons, anchors)
    for n in (1, 70, 3, 200, 0, 33, 8, 9):
        corner = _on_the_grid(rng, n, True)
        boxes = np.concatenate([corner, corner + F32(0.125)], 1)
        fresh = PolygonSet(polygons, anchors).contains_anchors(boxes)
        again = tested.contains_anchors(boxes)
        assert again.shape == (n, 5) and np.array_equal(again, fresh)
        points = corner[:, ::-1].copy()
        assert np.array_equal(tested.contains(points), PolygonSet(polygons).contains(points))
