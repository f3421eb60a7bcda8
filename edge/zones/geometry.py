"""Polygon and line tests on many boxes at once, in normalised frame coordinates.

Each test is a handful of numpy calls, whatever the number of zones and detections: at
these sizes a numpy call costs more than its arithmetic, so 10 zones and 50 boxes cost a
few microseconds a test (benchmarks/zones.py; docs/benchmarks.md). A Python loop per box
and zone would cost that per box.

- ``PolygonSet.contains`` and ``contains_anchors``: the even-odd rule, every polygon at
  once (``edge.zones.evenodd``, which also defines what happens on an edge);
- ``PolygonSet.overlaps``: whether a box covers any of a polygon, from summed-area tables
  of the polygons rasterised on a ``RASTER`` x ``RASTER`` grid (``edge.zones.overlap``):
  exact up to 1/``RASTER`` of the frame at the polygon's edge;
- ``sides``: which side of each line each point is on (the sign of a cross product),
  and ``LineSet.crossed``: whether the step from one point to the next crosses the
  segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from edge.zones.evenodd import EvenOdd
from edge.zones.overlap import RASTER, OverlapTables

__all__ = ["RASTER", "LineSet", "PolygonSet", "anchor_points", "crossed", "rasterise", "sides"]

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def anchor_points(boxes: FloatArray, anchor: str) -> FloatArray:
    """``(N, 4)`` boxes -> ``(N, 2)`` points: the bottom centre (where a person or a car
    touches the ground, Frigate's choice too) or the centre."""
    centre = boxes[:, 0:2] + boxes[:, 2:4]
    centre *= 0.5
    if anchor == "bottom_center":
        centre[:, 1] = boxes[:, 3]
    points: FloatArray = centre.astype(np.float32, copy=False)
    return points


class PolygonSet:
    """Several polygons, tested together; ``anchors``: the point of a box each polygon
    tests in ``contains_anchors`` (bottom_center by default). Boxes must be finite.
    Keeps scratch arrays between calls: one instance per thread."""

    def __init__(
        self,
        polygons: Sequence[Sequence[Sequence[float]]] | Sequence[FloatArray],
        anchors: Sequence[str] | None = None,
    ) -> None:
        self.polygons = [np.asarray(p, np.float32).reshape(-1, 2) for p in polygons]
        self.count = len(self.polygons)
        self.anchors = ["bottom_center"] * self.count if anchors is None else list(anchors)
        self._inside = EvenOdd(self.polygons, self.anchors)
        self._overlap = OverlapTables(self.polygons)

    def contains(self, points: FloatArray) -> BoolArray:
        """``(N, 2)`` points -> ``(N, polygons)``: inside (even-odd rule)."""
        if self.count == 0 or len(points) == 0:
            return np.zeros((len(points), self.count), np.bool_)
        return self._inside.points(points).T

    def contains_anchors(self, boxes: FloatArray) -> BoolArray:
        """``(N, 4)`` boxes -> ``(N, polygons)``: polygon ``p`` holds the point
        ``anchors[p]`` of the box."""
        if self.count == 0 or len(boxes) == 0:
            return np.zeros((len(boxes), self.count), np.bool_)
        return self._inside.boxes(boxes).T

    def overlaps(self, boxes: FloatArray) -> BoolArray:
        """``(N, 4)`` boxes -> ``(N, polygons)``: the box covers part of the polygon."""
        if self.count == 0 or len(boxes) == 0:
            return np.zeros((len(boxes), self.count), np.bool_)
        return self._overlap.boxes(boxes)


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
    """``LineSet(lines).crossed(before, after)``, for a one-off test."""
    return LineSet(lines).crossed(before, after)


class LineSet:
    """``(L, 2, 2)`` lines (segments, first point to second), tested together.

    Coordinates are kept in planes, ``(x or y, line, point)``: numpy broadcasts a
    trailing axis of 2 one pair at a time, several times slower than along the points."""

    def __init__(self, lines: FloatArray) -> None:
        self.lines = np.asarray(lines, np.float32).reshape(-1, 2, 2)
        start = self.lines[:, 0, :]
        direction = self.lines[:, 1, :] - start
        self._swapped = np.ascontiguousarray(direction.T[::-1, :, np.newaxis])  # (dy, dx)
        self._ends = np.ascontiguousarray(self.lines.reshape(-1, 2).T[:, :, np.newaxis])

    def crossed(self, before: FloatArray, after: FloatArray) -> npt.NDArray[np.int8]:
        """``(N, 2)`` points before and after a step -> ``(N, L)``: +1 the step crossed
        the segment to its right side, -1 to its left side, 0 no crossing.

        A point exactly on the line counts as left. An object that stays on one side
        never counts, however it jitters; one that jitters across the line counts each
        crossing (in, then out). The arithmetic of ``sides``, in fewer numpy calls."""
        n = len(before)
        points = np.concatenate((before.T, after.T), axis=1)  # (2, 2N): before, then after
        rel = points[:, np.newaxis, :] - self._ends  # (2, 2L, 2N): minus a0, b0, a1, ...
        side = rel[:, 0::2] * self._swapped  # (rel.x * dy, rel.y * dx), rel from a
        right = np.subtract(side[1], side[0]) > 0  # d.x * rel.y - d.y * rel.x > 0
        # +1 left -> right, -1 right -> left, 0 the same side.
        sign: npt.NDArray[np.int8] = np.subtract(
            right[:, n:].view(np.int8), right[:, :n].view(np.int8)
        )
        if not np.count_nonzero(sign):  # most frames: no step changed side, nothing crossed
            return sign.T
        # The step must also pass between the segment's ends, the ends on either side of it:
        # cross(step, end - before) > 0, which is cross(step, before - end) < 0 bit for bit
        # (IEEE rounding is symmetric, so negating the difference negates each result).
        step = points[:, n:] - points[:, :n]
        turn = rel[:, :, :n] * step[::-1, np.newaxis, :]  # (rel.x * step.y, rel.y * step.x)
        left = np.subtract(turn[1], turn[0]) < 0
        sign *= left[0::2] != left[1::2]
        return sign.T
