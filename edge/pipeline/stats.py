"""A run's counters and the figures read from them, computed one way everywhere.

- ``RunStats``: the counters the loop keeps (``edge.pipeline.loop``), read by the
  status line, systemd's ``STATUS=``, the MQTT ``<prefix>/stats`` message and the run's
  summary.
- ``FpsWindow``: frames per second over the time since the previous reading, not over
  the whole run, so a status line shows what the loop does now. The window opens when
  the ``FpsWindow`` is made (or ``restart``-ed); the first ``take`` covers the time from
  then.
- ``percentile``: numpy's default (linear interpolation between the closest ranks), the
  same number in the run summary, the bench report and the MQTT stats.
- ``status_text``: one status line in two forms, the terminal's (``edge run`` logs it
  every ``status_interval``) and systemd's (``STATUS=``, shown by ``systemctl status``).
  Both name the same facts in the same words; the systemd form leads with
  ``running``/``degraded`` (``docs/raspberry-pi.md`` and the service tests read it), the
  terminal form with the frame count and latency.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from edge.sources.base import SourceState

_WINDOW = 2048  # latencies kept for the percentiles

StatusForm = Literal["systemd", "terminal"]
RunState = Literal["running", "degraded", "failed"]  # what systemd's STATUS= leads with


@dataclass
class RunStats:
    """Counters of one run. Latency percentiles cover the most recent frames only, so a
    service that runs for months keeps constant memory."""

    started: float = field(default_factory=time.monotonic)
    frames: int = 0
    dropped: int = 0
    infer_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    total_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    # Health, refreshed on every loop turn (frame or idle tick).
    source_state: SourceState = "opening"
    reconnects: int = 0
    last_frame_at: float = 0.0  # time.monotonic() of the last frame processed, 0 = none
    source_activity_at: float = 0.0  # the source's own last_activity (see SourceHealth)
    sink_dropped: dict[str, int] = field(default_factory=dict)  # per sink name
    sink_state: dict[str, str] = field(default_factory=dict)  # sinks that report one
    sink_failed: dict[str, str] = field(default_factory=dict)  # name -> why it failed
    skipped: int = 0  # frames the motion gate let pass without inference
    events: int = 0  # edge.event/1 records written
    paused_frames: int = 0  # frames read while paused by a command (no record written)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def fps(self) -> float:
        """Frames per second over the whole run."""
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def sink_drops(self) -> int:
        return sum(self.sink_dropped.values())

    @property
    def failed(self) -> bool:
        """A sink can no longer deliver (``HasFailure``): the run is unhealthy."""
        return bool(self.sink_failed)

    def summary(self) -> dict[str, Any]:
        """The run's figures; latency percentiles are 0.0 before the first frame."""
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "seconds": round(self.elapsed, 2),
            "fps": round(self.fps, 1),
            "infer_ms_p50": round(percentile(self.infer_ms, 50) or 0.0, 3),
            "infer_ms_p95": round(percentile(self.infer_ms, 95) or 0.0, 3),
            "total_ms_p50": round(percentile(self.total_ms, 50) or 0.0, 3),
            "reconnects": self.reconnects,
            "sink_drops": self.sink_drops,
            "skipped": self.skipped,
            "events": self.events,
            "paused_frames": self.paused_frames,
        }


class FpsWindow:
    """Frames per second since the previous ``take``.

    The window opens at ``start`` (default: now, on ``time.monotonic``) with ``frames``
    already counted, so the first ``take`` is the rate since the window was made. Give
    ``now`` from the same clock as ``start``.
    """

    def __init__(self, start: float | None = None, frames: int = 0) -> None:
        self._at = time.monotonic() if start is None else start
        self._frames = frames

    @property
    def since(self) -> float:
        """When the current window opened (the previous ``take``, or the start)."""
        return self._at

    @property
    def frames(self) -> int:
        """The frame count at the previous ``take`` (or the start)."""
        return self._frames

    def take(self, frames: int, now: float) -> float:
        """Frames per second from the previous take to ``now`` (``frames`` is the run's
        running count); then the next window opens at ``now``. 0.0 over no time."""
        span = now - self._at
        rate = (frames - self._frames) / span if span > 0 else 0.0
        self._at, self._frames = now, frames
        return rate

    def restart(self, now: float, frames: int = 0) -> None:
        """Open a new window at ``now`` without reading a rate (e.g. once a service is
        ready, so the model load does not count)."""
        self._at, self._frames = now, frames


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between the closest
    ranks (``numpy.percentile``'s default); None when there are no values."""
    if not len(values):
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def status_text(
    stats: RunStats,
    fps: float,
    fresh: bool = True,
    *,
    form: StatusForm = "systemd",
    window_frames: int = 0,
) -> str:
    """One status line: frames/s (``fps``, from an ``FpsWindow``), frames, the source
    and the sinks. ``fresh`` is the watchdog's verdict (``edge.service.supervisor``).

    ``form="systemd"``: ``running: 30.0 fps, 300 frames, source running`` plus what is
    not normal; ``degraded`` when the source is neither running nor opening, or the
    pipeline is not fresh; ``failed`` when a sink failed (``RunStats.sink_failed``).
    ``form="terminal"``: ``300 frames | 30.0 fps | infer 1.20 ms | dropped 0`` with the
    mean inference time over the last ``window_frames`` frames, and after it only what
    is not normal, so a healthy line stays short.
    """
    reconnects = f" (reconnects {stats.reconnects})"
    sinks = [f"{name} {state}" for name, state in sorted(stats.sink_state.items())]
    if stats.sink_drops:
        sinks.append(f"sink drops {stats.sink_drops}")
    abnormal = stats.source_state not in ("running", "opening")
    if form == "terminal":
        recent = list(stats.infer_ms)[-max(1, window_frames) :]
        infer = sum(recent) / len(recent) if recent else 0.0
        parts = [
            f"{stats.frames} frames",
            f"{fps:.1f} fps",
            f"infer {infer:.2f} ms",
            f"dropped {stats.dropped}",
        ]
        if stats.skipped:  # only when a motion gate skipped any
            parts.append(f"skipped {stats.skipped}")
        if abnormal or stats.reconnects:
            parts.append(f"source {stats.source_state}{reconnects}")
        return " | ".join(parts + sinks)
    state: RunState = (
        "failed" if stats.failed else "degraded" if abnormal or not fresh else "running"
    )
    parts = [
        f"{state}: {fps:.1f} fps, {stats.frames} frames",
        f"source {stats.source_state}" + (reconnects if stats.reconnects else ""),
        *sinks,
    ]
    if stats.failed:
        parts.append("sink failed: watchdog not fed")
    elif not fresh:
        parts.append("no progress: watchdog not fed")
    return ", ".join(parts)


__all__ = ["FpsWindow", "RunState", "RunStats", "StatusForm", "percentile", "status_text"]
