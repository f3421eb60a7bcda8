"""Polygon and line tests on many boxes at once, in normalised frame coordinates.

Each test is a handful of numpy operations over every (point, edge) pair, whatever the
number of zones and detections, so 10 zones and 50 boxes cost tens of microseconds
(benchmarks/zones.py; docs/benchmarks.md). A Python loop per box and zone would cost
that per box.

- ``PolygonSet.contains``: even-odd ray casting, every polygon's edges concatenated and
  the crossings summed per polygon (``np.add.reduceat``);
- ``PolygonSet.overlaps``: whether a box covers any of a polygon, looked up in a summed
  area table of the polygon rasterised on a ``RASTER`` x ``RASTER`` grid (four lookups per
  box and polygon): exact up to 1/``RASTER`` of the frame at the polygon's edge;
- ``sides``: which side of each line each point is on (the sign of a cross product),
  and ``crossed``: whether the step from one point to the next crosses the segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

RASTER = 256  # grid of the overlap test: 1/256 of the frame is ~1 px of a 320 px frame


def anchor_points(boxes: FloatArray, anchor: str) -> FloatArray:
    """``(N, 4)`` boxes -> ``(N, 2)`` points: the bottom centre (where a person or a car
    touches the ground, Frigate's choice too) or the centre."""
    x = (boxes[:, 0] + boxes[:, 2]) * 0.5
    y = boxes[:, 3] if anchor == "bottom_center" else (boxes[:, 1] + boxes[:, 3]) * 0.5
    return np.stack([x, y], axis=1).astype(np.float32, copy=False)


class PolygonSet:
    """Several polygons, tested together."""

    def __init__(
        self, polygons: Sequence[Sequence[Sequence[float]]] | Sequence[FloatArray]
    ) -> None:
        self.count = len(polygons)
        corners = [np.asarray(p, np.float32).reshape(-1, 2) for p in polygons]
        self.polygons = [c.astype(np.float32) for c in corners]
        starts, x0, y0, x1, y1 = [], [], [], [], []
        offset = 0
        for c in corners:
            nxt = np.roll(c, -1, axis=0)
            starts.append(offset)
            offset += len(c)
            x0.append(c[:, 0])
            y0.append(c[:, 1])
            x1.append(nxt[:, 0])
            y1.append(nxt[:, 1])
        self._starts = np.asarray(starts, np.intp)
        if corners:
            self._y0 = np.concatenate(y0)[np.newaxis, :]
            self._y1 = np.concatenate(y1)[np.newaxis, :]
            ex0 = np.concatenate(x0)
            dy = np.concatenate(y1) - self._y0[0]
            # x where the edge meets a horizontal line through the point: x0 + (py-y0)*k
            self._x0 = ex0[np.newaxis, :]
            slope = np.where(dy != 0, (np.concatenate(x1) - ex0) / np.where(dy != 0, dy, 1), 0)
            self._k = slope.astype(np.float32)[np.newaxis, :]
        self._tables: npt.NDArray[np.int32] | None = None

    def contains(self, points: FloatArray) -> BoolArray:
        """``(N, 2)`` points -> ``(N, polygons)``: inside (even-odd rule)."""
        if self.count == 0 or len(points) == 0:
            return np.zeros((len(points), self.count), np.bool_)
        px, py = points[:, 0:1], points[:, 1:2]
        straddles = (self._y0 > py) != (self._y1 > py)
        crossing = straddles & (px < self._x0 + (py - self._y0) * self._k)
        counts = np.add.reduceat(crossing.view(np.uint8), self._starts, axis=1, dtype=np.int32)
        inside: BoolArray = (counts & 1).astype(np.bool_)
        return inside

    def contains_anchors(self, boxes: FloatArray, anchors: Sequence[str]) -> BoolArray:
        """``(N, 4)`` boxes -> ``(N, polygons)``: polygon ``p`` tested with the point
        ``anchors[p]`` of each box (bottom_center or center). Both points of every box go
        through one ``contains`` call: at these sizes a numpy call costs more in overhead
        than in arithmetic."""
        n = len(boxes)
        points = np.empty((2 * n, 2), np.float32)
        points[:n, 0] = points[n:, 0] = (boxes[:, 0] + boxes[:, 2]) * 0.5
        points[:n, 1] = boxes[:, 3]
        points[n:, 1] = (boxes[:, 1] + boxes[:, 3]) * 0.5
        inside = self.contains(points)
        centre = np.asarray([a == "center" for a in anchors])
        picked: BoolArray = np.where(centre[np.newaxis, :], inside[n:], inside[:n])
        return picked

    def overlaps(self, boxes: FloatArray) -> BoolArray:
        """``(N, 4)`` boxes -> ``(N, polygons)``: the box covers part of the polygon."""
        if self.count == 0 or len(boxes) == 0:
            return np.zeros((len(boxes), self.count), np.bool_)
        tables = self._summed_area_tables()
        cells = np.clip(boxes * RASTER, 0, RASTER)
        gx0 = np.floor(cells[:, 0]).astype(np.intp)
        gy0 = np.floor(cells[:, 1]).astype(np.intp)
        gx1 = np.maximum(np.ceil(cells[:, 2]).astype(np.intp), gx0 + 1).clip(max=RASTER)
        gy1 = np.maximum(np.ceil(cells[:, 3]).astype(np.intp), gy0 + 1).clip(max=RASTER)
        gx0, gy0 = np.minimum(gx0, gx1 - 1), np.minimum(gy0, gy1 - 1)
        covered = tables[:, gy1, gx1] - tables[:, gy0, gx1] - tables[:, gy1, gx0]
        covered += tables[:, gy0, gx0]
        result: BoolArray = (covered > 0).T
        return result

    def _summed_area_tables(self) -> npt.NDArray[np.int32]:
        if self._tables is None:
            tables = []
            for polygon in self.polygons:
                grid = np.zeros((RASTER, RASTER), np.uint8)
                corners = np.round(polygon * RASTER - 0.5).astype(np.int32)
                cv2.fillPoly(grid, [corners], 1)
                tables.append(cv2.integral(grid, sdepth=cv2.CV_32S))
            self._tables = np.stack(tables).astype(np.int32)
        return self._tables


def rasterise(polygons: Sequence[FloatArray], width: int, height: int) -> npt.NDArray[np.uint8]:
    """A ``height`` x ``width`` picture, 255 inside any of the polygons (masks)."""
    grid = np.zeros((height, width), np.uint8)
    for polygon in polygons:
        size = np.asarray([width, height], np.float32)
        scaled = np.round(polygon * size - 0.5).astype(np.int32)
        cv2.fillPoly(grid, [scaled], 255)
    return grid


def sides(points: FloatArray, lines: FloatArray) -> FloatArray:
    """``(N, 2)`` points, ``(L, 2, 2)`` lines -> ``(N, L)`` cross products: > 0 on the right
    of the arrow from a line's first point to its second, as seen on the screen (y down)."""
    a, b = lines[:, 0, :], lines[:, 1, :]
    d = b - a
    rel = points[:, np.newaxis, :] - a[np.newaxis, :, :]
    out: FloatArray = d[np.newaxis, :, 0] * rel[:, :, 1] - d[np.newaxis, :, 1] * rel[:, :, 0]
    return out


def crossed(before: FloatArray, after: FloatArray, lines: FloatArray) -> npt.NDArray[np.int8]:
    """``(N, 2)`` points before and after a step, ``(L, 2, 2)`` lines -> ``(N, L)``: +1 the
    step crossed the segment to its right side, -1 to its left side, 0 no crossing.

    A point exactly on the line counts as left. An object that stays on one side never
    counts, however it jitters; one that jitters across the line counts each crossing
    (in, then out)."""
    n = len(before)
    side = sides(np.concatenate([before, after]), lines) > 0
    s0, s1 = side[:n], side[n:]
    # The step must also pass between the segment's ends: the ends on either side of it.
    step = (after - before)[:, np.newaxis, :]
    ends = lines.reshape(1, -1, 2) - before[:, np.newaxis, :]  # (N, 2L, 2): a0, b0, a1, ...
    cross = (step[..., 0] * ends[..., 1] - step[..., 1] * ends[..., 0]) > 0
    between = cross[:, 0::2] != cross[:, 1::2]
    out: npt.NDArray[np.int8] = ((s0 != s1) & between) * np.where(s1, 1, -1).astype(np.int8)
    return out
