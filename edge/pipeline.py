"""The only loop: frames -> inference -> records -> sinks (and frame observers).

Live sources are read through ``LatestFrameReader`` (newest frame only, drops counted);
files and folders through ``ReadAheadReader`` (a few frames ahead on its own thread, in
order, nothing dropped), so decoding the next frame overlaps with the work on this one.
Inference runs on the calling thread. Both readers yield idle ticks while the source
delivers nothing, so the loop keeps supervising during a stall: it refreshes the health
counters, prints the status line and runs the tick hooks (the systemd watchdog is one),
and a stalled or hung pipeline is visible there rather than silent. ``stop`` (set by a signal
handler) ends the loop cleanly.

Extension points, each optional:
- ``observers``: objects with ``observe(frame, record)`` and ``close()`` that need the
  picture as well as the record (preview window, video recorder, snapshots);
- ``tick_hooks``: callables run on every loop turn, frame or idle, with the stats;
- a source's ``health()`` and a sink's ``dropped`` / ``state`` feed ``RunStats``;
- ``gate`` (the motion gate, ``edge.processing.motion``): asked before inference; a frame
  it skips is counted in ``RunStats.skipped`` and still counts as progress for the
  watchdog, since the loop is alive and the scene simply did not change;
- ``events`` (``edge.events.EventWriter``): fed the detections after decoding; its
  ``edge.event/1`` records go to the same sinks, and with ``per_frame`` false they are
  the only records written.
- ``control`` (``edge.control.RunControl``): pause (frames read and dropped, counted in
  ``paused_frames``, no record) and a score threshold applied before the record.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge.capture import LatestFrameReader, ReadAheadReader
from edge.control import RunControl
from edge.record import RecordContext, to_record
from edge.sinks.base import Record, Sink
from edge.sources.base import Source, SourceHealth
from edge.types import Detections, Frame, Result

if TYPE_CHECKING:  # built by edge.app only when a run asks for them (cold start)
    from edge.events import EventWriter
    from edge.inference import Inference
    from edge.processing.motion import MotionGate

_WINDOW = 2048


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
    source_state: str = "opening"
    reconnects: int = 0
    last_frame_at: float = 0.0  # time.monotonic() of the last frame processed, 0 = none
    source_activity_at: float = 0.0  # the source's own last_activity (see SourceHealth)
    sink_dropped: dict[str, int] = field(default_factory=dict)  # per sink name
    sink_state: dict[str, str] = field(default_factory=dict)  # sinks that report one
    skipped: int = 0  # frames the motion gate let pass without inference
    events: int = 0  # edge.event/1 records written
    paused_frames: int = 0  # frames read while paused by a command (no record written)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def sink_drops(self) -> int:
        return sum(self.sink_dropped.values())

    def summary(self) -> dict[str, Any]:
        infer = np.asarray(self.infer_ms or [0.0])
        total = np.asarray(self.total_ms or [0.0])
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "seconds": round(self.elapsed, 2),
            "fps": round(self.fps, 1),
            "infer_ms_p50": round(float(np.percentile(infer, 50)), 3),
            "infer_ms_p95": round(float(np.percentile(infer, 95)), 3),
            "total_ms_p50": round(float(np.percentile(total, 50)), 3),
            "reconnects": self.reconnects,
            "sink_drops": self.sink_drops,
            "skipped": self.skipped,
            "events": self.events,
            "paused_frames": self.paused_frames,
        }


StatusCallback = Callable[[RunStats], None]
TickHook = Callable[[RunStats], None]


class FrameObserver(Protocol):
    """Something that needs the frame itself beside its record (preview, recorder)."""

    def observe(self, frame: Frame, record: Record) -> None: ...

    def close(self) -> None: ...


class Pipeline:
    def __init__(
        self,
        source: Source,
        inference: Inference,
        sinks: Sequence[Sink],
        context: RecordContext,
        labels: Sequence[str],
        *,
        max_frames: int | None = None,
        status: StatusCallback | None = None,
        status_interval: float = 5.0,
        observers: Sequence[FrameObserver] = (),
        tick_hooks: Sequence[TickHook] = (),
        gate: MotionGate | None = None,
        events: EventWriter | None = None,
        per_frame: bool = True,
        control: RunControl | None = None,
    ) -> None:
        self.source = source
        self.inference = inference
        self.sinks = list(sinks)
        self.context = context
        self.labels = tuple(labels)
        self.max_frames = max_frames
        self.status = status
        self.status_interval = status_interval
        self.observers = list(observers)
        self.tick_hooks = list(tick_hooks)
        self.gate = gate
        self.events = events
        self.per_frame = per_frame
        self.control = control
        self.stats = RunStats()

    def run(self, stop: threading.Event | None = None) -> RunStats:
        stop = stop or threading.Event()
        reader: LatestFrameReader | ReadAheadReader = (
            LatestFrameReader(self.source) if self.source.live else ReadAheadReader(self.source)
        )
        frames: Iterator[Frame | None] = reader.frames(stop)
        next_status = time.monotonic() + self.status_interval
        try:
            for frame in frames:
                if frame is not None and not self._paused():
                    self._process(frame)
                self.stats.dropped = reader.dropped
                self._refresh_health()
                for hook in self.tick_hooks:
                    hook(self.stats)
                if self.status and time.monotonic() >= next_status:
                    self.status(self.stats)
                    next_status = time.monotonic() + self.status_interval
                seen = self.stats.frames + self.stats.skipped
                if stop.is_set() or (self.max_frames and seen >= self.max_frames):
                    break
        finally:
            reader.close()
            self.stats.dropped = reader.dropped
            self._refresh_health()
            self._end_events()
        return self.stats

    def swap_model(self, inference: Inference, context: RecordContext,
                   labels: Sequence[str]) -> None:
        """Run the next frame through another model (a reload). Call it on the loop thread
        (from a tick hook), so no frame is ever half through the old model and half through
        the new one; records carry the new model's name and sha256 from the next frame on."""
        self.inference = inference
        self.context = context
        self.labels = tuple(labels)

    def _refresh_health(self) -> None:
        health: SourceHealth | None = None
        reporter = getattr(self.source, "health", None)
        if callable(reporter):
            health = reporter()
        if health is not None:
            self.stats.source_state = health.state
            self.stats.reconnects = health.reconnects
            self.stats.source_activity_at = health.last_activity
        elif self.stats.frames:
            self.stats.source_state = "running"
            self.stats.source_activity_at = self.stats.last_frame_at
        for sink in self.sinks:
            self.stats.sink_dropped[sink.name] = int(getattr(sink, "dropped", 0))
            state = getattr(sink, "state", None)
            if isinstance(state, str):
                self.stats.sink_state[sink.name] = state

    def _process(self, frame: Frame) -> None:
        if self._gate_skips(frame):
            return
        detections, extra, latency = self.inference(frame)
        threshold = self.control.threshold if self.control is not None else None
        if threshold is not None:
            detections = detections.filter(detections.confidence >= threshold)
        result = Result(self.stats.frames, frame, detections, self.labels, latency, extra)
        record = to_record(result, self.context)
        if self.per_frame:
            for sink in self.sinks:
                sink.write(record)
        self._write_events(frame, detections)
        for observer in self.observers:
            observer.observe(frame, record)
        self.stats.frames += 1
        self.stats.last_frame_at = time.monotonic()
        self.stats.infer_ms.append(latency.infer)
        self.stats.total_ms.append(latency.total)

    def _paused(self) -> bool:
        """Paused by a command: the frame is read and dropped, no record. It still counts
        as progress for the watchdog: the loop is alive, a user asked it to rest."""
        if self.control is None or not self.control.paused:
            return False
        self.stats.paused_frames += 1
        self.stats.last_frame_at = time.monotonic()
        return True

    def _gate_skips(self, frame: Frame) -> bool:
        """Motion gate: True when this frame is skipped (nothing changed)."""
        if self.gate is None or self.gate.should_infer(frame):
            return False
        self.stats.skipped += 1
        self.stats.last_frame_at = time.monotonic()
        return True

    def _write_events(self, frame: Frame, detections: Detections) -> None:
        if self.events is not None:
            self._emit(self.events.on_frame(frame, detections, self.context, self.labels))

    def _end_events(self) -> None:
        """Close the tracks still open, so every ``new`` has its ``end``."""
        if self.events is not None:
            self._emit(self.events.on_close(self.context, self.labels))

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            for sink in self.sinks:
                sink.write(record)
            self.stats.events += 1
