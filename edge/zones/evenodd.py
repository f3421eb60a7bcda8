"""Which of many polygons contain each of many points: the even-odd rule in a few numpy calls.

The rule on the edges (the same as before this file, and as pixel ownership): the ray from
a point towards +x crosses an edge when exactly one of the edge's two ends lies below the
point (``y0 > py`` differs from ``y1 > py``; y points down) and the edge meets the
point's row strictly right of it (``px < x0 + (py - y0) * k``, ``k`` the edge's dx/dy in
float32). So a horizontal edge never counts, and for an axis-aligned rectangle a point on
its left or top edge is inside, on its right or bottom edge outside (the top-left corner
inside, the other three outside). ``tests/edge/zones/test_evenodd.py`` holds this against
a one-point-at-a-time reference.

Why the layout: at these sizes (10 polygons, 50 boxes) a numpy call costs ~0.4 us on
contiguous arrays and ~1 us when it broadcasts, far more than its arithmetic. So:
- every polygon's edges are padded to the longest polygon's count (a pad edge is
  horizontal: it never counts) and laid out (edge slot, polygon, point), tiled along the
  point axis once per frame width, a power of two (frames of 33..64 boxes share one set
  of tiles and scratch arrays): each step is one call on contiguous arrays;
- the point of every (slot, polygon) comes from one ``np.dot`` of the boxes with
  per-polygon anchor weights: the centre ``0.5 x0 + 0.5 x1`` is bit-identical to
  ``(x0 + x1) * 0.5`` for finite coordinates (away from float32's overflow and
  subnormal ends: halving is exact, and both round the one sum once). So boxes must be
  finite: ``0 * inf`` would be NaN, and a warning;
- the crossings' parity is one XOR reduction over the slot axis.
About ten numpy calls a test, whatever the number of polygons, corners and boxes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

# Weights of a box (x0, y0, x1, y1) giving the anchor's x and y.
ANCHOR_X = (0.5, 0.0, 0.5, 0.0)
ANCHOR_Y = {"bottom_center": (0.0, 0.0, 0.0, 1.0), "center": (0.0, 0.5, 0.0, 0.5)}
MIN_WIDTH = 8


class EvenOdd:
    """Polygons with the anchor each is tested at; ``boxes``/``points`` -> (polygons, N).

    Keeps scratch arrays between calls: one instance per thread."""

    def __init__(self, polygons: Sequence[FloatArray], anchors: Sequence[str]) -> None:
        self.count = len(polygons)
        slots = max((len(p) for p in polygons), default=0)
        edges = np.zeros((4, slots, self.count), np.float32)  # x0, y0, y1, k per slot
        for p, corners in enumerate(polygons):
            ahead = np.roll(corners, -1, axis=0)
            dy = ahead[:, 1] - corners[:, 1]
            flat = dy == 0
            slope = np.where(flat, 0, (ahead[:, 0] - corners[:, 0]) / np.where(flat, 1, dy))
            edges[:, : len(corners), p] = [corners[:, 0], corners[:, 1], ahead[:, 1], slope]
        self._edges = edges
        weights = np.zeros((2, slots, self.count, 4), np.float32)
        weights[0] = ANCHOR_X
        for p, anchor in enumerate(anchors):
            weights[1, :, p] = ANCHOR_Y[anchor]
        self._weights = weights.reshape(-1, 4)
        self._scratch: dict[int, _Scratch] = {}

    def boxes(self, boxes: FloatArray) -> BoolArray:
        """``(N, 4)`` finite boxes -> ``(polygons, N)``: polygon ``p`` holds its anchor of
        the box."""
        n = len(boxes)
        scratch = self._scratch_for(n)
        scratch.boxes[:, :n] = boxes.T
        if scratch.used > n:  # a larger frame's boxes: zeros, so no stale infinity warns
            scratch.boxes[:, n : scratch.used] = 0
        scratch.used = n
        np.dot(self._weights, scratch.boxes, out=scratch.anchors)  # np.matmul costs more
        return self._parity(scratch)[:, :n]

    def points(self, points: FloatArray) -> BoolArray:
        """``(N, 2)`` points -> ``(polygons, N)``: inside."""
        n = len(points)
        scratch = self._scratch_for(n)
        scratch.anchors[:] = 0
        scratch.px[..., :n] = points[:, 0]
        scratch.py[..., :n] = points[:, 1]
        return self._parity(scratch)[:, :n]

    def _scratch_for(self, n: int) -> _Scratch:
        width = max(MIN_WIDTH, 1 << max(n - 1, 0).bit_length())
        scratch = self._scratch.get(width)
        if scratch is None:
            scratch = self._scratch[width] = _Scratch(self._edges, width)
        return scratch

    @staticmethod
    def _parity(s: _Scratch) -> BoolArray:
        np.greater(s.y0, s.py, out=s.below)
        np.greater(s.y1, s.py, out=s.crosses)
        np.not_equal(s.below, s.crosses, out=s.below)  # the edge spans the point's row
        np.subtract(s.py, s.y0, out=s.at)
        np.multiply(s.at, s.k, out=s.at)
        np.add(s.at, s.x0, out=s.at)  # where the edge meets the row: x0 + (py - y0) * k
        np.greater(s.at, s.px, out=s.crosses)
        np.logical_and(s.crosses, s.below, out=s.crosses)
        inside: BoolArray = np.logical_xor.reduce(s.crosses, axis=0)
        return inside


class _Scratch:
    """The tiled edges and the work arrays for frames of up to ``width`` points."""

    def __init__(self, edges: FloatArray, width: int) -> None:
        _, slots, count = edges.shape
        tiled = np.repeat(edges[..., np.newaxis], width, axis=3)
        self.x0, self.y0, self.y1, self.k = tiled
        self.boxes = np.zeros((4, width), np.float32)
        self.used = 0  # columns of ``boxes`` the last frame wrote
        self.anchors = np.zeros((2 * slots * count, width), np.float32)
        self.px, self.py = self.anchors.reshape(2, slots, count, width)
        self.below = np.empty((slots, count, width), np.bool_)
        self.crosses = np.empty_like(self.below)
        self.at = np.empty((slots, count, width), np.float32)
