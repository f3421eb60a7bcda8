"""Event mode: object tracks -> ``edge.event/1`` records (``new``, ``update``, ``end``).

A per-frame record says what one frame shows; an event says what happened: an object
appeared, is still there (at most once per ``update_interval``), left. The JSON Schema
is ``edge/schemas/event-1.schema.json``. Events go to the same sinks as the per-frame
records, in the same stream: a consumer tells them apart by ``schema``. With
``[events] per_frame = false`` only events are written (the quiet setting for a log or
a broker); the default keeps both.

``id`` is ``<run id>-e<n>``: unique, and stable when an outbox retries the record.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from edge.events.tracker import IouTracker, TrackEvent
from edge.record import RecordContext, iso_timestamp
from edge.types import Detections, Frame

SCHEMA = "edge.event/1"


class EventWriter:
    def __init__(self, tracker: IouTracker) -> None:
        self.tracker = tracker
        self.written = 0
        self._last_source: dict[str, Any] = {}

    def on_frame(
        self, frame: Frame, detections: Detections, context: RecordContext, labels: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The event records one inferred frame causes."""
        self._last_source = {
            "name": frame.source,
            "frame": frame.index,
            "width": frame.width,
            "height": frame.height,
        }
        events = self.tracker.update(detections, frame.timestamp)
        return [self._record(e, frame.timestamp, context, labels) for e in events]

    def on_close(self, context: RecordContext, labels: Sequence[str]) -> list[dict[str, Any]]:
        """``end`` records for the tracks still open when the run stops."""
        now = time.time()
        return [self._record(e, now, context, labels) for e in self.tracker.finish()]

    def _record(
        self, event: TrackEvent, timestamp: float, context: RecordContext, labels: Sequence[str]
    ) -> dict[str, Any]:
        track = event.track
        label = labels[track.class_id] if 0 <= track.class_id < len(labels) else str(track.class_id)
        record: dict[str, Any] = {
            "schema": SCHEMA,
            "id": f"{context.run_id}-e{self.written}",
            "device": context.device,
            "ts": iso_timestamp(timestamp),
            "event": event.kind,
            "track": {
                "id": track.id,
                "label": label,
                "class_id": track.class_id,
                "score": round(track.score, 4),
                "box": [round(float(v), 5) for v in track.box],
                "first_seen": iso_timestamp(track.first_seen),
                "last_seen": iso_timestamp(track.last_seen),
                "frames": track.frames,
            },
            "source": dict(self._last_source),
            "model": {
                "name": context.model_name,
                "sha256": context.model_sha256,
                "task": context.task,
            },
        }
        if event.reason is not None:
            record["reason"] = event.reason
        self.written += 1
        return record
