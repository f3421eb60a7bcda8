"""Result -> the ``edge.result/1`` record: one JSON line in the log, one MQTT payload.

The JSON Schema is ``edge/schemas/result-1.schema.json``; tests validate every record
they produce against it. Scores are 0..1, boxes are normalised to the source frame.
``id`` is ``<run id>-<seq>``: unique, and stable when an outbox retries the record.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from edge.types import Result, label_of

SCHEMA = "edge.result/1"


@dataclass(frozen=True)
class RecordContext:
    """The facts that are the same for every record of one run."""

    device: str
    model_name: str
    model_sha256: str
    task: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


def to_record(result: Result, context: RecordContext) -> dict[str, Any]:
    frame, det = result.frame, result.detections
    detections: list[dict[str, Any]] = []
    for row in range(len(det)):
        class_id = int(det.class_id[row])
        score = float(det.confidence[row])
        box = [float(v) for v in det.xyxy[row]] if det.xyxy is not None else []
        if class_id < 0 or not all(math.isfinite(v) for v in (score, *box)):
            continue  # NaN/inf is no detection (and not JSON); the record stays valid
        item: dict[str, Any] = {
            "label": label_of(result.labels, class_id),
            "class_id": class_id,
            "score": round(_unit(score), 4),
        }
        if det.xyxy is not None:
            item["box"] = [round(_unit(v), 5) for v in box]
        detections.append(item)
    latency = result.latency
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "id": f"{context.run_id}-{result.seq}",
        "device": context.device,
        "seq": result.seq,
        "ts": _iso(frame.timestamp),
        "source": {
            "name": frame.source,
            "frame": frame.index,
            "width": frame.width,
            "height": frame.height,
        },
        "model": {"name": context.model_name, "sha256": context.model_sha256, "task": context.task},
        "latency_ms": {
            "pre": round(latency.pre, 3),
            "infer": round(latency.infer, 3),
            "post": round(latency.post, 3),
            "total": round(latency.total, 3),
        },
        "detections": detections,
    }
    record.update(result.extra)
    return record


def _unit(value: float) -> float:
    """Scores and normalised coordinates are 0..1 in the schema; decoders clip, this
    guarantees it for any decoder."""
    return min(max(value, 0.0), 1.0)


def iso_timestamp(timestamp: float) -> str:
    """``time.time()`` -> ``2026-11-26T13:00:00.123Z``, the ``ts`` of every record."""
    return _iso(timestamp)


def _iso(timestamp: float) -> str:
    # Formatting a date is the record's dearest part; frames share their second, so the
    # "YYYY-MM-DDTHH:MM:SS" prefix is formatted once per second and reused.
    second = math.floor(timestamp)
    micros = round((timestamp - second) * 1e6)  # as datetime rounds, then truncate to ms
    if micros >= 1_000_000:
        second, micros = second + 1, 0
    millis = micros // 1000
    cached_second, prefix = _last_second
    if second != cached_second:
        prefix = dt.datetime.fromtimestamp(second, tz=dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S."
        )
        _last_second[:] = [second, prefix]
    return f"{prefix}{millis:03d}Z"


_last_second: list[Any] = [None, ""]  # [second, its formatted prefix], one per process
