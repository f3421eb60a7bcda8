"""The built-in web server of ``edge run`` (``[http]``, ``edge run --http``): a status page
with the live annotated video, an MJPEG restream, ``/api/status``, ``/metrics``,
``/healthz``. docs/http.md describes it for users.

One module per job:
- ``feed.py``: the frame observer and the JPEG encoder thread (the only cost per frame);
- ``board.py``: the status document and the health verdict (a tick hook of the loop);
- ``metrics.py``: the Prometheus view (``prometheus-client``, imported only here);
- ``auth.py``: the token, as a bearer header, a login cookie or HTTP Basic;
- ``handler.py``: routes, limits, security headers;
- ``server.py``: the threading server with a connection cap;
- ``static/``: the page, its script and style (no build step, no CDN).

``start_http`` is all ``edge.app`` calls.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from edge.config.http import HttpConfig, is_loopback, split_listen
from edge.config.secrets import read_secret
from edge.http.auth import Credentials
from edge.http.board import ModelInfo, RunInfo, StatusBoard
from edge.http.feed import FrameFeed
from edge.http.server import StatusServer
from edge.observers.annotate import Overlay

log = logging.getLogger(__name__)

__all__ = ["HttpRun", "ModelInfo", "RunInfo", "read_token", "start_http"]


@dataclass
class HttpRun:
    """The parts a run wires in: ``feed`` is a frame observer, ``board.tick`` a tick hook."""

    feed: FrameFeed
    board: StatusBoard
    server: StatusServer
    url: str

    def close(self) -> None:
        self.server.close()
        self.feed.close()


def read_token(config: HttpConfig) -> str | None:
    return read_secret(
        file=config.token_file,
        env=config.token_env,
        credential=config.token_credential,
        what="token",
        owner="HTTP",
        key="token_file",
    )


def start_http(
    config: HttpConfig,
    info: RunInfo,
    model: Callable[[], ModelInfo],
    backlogs: Callable[[], dict[str, int]] = dict,
    overlay: Overlay | None = None,
) -> HttpRun:
    """Listen and serve on a thread of its own; the caller closes the result. ``overlay``
    draws the zones, lines and masks on the annotated picture (``edge.zones.draw``)."""
    from edge.http.metrics import Metrics
    from edge.sinks.mqtt.stats import cpu_temperature

    credentials = Credentials(read_token(config), config.username)
    feed = FrameFeed(
        fps=config.stream_fps,
        width=config.stream_width,
        quality=config.jpeg_quality,
        max_viewers=config.max_viewers,
        recent=config.recent_detections,
        overlay=overlay,
    )
    board = StatusBoard(info, model, feed, temperature=cpu_temperature, backlogs=backlogs)
    try:
        server = StatusServer(
            config.listen,
            feed=feed,
            board=board,
            metrics=Metrics(board),
            credentials=credentials,
        )
    except OSError as exc:
        feed.close()
        from edge.errors import ConfigError

        raise ConfigError(
            f"[http] cannot listen on {config.listen}: {exc.strerror or exc}",
            hint="another program uses that port, or the address is not this machine's: "
            "choose another [http] listen (or --http HOST:PORT)",
        ) from None
    server.start()
    host, _ = split_listen(config.listen)
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{server.port}/"
    where = "this machine only" if is_loopback(host) else "the network; token required"
    log.info("status page: %s (open it in a browser; %s)", url, where)
    return HttpRun(feed, board, server, url)
