"""Result sinks and the factory that builds them from config or a SINK SPEC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from edge.config.sinks import JsonlSinkConfig, MqttSinkConfig, SinkConfig, StdoutSinkConfig
from edge.errors import UsageError
from edge.sinks.base import BackgroundSink, Record, Sink

if TYPE_CHECKING:
    from edge.pipeline.control import RunControl

__all__ = [
    "BackgroundSink",
    "Record",
    "Sink",
    "SinkContext",
    "check_sinks",
    "open_sink",
    "parse_sink_spec",
]

_SPECS = "jsonl:PATH, stdout, mqtt://[user@]host[:port][/prefix] or mqtts://..."
# Query keys a mqtt:// spec may carry (never a password: it would show in `ps`).
_MQTT_QUERY = {
    "password_file",
    "password_env",
    "password_credential",
    "protocol",
    "ca_file",
    "cert_file",
    "key_file",
    "outbox",
}


@dataclass(frozen=True)
class SinkContext:
    """Facts of the run that sinks other than files need (MQTT stats and discovery)."""

    device: str
    model_name: str = ""
    model_sha256: str = ""
    labels: Sequence[str] = ()
    task: str = "detect"
    control: RunControl | None = field(default=None, compare=False)
    zones: Sequence[tuple[str, Sequence[str]]] = ()  # [[zones]]: name, labels counted
    lines: Sequence[str] = ()  # [[lines]]: names


def parse_sink_spec(spec: str) -> dict[str, Any]:
    """``jsonl:PATH`` | ``stdout`` | ``mqtt(s)://[user@]host[:port][/prefix]`` -> [[sinks]]."""
    if spec == "stdout":
        return {"kind": "stdout"}
    if spec.startswith("jsonl:") and len(spec) > len("jsonl:"):
        return {"kind": "jsonl", "path": spec[len("jsonl:") :]}
    if spec.startswith(("mqtt://", "mqtts://")):
        return _parse_mqtt_spec(spec)
    raise UsageError(f"unknown sink {spec!r}", hint=f"use {_SPECS}")


def _parse_mqtt_spec(spec: str) -> dict[str, Any]:
    try:
        parts = urlsplit(spec)
    except ValueError as exc:  # mqtt://[::1 (an IPv6 address without its closing bracket)
        raise UsageError(
            f"--sink is not a valid URL ({exc})",
            hint="use mqtt://[user@]host[:port][/prefix]; an IPv6 address goes in "
            "brackets: mqtt://[::1]:1883",
        ) from None
    if parts.password is not None:
        # Never echo the spec: it holds the password.
        raise UsageError(
            "a password in the --sink URL would be visible to every user (ps, shell "
            "history), so it is refused",
            hint="use mqtt://user@host and give the password with ?password_file=PATH, "
            "?password_env=VAR or ?password_credential=NAME (systemd), or in the config file",
        )
    try:
        port = parts.port
    except ValueError:
        raise UsageError(
            f"bad port in --sink {spec!r}", hint="use a port from 1 to 65535"
        ) from None
    if not parts.hostname:
        raise UsageError(
            f"no broker host in --sink {spec!r}", hint="use mqtt://[user@]host[:port][/prefix]"
        )
    table: dict[str, Any] = {"kind": "mqtt", "host": parts.hostname}
    if port is not None:
        table["port"] = port
    if parts.username:
        table["username"] = unquote(parts.username)
    prefix = unquote(parts.path).strip("/")
    if prefix:
        table["prefix"] = prefix
    tls: dict[str, Any] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if key not in _MQTT_QUERY:
            raise UsageError(
                f"unknown option {key!r} in --sink {parts.scheme}://...",
                hint=f"allowed: {', '.join(sorted(_MQTT_QUERY))}",
            )
        if key in ("ca_file", "cert_file", "key_file"):
            tls[key] = values[-1]
        else:
            table[key] = values[-1]
    if parts.scheme == "mqtts" or tls:
        table["tls"] = tls
    return table


def check_sinks(configs: Sequence[SinkConfig]) -> None:
    """What ``edge check-config`` can verify without opening anything: a log's folder
    exists, an MQTT sink's password source and TLS files exist (ConfigError, exit 78,
    otherwise)."""
    from edge.config.secrets import read_secret
    from edge.errors import ConfigError
    from edge.sinks.jsonl import check_log_file, check_log_folder

    for config in configs:
        if isinstance(config, JsonlSinkConfig):
            check_log_folder(config.path)
            check_log_file(config.path)
        if not isinstance(config, MqttSinkConfig):
            continue
        read_secret(
            file=config.password_file,
            env=config.password_env,
            credential=config.password_credential,
        )
        tls = config.tls
        for field_name in ("ca_file", "cert_file", "key_file"):
            path = getattr(tls, field_name) if tls else None
            if path is not None and not path.is_file():
                raise ConfigError(
                    f"tls.{field_name} {str(path)!r} does not exist",
                    hint="point it at a PEM file, or remove the key",
                )


def open_sink(config: SinkConfig, context: SinkContext) -> Sink:
    if isinstance(config, JsonlSinkConfig):
        from edge.sinks.jsonl import JsonlSink

        return JsonlSink(
            config.path,
            max_bytes=config.max_bytes,
            keep=config.keep,
            compress=config.compress,
            fsync_interval=config.fsync_interval,
            only_detections=config.only_detections,
            heartbeat=config.heartbeat,
        )
    if isinstance(config, StdoutSinkConfig):
        from edge.sinks.stdout import StdoutSink

        return StdoutSink()
    if isinstance(config, MqttSinkConfig):
        from edge.config.secrets import read_secret
        from edge.sinks.mqtt.client import MqttSink

        password = read_secret(
            file=config.password_file,
            env=config.password_env,
            credential=config.password_credential,
        )
        return MqttSink(
            config,
            device=context.device,
            password=password,
            model_name=context.model_name,
            model_sha256=context.model_sha256,
            labels=context.labels,
            task=context.task,
            control=context.control,
            zones=context.zones,
            lines=context.lines,
        )
    raise AssertionError(f"unhandled sink config {config!r}")  # the union is exhaustive
