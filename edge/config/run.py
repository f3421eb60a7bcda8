"""The whole tree of ``edge run``: one table per concern, with the cross-table checks."""

from __future__ import annotations

import socket
import sys

from pydantic import Field

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10 on older Pi OS images
    pass


from edge.config.base import Strict
from edge.config.model import DecoderConfig, ModelConfig
from edge.config.output import OutputConfig, ServiceConfig
from edge.config.processing import EventsConfig, FiltersConfig, MotionConfig
from edge.config.sinks import JsonlSinkConfig, SinkConfig
from edge.config.sources import SourceConfig, SyntheticSourceConfig


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
    source: SourceConfig = Field(default_factory=SyntheticSourceConfig)
    sinks: list[SinkConfig] = Field(
        default_factory=lambda: list[SinkConfig]([JsonlSinkConfig()]),
        description="where results go",
    )
    output: OutputConfig = Field(
        default_factory=OutputConfig, description="preview window, recorded video, snapshots"
    )
    max_frames: int | None = Field(None, ge=1, description="stop after this many frames")
    status_interval: float = Field(5.0, gt=0, description="seconds between status lines")
    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="systemd watchdog and status settings"
    )
