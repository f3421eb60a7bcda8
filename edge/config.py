"""The configuration tree of ``edge run``: pydantic models loaded from TOML.

One tree, ``extra="forbid"`` everywhere, a description on every field. Flags on the
command line are applied on top of the file as plain dict updates *before* validation,
so a flag and a config key go through exactly the same checks.

A wrong key is the commonest config mistake; ``load_config`` turns pydantic's error
into one that names the key, its table, its line and the nearest allowed key, and
raises ``ConfigError`` (exit code 78).
"""

from __future__ import annotations

import difflib
import re
import socket
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.errors import ConfigError
from edge.manifest import Colour, ResizeMode, Task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 on older Pi OS images
    import tomli as tomllib


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputOverride(Strict):
    """Override the input recipe of a model (needed for third-party models only)."""

    colour: Colour | None = Field(None, description="colour order the model takes")
    resize: ResizeMode | None = Field(None, description="how a frame is fitted to the input")
    scale: float | None = Field(None, description="model input = pixel * scale + offset")
    offset: float | None = Field(None, description="model input = pixel * scale + offset")


class ModelConfig(Strict):
    path: Path | None = Field(None, description=".tflite file; default: the shipped digits CNN")
    task: Task | None = Field(None, description="needed when the model has no manifest")
    labels: Path | None = Field(None, description="text file, one label per line")
    threads: int = Field(2, ge=1, le=64, description="interpreter threads")
    runtime: Literal["auto", "ai_edge_litert", "tflite_runtime", "tensorflow"] = Field(
        "auto", description="TFLite runtime package; auto takes the first that imports"
    )
    input: InputOverride = Field(default_factory=InputOverride)


class DecoderConfig(Strict):
    name: str | None = Field(None, description="decoder; default: the manifest's")
    top_k: int | None = Field(None, ge=1, description="classes reported per frame")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="minimum score reported")
    activation: Literal["auto", "softmax", "none"] | None = Field(
        None, description="classifier output activation"
    )


class SyntheticSource(Strict):
    """Built-in camera: held-out digits moving over a background, with known truth."""

    kind: Literal["synthetic"] = "synthetic"
    width: int = Field(320, ge=32, le=4096, description="frame width in pixels")
    height: int = Field(240, ge=32, le=4096, description="frame height in pixels")
    fps: float = Field(30.0, gt=0, le=1000, description="frames per second delivered")
    seed: int = Field(0, description="seed of the digit order, motion and noise")
    hold_frames: int = Field(15, ge=1, description="frames each digit stays in view")
    digit_scale: float = Field(
        0.9, gt=0.1, le=1.5, description="digit tile height as a fraction of the frame height"
    )
    digits: int = Field(
        1, ge=1, le=4, description="digits per frame; more than 1 draws them at non-overlapping "
        "places (2-4, for detector models) and the truth lists every digit's label and box",
    )


class CameraSource(Strict):
    """A V4L2 webcam by index (0) or device path (/dev/video0), read with OpenCV."""

    kind: Literal["camera"] = "camera"
    device: int | str = Field(0, description="index or /dev/videoN path")
    width: int | None = Field(None, ge=1, description="requested capture width")
    height: int | None = Field(None, ge=1, description="requested capture height")
    fps: float | None = Field(None, gt=0, description="requested capture frame rate")


class VideoSource(Strict):
    """A video file (read without dropping) or an rtsp/http(s) stream (live)."""

    kind: Literal["video"] = "video"
    uri: str = Field(description="file path or rtsp:// http(s):// URL")
    loop: bool = Field(False, description="restart a file at its end")


class ImagesSource(Strict):
    """Every image in a folder, in name order, read without dropping."""

    kind: Literal["images"] = "images"
    path: Path = Field(description="folder of .jpg/.png/... images")
    loop: bool = Field(False, description="start again after the last image")


SourceConfig = Annotated[
    SyntheticSource | CameraSource | VideoSource | ImagesSource, Field(discriminator="kind")
]


class JsonlSink(Strict):
    kind: Literal["jsonl"] = "jsonl"
    path: Path = Field(Path("detections.jsonl"), description="JSON Lines file, appended")


class StdoutSink(Strict):
    kind: Literal["stdout"] = "stdout"


class MqttTls(Strict):
    """TLS to the broker. The broker's certificate is always verified unless
    ``insecure`` is set (only for a test bench: it accepts any server)."""

    ca_file: Path | None = Field(
        None, description="PEM file of the CA that signed the broker's certificate; default: "
        "the system's trusted CAs")
    cert_file: Path | None = Field(None, description="client certificate (PEM), if the broker "
                                   "asks for one")
    key_file: Path | None = Field(None, description="private key of cert_file (PEM, no "
                                  "passphrase)")
    insecure: bool = Field(False, description="skip verifying the broker's certificate and "
                           "host name (never in production)")


class MqttSink(Strict):
    """Publish every record to an MQTT broker through a durable on-disk outbox.

    See docs/mqtt.md for topics, payloads, the outbox policy and Home Assistant.
    """

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("localhost", min_length=1, description="broker host name or address")
    port: int | None = Field(None, ge=1, le=65535,
                             description="broker port; default 1883, or 8883 with TLS")
    prefix: str | None = Field(
        None, min_length=1, description="topic prefix; default edge/<device>")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version")
    client_id: str | None = Field(None, description="MQTT client id; default edge-<device>")
    keepalive: int = Field(30, ge=5, le=3600,
                           description="seconds between keepalive pings (bounds how long a "
                           "dead link goes unnoticed)")
    reconnect_max_delay: int = Field(10, ge=1, le=600, description="longest wait between "
                                     "reconnect attempts (paho doubles it from 1 s)")
    tls: MqttTls | None = Field(None, description="TLS settings; mqtts:// turns TLS on")
    username: str | None = Field(None, description="user name for the broker")
    password_file: Path | None = Field(
        None, description="file whose first line is the password (mode 0600)")
    password_env: str | None = Field(
        None, description="name of an environment variable holding the password")
    password_credential: str | None = Field(
        None, description="name of a systemd credential (LoadCredential=) holding the "
        "password; read from $CREDENTIALS_DIRECTORY/<name>")
    outbox: Path | None = Field(
        None, description="SQLite outbox file; default $STATE_DIRECTORY/edge-outbox-<device>"
        ".sqlite3 under systemd, else ./edge-outbox-<device>.sqlite3")
    commit_interval: float = Field(
        1.0, gt=0, le=60, description="seconds between outbox commits: the most results a "
        "power cut can lose, and how long a result waits before it is sent")
    outbox_max_rows: int = Field(100_000, ge=10, description="results kept while the "
                                 "broker is away; beyond it the oldest are dropped (counted)")
    outbox_max_bytes: int = Field(64 * 1024 * 1024, ge=4096,
                                  description="outbox size cap in payload bytes; beyond it "
                                  "the oldest results are dropped (counted)")
    outbox_max_age: float = Field(7 * 86400.0, gt=0, description="seconds a result may wait "
                                  "in the outbox before it is dropped (counted)")
    max_inflight: int = Field(10, ge=1, le=1000, description="results sent but not yet "
                              "acknowledged by the broker")
    drain_rate: float = Field(500.0, gt=0, description="most results per second sent while "
                              "a backlog drains, so a reconnect does not flood the broker")
    stats_interval: float = Field(30.0, gt=0, description="seconds between retained "
                                  "<prefix>/stats messages")
    close_timeout: float = Field(5.0, ge=0, description="seconds a clean stop waits for the "
                                 "outbox to drain; what is left is sent by the next run")
    homeassistant: bool = Field(True, description="publish Home Assistant device discovery")
    discovery_prefix: str = Field("homeassistant", min_length=1,
                                  description="Home Assistant discovery prefix")
    expire_after: int = Field(60, ge=1, description="seconds after which Home Assistant "
                              "marks a label sensor unavailable without fresh state")
    commands: bool = Field(True, description="accept pause/resume/threshold on <prefix>/set")

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttSink:
        sources = [self.password_file, self.password_env, self.password_credential]
        if sum(s is not None for s in sources) > 1:
            raise ValueError("give the password in one way only: password_file, password_env "
                             "or password_credential")
        if any(s is not None for s in sources) and self.username is None:
            raise ValueError("a password needs a username")
        return self


SinkConfig = Annotated[JsonlSink | StdoutSink | MqttSink, Field(discriminator="kind")]


class RunConfig(Strict):
    device: str = Field(default_factory=socket.gethostname, description="name in every record")
    model: ModelConfig = Field(default_factory=ModelConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    source: SourceConfig = Field(default_factory=SyntheticSource)
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: list[SinkConfig]([JsonlSink()]), description="where results go"
    )
    max_frames: int | None = Field(None, ge=1, description="stop after this many frames")
    status_interval: float = Field(5.0, gt=0, description="seconds between status lines")


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Return the parsed table and the raw text (kept to point at lines in errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} does not exist",
            hint="check the path, or run without --config to use the defaults",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def build_config(data: dict[str, Any], *, origin: str = "config", text: str = "") -> RunConfig:
    """Validate a config dict; errors name the key, its table and (with ``text``) its line."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, data, origin, text)) from None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    data, text = read_toml(path) if path else ({}, "")
    merged = _merge(data, overrides or {})
    return build_config(merged, origin=str(path) if path else "command line", text=text)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _explain(exc: ValidationError, data: dict[str, Any], origin: str, text: str) -> str:
    lines = []
    for error in exc.errors():
        place, model = _walk(error["loc"], data)
        if error["type"] == "extra_forbidden":
            key = place[-1]
            table = ".".join(place[:-1]) or "the top level"
            allowed = sorted(model.model_fields) if model else []
            near = difflib.get_close_matches(key, allowed, n=1)
            line = _line_of(text, key, place[0].split("[")[0] if len(place) > 1 else "")
            where = f" (line {line})" if line else ""
            message = f"{origin}: unknown key {key!r} in [{table}]{where}"
            if near:
                message += f"; did you mean {near[0]!r}?"
            if allowed:
                message += f" Allowed keys there: {', '.join(allowed)}"
            lines.append(message)
        else:
            field = ".".join(place) or "the top level"
            lines.append(f"{origin}: {field}: {error['msg']}")
    return "\n".join(lines)


def _walk(loc: tuple[int | str, ...], data: Any) -> tuple[list[str], type[BaseModel] | None]:
    """Follow an error location through the data, skipping the union tags pydantic adds.

    Returns the readable place (``["sinks[0]", "pth"]``) and the model class that holds
    the last key, so the message can list the keys that are allowed there.
    """
    place: list[str] = []
    model: type[BaseModel] | None = RunConfig
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list):
            place[-1] = f"{place[-1]}[{part}]"
            node = node[part] if part < len(node) else None
            continue
        if isinstance(node, dict) and part in node:
            place.append(str(part))
            if model is not None and isinstance(node[part], (dict, list)):
                model = _child_model(model, str(part), node[part])
            node = node[part]
            continue
        if isinstance(node, dict) and isinstance(part, str) and node.get("kind") == part:
            continue  # the discriminator tag of a union member
        place.append(str(part))
    return place, model


def _child_model(model: type[BaseModel], key: str, value: Any) -> type[BaseModel] | None:
    field = model.model_fields.get(key)
    if field is None:
        return None
    item = value[0] if isinstance(value, list) and value else value
    kind = item.get("kind") if isinstance(item, dict) else None
    for candidate in _models_in(field.annotation):
        kind_field = candidate.model_fields.get("kind")
        if kind is None or kind_field is None or kind_field.default == kind:
            return candidate
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and not found:
        found.extend(_models_in(origin))
    return found


def _line_of(text: str, key: str, table: str) -> int | None:
    """Best-effort line of ``key``, searched after the header of its top-level table."""
    start = 0
    if table:
        header = re.search(rf"^\s*\[\[?\s*{re.escape(table)}\b", text, re.MULTILINE)
        start = header.end() if header else 0
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.MULTILINE)
    match = pattern.search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None
