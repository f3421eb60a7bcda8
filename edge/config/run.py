"""The whole tree of ``edge run``: one table per concern, with the cross-table checks.

The device id names the device on the wire (topic prefix ``edge/<device>``, client id
``edge-<device>``, the Home Assistant device), so it must differ between devices on one
broker. Its default is the hostname plus ``-`` and six hex characters derived from
``/etc/machine-id`` (``raspberrypi-3f9a1c``): every fresh Pi OS image is called
``raspberrypi``, and two devices with one client id take the connection from each other
every second. The suffix is an HMAC of the machine id keyed for this program (as
systemd's ``sd_id128_get_machine_app_specific``), so the id itself, meant to stay
private, is never published. Without a machine id (a fresh container has none) the
default is the bare hostname: a container's hostname is its container id, unique per
container, and a random suffix would change at every start and give Home Assistant new
entities each time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.config.base import Strict
from edge.config.http import HttpConfig
from edge.config.model import DecoderConfig, ModelConfig
from edge.config.output import OutputConfig, ServiceConfig
from edge.config.processing import EventsConfig, FiltersConfig, MotionConfig
from edge.config.refine import RefineConfig
from edge.config.sinks import (
    JsonlSinkConfig,
    MqttSinkConfig,
    SinkConfig,
    check_topic_name,
    ha_object_id,
)
from edge.config.sources import SourceConfig, SyntheticSourceConfig
from edge.config.zones import LineConfig, MaskConfig, ZoneConfig, check_unique

log = logging.getLogger(__name__)

# systemd's file, then the D-Bus one older or minimal systems have instead.
MACHINE_ID_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
_SUFFIX_KEY = b"edge-infer device id"


def default_device(
    machine_id_files: Sequence[Path] = MACHINE_ID_FILES, hostname: str | None = None
) -> str:
    """``<hostname>-<6 hex>`` from the first readable machine id, else the bare hostname
    (module docstring: why, and why that fallback)."""
    host = (socket.gethostname() if hostname is None else hostname).strip() or "edge"
    for path in machine_id_files:
        try:
            machine_id = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        # systemd writes "uninitialized" there until the first boot completes.
        if machine_id and machine_id != "uninitialized":
            digest = hmac.new(machine_id.encode(), _SUFFIX_KEY, hashlib.sha256).hexdigest()
            return f"{host}-{digest[:6]}"
    log.debug("no machine id in %s: the default device id is the hostname", machine_id_files)
    return host


class RunConfig(Strict):
    device: str = Field(
        default_factory=default_device,
        description="device id: in every record, the MQTT topic prefix, client id and "
        "Home Assistant device; unique per device on a broker. Default: the hostname plus "
        "6 hex characters from /etc/machine-id (the bare hostname without one)",
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    decoder: DecoderConfig = Field(default_factory=DecoderConfig)
    refine: RefineConfig = Field(
        default_factory=RefineConfig,
        description="second-stage classifier that names detected boxes again (docs/zones.md)",
    )
    filters: FiltersConfig = Field(
        default_factory=FiltersConfig, description="post-decoder label and size filters"
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="skip inference while nothing moves"
    )
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="object tracks and event records"
    )
    source: SourceConfig = Field(default_factory=SyntheticSourceConfig)
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: list[SinkConfig]([JsonlSinkConfig()]),
        description="where results go",
    )
    output: OutputConfig = Field(
        default_factory=OutputConfig, description="preview window, recorded video, snapshots"
    )
    max_frames: int | None = Field(None, ge=1, le=10**12, description="stop after this many frames")
    status_interval: float = Field(5.0, gt=0, le=3600, description="seconds between status lines")
    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="systemd watchdog and status settings"
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="named polygons")
    lines: list[LineConfig] = Field(default_factory=list, description="counting lines")
    masks: list[MaskConfig] = Field(default_factory=list, description="ignored areas")
    http: HttpConfig = Field(
        default_factory=HttpConfig,
        description="status page, MJPEG stream, /metrics and /healthz (docs/http.md)",
    )

    @model_validator(mode="after")
    def _zone_names_apart(self) -> RunConfig:
        check_unique([z.name for z in self.zones], "zones")
        check_unique([line.name for line in self.lines], "lines")
        return self

    @field_validator("device")
    @classmethod
    def _device_on_the_wire(cls, value: str) -> str:
        return check_topic_name(value, "device", one_level=True)

    @model_validator(mode="after")
    def _mqtt_sinks_apart(self) -> RunConfig:
        # Two MQTT sinks on one broker with one client id take the connection from each
        # other; with one prefix or one HA object id they overwrite each other's topics.
        seen: dict[tuple[str, str], int] = {}
        for index, sink in enumerate(self.sinks):
            if not isinstance(sink, MqttSinkConfig):
                continue
            broker = f"{sink.host.lower()}:{sink.port or (8883 if sink.tls else 1883)}"
            names = [
                ("client id", sink.client_id or f"edge-{self.device}", "client_id"),
                ("topic prefix", sink.prefix or f"edge/{self.device}", "prefix"),
            ]
            if sink.homeassistant:
                topic = f"{sink.discovery_prefix}/device/{ha_object_id(self.device)}"
                names.append(("Home Assistant discovery topic", topic, "discovery_prefix"))
            for what, name, key in names:
                other = seen.setdefault((broker, f"{what}\0{name}"), index)
                if other != index:
                    raise ValueError(
                        f"sinks[{other}] and sinks[{index}] both use the {what} {name!r} "
                        f"on the broker {broker}; give sinks[{index}] its own {key}"
                    )
        return self
