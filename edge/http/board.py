"""What the web server says about the run: ``/api/status`` and ``/healthz``.

``StatusBoard.tick`` is a tick hook of the frame loop: on the loop's thread, at most
``_EVERY`` seconds apart, it reads ``RunStats`` and builds one immutable dict (the
``edge.status/1`` document, ``edge/schemas/status-1.schema.json``); connection threads
only read the reference to the latest one, so they never see the counters half-updated
and never touch the loop's own dicts and deques. ``/healthz`` is computed at request time
from one float (the last frame's time), so it is exact to the request, not to the tick.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from edge import __version__
from edge.pipeline.stats import RunStats, percentile

if TYPE_CHECKING:
    from edge.http.feed import FrameFeed

SCHEMA = "edge.status/1"
_EVERY = 0.5  # seconds between two status documents
_FPS_WINDOW = 3.0  # seconds the frame rate is averaged over


@dataclass(frozen=True)
class RunInfo:
    """What does not change during a run (a reload may change the model: see ``model``)."""

    device: str
    source: str  # the source's kind: a stream URL may hold a password, so never the URL
    sinks: tuple[str, ...]
    health_window: float
    max_viewers: int
    stream_fps: float


@dataclass
class ModelInfo:
    name: str
    task: str
    sha256: str
    labels: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str


class StatusBoard:
    """The run as the web server shows it; ``tick`` on the loop's thread, the rest on any."""

    def __init__(
        self,
        info: RunInfo,
        model: Callable[[], ModelInfo],
        feed: FrameFeed,
        *,
        temperature: Callable[[], float | None] = lambda: None,
        backlogs: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.info = info
        self.started = time.monotonic()
        self._model = model
        self._feed = feed
        self._temperature = temperature
        self._backlogs = backlogs
        self._stats: RunStats | None = None
        self._next = 0.0
        self._rates: deque[tuple[float, int]] = deque()
        self._infer_seen = 0  # frames whose inference time went to ``on_infer``
        self._on_infer: list[Callable[[Sequence[float]], None]] = []
        self.document: dict[str, Any] = self._build(RunStats(), time.monotonic())

    def on_infer(self, callback: Callable[[Sequence[float]], None]) -> None:
        """Called at each tick with the inference times (ms) of the frames since the
        previous one (the ``/metrics`` histogram)."""
        self._on_infer.append(callback)

    def tick(self, stats: RunStats) -> None:
        self._stats = stats
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + _EVERY
        new = min(stats.frames - self._infer_seen, len(stats.infer_ms))
        self._infer_seen = stats.frames
        if new > 0 and self._on_infer:
            recent = list(stats.infer_ms)[-new:]
            for callback in self._on_infer:
                callback(recent)
        self.document = self._build(stats, now)

    def health(self) -> Health:
        """200 while frames flow: one processed within ``health_window`` seconds, and no
        sink failed (the systemd watchdog's rule, docs/http.md)."""
        stats = self._stats
        window = self.info.health_window
        if stats is None or stats.last_frame_at == 0.0:
            return Health(False, "no frame processed yet")
        age = time.monotonic() - stats.last_frame_at
        if age > window:
            return Health(
                False,
                f"no frame processed for {age:.1f} s (more than {window:g} s); "
                f"source {stats.source_state}",
            )
        failed = dict(stats.sink_failed)
        if failed:
            name, why = next(iter(failed.items()))
            return Health(False, f"sink {name} failed: {why}")
        return Health(True, f"ok: last frame {age:.2f} s ago")

    def _fps(self, frames: int, now: float) -> float:
        self._rates.append((now, frames))
        while len(self._rates) > 2 and now - self._rates[0][0] > _FPS_WINDOW:
            self._rates.popleft()
        then, before = self._rates[0]
        return (frames - before) / (now - then) if now > then else 0.0

    def _build(self, stats: RunStats, now: float) -> dict[str, Any]:
        fps = self._fps(stats.frames, now)
        model = self._model()
        problems = self._problems(stats)
        state = (
            "failed"
            if stats.sink_failed
            else "starting"
            if stats.frames == 0 and not problems
            else "degraded"
            if problems
            else "running"
        )
        age = now - stats.last_frame_at if stats.last_frame_at else None
        backlogs = self._backlogs()
        return {
            "schema": SCHEMA,
            "device": self.info.device,
            "version": __version__,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "state": state,
            "problems": problems,
            "uptime_s": round(now - self.started, 1),
            "cpu_temperature_c": self._temperature(),
            "pipeline": {
                "frames": stats.frames,
                "fps": round(fps, 2),
                "infer_ms_p50": round(percentile(stats.infer_ms, 50) or 0.0, 3),
                "infer_ms_p95": round(percentile(stats.infer_ms, 95) or 0.0, 3),
                "total_ms_p50": round(percentile(stats.total_ms, 50) or 0.0, 3),
                "dropped": stats.dropped,
                "skipped": stats.skipped,
                "paused_frames": stats.paused_frames,
                "last_frame_age_s": None if age is None else round(age, 3),
            },
            "source": {
                "kind": self.info.source,
                "state": stats.source_state,
                "reconnects": stats.reconnects,
            },
            "sinks": [
                {
                    "name": name,
                    "state": stats.sink_state.get(name),
                    "dropped": stats.sink_dropped.get(name, 0),
                    "failure": stats.sink_failed.get(name),
                    "backlog": backlogs.get(name),
                }
                for name in self.info.sinks
            ],
            "model": {
                "name": model.name,
                "task": model.task,
                "sha256": model.sha256,
                "labels": list(model.labels),
            },
            "detections": self._detections(),
            "http": {
                "viewers": self._feed.viewers,
                "max_viewers": self.info.max_viewers,
                "stream_fps": self.info.stream_fps,
            },
        }

    def _problems(self, stats: RunStats) -> list[str]:
        """What is not normal, in words a person reads on the page."""
        problems = []
        if stats.source_state == "reconnecting":
            problems.append(f"camera reconnecting (reconnects {stats.reconnects})")
        elif stats.source_state not in ("running", "opening"):
            problems.append(f"source {stats.source_state}")
        for name, state in sorted(stats.sink_state.items()):
            if name in stats.sink_failed:
                problems.append(f"sink {name} failed: {stats.sink_failed[name]}")
            elif state not in ("connected", "running"):
                problems.append(f"sink {name} {state} (broker away?)")
        if stats.last_frame_at and time.monotonic() - stats.last_frame_at > self.info.health_window:
            problems.append(f"no frame for more than {self.info.health_window:g} s")
        return problems

    def _detections(self) -> list[dict[str, Any]]:
        """The newest detections first, one row per box or class."""
        rows: list[dict[str, Any]] = []
        for record in reversed(list(self._feed.recent)):
            for item in record.get("detections", []):
                rows.append(
                    {
                        "ts": record.get("ts"),
                        "seq": record.get("seq"),
                        "frame": record.get("source", {}).get("frame"),
                        "label": item.get("label"),
                        "score": item.get("score"),
                        "box": item.get("box"),
                    }
                )
                if len(rows) >= (self._feed.recent.maxlen or 20):
                    return rows
        return rows
