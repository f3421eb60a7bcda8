"""Which tracked object is in which zone, with inertia: the state per (track, zone).

An object enters a zone once its raw test (anchor inside, label, score and area
allowed) has said "in" for ``inertia`` inferred frames in a row, and leaves once it has
said "out" for as many (a frame where the tracker did not see it says "out"). So a
one-frame flicker, a missed detection or a box that pokes across the edge for a frame,
changes nothing. Frigate's ``inertia`` is the same idea for entering; it lets an object
leave at once, which makes a one-frame dropout a leave and an enter.

The state is kept in arrays aligned with the tracker's track ids (ascending: the tracker
appends new tracks and removes ended ones in order), so one frame is a few numpy calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
IdArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Changes:
    """One frame's changes, rows aligned with the ``ids`` given to ``step``."""

    inside: BoolArray  # (tracks, zones): the state after this frame
    entered: BoolArray
    left: BoolArray


class Presence:
    def __init__(self, inertia: npt.NDArray[np.int32]) -> None:
        self.inertia = inertia
        zones = len(inertia)
        self.ids: IdArray = np.zeros(0, np.int64)
        self.inside: BoolArray = np.zeros((0, zones), np.bool_)
        self._streak = np.zeros((0, zones), np.int32)
        self.points: dict[str, npt.NDArray[np.float32]] = {}  # anchor -> (tracks, 2), NaN: none

    def align(self, ids: IdArray) -> tuple[npt.NDArray[np.intp], BoolArray]:
        """Rows of the stored state for ``ids``, and which of them are known."""
        rows = np.searchsorted(self.ids, ids).astype(np.intp)
        known = rows < len(self.ids)
        known[known] = self.ids[rows[known]] == ids[known]
        return np.where(known, rows, 0), known

    def step(self, ids: IdArray, raw: BoolArray) -> Changes:
        """``raw`` ``(tracks, zones)``: this frame's test for the live tracks ``ids``."""
        rows, known = self.align(ids)
        zones = self.inertia.shape[0]
        before = np.zeros((len(ids), zones), np.bool_)
        streak = np.zeros((len(ids), zones), np.int32)
        before[known] = self.inside[rows[known]]
        streak[known] = self._streak[rows[known]]
        streak = np.where(raw != before, streak + 1, 0)
        flip = streak >= self.inertia[np.newaxis, :]
        after = before ^ flip
        streak[flip] = 0
        self.ids, self.inside, self._streak = ids, after, streak
        return Changes(after, flip & after, flip & before)

    def carry_points(self, ids: IdArray) -> dict[str, npt.NDArray[np.float32]]:
        """The last anchor points of ``ids`` (NaN for a new track), before ``step``."""
        rows, known = self.align(ids)
        carried = {}
        for anchor, points in self.points.items():
            out = np.full((len(ids), 2), np.nan, np.float32)
            out[known] = points[rows[known]]
            carried[anchor] = out
        return carried

    def state_of(self, track_id: int) -> BoolArray:
        """The zones ``track_id`` is in now (all False when unknown)."""
        rows, known = self.align(np.asarray([track_id], np.int64))
        if not known[0]:
            return np.zeros(self.inertia.shape[0], np.bool_)
        row: BoolArray = self.inside[rows[0]]
        return row
