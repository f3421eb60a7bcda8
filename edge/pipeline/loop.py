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
- a source's ``health()`` (``HasHealth``) and a sink's ``dropped`` / ``state``
  (``HasDropCount`` / ``HasState``) feed ``RunStats``;
- ``gate`` (the motion gate, ``edge.processing.motion``): asked before inference; a frame
  it skips is counted in ``RunStats.skipped`` and still counts as progress for the
  watchdog, since the loop is alive and the scene simply did not change;
- ``events`` (``edge.events.writer.EventWriter``): fed the detections after decoding; its
  ``edge.event/1`` records go to the same sinks, and with ``per_frame`` false they are
  the only records written.
- ``zones`` (``edge.zones.records.ZoneRecorder``): drops masked detections before the
  record, adds the zones and counts to it (``edge.result/2``) and, in event mode, writes
  the ``enter|leave|cross`` events (``edge.event/2``).
- ``control`` (``edge.pipeline.control.RunControl``): pause (frames read and dropped, counted in
  ``paused_frames``, no record) and a score threshold applied before the record.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from edge.pipeline.control import RunControl
from edge.pipeline.readers import LatestFrameReader, ReadAheadReader
from edge.pipeline.stages import (
    ActiveModel,
    Inferred,
    ModelRunner,
    ModelStage,
    Paused,
    Release,
    Skipped,
    StageItem,
)
from edge.pipeline.stats import RunStats
from edge.record import RecordContext, to_record
from edge.sinks.base import HasDropCount, HasFailure, HasState, Record, Sink
from edge.sources.base import HasHealth, Source
from edge.types import Detections, Frame, Result

if TYPE_CHECKING:  # built by edge.app only when a run asks for them (cold start)
    from edge.events.writer import EventWriter
    from edge.processing.motion import MotionGate
    from edge.zones.records import ZoneRecorder

_HEALTH_INTERVAL = 0.1  # seconds between refreshes of the source and sink health


StatusCallback = Callable[[RunStats], None]
TickHook = Callable[[RunStats], None]


class FrameObserver(Protocol):
    """Something that needs the frame itself beside its record (preview, recorder)."""

    def observe(self, frame: Frame, record: Record) -> None: ...

    def close(self) -> None: ...


class Pipeline:
    """One run of the loop (``run`` once).

    Models: ``inference`` runs the frames until a ``swap_model``. A model given with a
    ``release`` (``LoadedModel.close``) is closed by the pipeline, exactly once: after
    its last frame when a swap replaces it, when the run ends while it is in use (see
    ``edge.pipeline.stages.ModelStage``), at once when a swap replaces it outside a run
    or comes after the run. A pipeline that never runs nor swaps releases nothing: its
    caller still owns the start model (``edge.app.run`` hands it over just before
    ``run``). Without a ``release`` the caller keeps the model (a test's shared one)."""

    def __init__(
        self,
        source: Source,
        inference: ModelRunner,
        sinks: Sequence[Sink],
        context: RecordContext,
        labels: Sequence[str],
        *,
        release: Release | None = None,
        max_frames: int | None = None,
        status: StatusCallback | None = None,
        status_interval: float = 5.0,
        observers: Sequence[FrameObserver] = (),
        tick_hooks: Sequence[TickHook] = (),
        gate: MotionGate | None = None,
        events: EventWriter | None = None,
        per_frame: bool = True,
        control: RunControl | None = None,
        zones: ZoneRecorder | None = None,
    ) -> None:
        self.source = source
        self._model = ActiveModel(inference, context, tuple(labels), release)
        self._stage: ModelStage | None = None
        self._ended = False
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
        self.zones = zones
        self.stats = RunStats()

    def run(self, stop: threading.Event | None = None) -> RunStats:
        stop = stop or threading.Event()
        reader: LatestFrameReader | ReadAheadReader | None = None
        stage: ModelStage | None = None
        try:
            reader = (
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
            self._stage = None
            self._ended = True
            if stage is not None:
                stage.close()  # releases the models it holds
            elif self._model.release is not None:  # no stage ever held the model
                self._model.release()
            if reader is not None:
                reader.close()
                self.stats.dropped = reader.dropped
            self._refresh_health()
            self._end_events()
        return self.stats

    @property
    def inference(self) -> ModelRunner:
        return self._model.inference

    @property
    def context(self) -> RecordContext:
        return self._model.context

    @property
    def labels(self) -> tuple[str, ...]:
        return self._model.labels

    def swap_model(
        self,
        inference: ModelRunner,
        context: RecordContext,
        labels: Sequence[str],
        *,
        release: Release | None = None,
    ) -> None:
        """Run the next frame through another model (a reload); returns at once. Call it
        from the loop thread (a tick hook, as the reload does): from another thread it
        could race with ``run`` starting or ending. Frames already preprocessed for the
        old model finish in it, are decoded by its own decoder and recorded under its name
        and sha256; later ones go through the new model. The old model is released (if
        it came with a ``release``) once no frame uses it; with ``release`` the pipeline
        owns the new one (see the class docstring)."""
        model = ActiveModel(inference, context, tuple(labels), release)
        replaced, self._model = self._model, model
        stage = self._stage
        if stage is not None:
            stage.swap(model)
            return
        # Not running: nothing is inside the old model (after the run, its end released
        # it already), and after the run nothing will ever be inside the new one.
        done = model if self._ended else replaced
        if done.release is not None:
            done.release()

    def _refresh_health(self) -> None:
        if isinstance(self.source, HasHealth):
            health = self.source.health()
            self.stats.source_state = health.state
            self.stats.reconnects = health.reconnects
            self.stats.source_activity_at = health.last_activity
        elif self.stats.frames:
            self.stats.source_state = "running"
            self.stats.source_activity_at = self.stats.last_frame_at
        for sink in self.sinks:
            dropped = sink.dropped if isinstance(sink, HasDropCount) else 0
            self.stats.sink_dropped[sink.name] = dropped
            if isinstance(sink, HasState) and sink.state is not None:
                self.stats.sink_state[sink.name] = sink.state
            failure = sink.failure if isinstance(sink, HasFailure) else None
            if failure is not None:
                self.stats.sink_failed[sink.name] = failure
            else:
                self.stats.sink_failed.pop(sink.name, None)

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
        if self.zones is not None:
            detections = self.zones.keep(detections)
        result = Result(self.stats.frames, frame, detections, model.labels, latency, extra)
        record = to_record(result, model.context)
        zone_events = (
            self.zones.on_frame(frame, detections, record, model.context, model.labels)
            if self.zones is not None
            else []
        )
        if self.per_frame:
            for sink in self.sinks:
                sink.write(record)
        self._write_events(frame, detections, model)
        self._emit(zone_events)
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
        if self.zones is not None:
            self._emit(self.zones.on_close(self.context, self.labels, time.time()))

    def _emit(self, records: list[Record]) -> None:
        for record in records:
            for sink in self.sinks:
                sink.write(record)
            self.stats.events += 1
