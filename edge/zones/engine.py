"""Zones, lines and detection masks applied to one inferred frame at a time.

Per frame (``keep``, then ``update``):
1. ``keep``: rows a record could not write (no class, NaN) and boxes whose anchor lies
   in a detection mask are dropped, before the record, the events and the counts;
2. the engine's own ``IouTracker`` (the ``[events]`` settings) follows the objects, so
   inertia and crossings belong to an object, not to a frame. With the same settings
   and the same detections it gives the same ids as event mode's tracker;
3. one vectorised test per anchor kind says which detection is in which zone (and is
   allowed there: labels, score, area), then ``Presence`` applies the inertia;
4. each track's anchor step since its last detection is tested against every line: a
   crossing is counted ``in`` or ``out`` per label, from tracked movement only (a new
   track has no step, so appearing on the far side counts nothing).

Counts are per zone and label: the tracked objects in the zone now (an object the
detector misses for fewer than ``inertia`` frames still counts). Line counts are totals
since the start of the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.config.zones import LineConfig, MaskConfig, ZoneConfig
from edge.events.tracker import IouTracker, Track
from edge.types import Detections, label_of
from edge.zones.geometry import LineSet, PolygonSet, anchor_points
from edge.zones.presence import Presence
from edge.zones.rules import allowed, check_labels, label_table

ZoneEventKind = Literal["enter", "leave", "cross"]


@dataclass(frozen=True)
class ZoneEvent:
    kind: ZoneEventKind
    track: Track
    zone: str | None = None  # enter, leave
    line: str | None = None  # cross
    direction: Literal["in", "out"] | None = None  # cross
    reason: Literal["moved", "gone", "stopped"] | None = None  # leave


@dataclass
class FrameZones:
    """What one frame adds to its record."""

    detection_zones: list[list[str]]  # per detection row: the zones its object is in
    counts: dict[str, Counter[str]]  # zone -> label -> objects in it now
    lines: dict[str, dict[str, Counter[str]]]  # line -> in|out -> label -> total
    events: list[ZoneEvent] = field(default_factory=list)


class ZoneEngine:
    def __init__(
        self,
        zones: Sequence[ZoneConfig],
        lines: Sequence[LineConfig] = (),
        masks: Sequence[MaskConfig] = (),
        *,
        labels: Sequence[str] = (),
        tracker: IouTracker | None = None,
    ) -> None:
        for zone in zones:
            check_labels(f"zone {zone.name!r}", zone.labels, labels)
        for line in lines:
            check_labels(f"line {line.name!r}", line.labels, labels)
        self.zones, self.lines = list(zones), list(lines)
        self.tracker = tracker or IouTracker()
        self.zone_names = [z.name for z in zones]
        self.line_names = [line.name for line in lines]
        # Internally the point-anchored zones come first, then the overlap ("any") ones:
        # each kind is one test, and the filters need no reordering until the end.
        point_cols = [i for i, z in enumerate(zones) if z.anchor != "any"]
        any_cols = [i for i, z in enumerate(zones) if z.anchor == "any"]
        self._order = np.asarray(point_cols + any_cols, np.intp)
        in_order = np.array_equal(self._order, np.arange(len(zones)))
        self._unorder = None if in_order else np.argsort(self._order)
        self._points = PolygonSet(
            [zones[c].points for c in point_cols], [zones[c].anchor for c in point_cols]
        )
        self._any = PolygonSet([zones[c].points for c in any_cols])
        self._min_score = np.asarray([zones[c].min_score for c in self._order], np.float32)
        self._min_area = np.asarray([zones[c].min_area for c in self._order], np.float32)
        self._presence = Presence(np.asarray([z.inertia for z in zones], np.int32))
        detection_masks = [m for m in masks if m.applies_to == "detections"]
        self._masks = PolygonSet(
            [m.points for m in detection_masks], [m.anchor for m in detection_masks]
        )
        self._line_set = LineSet(
            np.asarray([line.points for line in lines], np.float32).reshape(-1, 2, 2)
        )
        self._in_sign = np.asarray([1 if line.in_side == "right" else -1 for line in lines])
        self._line_anchors = sorted({line.anchor for line in lines})
        self._line_anchor = {  # anchor -> (lines,): the lines tested at that anchor
            anchor: np.asarray([line.anchor == anchor for line in lines], np.bool_)
            for anchor in self._line_anchors
        }
        self._labels: tuple[str, ...] | None = None
        # (classes + 2, zones in the internal order), (classes + 2, lines): see label_table
        self._zone_labels = np.zeros((2, len(zones)), np.bool_)
        self._line_labels = np.zeros((2, len(lines)), np.bool_)
        self.crossings: dict[str, dict[str, Counter[str]]] = {
            name: {"in": Counter(), "out": Counter()} for name in self.line_names
        }

    # ------------------------------------------------------------------ per frame
    def keep(self, detections: Detections) -> Detections:
        """The detections without unwritable rows and those inside a detection mask."""
        if detections.xyxy is None:
            return detections
        boxes = detections.xyxy
        # A NaN or an infinity anywhere in a row makes its sum non-finite: one test.
        ok = (detections.class_id >= 0) & np.isfinite(boxes.sum(axis=1) + detections.confidence)
        # np.count_nonzero rather than ok.all(): a third of the cost.
        if self._masks.count:
            if np.count_nonzero(ok) < len(ok):  # zeros keep inf * 0 out of the mask test
                boxes = np.where(ok[:, np.newaxis], boxes, np.float32(0))
            ok &= ~self._masks.contains_anchors(boxes).any(axis=1)
        return detections if np.count_nonzero(ok) == len(ok) else detections.filter(ok)

    def update(self, detections: Detections, timestamp: float, labels: Sequence[str]) -> FrameZones:
        """Track, test, count: ``detections`` as ``keep`` returned them."""
        self._compile(labels)
        if detections.xyxy is None and len(detections) == 0:  # Detections.empty(): no boxes
            detections = Detections(
                detections.class_id, detections.confidence, np.zeros((0, 4), np.float32)
            )
        if detections.xyxy is None:  # a classifier's classes: nothing to place
            empty = {name: Counter[str]() for name in self.zone_names}
            return FrameZones([[] for _ in range(len(detections))], empty, self._lines())
        boxes = detections.xyxy
        tracked = self.tracker.update(detections, timestamp)
        events = [
            ZoneEvent("leave", e.track, zone=self.zone_names[z], reason="gone")
            for e in tracked
            if e.kind == "end"
            for z in np.flatnonzero(self._presence.state_of(e.track.id))
        ]
        tracks = self.tracker.tracks
        ids = np.fromiter((t.id for t in tracks), np.int64, len(tracks))
        rows = np.fromiter((t.row for t in tracks), np.intp, len(tracks))
        seen = rows >= 0
        raw = np.zeros((len(tracks), len(self.zones)), np.bool_)
        raw[seen] = self.test(detections, labels)[rows[seen]]
        before = self._presence.carry_points(ids)
        changes = self._presence.step(ids, raw)
        for t, z in _cells(changes.entered):
            events.append(ZoneEvent("enter", tracks[t], zone=self.zone_names[z]))
        for t, z in _cells(changes.left):
            events.append(ZoneEvent("leave", tracks[t], zone=self.zone_names[z], reason="moved"))
        events += self._cross(
            tracks, rows=rows, seen=seen, boxes=boxes, before=before, labels=labels
        )
        detection_zones: list[list[str]] = [[] for _ in range(len(detections))]
        row_of = rows.tolist()
        for t, z in _cells(changes.inside & seen[:, np.newaxis]):
            detection_zones[row_of[t]].append(self.zone_names[z])
        return FrameZones(detection_zones, self._counts(tracks), self._lines(), events)

    def finish(self) -> list[ZoneEvent]:
        """``leave`` (reason ``stopped``) for every object still in a zone at the end."""
        events = [
            ZoneEvent("leave", track, zone=self.zone_names[z], reason="stopped")
            for track in self.tracker.tracks
            for z in np.flatnonzero(self._presence.state_of(track.id))
        ]
        self.tracker.finish()
        self._presence.step(np.zeros(0, np.int64), np.zeros((0, len(self.zones)), np.bool_))
        return events

    def test(self, detections: Detections, labels: Sequence[str]) -> npt.NDArray[np.bool_]:
        """``(detections, zones)``: the anchor is inside and the zone counts this label,
        score and size (no inertia: the raw test of one frame)."""
        self._compile(labels)
        boxes = detections.xyxy
        if boxes is None or len(detections) == 0 or not self.zones:
            return np.zeros((len(detections), len(self.zones)), np.bool_)
        if not self._any.count:
            inside = self._points.contains_anchors(boxes)
        elif not self._points.count:
            inside = self._any.overlaps(boxes)
        else:
            inside = np.concatenate(
                (self._points.contains_anchors(boxes), self._any.overlaps(boxes)), axis=1
            )
        inside &= allowed(self._zone_labels, detections.class_id)
        inside &= detections.confidence[:, np.newaxis] >= self._min_score
        size = boxes[:, 2:4] - boxes[:, 0:2]
        inside &= (size[:, 0] * size[:, 1])[:, np.newaxis] >= self._min_area
        return inside if self._unorder is None else inside.take(self._unorder, axis=1)

    # ------------------------------------------------------------------ helpers
    def _compile(self, labels: Sequence[str]) -> None:
        key = tuple(labels)
        if key != self._labels:  # at start, and after a reload swapped the model
            self._labels = key
            self._zone_labels = label_table([self.zones[c].labels for c in self._order], key)
            self._line_labels = label_table([line.labels for line in self.lines], key)

    def _cross(
        self,
        tracks: list[Track],
        *,
        rows: npt.NDArray[np.intp],
        seen: npt.NDArray[np.bool_],
        boxes: npt.NDArray[np.float32],
        before: dict[str, npt.NDArray[np.float32]],
        labels: Sequence[str],
    ) -> list[ZoneEvent]:
        """Crossings of this frame's steps; remembers each track's anchor for the next."""
        events: list[ZoneEvent] = []
        if not self.lines:
            return events
        class_id = np.fromiter((t.class_id for t in tracks), np.int64, len(tracks))
        counted = allowed(self._line_labels, class_id)  # (tracks, lines)
        for anchor in self._line_anchors:
            now = before.get(anchor, np.full((len(tracks), 2), np.nan, np.float32))
            now = now.copy()
            now[seen] = anchor_points(boxes[rows[seen]], anchor)
            old = before.get(anchor)
            if old is not None:
                stepped = seen & ~np.isnan(old[:, 0])
                sign = np.zeros((len(tracks), len(self.lines)), np.int8)
                sign[stepped] = self._line_set.crossed(old[stepped], now[stepped])
                sign *= self._line_anchor[anchor] & counted
                for t, n in _cells(sign):
                    direction: Literal["in", "out"] = (
                        "in" if sign[t, n] * self._in_sign[n] > 0 else "out"
                    )
                    name = self.line_names[n]
                    self.crossings[name][direction][label_of(labels, tracks[t].class_id)] += 1
                    events.append(ZoneEvent("cross", tracks[t], line=name, direction=direction))
            self._presence.points[anchor] = now
        return events

    def _counts(self, tracks: list[Track]) -> dict[str, Counter[str]]:
        counts: dict[str, Counter[str]] = {name: Counter() for name in self.zone_names}
        labels = self._labels or ()
        for t, z in _cells(self._presence.inside):
            counts[self.zone_names[z]][label_of(labels, tracks[t].class_id)] += 1
        return counts

    def _lines(self) -> dict[str, dict[str, Counter[str]]]:
        return {
            name: {"in": Counter(sides["in"]), "out": Counter(sides["out"])}
            for name, sides in self.crossings.items()
        }


def _cells(table: npt.NDArray[np.bool_] | npt.NDArray[np.int8]) -> Iterator[tuple[int, int]]:
    """(row, column) of each true (non-zero) cell, row by row, as Python ints: indexing
    lists with numpy integers, or np.argwhere, costs several times more."""
    rows, columns = np.nonzero(table)
    return zip(rows.tolist(), columns.tolist(), strict=True)
