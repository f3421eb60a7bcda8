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

from edge.config_paths import models_in, resolve_relative_paths
from edge.errors import ConfigError
from edge.manifest import Colour, ResizeMode, Task
from edge.processing.params import PARAMS, all_keys, check_settings

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
    probe: bool = Field(
        True,
        description="load and run a model once in a limited child process before "
        "loading it here (edge.model_probe); false skips it, for trusted models only",
    )
    probe_timeout: float = Field(
        20.0,
        gt=0,
        description="seconds the child may take to load and run the model once",
    )


class DecoderConfig(BaseModel):
    """``name`` plus the settings of that decoder (``edge.processing.params``).

    The settings depend on the decoder, which may only be known once the model is read
    (its manifest names it), so they are kept as extra keys here and validated against
    the chosen decoder's parameter model: when the config is loaded if ``name`` is given,
    otherwise when the model is opened (``edge.model.load_model``). A key that no decoder
    has is refused when the config is loaded either way, with its line.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = Field(
        None,
        description="decoder; default: the manifest's, or the one that fits the model's outputs",
    )

    @property
    def settings(self) -> dict[str, Any]:
        """The explicit decoder settings (every key but ``name``)."""
        return dict(self.model_extra or {})


class FiltersConfig(Strict):
    """Applied after any decoder, to every detection (labels as written in records)."""

    thresholds: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict, description="per-label minimum score, e.g. {person = 0.6}"
    )
    allow: list[str] | None = Field(None, description="report only these labels")
    deny: list[str] = Field(default_factory=list, description="never report these labels")
    min_area: float = Field(
        0.0, ge=0.0, le=1.0, description="drop boxes smaller than this fraction of the frame"
    )


class MotionConfig(Strict):
    """Skip inference while nothing changes (differencing on a small grey frame)."""

    enabled: bool = Field(False, description="turn the motion gate on")
    width: int = Field(64, ge=8, le=640, description="width of the grey frame compared")
    pixel_threshold: int = Field(
        20, ge=1, le=255, description="grey-level change that counts a pixel as changed"
    )
    min_changed: float = Field(
        0.005, gt=0.0, le=1.0, description="fraction of changed pixels that counts as motion"
    )
    heartbeat: float = Field(
        30.0,
        ge=0.0,
        description="seconds: run the model at least this often while nothing "
        "moves, so a record still says the device is alive (0 = never)",
    )


class EventsConfig(Strict):
    """Track objects and write ``edge.event/1`` records: new, update, end."""

    enabled: bool = Field(False, description="turn event mode on (detection models)")
    per_frame: bool = Field(
        True, description="keep writing the per-frame edge.result/1 records beside the events"
    )
    iou_threshold: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="a detection continues a track of its label when "
        "their boxes overlap by at least this IoU",
    )
    max_missed: int = Field(
        10, ge=1, description="inferred frames a track may go unseen before it ends"
    )
    update_interval: float = Field(
        5.0, ge=0.0, description="seconds between update events of one track"
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
        1,
        ge=1,
        le=4,
        description="digits per frame; more than 1 draws them at non-overlapping "
        "places (2-4, for detector models) and the truth lists every digit's label and box",
    )
    on_demand: bool = Field(
        False,
        description="deliver each frame when the pipeline takes it, dropping none and "
        "ignoring fps, as a video file does (edge bench's pipeline rate: a paced camera "
        "faster than the model spends CPU rendering frames that are then dropped)",
    )
    freeze_after: int | None = Field(
        None,
        ge=0,
        description="simulate a hung camera: after this many frames the camera "
        "delivers nothing more and its read blocks until the run stops (no activity, so the "
        "systemd watchdog stops being fed); for testing the watchdog",
    )


class LiveOptions(Strict):
    """How a live source (webcam, stream, Pi camera) survives the real world."""

    stall_timeout: float = Field(
        5.0, gt=0, description="seconds without a frame before the source is closed and reopened"
    )
    reconnect_delay: float = Field(
        0.5, gt=0, description="first wait before reopening; doubles per failed attempt"
    )
    reconnect_delay_max: float = Field(
        30.0, gt=0, description="longest wait between reopening attempts (jitter is added)"
    )
    retry_at_start: bool = Field(
        False,
        description="a source that cannot be opened at start: keep trying in state "
        "'reconnecting' instead of exiting 1 (the service template sets this)",
    )


class CameraSource(LiveOptions):
    """A webcam by index (0) or device path (/dev/video0, Linux), read with OpenCV."""

    kind: Literal["camera"] = "camera"
    device: int | str = Field(0, description="index or /dev/videoN path")
    width: int | None = Field(None, ge=1, description="requested capture width")
    height: int | None = Field(None, ge=1, description="requested capture height")
    fps: float | None = Field(None, gt=0, description="requested capture frame rate")


class VideoSource(LiveOptions):
    """A video file (read without dropping) or an rtsp/http(s) stream (live, reopened on
    failure; the live options apply to streams only)."""

    kind: Literal["video"] = "video"
    uri: str = Field(description="file path or rtsp:// http(s):// URL")
    loop: bool = Field(False, description="restart a file at its end")
    pace: bool = Field(
        False,
        description="play a file at its own frame rate instead of as fast as the model "
        "goes (frames are never dropped either way)",
    )
    open_timeout: float = Field(
        10.0, gt=0, description="seconds a stream may take to open, and a read to return"
    )


class PiCamera2Source(LiveOptions):
    """The Raspberry Pi camera (CSI ribbon, libcamera) through picamera2."""

    kind: Literal["picamera2"] = "picamera2"
    camera: int | str = Field(
        0, description="camera index (0 = first) or sensor model name such as 'imx708'"
    )
    width: int = Field(1280, ge=64, le=9152, description="main stream width (snapshots)")
    height: int = Field(720, ge=64, le=6944, description="main stream height (snapshots)")
    lores_width: int | None = Field(
        None,
        ge=16,
        description="width of the stream the model sees; default: just above the "
        "model's input, in the main stream's aspect ratio, even",
    )
    lores_height: int | None = Field(
        None, ge=16, description="height of the stream the model sees; default as lores_width"
    )
    fps: float = Field(30.0, gt=0, le=240, description="sensor frame rate (FrameRate control)")
    format: Literal["auto", "rgb", "yuv420"] = Field(
        "auto",
        description="lores pixel format: auto = RGB where the ISP gives it (Pi 5), "
        "YUV420 where lores must be YUV (Pi 4 and earlier)",
    )
    buffer_count: int = Field(4, ge=2, le=16, description="camera buffers (fewer saves CMA)")
    capture_timeout: float = Field(
        2.0, gt=0, description="seconds a capture may take before it counts as a stall"
    )


class ImagesSource(Strict):
    """Every image in a folder, in name order, read without dropping."""

    kind: Literal["images"] = "images"
    path: Path = Field(description="folder of .jpg/.png/... images")
    loop: bool = Field(False, description="start again after the last image")


SourceConfig = Annotated[
    SyntheticSource | CameraSource | VideoSource | ImagesSource | PiCamera2Source,
    Field(discriminator="kind"),
]


class JsonlSink(Strict):
    """A JSON Lines log, rotated by size and safe against crashes and full disks
    (``edge.sinks.jsonl``)."""

    kind: Literal["jsonl"] = "jsonl"
    path: Path = Field(
        Path("detections.jsonl"), description="JSON Lines file, appended; its folder must exist"
    )
    max_bytes: int = Field(
        50_000_000,
        ge=0,
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
        description="with only_detections: seconds after which a result without "
        "detections is written anyway, to show the device is alive",
    )


class StdoutSink(Strict):
    kind: Literal["stdout"] = "stdout"


class MqttTls(Strict):
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
    def _certificate_with_its_key(self) -> MqttTls:
        # Checked here, not only when the sink connects, so `edge check-config` finds it.
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError(
                "tls.cert_file and tls.key_file go together: give both the "
                "client certificate and its key, or neither"
            )
        return self


class MqttSink(Strict):
    """Publish every record to an MQTT broker through a durable on-disk outbox.

    See docs/mqtt.md for topics, payloads, the outbox policy and Home Assistant.
    """

    kind: Literal["mqtt"] = "mqtt"
    host: str = Field("localhost", min_length=1, description="broker host name or address")
    port: int | None = Field(
        None, ge=1, le=65535, description="broker port; default 1883, or 8883 with TLS"
    )
    prefix: str | None = Field(
        None, min_length=1, description="topic prefix; default edge/<device>"
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
    tls: MqttTls | None = Field(None, description="TLS settings; mqtts:// turns TLS on")
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
        description="seconds between outbox commits: the most results a "
        "power cut can lose, and how long a result waits before it is sent",
    )
    outbox_max_rows: int = Field(
        100_000,
        ge=10,
        description="results kept while the "
        "broker is away; beyond it the oldest are dropped (counted)",
    )
    outbox_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=4096,
        description="outbox size cap in payload bytes; beyond it "
        "the oldest results are dropped (counted)",
    )
    outbox_max_age: float = Field(
        7 * 86400.0,
        gt=0,
        description="seconds a result may wait in the outbox before it is dropped (counted)",
    )
    max_inflight: int = Field(
        10, ge=1, le=1000, description="results sent but not yet acknowledged by the broker"
    )
    drain_rate: float = Field(
        500.0,
        gt=0,
        description="most results per second sent while "
        "a backlog drains, so a reconnect does not flood the broker",
    )
    stats_interval: float = Field(
        30.0, gt=0, description="seconds between retained <prefix>/stats messages"
    )
    close_timeout: float = Field(
        5.0,
        ge=0,
        description="seconds a clean stop waits for the "
        "outbox to drain; what is left is sent by the next run",
    )
    homeassistant: bool = Field(True, description="publish Home Assistant device discovery")
    discovery_prefix: str = Field(
        "homeassistant", min_length=1, description="Home Assistant discovery prefix"
    )
    expire_after: int = Field(
        60,
        ge=1,
        description="seconds after which Home Assistant "
        "marks a label sensor unavailable without fresh state",
    )
    commands: bool = Field(True, description="accept pause/resume/threshold on <prefix>/set")

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttSink:
        sources = [self.password_file, self.password_env, self.password_credential]
        if sum(s is not None for s in sources) > 1:
            raise ValueError(
                "give the password in one way only: password_file, password_env "
                "or password_credential"
            )
        if any(s is not None for s in sources) and self.username is None:
            raise ValueError("a password needs a username")
        return self


SinkConfig = Annotated[JsonlSink | StdoutSink | MqttSink, Field(discriminator="kind")]


class ServiceConfig(Strict):
    """How ``edge run`` behaves under systemd (read only when systemd asks for it)."""

    watchdog_window: float | None = Field(
        None,
        gt=0,
        description="seconds without a processed frame (or, while the source "
        "reconnects, without a reopen attempt) after which WATCHDOG=1 pings stop so systemd "
        "restarts the service; default: the unit's WatchdogSec (WATCHDOG_USEC)",
    )
    status_every: float = Field(
        2.0,
        gt=0,
        description="seconds between STATUS= updates sent to systemd",
    )


class OutputConfig(Strict):
    """The picture side of a run (flags --preview, --record, --snapshot-dir): what the
    model saw, annotated with its records."""

    preview: bool = Field(False, description="show a window with boxes, labels and scores")
    record: Path | None = Field(
        None, description="write the annotated video here (.mp4 mp4v, .avi MJPG, .mkv XVID)"
    )
    record_fps: float | None = Field(
        None,
        gt=0,
        description="frame rate written into the video; default: the source's, else 30",
    )
    snapshot_dir: Path | None = Field(
        None, description="save an annotated JPEG here when a detection or anomaly appears"
    )
    snapshot_interval: float = Field(
        10.0, ge=0, description="seconds before the same label is saved again"
    )


class RunConfig(Strict):
    device: str = Field(default_factory=socket.gethostname, description="name in every record")
    model: ModelConfig = Field(default_factory=ModelConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    filters: FiltersConfig = Field(
        default_factory=FiltersConfig, description="post-decoder label and size filters"
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="skip inference while nothing moves"
    )
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="object tracks and event records"
    )
    source: SourceConfig = Field(default_factory=SyntheticSource)
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: list[SinkConfig]([JsonlSink()]), description="where results go"
    )
    output: OutputConfig = Field(
        default_factory=OutputConfig, description="preview window, recorded video, snapshots"
    )
    max_frames: int | None = Field(None, ge=1, description="stop after this many frames")
    status_interval: float = Field(5.0, gt=0, description="seconds between status lines")
    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="systemd watchdog and status settings"
    )


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Return the parsed table and the raw text (kept to point at lines in errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte {exc.start}, line {line})",
            hint="TOML files are UTF-8: save it as UTF-8 (iconv -f latin1 -t utf-8), or "
            "check that it is the config file and not a binary",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"config {str(path)!r} is a folder, not a file", hint="give the path of the .toml file"
        ) from None
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
    _check_decoder_table(data, origin, text)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, data, origin, text)) from None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The file (relative paths in it resolved against its folder), then the flags on top."""
    data, text = read_toml(path) if path else ({}, "")
    if path is not None:
        data = resolve_relative_paths(data, path.parent.absolute(), RunConfig)
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


def _check_decoder_table(data: dict[str, Any], origin: str, text: str) -> None:
    """Decoder settings: all of them when the name is known, else keys no decoder has."""
    table = data.get("decoder")
    if not isinstance(table, dict):
        return
    settings = {key: value for key, value in table.items() if key != "name"}
    name = table.get("name")
    if isinstance(name, str):
        try:
            check_settings(name, settings)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: [decoder]: {exc.message}", hint=exc.hint) from None
        return
    known = all_keys()
    for key in settings:
        if key in known:
            continue
        near = difflib.get_close_matches(key, sorted(known), n=1)
        line = _line_of(text, key, "decoder")
        message = f"{origin}: unknown key {key!r} in [decoder]" + (
            f" (line {line})" if line else ""
        )
        if near:
            message += f"; did you mean {near[0]!r}?"
        per_decoder = "; ".join(
            f"{n}: {', '.join(sorted(m.model_fields))}" for n, m in sorted(PARAMS.items())
        )
        raise ConfigError(
            message, hint=f"[decoder] takes name and the settings of that decoder: {per_decoder}"
        )


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
    for candidate in models_in(field.annotation):
        kind_field = candidate.model_fields.get("kind")
        if kind is None or kind_field is None or kind_field.default == kind:
            return candidate
    return None


def _line_of(text: str, key: str, table: str) -> int | None:
    """Best-effort line of ``key``, searched after the header of its top-level table."""
    start = 0
    if table:
        header = re.search(rf"^\s*\[\[?\s*{re.escape(table)}\b", text, re.MULTILINE)
        start = header.end() if header else 0
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=", re.MULTILINE)
    match = pattern.search(text, start)
    return text.count("\n", 0, match.start()) + 1 if match else None
