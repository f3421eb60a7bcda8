"""What a failed MQTT connection means, and what is said about it.

An unreachable broker is normal: the run goes on, results wait in the outbox, and it is
logged once per outage. Two failures are configuration mistakes that retrying cannot
fix, and they stop the run with exit code 78 when they happen before the first
successful connection of the run: the broker refusing the credentials (CONNACK "not
authorised" / "bad user name or password") and a broker certificate that does not
verify against the configured CA. After a run has connected once, the same failures are
logged as errors (at most once a minute) and retried, since the broker's configuration
changed under a running device and the outbox keeps the results meanwhile. Other
failures are logged at most once a minute per kind.

A client-id takeover is told as such: a broker drops the older of two connections with
one client id, and both clients reconnect after a second, so two devices with the same
device id take the connection from each other every second ("lost (Unspecified error)"
with MQTT 3.1.1, "Session taken over" with MQTT 5). A connection dropped within
``SHORT_SESSION`` seconds of its CONNACK, ``TAKEOVER_AFTER`` times in a row with no
failed attempt between (or once with MQTT 5's reason), is reported as "another client
uses the id ..." (an error, at most once a minute) instead of a "lost" warning per
drop. It is not fatal: the results still get through between the drops, and the outbox
keeps the rest.

The password is never logged and never part of an error message.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

log = logging.getLogger(__name__)

REPEAT_LOG = 60.0  # seconds between repeated connection-error log lines
AUTH_REFUSALS = {"Bad user name or password", "Not authorized", "Bad authentication method"}
# A taken-over connection ends when the other client reconnects: paho's first reconnect
# delay (1 s) after that client was itself dropped, which was when this one connected.
# A link that stays up longer than that is not counted, nor are drops with failed
# connection attempts between them (an outage, not a takeover).
SHORT_SESSION = 2.0  # seconds
TAKEOVER_AFTER = 3  # short connections in a row that make a takeover
TAKEN_OVER = "Session taken over"  # MQTT 5 DISCONNECT reason 0x8E


class ConnectionFailures:
    """The failure policy of one connection: each method logs what happened and returns
    a ``ConfigError`` when the run must stop.

    Threads: paho's network thread only (its callbacks and the reconnect wrapper), which
    owns every field.
    """

    def __init__(
        self,
        name: str,
        *,
        username: str | None,
        tls: bool,
        outbox_path: Path,
        client_id: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._client_id = client_id
        self._clock = clock
        self._connected_at: float | None = None
        self._short_sessions = 0  # connections in a row that ended within SHORT_SESSION
        self._username = username
        self._tls = tls
        self._outbox_path = outbox_path
        self._ever_connected = False
        self._outage_logged = False
        self._last_log: dict[str, float] = {}

    def connected(self) -> None:
        """A connection succeeded: from now on nothing is fatal; a new outage is told."""
        self._ever_connected = True
        self._outage_logged = False
        self._connected_at = self._clock()

    def refused(self, reason: str) -> ConfigError | None:
        """The broker answered CONNECT with a failure ``reason``."""
        self._short_sessions = 0  # a failed attempt between two drops: not a takeover
        if reason in AUTH_REFUSALS:
            message = (
                f"MQTT broker {self.name} refused the credentials (CONNACK: {reason}) "
                f"for user {self._username!r}"
            )
            hint = (
                "check username and the password source (password_file, password_env or "
                "password_credential) against the broker's password file"
            )
            return self._fatal_or_log("auth", message, hint)
        self._log(
            "refused",
            f"MQTT broker {self.name} refused the connection (CONNACK: {reason}); retrying",
        )
        return None

    def connect_error(self, exc: OSError) -> ConfigError | None:
        """A (re)connect raised before CONNECT was sent (socket, TLS handshake)."""
        self._short_sessions = 0  # an outage between two drops: not a takeover
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = exc.verify_message or "certificate verify failed"
            message = (
                f"the TLS certificate of MQTT broker {self.name} did not verify: "
                f"{reason} (certificate verify failed)"
            )
            hint = (
                "set tls.ca_file to the CA that signed the broker's certificate and use "
                "the host name the certificate names"
            )
            return self._fatal_or_log("tls-verify", message, hint)
        if isinstance(exc, ssl.SSLError):
            self._log(
                "tls",
                f"TLS handshake with MQTT broker {self.name} failed "
                f"({exc.reason or exc}); if that port is plain MQTT, use mqtt:// "
                "or the broker's TLS port; results wait in the outbox",
            )
            return None
        reason = exc.strerror or exc.__class__.__name__
        message = (
            f"MQTT broker {self.name} is not reachable ({reason}); results wait in "
            f"the outbox {self._outbox_path} and are sent when it is back"
        )
        # Said once per outage (the status line shows the state meanwhile).
        log.log(logging.DEBUG if self._outage_logged else logging.WARNING, "%s", message)
        self._outage_logged = True
        return None

    def no_connack(self) -> None:
        """TCP (and TLS) was up but the broker hung up before CONNACK: typically a plain
        MQTT client talking to a TLS port."""
        self._short_sessions = 0  # a failed attempt between two drops: not a takeover
        if not self._tls:
            cause = "if that port expects TLS, use mqtts:// (or a [sinks.tls] table)"
        else:  # with TLS 1.3 a missing client certificate shows up only here
            cause = (
                "the broker may require a client certificate (tls.cert_file and "
                "tls.key_file) or refuse this client id"
            )
        self._log(
            "no-connack",
            f"MQTT broker {self.name} closed the connection "
            f"before answering CONNECT; {cause}; results wait in the outbox",
        )

    def lost(self, reason_code: Any) -> None:
        """An established connection dropped (not while the run is stopping)."""
        started, self._connected_at = self._connected_at, None
        short = started is not None and self._clock() - started < SHORT_SESSION
        self._short_sessions = self._short_sessions + 1 if short else 0
        if str(reason_code) == TAKEN_OVER or self._short_sessions >= TAKEOVER_AFTER:
            repeats = (
                f", {self._short_sessions} times in a row within seconds of connecting"
                if self._short_sessions >= TAKEOVER_AFTER
                else ""
            )
            self._log(
                "takeover",
                f"MQTT connection to {self.name} lost ({reason_code}){repeats}: another "
                f"client uses the id {self._client_id} (two devices with the same device "
                "name?); "
                "give each device its own device id (device = ... or --device) or "
                "client_id; results wait in the outbox meanwhile",
                level=logging.ERROR,
            )
            self._outage_logged = True
            return
        log.warning(
            "MQTT connection to %s lost (%s); results wait in the outbox and are "
            "sent after the reconnect",
            self.name,
            reason_code,
        )
        self._outage_logged = True  # that was this outage's one message

    def _fatal_or_log(self, key: str, message: str, hint: str) -> ConfigError | None:
        if not self._ever_connected:
            log.error("%s\n  fix: %s", message, hint)
            return ConfigError(message, hint=hint)
        self._log(key, f"{message}; retrying (fix: {hint})", level=logging.ERROR)
        return None

    def _log(self, key: str, message: str, level: int = logging.WARNING) -> None:
        now = self._clock()
        if now - self._last_log.get(key, -REPEAT_LOG) >= REPEAT_LOG:
            self._last_log[key] = now
            log.log(level, "%s", message)
        else:
            log.debug("%s", message)
