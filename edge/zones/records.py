"""What zones add to the records: ``edge.result/2`` and the ``edge.event/2`` zone events.

Version rule (docs/zones.md): ``edge.result/1`` and ``edge.event/1`` are closed
(``additionalProperties: false``), so a new field would make every strict /1 validator
refuse the record. A run WITHOUT zones or lines writes exactly the /1 records it wrote
before. A run WITH them writes ``edge.result/2`` (= /1, plus ``zones`` on each detection
and ``zones`` and ``lines`` counts on the record) and, in event mode, ``edge.event/2``
zone events (``enter``, ``leave``, ``cross``) beside the unchanged /1 track events. A /1
reader that checks ``schema`` skips the /2 records instead of misreading them; the fields
it knows keep their meaning in /2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from edge.record import RecordContext, iso_timestamp
from edge.types import Detections, Frame, label_of
from edge.zones.engine import FrameZones, ZoneEngine, ZoneEvent

RESULT_SCHEMA = "edge.result/2"
EVENT_SCHEMA = "edge.event/2"


def add_zones(record: dict[str, Any], found: FrameZones) -> None:
    """Turn a /1 record of the same detections into its /2 form, in place."""
    record["schema"] = RESULT_SCHEMA
    for item, zones in zip(record["detections"], found.detection_zones, strict=True):
        item["zones"] = zones
    record["zones"] = {
        name: {"counts": dict(sorted(counts.items())), "total": sum(counts.values())}
        for name, counts in found.counts.items()
    }
    record["lines"] = {
        name: {side: dict(sorted(counts.items())) for side, counts in sides.items()}
        for name, sides in found.lines.items()
    }


class ZoneRecorder:
    """The engine as the loop uses it: detections in, record amended, event records out.
    Event ids are ``<run id>-z<n>`` (event mode's own are ``-e<n>``)."""

    def __init__(self, engine: ZoneEngine, *, events: bool) -> None:
        self.engine = engine
        self.events = events
        self.written = 0
        self._source: dict[str, Any] = {}

    def keep(self, detections: Detections) -> Detections:
        return self.engine.keep(detections)

    def on_frame(
        self,
        frame: Frame,
        detections: Detections,
        record: dict[str, Any],
        context: RecordContext,
        labels: Sequence[str],
    ) -> list[dict[str, Any]]:
        self._source = {
            "name": frame.source,
            "frame": frame.index,
            "width": frame.width,
            "height": frame.height,
        }
        found = self.engine.update(detections, frame.timestamp, labels)
        add_zones(record, found)
        if not self.events:
            return []
        return [self._event(e, frame.timestamp, context, labels) for e in found.events]

    def on_close(
        self, context: RecordContext, labels: Sequence[str], now: float
    ) -> list[dict[str, Any]]:
        events = self.engine.finish()
        if not self.events:
            return []
        return [self._event(e, now, context, labels) for e in events]

    def _event(
        self, event: ZoneEvent, timestamp: float, context: RecordContext, labels: Sequence[str]
    ) -> dict[str, Any]:
        track = event.track
        record: dict[str, Any] = {
            "schema": EVENT_SCHEMA,
            "id": f"{context.run_id}-z{self.written}",
            "device": context.device,
            "ts": iso_timestamp(timestamp),
            "event": event.kind,
            "track": {
                "id": track.id,
                "label": label_of(labels, track.class_id),
                "class_id": track.class_id,
                "score": round(min(max(track.score, 0.0), 1.0), 4),
                "box": [round(min(max(float(v), 0.0), 1.0), 5) for v in track.box],
                "first_seen": iso_timestamp(track.first_seen),
                "last_seen": iso_timestamp(track.last_seen),
                "frames": track.frames,
            },
            "source": dict(self._source),
            "model": {
                "name": context.model_name,
                "sha256": context.model_sha256,
                "task": context.task,
            },
        }
        if event.zone is not None:
            record["zone"] = event.zone
        if event.line is not None:
            record["line"] = event.line
            record["direction"] = event.direction
        if event.reason is not None:
            record["reason"] = event.reason
        self.written += 1
        return record
