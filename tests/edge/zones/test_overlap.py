"""The overlap test (one matmul for every corner index, one ``take`` for every table)
against the rule it implements, one box and one polygon at a time: the box covers part
of the polygon when any grid cell it touches is filled."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from edge.zones.geometry import RASTER, PolygonSet


def reference_overlaps(polygon: np.ndarray, box: np.ndarray) -> bool:
    grid = np.zeros((RASTER, RASTER), np.uint8)
    cv2.fillPoly(grid, [np.round(polygon * RASTER - 0.5).astype(np.int32)], 1)
    x0, y0, x1, y1 = (min(max(float(v) * RASTER, 0.0), RASTER) for v in box)
    # The cells from floor(start) to ceil(end), at least one, all on the grid.
    gx1 = min(max(math.ceil(x1), math.floor(x0) + 1), RASTER)
    gy1 = min(max(math.ceil(y1), math.floor(y0) + 1), RASTER)
    gx0, gy0 = min(math.floor(x0), gx1 - 1), min(math.floor(y0), gy1 - 1)
    return bool(grid[gy0:gy1, gx0:gx1].any())


@pytest.mark.parametrize("seed", range(12))
def test_overlaps_equals_the_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    polygons = [
        np.clip(rng.uniform(0.1, 0.9, 2) + rng.uniform(-0.3, 0.3, (int(k), 2)), 0, 1)
        for k in rng.integers(3, 9, int(rng.integers(1, 5)))
    ]
    corner = rng.uniform(-0.2, 1.1, (80, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(-0.05, 0.3, (80, 2))], 1)
    boxes[::4] = np.round(boxes[::4] * RASTER) / RASTER  # on the grid's lines
    boxes[1::9, 2] = boxes[1::9, 0]  # empty
    boxes = boxes.astype(np.float32)
    polygons32 = [p.astype(np.float32) for p in polygons]
    covered = PolygonSet(polygons32).overlaps(boxes)
    expected = [[reference_overlaps(p, box) for p in polygons32] for box in boxes]
    assert covered.tolist() == expected
