"""Who may see the camera: one token, shown three ways, never in a URL.

- ``Authorization: Bearer <token>``: scripts, Prometheus (``authorization`` in a scrape
  config), curl.
- A cookie set by the login form (``POST /login``): browsers. The cookie holds an HMAC of
  the token, not the token, so a cookie jar leaks no secret that works elsewhere; it is
  ``HttpOnly`` and ``SameSite=Strict``.
- HTTP Basic (user ``[http] username``, password = the token), on the stream and the
  snapshot only: Home Assistant's MJPEG camera and VLC can send nothing else.

Without a token (allowed on loopback only, ``edge.config.http``) every request passes.
Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Protocol

COOKIE = "edge_session"
_COOKIE_KEY = b"edge-infer http session"


class Headers(Protocol):
    """What is read of a request's headers (``http.client.HTTPMessage``, a dict)."""

    def get(self, name: str, /) -> str | None: ...


class Credentials:
    def __init__(self, token: str | None, username: str = "edge") -> None:
        self._token = token
        self._username = username

    @property
    def required(self) -> bool:
        return self._token is not None

    def session(self) -> str:
        """The login cookie's value: derived from the token, not the token."""
        assert self._token is not None
        return hmac.new(self._token.encode(), _COOKIE_KEY, hashlib.sha256).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        if self._token is None:
            return True
        return hmac.compare_digest(candidate.encode(), self._token.encode())

    def allows(self, headers: Headers, *, basic: bool) -> bool:
        """The request carries the token as a bearer header or the login cookie, or (where
        ``basic``) as HTTP Basic."""
        if self._token is None:
            return True
        authorization = headers.get("Authorization") or ""
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(value.strip()):
            return True
        if basic and scheme.lower() == "basic" and self._basic_matches(value.strip()):
            return True
        cookie = _cookie(headers.get("Cookie") or "", COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.session().encode())

    def _basic_matches(self, value: str) -> bool:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self._username.encode())
        return bool(sep) and self.token_matches(password) and user_ok


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None
