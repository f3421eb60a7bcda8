"""``[filters]``, ``[motion]`` and ``[events]``: what happens to detections after the
decoder (labels, areas), the motion gate before the model, and the event tracker.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from edge.config.base import Strict

# Labels a filter may name: far more than any model has classes (COCO: 80).
MAX_LABELS = 10_000


class FiltersConfig(Strict):
    """Applied after any decoder, to every detection (labels as written in records)."""

    thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        max_length=MAX_LABELS,
        description="per-label minimum score, e.g. {person = 0.6}",
    )
    allow: list[str] | None = Field(
        None, max_length=MAX_LABELS, description="report only these labels"
    )
    deny: list[str] = Field(
        default_factory=list, max_length=MAX_LABELS, description="never report these labels"
    )
    min_area: float = Field(
        0.0, ge=0.0, le=1.0, description="drop boxes smaller than this fraction of the frame"
    )


class MotionConfig(Strict):
    """Skip inference while nothing changes (differencing on a small grey frame)."""

    enabled: bool = Field(False, description="turn the motion gate on")
    width: int = Field(64, ge=8, le=640, description="width of the grey frame compared")
    pixel_threshold: int = Field(
        20, ge=1, le=255, description="grey-level change that counts a pixel as changed"
    )
    min_changed: float = Field(
        0.005, gt=0.0, le=1.0, description="fraction of changed pixels that counts as motion"
    )
    heartbeat: float = Field(
        30.0,
        ge=0.0,
        le=86400,
        description="seconds: run the model at least this often while nothing "
        "moves, so a record still says the device is alive (0 = never)",
    )


class EventsConfig(Strict):
    """Track objects and write ``edge.event/1`` records: new, update, end."""

    enabled: bool = Field(False, description="turn event mode on (detection models)")
    per_frame: bool = Field(
        True, description="keep writing the per-frame edge.result/1 records beside the events"
    )
    iou_threshold: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="a detection continues a track of its label when "
        "their boxes overlap by at least this IoU",
    )
    max_missed: int = Field(
        10, ge=1, le=100_000, description="inferred frames a track may go unseen before it ends"
    )
    update_interval: float = Field(
        5.0, ge=0.0, le=86400, description="seconds between update events of one track"
    )
