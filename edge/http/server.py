"""The server itself: a threading ``http.server`` with a cap on connections, on its own
thread, stopped with the run.

Standard library only, on purpose: a handful of routes, one user, a few viewers; a
framework would add dependencies and start-up time for nothing. Each connection gets a
thread (``daemon_threads``: a stuck client never holds the process at exit); at most
``max_viewers`` streams plus ``_SPARE`` other connections are served at once, the next
gets a bare 503 and is closed, so a flood of connections costs a bounded number of
threads.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from http.server import ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any

from edge.config.http import split_listen
from edge.http.handler import Handler

if TYPE_CHECKING:
    from edge.http.auth import Credentials
    from edge.http.board import StatusBoard
    from edge.http.feed import FrameFeed
    from edge.http.metrics import Metrics

log = logging.getLogger(__name__)

_SPARE = 8  # connections beyond the streams: page, API, metrics, health checks
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 24\r\nConnection: close\r\n\r\ntoo many connections now\n"
)
_ASSETS = ("index.html", "app.js", "sketch.js", "style.css", "login.html")


class StatusServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        listen: str,
        *,
        feed: FrameFeed,
        board: StatusBoard,
        metrics: Metrics,
        credentials: Credentials,
    ) -> None:
        host, port = split_listen(listen)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.feed = feed
        self.board = board
        self.metrics = metrics
        self.credentials = credentials
        self._slots = threading.BoundedSemaphore(feed.max_viewers + _SPARE)
        folder = resources.files("edge.http").joinpath("static")
        self._assets = {name: folder.joinpath(name).read_bytes() for name in _ASSETS}
        super().__init__((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def asset(self, name: str) -> bytes:
        return self._assets[name]

    def login_page(self, failed: bool) -> bytes:
        page = self._assets["login.html"]
        note = b"<p class=error>That token is not right.</p>" if failed else b""
        return page.replace(b"<!--note-->", note)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5.0)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()
