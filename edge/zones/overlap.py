"""Whether each box covers any part of each polygon: summed-area tables, four lookups a box.

Each polygon is rasterised on a ``RASTER`` x ``RASTER`` grid of the frame and turned into
a summed-area table; a box covers some of the polygon when the sum over the grid cells
it touches is above zero. Exact up to 1/``RASTER`` of the frame at the polygon's edge.

A box touches the cells from ``floor(x0 * RASTER)`` to ``ceil(x1 * RASTER)`` (at least
one cell, clipped to the grid), the same for y. The four corners' table indices of every
box come out of one matmul and the tables of all polygons are read with one ``take``
(a row per table index, a column per polygon): a numpy call costs more than its
arithmetic at these sizes, so the fewer the better (about ten per frame).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

RASTER = 256  # grid of the overlap test: 1/256 of the frame is ~1 px of a 320 px frame
_SIDE = RASTER + 1  # a summed-area table has a row and a column more than its grid

# Rows of the boxes, transposed: (x0, y0, x1, y1). x0 and y0 are negated so that one
# ``ceil`` floors them: floor(c) = -ceil(-c). The clip keeps every box on the grid with
# at least one cell: floor(x0) <= RASTER - 1 and ceil(x1) >= 1.
_SCALE = np.asarray([[-RASTER], [-RASTER], [RASTER], [RASTER]], np.float32)
_LOW = np.asarray([[1 - RASTER], [1 - RASTER], [1], [1]], np.float32)
_HIGH = np.asarray([[0], [0], [RASTER], [RASTER]], np.float32)
# The four corners' flat table indices from (-gx0, -gy0, gx1, gy1): (x1, y1), (x1, y0),
# (x0, y1), (x0, y0); covered = the first + the last - the two others.
_CORNERS = np.asarray(
    [[0, 0, 1, _SIDE], [0, -_SIDE, 1, 0], [-1, 0, 0, _SIDE], [-1, -_SIDE, 0, 0]], np.float32
)


class OverlapTables:
    def __init__(self, polygons: Sequence[FloatArray]) -> None:
        self.count = len(polygons)
        self._tables: npt.NDArray[np.int32] | None = None
        self._polygons = list(polygons)

    def boxes(self, boxes: FloatArray) -> BoolArray:
        """``(N, 4)`` finite boxes -> ``(N, polygons)``: the box covers part of the polygon."""
        cells = np.multiply(boxes.T, _SCALE, order="C")
        np.maximum(cells, _LOW, out=cells)  # np.clip's wrapper costs more than these two
        np.minimum(cells, _HIGH, out=cells)
        np.ceil(cells, out=cells)
        # An empty or inverted box still covers the cell at its start: gx1 >= gx0 + 1.
        np.maximum(cells[2:], np.subtract(1, cells[:2]), out=cells[2:])
        index = np.dot(_CORNERS, cells).astype(np.intp)  # exact: integers below 2^24
        sums = self._summed_area_tables().take(index, axis=0)  # (4, N, polygons)
        covered: BoolArray = np.greater(sums[0] + sums[3], sums[1] + sums[2])
        return covered

    def _summed_area_tables(self) -> npt.NDArray[np.int32]:
        """``(_SIDE * _SIDE, polygons)``, built at the first call (256 KB a polygon)."""
        if self._tables is None:
            tables = np.empty((_SIDE * _SIDE, self.count), np.int32)
            for p, polygon in enumerate(self._polygons):
                grid = np.zeros((RASTER, RASTER), np.uint8)
                corners = np.round(polygon * RASTER - 0.5).astype(np.int32)
                cv2.fillPoly(grid, [corners], 1)
                tables[:, p] = cv2.integral(grid, sdepth=cv2.CV_32S).reshape(-1)
            self._tables = tables
        return self._tables
