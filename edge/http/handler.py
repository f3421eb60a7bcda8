"""One HTTP request: the routes, who may call them, and the headers every answer carries.

Routes (docs/http.md): ``/`` (the status page; ``/static/*`` its script and style),
``/stream.mjpg`` (``?raw=1`` unannotated), ``/latest.jpg`` (``?raw=1``), ``/api/status``,
``/metrics``, ``/healthz``, and ``POST /login``. Every route but ``/healthz`` and the login
form's POST needs the token when one is configured (``edge.http.auth``); without it the
page's answer is 401 with the login form as its body, the others' a bare 401.

Limits: a connection waits at most ``TIMEOUT`` seconds for a request or for a write to
drain (a viewer that stops reading is dropped), a login body is at most ``MAX_BODY`` bytes,
and ``http.server`` bounds the request and header lines (64 KiB, 100 headers).
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, urlsplit

from edge.http.auth import COOKIE

if TYPE_CHECKING:
    from edge.http.server import StatusServer

log = logging.getLogger(__name__)

TIMEOUT = 10.0
MAX_BODY = 4096
BOUNDARY = "edgeframe"
SECURITY_HEADERS = (
    ("Content-Security-Policy", "default-src 'self'; img-src 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "sketch.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


class Handler(BaseHTTPRequestHandler):
    server: StatusServer  # our server, with the run's parts
    timeout = TIMEOUT
    server_version = "edge"
    sys_version = ""  # no Python version in the Server header
    protocol_version = "HTTP/1.0"  # one request per connection: simple, and the stream ends it
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"
    routes: ClassVar[dict[str, str]] = {
        "/": "_page",
        "/index.html": "_page",
        "/static/app.js": "_static",
        "/static/sketch.js": "_static",
        "/static/style.css": "_static",
        "/api/status": "_status",
        "/metrics": "_metrics",
        "/stream.mjpg": "_stream",
        "/latest.jpg": "_latest",
    }

    def log_message(self, format: str, *args: object) -> None:
        # The request line and status only; headers (credentials) are never logged.
        log.debug("%s %s", self.address_string(), format % args)

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def do_HEAD(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        if path == "/healthz":
            self._healthz()
            return
        basic = path in ("/stream.mjpg", "/latest.jpg")
        if not self.server.credentials.allows(self.headers, basic=basic):
            self._unauthorized(path, basic=basic)
            return
        route = self.routes.get(path)
        if route is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        raw = parse_qs(url.query).get("raw", ["0"])[0] in ("1", "true", "yes")
        getattr(self, route)(path, raw)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/login":
            self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)
            return
        try:
            length = int(self.headers.get("Content-Length") or "-1")
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(HTTPStatus.LENGTH_REQUIRED)
            return
        if length > MAX_BODY:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        token = form.get("token", [""])[0]
        credentials = self.server.credentials
        if credentials.required and not credentials.token_matches(token):
            self._unauthorized("/", basic=False, failed=True)
            return
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", "/")
        if credentials.required:  # without a token (loopback) there is nothing to remember
            self.send_header(
                "Set-Cookie",
                f"{COOKIE}={credentials.session()}; HttpOnly; SameSite=Strict; Path=/",
            )
        self.send_header("Content-Length", "0")
        self.end_headers()

    # Routes.

    def _healthz(self) -> None:
        health = self.server.board.health()
        status = HTTPStatus.OK if health.ok else HTTPStatus.SERVICE_UNAVAILABLE
        self._send(status, (health.reason + "\n").encode(), "text/plain; charset=utf-8")

    def _page(self, path: str, raw: bool) -> None:
        self._send(HTTPStatus.OK, self.server.asset("index.html"), "text/html; charset=utf-8")

    def _static(self, path: str, raw: bool) -> None:
        name = path.rsplit("/", 1)[-1]
        self._send(HTTPStatus.OK, self.server.asset(name), STATIC_TYPES[name])

    def _status(self, path: str, raw: bool) -> None:
        body = json.dumps(self.server.board.document).encode()
        self._send(HTTPStatus.OK, body, "application/json")

    def _metrics(self, path: str, raw: bool) -> None:
        from edge.http.metrics import CONTENT_TYPE

        self._send(HTTPStatus.OK, self.server.metrics.render(), CONTENT_TYPE)

    def _latest(self, path: str, raw: bool) -> None:
        jpeg = self.server.feed.latest("raw" if raw else "annotated")
        if jpeg is None:
            self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
            return
        self._send(HTTPStatus.OK, jpeg, "image/jpeg")

    def _stream(self, path: str, raw: bool) -> None:
        pictures = self.server.feed.stream("raw" if raw else "annotated")
        if pictures is None:
            self.send_error(
                HTTPStatus.SERVICE_UNAVAILABLE, f"{self.server.feed.max_viewers} viewers already"
            )
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Pragma", "no-cache")
            self.end_headers()
            for jpeg in pictures:
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()
        except OSError:  # the viewer went away or stopped reading for TIMEOUT seconds
            pass
        finally:
            pictures.close()  # frees the viewer's place at once

    # Answers.

    def _unauthorized(self, path: str, *, basic: bool, failed: bool = False) -> None:
        page = path in ("/", "/index.html")
        body = self.server.login_page(failed) if page else b"401 Unauthorized\n"
        self.send_response(HTTPStatus.UNAUTHORIZED)
        if basic:
            self.send_header("WWW-Authenticate", 'Basic realm="edge", charset="UTF-8"')
        else:
            self.send_header("WWW-Authenticate", 'Bearer realm="edge"')
        self.send_header("Content-Type", "text/html; charset=utf-8" if page else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
