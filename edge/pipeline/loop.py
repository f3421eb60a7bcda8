"""The only loop: frames -> inference -> records -> sinks (and frame observers).

The stages run at once, each on its own thread, with bounded, order-keeping hand-offs:
1. the reader (``edge.pipeline.readers``): a live source through ``LatestFrameReader`` (newest
   frame only, drops counted), a file or folder through ``ReadAheadReader`` (a few
   frames ahead, nothing dropped);
2. the model stages (``edge.pipeline.stages``), two threads: the motion gate and the
   preprocessing into a buffer from a pool allocated once, then ``invoke``;
3. this loop, on the calling thread: box decoding, the record, the sinks' hand-off
   (each sink writes on its own thread), events, observers, and the supervision.
The supervision never waits on a frame: when nothing comes within 0.1 s the loop gets an
idle tick, refreshes the health counters, prints the status line and runs the tick hooks
(the systemd watchdog is one), so a stalled or hung pipeline is visible rather than
silent. ``stop`` (set by a signal handler) ends the run: the model stages stop taking
frames, and what they already preprocessed is still inferred and written.

Extension points, each optional:
- ``observers``: objects with ``observe(frame, record)`` and ``close()`` that need the
  picture as well as the record (preview window, video recorder, snapshots);
- ``tick_hooks``: callables run on every loop turn, frame or idle, with the stats;
- a source's ``health()`` and a sink's ``dropped`` / ``state`` feed ``RunStats``;
- ``gate`` (the motion gate, ``edge.processing.motion``): asked before inference; a frame
  it skips is counted in ``RunStats.skipped`` and still counts as progress for the
  watchdog, since the loop is alive and the scene simply did not change;
- ``events`` (``edge.events.writer.EventWriter``): fed the detections after decoding; its
  ``edge.event/1`` records go to the same sinks, and with ``per_frame`` false they are
  the only records written.
- ``control`` (``edge.pipeline.control.RunControl``): pause (frames read and dropped, counted in
  ``paused_frames``, no record) and a score threshold applied before the record.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from edge.pipeline.control import RunControl
from edge.pipeline.readers import LatestFrameReader, ReadAheadReader
from edge.pipeline.stages import ActiveModel, Inferred, ModelStage, Paused, Skipped, StageItem
from edge.record import RecordContext, to_record
from edge.sinks.base import Record, Sink
from edge.sources.base import Source, SourceHealth
from edge.types import Detections, Frame, Result

if TYPE_CHECKING:  # built by edge.app only when a run asks for them (cold start)
    from edge.events.writer import EventWriter
    from edge.pipeline.inference import Inference
    from edge.processing.motion import MotionGate

_WINDOW = 2048
_HEALTH_INTERVAL = 0.1  # seconds between refreshes of the source and sink health


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
        self._model = ActiveModel(inference, context, tuple(labels))
        self._stage: ModelStage | None = None
        self.sinks = list(sinks)
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
        stage = ModelStage(
            reader,
            self._model,
            live=self.source.live,
            gate=self.gate,
            control=self.control,
            limit=self.max_frames,
        )
        self._stage = stage
        next_status = time.monotonic() + self.status_interval
        next_health = 0.0
        try:
            for item in stage.items():
                if item is not None:
                    self._take(item)
                now = time.monotonic()
                if item is None or now >= next_health:
                    # Ten times a second is fresh enough for the watchdog and the status
                    # line; per frame it would cost a share of a fast model's frame time.
                    self.stats.dropped = reader.dropped
                    self._refresh_health()
                    next_health = now + _HEALTH_INTERVAL
                for hook in self.tick_hooks:
                    hook(self.stats)
                if self.status and time.monotonic() >= next_status:
                    self.status(self.stats)
                    next_status = time.monotonic() + self.status_interval
                if stop.is_set():
                    stage.finish()  # what is already inferred still comes out and is written
        finally:
            stage.close()
            reader.close()
            self._stage = None
            self.stats.dropped = reader.dropped
            self._refresh_health()
            self._end_events()
        return self.stats

    @property
    def inference(self) -> Inference:
        return self._model.inference

    @property
    def context(self) -> RecordContext:
        return self._model.context

    @property
    def labels(self) -> tuple[str, ...]:
        return self._model.labels

    def swap_model(
        self,
        inference: Inference,
        context: RecordContext,
        labels: Sequence[str],
        *,
        on_retired: Callable[[Inference], None] | None = None,
    ) -> None:
        """Run the next frame through another model (a reload); returns at once. Call it
        from the loop thread (a tick hook, as the reload does): from another thread it
        could race with ``run`` starting or ending. Frames already preprocessed for the
        old model finish in it, are decoded by its own decoder and recorded under its name
        and sha256; later ones go through the new model. ``on_retired`` gets the old
        ``Inference`` once no frame uses it (the reload closes it then)."""
        model = ActiveModel(inference, context, tuple(labels))
        replaced, self._model = self._model, model
        stage = self._stage
        if stage is not None:
            stage.swap(model, on_retired)
        elif on_retired is not None:  # not running: nothing can be inside the old model
            on_retired(replaced.inference)

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

    def _take(self, item: StageItem) -> None:
        if isinstance(item, Inferred):
            self._record(item)
        elif isinstance(item, Skipped):
            # The motion gate saw no change: the loop is alive, the scene is still.
            self.stats.skipped += 1
            self.stats.last_frame_at = time.monotonic()
        elif isinstance(item, Paused):
            # Paused by a command: read and dropped, no record. It still counts as
            # progress for the watchdog: the loop is alive, a user asked it to rest.
            self.stats.paused_frames += 1
            self.stats.last_frame_at = time.monotonic()
        elif item.error is not None:
            raise item.error

    def _record(self, item: Inferred) -> None:
        frame, model = item.frame, item.model
        detections, extra, latency = model.inference.decode(item.output)
        threshold = self.control.threshold if self.control is not None else None
        if threshold is not None:
            detections = detections.filter(detections.confidence >= threshold)
        result = Result(self.stats.frames, frame, detections, model.labels, latency, extra)
        record = to_record(result, model.context)
        if self.per_frame:
            for sink in self.sinks:
                sink.write(record)
        self._write_events(frame, detections, model)
        for observer in self.observers:
            observer.observe(frame, record)
        self.stats.frames += 1
        self.stats.last_frame_at = time.monotonic()
        self.stats.infer_ms.append(latency.infer)
        self.stats.total_ms.append(latency.total)

    def _write_events(self, frame: Frame, detections: Detections, model: ActiveModel) -> None:
        if self.events is not None:
            self._emit(self.events.on_frame(frame, detections, model.context, model.labels))

    def _end_events(self) -> None:
        """Close the tracks still open, so every ``new`` has its ``end``."""
        if self.events is not None:
            self._emit(self.events.on_close(self.context, self.labels))

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            for sink in self.sinks:
                sink.write(record)
            self.stats.events += 1
