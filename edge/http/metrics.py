"""``/metrics``: the run in Prometheus' text format, built with ``prometheus-client``.

Names follow Prometheus' conventions (base units, ``_total`` on counters, ``_info`` on
build and model facts). Counters are read from the latest status document at scrape
time (a custom collector); the inference time is a real histogram fed at the loop's tick
with the times of the frames since the previous tick (``StatusBoard.on_infer``). This
module is imported only when the server runs, so ``prometheus_client`` costs nothing to
a run without it (``tests/edge/test_cold_start_imports.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from edge import __version__

if TYPE_CHECKING:
    from edge.http.board import StatusBoard

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Inference times of the shipped models run from ~1 ms (x86) to ~100 ms (a Pi Zero).
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


class Metrics:
    """One registry per server (never the global one: a test runs several servers)."""

    def __init__(self, board: StatusBoard) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._inference = Histogram(
            "edge_inference_seconds",
            "Time of one model invoke (LiteRT), per frame",
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_RunCollector(board))
        board.on_infer(self.observe)

    def observe(self, infer_ms: Sequence[float]) -> None:
        for value in infer_ms:
            self._inference.observe(value / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RunCollector(Collector):
    def __init__(self, board: StatusBoard) -> None:
        self._board = board

    def collect(self) -> Iterator[Metric]:
        board = self._board
        status = board.document
        pipeline = status["pipeline"]
        model = status["model"]
        labels = ["device"]
        device = [status["device"]]

        def counter(name: str, text: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, text, labels=labels)
            family.add_metric(device, value)
            return family

        def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, text, labels=labels)
            family.add_metric(device, value)
            return family

        yield gauge(
            "edge_up",
            "1 while frames flow (/healthz is 200), else 0",
            1.0 if board.health().ok else 0.0,
        )
        yield counter("edge_frames", "Frames processed (inferred and recorded)", pipeline["frames"])
        yield counter(
            "edge_dropped_frames",
            "Camera frames dropped because the pipeline was busy with an older one",
            pipeline["dropped"],
        )
        yield counter(
            "edge_skipped_frames",
            "Frames the motion gate let pass without inference",
            pipeline["skipped"],
        )
        yield counter(
            "edge_source_reconnects",
            "Times the source was reopened",
            status["source"]["reconnects"],
        )
        sink_drops = CounterMetricFamily(
            "edge_sink_drops", "Records a sink could not deliver", labels=["device", "sink"]
        )
        outbox = GaugeMetricFamily(
            "edge_outbox_depth",
            "Records waiting in a sink's queue or durable outbox (MQTT)",
            labels=["device", "sink"],
        )
        for sink in status["sinks"]:
            sink_drops.add_metric([*device, sink["name"]], sink["dropped"])
            if sink.get("backlog") is not None:
                outbox.add_metric([*device, sink["name"]], sink["backlog"])
        yield sink_drops
        yield outbox
        yield gauge("edge_fps", "Frames per second over the last few seconds", pipeline["fps"])
        yield gauge("edge_uptime_seconds", "Seconds since the run started", status["uptime_s"])
        yield gauge("edge_http_viewers", "MJPEG streams connected now", status["http"]["viewers"])
        temperature = status["cpu_temperature_c"]
        if temperature is not None:
            yield gauge("edge_cpu_temperature_celsius", "SoC temperature", temperature)
        build = InfoMetricFamily("edge_build", "The edge-infer release", labels=labels)
        build.add_metric(device, {"version": __version__})
        yield build
        info = InfoMetricFamily("edge_model", "The model running now", labels=labels)
        info.add_metric(
            device, {"name": model["name"], "task": model["task"], "sha256": model["sha256"]}
        )
        yield info
