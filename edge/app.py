"""Wire one run together from a validated config: the only place that knows every part.

Constructors below take the values they use, never the whole config.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import ExitStack

from edge.config import RunConfig
from edge.control import RunControl
from edge.inference import Inference
from edge.model import load_model
from edge.pipeline import Pipeline, RunStats, StatusCallback, TickHook
from edge.record import RecordContext
from edge.sinks import BackgroundSink, SinkContext, open_sink
from edge.sources import open_source


def run(config: RunConfig, *, stop: threading.Event | None = None,
        status: StatusCallback | None = None) -> RunStats:
    """Run until the source ends, ``max_frames`` is reached or ``stop`` is set."""
    with ExitStack() as stack:
        model = load_model(config.model, config.decoder)
        stack.callback(model.close)
        inference = Inference(model)
        context = RecordContext(
            device=config.device,
            model_name=model.manifest.name,
            model_sha256=model.file.sha256,
            task=model.manifest.task,
        )
        control = RunControl()
        sinks, tick_hooks = _open_sinks(config, context, model.manifest.labels, control, stack)
        source = open_source(config.source)
        stack.callback(source.close)
        pipeline = Pipeline(
            source, inference, sinks, context, model.manifest.labels,
            max_frames=config.max_frames, status=status, status_interval=config.status_interval,
            tick_hooks=tick_hooks, control=control,
        )
        stats = pipeline.run(stop)
    for sink in sinks:  # closed now: drops made while flushing at shutdown count too
        stats.sink_dropped[sink.name] = sink.dropped
    return stats


def _open_sinks(config: RunConfig, context: RecordContext, labels: Sequence[str],
                control: RunControl, stack: ExitStack) -> tuple[list[BackgroundSink],
                                                                list[TickHook]]:
    """Each sink behind its own bounded queue; a sink with ``tick(stats)`` (MQTT stats)
    also becomes a tick hook of the loop."""
    sink_context = SinkContext(device=config.device, model_name=context.model_name,
                               model_sha256=context.model_sha256, labels=tuple(labels),
                               control=control)
    sinks: list[BackgroundSink] = []
    hooks: list[TickHook] = []
    for sink_config in config.sinks:
        inner = open_sink(sink_config, sink_context)
        sink = BackgroundSink(inner)
        stack.callback(sink.close)
        sinks.append(sink)
        tick = getattr(inner, "tick", None)
        if callable(tick):
            hooks.append(tick)
    return sinks, hooks
