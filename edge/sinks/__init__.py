"""Result sinks and the factory that builds them from config or a SINK SPEC."""

from __future__ import annotations

from typing import Any

from edge.config import JsonlSink as JsonlSinkConfig
from edge.config import SinkConfig
from edge.config import StdoutSink as StdoutSinkConfig
from edge.errors import UsageError
from edge.sinks.base import BackgroundSink, Record, Sink

__all__ = ["BackgroundSink", "Record", "Sink", "open_sink", "parse_sink_spec"]


def parse_sink_spec(spec: str) -> dict[str, Any]:
    """``jsonl:PATH`` | ``stdout`` -> a [[sinks]] table."""
    if spec == "stdout":
        return {"kind": "stdout"}
    if spec.startswith("jsonl:") and len(spec) > len("jsonl:"):
        return {"kind": "jsonl", "path": spec[len("jsonl:"):]}
    if spec.startswith(("mqtt://", "mqtts://")):
        raise UsageError(
            "the MQTT sink is not part of this release yet",
            hint="log to a file meanwhile with --sink jsonl:PATH",
        )
    raise UsageError(f"unknown sink {spec!r}", hint="use jsonl:PATH or stdout")


def open_sink(config: SinkConfig) -> Sink:
    if isinstance(config, JsonlSinkConfig):
        from edge.sinks.jsonl import JsonlSink

        return JsonlSink(config.path)
    if isinstance(config, StdoutSinkConfig):
        from edge.sinks.stdout import StdoutSink

        return StdoutSink()
    raise AssertionError(f"unhandled sink config {config!r}")  # the union is exhaustive
