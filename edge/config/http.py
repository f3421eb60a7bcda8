"""``[http]``: the built-in web server of ``edge run`` (status page, MJPEG stream, metrics).

Off unless asked for (``enabled = true`` or ``edge run --http``). It listens on the
loopback interface by default; listening anywhere else needs a token, read like the MQTT
password (a file, an environment variable or a systemd credential,
``edge.config.secrets``), because a camera picture on a LAN is private.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from edge.config.base import Strict

DEFAULT_LISTEN = "127.0.0.1:8080"


def split_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8080`` for IPv6) -> (host, port); ValueError when it is not."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"listen {listen!r} is not HOST:PORT (e.g. {DEFAULT_LISTEN!r})")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"listen {listen!r}: port {port} is not 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it may resolve to anything


class HttpConfig(Strict):
    """The web server: status page ``/``, ``/stream.mjpg``, ``/latest.jpg``,
    ``/api/status``, ``/metrics``, ``/healthz`` (docs/http.md)."""

    enabled: bool = Field(False, description="run the web server (flag: --http [HOST:PORT])")
    listen: str = Field(
        DEFAULT_LISTEN,
        description="HOST:PORT to listen on; beyond loopback (e.g. 0.0.0.0:8080) a token is "
        "required",
    )
    stream_fps: float = Field(
        5.0, gt=0, le=30, allow_inf_nan=False, description="frames/s cap of the MJPEG stream"
    )
    stream_width: int = Field(
        640, ge=64, le=3840, description="stream pictures are scaled down to this width (px)"
    )
    jpeg_quality: int = Field(80, ge=10, le=100, description="JPEG quality of the stream")
    max_viewers: int = Field(
        4, ge=1, le=64, description="streams served at once; the next one gets 503"
    )
    health_window: float = Field(
        10.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="/healthz answers 503 when no frame was processed for this many seconds",
    )
    recent_detections: int = Field(
        20, ge=1, le=500, description="detections listed on the status page and /api/status"
    )
    username: str = Field(
        "edge",
        min_length=1,
        max_length=64,
        description="user name for HTTP Basic on the stream (the password is the token)",
    )
    token_file: Path | None = Field(
        None, description="file whose first line is the access token (mode 0600)"
    )
    token_env: str | None = Field(
        None, description="name of an environment variable holding the access token"
    )
    token_credential: str | None = Field(
        None,
        description="name of a systemd credential (LoadCredential=) holding the access token; "
        "read from $CREDENTIALS_DIRECTORY/<name>",
    )

    @field_validator("listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("username")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("a Basic user name cannot hold ':'")
        return value

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> HttpConfig:
        sources = [self.token_file, self.token_env, self.token_credential]
        if sum(source is not None for source in sources) > 1:
            raise ValueError(
                "give the token in one way only: token_file, token_env or token_credential"
            )
        host, _ = split_listen(self.listen)
        if self.enabled and not is_loopback(host) and not any(s is not None for s in sources):
            raise ValueError(
                f"listen {self.listen!r} reaches beyond this machine, so the server needs a "
                "token: set token_file, token_env or token_credential (docs/http.md), or "
                f"listen on {DEFAULT_LISTEN!r}"
            )
        return self

    @property
    def has_token(self) -> bool:
        return any(s is not None for s in (self.token_file, self.token_env, self.token_credential))
