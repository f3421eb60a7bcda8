"""``[service]`` and ``[output]``: the service's status and watchdog settings, and
the run's side outputs (recording, snapshots, preview).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.base import Strict


class ServiceConfig(Strict):
    """How ``edge run`` behaves under systemd (read only when systemd asks for it)."""

    watchdog_window: float | None = Field(
        None,
        gt=0,
        le=86400,
        description="seconds without a processed frame (or, while the source "
        "reconnects, without a reopen attempt) after which WATCHDOG=1 pings stop so systemd "
        "restarts the service; default: the unit's WatchdogSec (WATCHDOG_USEC)",
    )
    status_every: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="seconds between STATUS= updates sent to systemd",
    )


class OutputConfig(Strict):
    """The picture side of a run (flags --preview, --record, --snapshot-dir): what the
    model saw, annotated with its records."""

    preview: bool = Field(False, description="show a window with boxes, labels and scores")
    record: Path | None = Field(
        None, description="write the annotated video here (.mp4 mp4v, .avi MJPG, .mkv XVID)"
    )
    record_fps: float | None = Field(
        None,
        gt=0,
        le=240,
        description="frame rate written into the video; default: the source's, else 30",
    )
    snapshot_dir: Path | None = Field(
        None, description="save an annotated JPEG here when a detection or anomaly appears"
    )
    snapshot_interval: float = Field(
        10.0, ge=0, le=86400, description="seconds before the same label is saved again"
    )
