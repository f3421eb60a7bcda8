"""Wire one run together from a validated config: the only place that knows every part.

Constructors below take the values they use, never the whole config.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from edge.config.processing import EventsConfig, MotionConfig
from edge.config.run import RunConfig
from edge.decoders.params import model_score_threshold
from edge.observers import build_observers
from edge.pipeline.control import RunControl
from edge.pipeline.inference import open_inference
from edge.pipeline.loop import FrameObserver, Pipeline, StatusCallback, TickHook
from edge.pipeline.stats import RunStats
from edge.record import RecordContext
from edge.sinks import BackgroundSink, SinkContext, open_sink
from edge.sinks.base import HasBacklog, HasFrameObserver, HasTick
from edge.sources import open_source
from edge.sources.base import HasFrameRate, Source

if TYPE_CHECKING:
    from edge.events.writer import EventWriter
    from edge.http import HttpRun
    from edge.processing.motion import MotionGate
    from edge.zones.draw import ZoneOverlay
    from edge.zones.records import ZoneRecorder


def run(
    config: RunConfig,
    *,
    stop: threading.Event | None = None,
    status: StatusCallback | None = None,
    tick_hooks: Sequence[TickHook] = (),
    on_start: Callable[[Pipeline], None] | None = None,
) -> RunStats:
    """Run until the source ends, ``max_frames`` is reached or ``stop`` is set.

    ``on_start`` is called with the pipeline once the model is loaded and the sinks and
    the source are open, just before the first frame (the service's READY=1); the
    ``tick_hooks`` run on every loop turn (the service's watchdog, status and reload).

    The start model is closed here if the run fails before its first frame; from
    ``pipeline.run`` on it is the pipeline's, which closes it after its last frame (a
    reload may replace it long before the run ends).
    """
    with ExitStack() as stack:
        model, inference = open_inference(config)
        start_model = stack.enter_context(ExitStack())  # ours until the pipeline runs it
        start_model.callback(model.close)
        context = RecordContext(
            device=config.device,
            model_name=model.manifest.name,
            model_sha256=model.file.sha256,
            task=model.manifest.task,
        )
        manifest = model.manifest
        control = RunControl(model_score_threshold(manifest.task, manifest.decoder.params))
        sinks, sink_hooks, sink_observers = _open_sinks(
            config, context, model.manifest.labels, control, stack
        )
        spec = model.manifest.input
        stop = stop or threading.Event()
        # Up before the source opens, so /healthz and the page answer while a camera connects.
        web, current = _open_http(
            config, context, labels=model.manifest.labels, sinks=sinks, stack=stack
        )
        source = open_until_stopped(
            lambda: open_source(
                config.source,
                input_size=(spec.width, spec.height),
                input_resize=spec.resize,
                # Snapshots save the larger picture; the second stage crops boxes from it.
                keep_full=config.output.snapshot_dir is not None or config.refine.enabled,
                reduced_decode=not needs_full_picture(config),
                input_colour=spec.colour,
            ),
            stop,
        )
        if source is None:  # SIGTERM/SIGINT while a stream was still opening
            return RunStats(source_state="ended")
        stack.callback(source.close)
        fps = source.fps if isinstance(source, HasFrameRate) else None
        observers = [
            *build_observers(config.output, stop=stop, fps=fps, overlay=zone_overlay(config)),
            *sink_observers,
        ]
        if web is not None:
            observers.append(web.feed)
            tick_hooks = [*tick_hooks, web.board.tick]
        for observer in observers:
            stack.callback(observer.close)
        pipeline = Pipeline(
            source,
            inference,
            sinks,
            context,
            model.manifest.labels,
            release=model.close,
            max_frames=config.max_frames,
            status=status,
            status_interval=config.status_interval,
            observers=observers,
            tick_hooks=[*sink_hooks, *tick_hooks],
            control=control,
            gate=motion_gate(
                config.motion, [m.points for m in config.masks if m.applies_to == "motion"]
            ),
            events=event_writer(config.events),
            per_frame=not config.events.enabled or config.events.per_frame,
            zones=zone_recorder(config, model.manifest.labels, model.manifest.task),
        )
        current.append(pipeline)  # the web page names the model the pipeline runs now
        if on_start is not None:
            on_start(pipeline)
        start_model.pop_all()  # handed over: Pipeline.run closes it, whatever happens
        stats = pipeline.run(stop)
    for sink in sinks:  # closed now: drops made while flushing at shutdown count too
        stats.sink_dropped[sink.name] = sink.dropped
        failure = sink.failure  # e.g. the MQTT outbox's last commit could not be written
        if failure is None:
            stats.sink_failed.pop(sink.name, None)
        else:
            stats.sink_failed[sink.name] = failure
    return stats


def _open_http(
    config: RunConfig,
    context: RecordContext,
    *,
    labels: Sequence[str],
    sinks: Sequence[BackgroundSink],
    stack: ExitStack,
) -> tuple[HttpRun | None, list[Pipeline]]:
    """The web server when ``[http] enabled`` (``edge.http``), closed with the run; and the
    list the run puts its pipeline into, from which the page reads the model running now
    (a reload may change it)."""
    current: list[Pipeline] = []
    if not config.http.enabled:
        return None, current
    from edge.http import ModelInfo, RunInfo, start_http

    def model() -> ModelInfo:  # called on the loop's thread (StatusBoard.tick)
        now, names = (current[0].context, current[0].labels) if current else (context, labels)
        return ModelInfo(now.model_name, now.task, now.model_sha256, tuple(names))

    info = RunInfo(
        device=config.device,
        source=config.source.kind,
        sinks=tuple(sink.name for sink in sinks),
        health_window=config.http.health_window,
        max_viewers=config.http.max_viewers,
        stream_fps=config.http.stream_fps,
    )

    def backlogs() -> dict[str, int]:  # the MQTT outbox's depth, for /metrics
        return {s.name: s.inner.backlog for s in sinks if isinstance(s.inner, HasBacklog)}

    web = start_http(config.http, info, model, backlogs, overlay=zone_overlay(config))
    stack.callback(web.close)
    return web, current


def needs_full_picture(config: RunConfig) -> bool:
    """Something shows or saves the picture itself (preview, recording, snapshots) or
    crops it (``[refine]``), so a source must not decode it smaller than it is
    (``edge.sources.mjpeg``)."""
    output = config.output
    return bool(
        output.preview
        or output.record is not None
        or output.snapshot_dir is not None
        or config.refine.enabled
    )


def open_until_stopped(opener: Callable[[], Source], stop: threading.Event) -> Source | None:
    """Open the source on a helper thread so a stop request is honoured at once.

    Opening a stream blocks in native code for up to ``open_timeout`` (FFmpeg connecting
    to a camera that accepts and never answers); the main thread waits for the stop event
    instead, so SIGTERM while opening exits 0 within a fraction of a second. The helper is
    a daemon thread: when the process exits it goes too, with whatever it was opening.
    """
    result: list[Source] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            result.append(opener())
        except BaseException as exc:
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="source-open", daemon=True).start()
    while not done.wait(0.05):
        if stop.is_set():
            return None
    if failure:
        if stop.is_set():
            return None  # it failed because we are stopping; not an error
        raise failure[0]
    if stop.is_set():
        result[0].close()
        return None
    return result[0]


def motion_gate(
    config: MotionConfig, masks: Sequence[Sequence[Sequence[float]]] = ()
) -> MotionGate | None:
    if not config.enabled:
        return None
    from edge.processing.motion import MotionGate

    return MotionGate(
        width=config.width,
        pixel_threshold=config.pixel_threshold,
        min_changed=config.min_changed,
        heartbeat=config.heartbeat,
        masks=masks,
    )


def event_writer(config: EventsConfig) -> EventWriter | None:
    if not config.enabled:
        return None
    from edge.events.tracker import IouTracker
    from edge.events.writer import EventWriter

    return EventWriter(
        IouTracker(
            iou_threshold=config.iou_threshold,
            max_missed=config.max_missed,
            update_interval=config.update_interval,
        )
    )


def zone_overlay(config: RunConfig) -> ZoneOverlay | None:
    """The zones, lines and masks drawn in the preview and the recording, if any."""
    if not (config.zones or config.lines or config.masks):
        return None
    from edge.zones.draw import ZoneOverlay

    return ZoneOverlay(config.zones, config.lines, config.masks)


def zone_recorder(config: RunConfig, labels: Sequence[str], task: str) -> ZoneRecorder | None:
    """The zones, lines and detection masks of the config (edge.zones), if any."""
    masks = [m for m in config.masks if m.applies_to == "detections"]
    if not (config.zones or config.lines or masks):
        return None
    from edge.errors import ConfigError
    from edge.events.tracker import IouTracker
    from edge.zones.engine import ZoneEngine
    from edge.zones.records import ZoneRecorder

    if task != "detect":
        raise ConfigError(
            f"zones, lines and detection masks need boxes; this model's task is {task!r}",
            hint="use a detection model, or remove [[zones]], [[lines]] and [[masks]]",
        )
    events = config.events
    tracker = IouTracker(events.iou_threshold, events.max_missed, events.update_interval)
    engine = ZoneEngine(config.zones, config.lines, masks, labels=labels, tracker=tracker)
    return ZoneRecorder(engine, events=events.enabled)


def _open_sinks(
    config: RunConfig,
    context: RecordContext,
    labels: Sequence[str],
    control: RunControl,
    stack: ExitStack,
) -> tuple[list[BackgroundSink], list[TickHook], list[FrameObserver]]:
    """Each sink behind its own bounded queue; a sink with ``tick(stats)`` (MQTT stats)
    also becomes a tick hook of the loop, and one with a ``frame_observer`` (the MQTT
    image entity) adds it to the frame observers, which the run closes before the sinks."""
    sink_context = SinkContext(
        device=config.device,
        model_name=context.model_name,
        model_sha256=context.model_sha256,
        labels=tuple(labels),
        task=context.task,
        control=control,
        zones=[(z.name, tuple(z.labels or labels)) for z in config.zones],
        lines=[line.name for line in config.lines],
    )
    sinks: list[BackgroundSink] = []
    hooks: list[TickHook] = []
    observers: list[FrameObserver] = []
    for sink_config in config.sinks:
        inner = open_sink(sink_config, sink_context)
        sink = BackgroundSink(inner)
        stack.callback(sink.close)
        sinks.append(sink)
        if isinstance(inner, HasTick):
            hooks.append(inner.tick)
        if isinstance(inner, HasFrameObserver) and inner.frame_observer is not None:
            observers.append(inner.frame_observer)
    return sinks, hooks, observers
