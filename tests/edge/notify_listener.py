"""A real sd_notify receiver for tests: an AF_UNIX datagram socket, as systemd binds one.

Messages are read on a thread and kept with their arrival time (``time.time()``, so
they can be compared with the records' ``ts``). ``address`` is what goes into
``$NOTIFY_SOCKET``: a file path, or ``@name`` for an abstract socket.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from pathlib import Path


class NotifyListener:
    def __init__(self, directory: Path, *, abstract: bool = False) -> None:
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"edge-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.socket.bind("\0" + name)
            self.address = "@" + name
        else:
            path = directory / "notify.sock"
            self.socket.bind(str(path))
            self.address = str(path)
        self.socket.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.time(), data.decode()))

    def lines(self, key: str) -> list[tuple[float, str]]:
        """(arrival time, value) of every ``KEY=value`` line received so far."""
        with self._lock:
            messages = list(self.messages)
        found = []
        for at, message in messages:
            for line in message.split("\n"):
                if line.startswith(key + "="):
                    found.append((at, line[len(key) + 1 :]))
        return found

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, got in self.lines(key):
                if value is None or got == value:
                    return at
            time.sleep(0.02)
        raise AssertionError(f"no {key}={value or '...'} within {timeout} s: {self.messages}")

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self.socket.close()
