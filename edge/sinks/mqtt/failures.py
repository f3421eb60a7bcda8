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

The password is never logged and never part of an error message.
"""

from __future__ import annotations

import logging
import ssl
import time
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

log = logging.getLogger(__name__)

REPEAT_LOG = 60.0  # seconds between repeated connection-error log lines
AUTH_REFUSALS = {"Bad user name or password", "Not authorized", "Bad authentication method"}


class ConnectionFailures:
    """The failure policy of one connection: each method logs what happened and returns
    a ``ConfigError`` when the run must stop.

    Threads: paho's network thread only (its callbacks and the reconnect wrapper), which
    owns every field.
    """

    def __init__(self, name: str, *, username: str | None, tls: bool, outbox_path: Path) -> None:
        self.name = name
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

    def refused(self, reason: str) -> ConfigError | None:
        """The broker answered CONNECT with a failure ``reason``."""
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
        now = time.monotonic()
        if now - self._last_log.get(key, -REPEAT_LOG) >= REPEAT_LOG:
            self._last_log[key] = now
            log.log(level, "%s", message)
        else:
            log.debug("%s", message)
