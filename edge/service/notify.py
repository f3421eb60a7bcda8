"""sd_notify without a dependency: one datagram to ``$NOTIFY_SOCKET`` per message.

systemd's notification protocol is a newline-separated list of ``KEY=VALUE`` lines
sent as one datagram to the ``AF_UNIX`` socket named in ``$NOTIFY_SOCKET``. A name that
starts with ``@`` is an abstract socket (Linux): the ``@`` stands for a leading NUL byte.
Outside systemd the variable is unset and every call is a cheap no-op, so ``edge run``
behaves the same in a terminal.

The watchdog is asked for by ``$WATCHDOG_USEC`` (the ``WatchdogSec=`` of the unit, in
microseconds). ``$WATCHDOG_PID``, when set, names the process it is meant for; another
process (a child that inherited the environment) must not answer it, as
``sd_watchdog_enabled(3)`` says. Pings go out at half that interval, as mosquitto and
systemd's own daemons do.

Sending never raises: a notification that cannot be delivered is logged once, because
a broken socket must not stop the pipeline (systemd will notice the missing pings).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(name: str) -> str | bytes:
    """``$NOTIFY_SOCKET`` -> an address ``socket.sendto`` takes (abstract: a NUL first)."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half of ``$WATCHDOG_USEC``), or ``None`` when
    the watchdog is not enabled for this process."""
    env = os.environ if environ is None else environ
    usec = watchdog_usec(env)
    return usec / 2e6 if usec else None


def watchdog_usec(environ: Mapping[str, str] | None = None) -> int | None:
    """``$WATCHDOG_USEC`` when it is meant for this process, else ``None``."""
    env = os.environ if environ is None else environ
    raw, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    return usec if usec > 0 else None


class Notifier:
    """Sends sd_notify messages; disabled (every call a no-op) without a socket name."""

    def __init__(self, socket_name: str | None) -> None:
        self.socket_name = socket_name or None
        self._socket: socket.socket | None = None
        self._warned = False
        if self.socket_name:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=VALUE`` lines as one datagram; ``True`` when it was delivered."""
        if self._socket is None or self.socket_name is None:
            return False
        # A newline inside a value would start a new key: keep STATUS= texts on one line.
        message = "\n".join(line.replace("\n", " ") for line in lines)
        try:
            self._socket.sendto(message.encode(), socket_address(self.socket_name))
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("cannot notify systemd at %s: %s", self.socket_name, exc)
            return False
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
