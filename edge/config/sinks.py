"""``[[sinks]]``: JSON Lines, stdout and MQTT (with TLS), told apart by ``kind``.

Names that end up on the wire are checked here, so ``edge check-config`` and ``edge run``
refuse them alike (exit 78): an MQTT topic holding ``#`` or ``+`` is refused by the
broker on every publish (nothing is ever delivered), NUL and control characters are
forbidden by the MQTT spec, a leading or trailing ``/`` or ``//`` makes an empty topic
level, and a leading ``$`` is the broker's own namespace (``$SYS``), which ``#``
subscribers never see. The device id is one topic level (``edge/+/results``), so it may
not hold ``/`` either. Home Assistant turns every character outside ``[a-zA-Z0-9_-]`` of
an id into ``_`` (``ha_object_id``): two names that differ only there are one HA device.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from edge.config.base import Strict

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_HA = re.compile(r"[^a-zA-Z0-9_-]")


def ha_object_id(name: str) -> str:
    """The id Home Assistant makes of ``name``: each character outside ``[a-zA-Z0-9_-]``
    becomes ``_`` (``kitchen #2`` -> ``kitchen__2``)."""
    return _NOT_HA.sub("_", name) or "edge"


def topic_name_problem(name: str, *, one_level: bool = False) -> str | None:
    """Why ``name`` cannot be (part of) an MQTT topic, or None if it can."""
    if not name:
        return "is empty"
    if "\x00" in name:
        return "holds a NUL character, which MQTT forbids in topics"
    if _CONTROL.search(name):
        return "holds a control character, which MQTT topics must not"
    for wildcard in ("#", "+"):
        if wildcard in name:
            return (
                f"holds {wildcard!r}, an MQTT wildcard: the broker refuses every "
                "message published to such a topic, so nothing would be delivered"
            )
    if one_level and "/" in name:
        return "holds '/': it is one topic level (edge/<device>/...; edge/+/results)"
    if name.startswith("/") or name.endswith("/"):
        return "starts or ends with '/', which makes an empty topic level"
    if "//" in name:
        return "holds '//', an empty topic level"
    if name.startswith("$") and not one_level:  # a device id is never the first level
        return "starts with '$', the broker's own topics ($SYS), which '#' subscribers miss"
    return None


def check_topic_name(name: str, key: str, *, one_level: bool = False) -> str:
    """``name`` if it is safe in a topic, else ValueError naming ``key`` and the fix."""
    problem = topic_name_problem(name, one_level=one_level)
    if problem is None:
        return name
    hint = "letters, digits, '-' and '_'" + ("" if one_level else ", levels joined by '/'")
    raise ValueError(f"{key} {name!r} {problem}; use {hint} (e.g. {_suggest(name, one_level)!r})")


def _suggest(name: str, one_level: bool) -> str:
    levels = [re.sub("_+", "_", _NOT_HA.sub("_", level)).strip("_") for level in name.split("/")]
    return ("-" if one_level else "/").join(level for level in levels if level) or "edge"


class JsonlSinkConfig(Strict):
    """A JSON Lines log, rotated by size and safe against crashes and full disks
    (``edge.sinks.jsonl``)."""

    kind: Literal["jsonl"] = "jsonl"
    path: Path = Field(
        Path("detections.jsonl"), description="JSON Lines file, appended; its folder must exist"
    )
    max_bytes: int = Field(
        50_000_000,
        ge=0,
        le=2**40,
        description="rotate the log when it would grow past this many "
        "bytes (0: never rotate, the log grows without bound)",
    )
    keep: int = Field(
        5,
        ge=0,
        le=1000,
        description="rotated files kept (PATH.1 newest ... PATH.<keep>); older ones are deleted",
    )
    compress: bool = Field(False, description="gzip rotated files (PATH.1.gz, ...)")
    fsync_interval: float | None = Field(
        5.0,
        ge=0,
        le=3600,
        description="longest time in seconds written records may sit only in "
        "the page cache before an fsync (lost on power loss): 0 syncs every record (wears "
        "SD cards), unset leaves it to the kernel",
    )
    only_detections: bool = Field(
        False,
        description="write only results with detections (events always), plus a "
        "heartbeat result every `heartbeat` seconds",
    )
    heartbeat: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="with only_detections: seconds after which a result without "
        "detections is written anyway, to show the device is alive",
    )


class StdoutSinkConfig(Strict):
    kind: Literal["stdout"] = "stdout"


class MqttTlsConfig(Strict):
    """TLS to the broker. The broker's certificate is always verified unless
    ``insecure`` is set (only for a test bench: it accepts any server)."""

    ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the broker's certificate; default: "
        "the system's trusted CAs",
    )
    cert_file: Path | None = Field(
        None, description="client certificate (PEM), if the broker asks for one"
    )
    key_file: Path | None = Field(None, description="private key of cert_file (PEM, no passphrase)")
    insecure: bool = Field(
        False,
        description="skip verifying the broker's certificate and host name (never in production)",
    )

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> MqttTlsConfig:
        # Checked here, not only when the sink connects, so `edge check-config` finds it.
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "tls.cert_file and tls.key_file go together: give both the "
                "client certificate and its key, or neither"
            )
        return self


class MqttSinkConfig(Strict):
    """Publish every record to an MQTT broker through a durable on-disk outbox.

    See docs/mqtt.md for topics, payloads, the outbox policy and Home Assistant.
    """

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("localhost", min_length=1, description="broker host name or address")
    port: int | None = Field(
        None, ge=1, le=65535, description="broker port; default 1883, or 8883 with TLS"
    )
    prefix: str | None = Field(
        None, description="topic prefix; default edge/<device>; no '#', '+' or edge '/'"
    )
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version")
    client_id: str | None = Field(None, description="MQTT client id; default edge-<device>")
    keepalive: int = Field(
        30,
        ge=5,
        le=3600,
        description="seconds between keepalive pings (bounds how long a dead link goes unnoticed)",
    )
    reconnect_max_delay: int = Field(
        10,
        ge=1,
        le=600,
        description="longest wait between reconnect attempts (paho doubles it from 1 s)",
    )
    tls: MqttTlsConfig | None = Field(None, description="TLS settings; mqtts:// turns TLS on")
    username: str | None = Field(None, description="user name for the broker")
    password_file: Path | None = Field(
        None, description="file whose first line is the password (mode 0600)"
    )
    password_env: str | None = Field(
        None, description="name of an environment variable holding the password"
    )
    password_credential: str | None = Field(
        None,
        description="name of a systemd credential (LoadCredential=) holding the "
        "password; read from $CREDENTIALS_DIRECTORY/<name>",
    )
    outbox: Path | None = Field(
        None,
        description="SQLite outbox file; default $STATE_DIRECTORY/edge-outbox-<device>"
        ".sqlite3 under systemd, else ./edge-outbox-<device>.sqlite3",
    )
    commit_interval: float = Field(
        1.0,
        gt=0,
        le=60,
        description="seconds between outbox fsyncs: the most results a power cut "
        "can lose (each result is committed at once, so a crash of the process loses "
        "only the few not yet committed); fewer fsyncs spare an SD card",
    )
    outbox_max_rows: int = Field(
        100_000,
        ge=10,
        le=100_000_000,
        description="results kept while the "
        "broker is away; beyond it the oldest are dropped (counted)",
    )
    outbox_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=4096,
        le=2**40,
        description="outbox size cap in payload bytes; beyond it "
        "the oldest results are dropped (counted)",
    )
    outbox_max_age: float = Field(
        7 * 86400.0,
        gt=0,
        le=366 * 86400.0,
        description="seconds a result may wait in the outbox before it is dropped (counted)",
    )
    max_inflight: int = Field(
        10, ge=1, le=1000, description="results sent but not yet acknowledged by the broker"
    )
    drain_rate: float = Field(
        500.0,
        gt=0,
        le=100_000,
        description="most results per second sent while "
        "a backlog drains, so a reconnect does not flood the broker",
    )
    stats_interval: float = Field(
        30.0, gt=0, le=86400, description="seconds between retained <prefix>/stats messages"
    )
    close_timeout: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="seconds a clean stop waits for the "
        "outbox to drain; what is left is sent by the next run",
    )
    homeassistant: bool = Field(True, description="publish Home Assistant device discovery")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant discovery prefix")
    expire_after: int = Field(
        60,
        ge=1,
        le=86400,
        description="seconds after which Home Assistant "
        "marks a label sensor unavailable without fresh state",
    )
    commands: bool = Field(True, description="accept pause/resume/threshold on <prefix>/set")
    publish: Literal["every_frame", "detections", "changes"] = Field(
        "changes",
        description="which results go to <prefix>/results: every_frame, detections (frames "
        "with at least one), or changes (a frame whose labels and their counts, or anomaly "
        "verdict, differ from the last one sent); events and the JSONL log are not affected",
    )
    max_rate: float = Field(
        2.0,
        ge=0,
        le=1000,
        description="most results per second sent to <prefix>/results (0: no cap); a result "
        "held back by the cap is sent when the cap allows, unless a newer one replaced it",
    )
    heartbeat: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="with publish = detections or changes: seconds after which the current "
        "result is sent anyway, so receivers see the device and its state are alive",
    )
    snapshot_interval: float = Field(
        10.0,
        ge=0,
        le=86400,
        description="Home Assistant image entity: seconds between annotated JPEGs on "
        "<prefix>/snapshot, sent when something is detected (0: no image entity)",
    )
    snapshot_width: int = Field(
        640,
        ge=64,
        le=4096,
        description="width in pixels the snapshot is scaled down to (never up)",
    )

    @field_validator("prefix", "discovery_prefix")
    @classmethod
    def _safe_topic(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_topic_name(value, str(info.field_name))

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttSinkConfig:
        sources = [self.password_file, self.password_env, self.password_credential]
        if sum(s is not None for s in sources) > 1:
            raise ValueError(
                "give the password in one way only: password_file, password_env "
                "or password_credential"
            )
        if any(s is not None for s in sources) and self.username is None:
            raise ValueError("a password needs a username")
        return self


SinkConfig = Annotated[
    JsonlSinkConfig | StdoutSinkConfig | MqttSinkConfig, Field(discriminator="kind")
]
