"""A live source that survives the real world: stall detection and reopening forever.

A webcam hiccups, a network stream drops, a camera cable wobbles. ``LiveSource`` wraps
one way of opening a capture (a ``Device``: webcam, stream, Pi camera) and keeps the
run going: when the device fails, or delivers nothing for ``stall_timeout`` seconds, it
is released and reopened with exponential backoff plus jitter, for as long as the run
lasts. The status line shows "reconnecting" and the count (``health()``); each loss and
each recovery is logged once, failed attempts only at debug level.

Threading rule: the device is opened, read and released by the thread that iterates the
source (the pipeline's capture thread), never by another thread in the middle of a read.
``close()`` only sets a stop flag; the iterating thread releases the device when its
current read returns. The one exception is the eager first open in the constructor (on
the caller's thread, before any capture thread exists), so a wrong URL or a missing
camera fails before the run starts; with ``retry_at_start`` that open is skipped and
happens lazily on the capture thread instead, so a service still comes up.

``last_activity`` moves on every frame, every reopening attempt and every second of the
backoff wait between attempts (the thread is alive and waiting on purpose, so a long
outage with a 30 s backoff does not look like a hang to the systemd watchdog); it never
moves during a read or an open that blocks: a call that never returns shows up as a
source without activity, which is what the watchdog looks for.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from edge.errors import SourceError
from edge.sources.base import SourceHealth, SourceState
from edge.types import Frame, Image

log = logging.getLogger(__name__)

# Between failed reads, so a device that fails instantly does not spin a core.
_FAILED_READ_PAUSE = 0.01


@dataclass(frozen=True, slots=True)
class Capture:
    """One picture from a device: BGR image, wall-clock timestamp, optional full-size copy,
    and the size the device delivered when ``image`` was decoded smaller (MJPEG)."""

    image: Image
    timestamp: float
    full: Image | None = None
    source_size: tuple[int, int] | None = None


class Device(Protocol):
    """One opened capture. ``read`` returns ``None`` for a failed or timed-out read and
    raises ``SourceError`` when the device broke; an opener raises ``SourceError`` for
    what may come back (retried) and ``ConfigError`` for what cannot (ends the run)."""

    def read(self) -> Capture | None: ...

    def release(self) -> None: ...


Opener = Callable[[], Device]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits ``first * 2**n`` (capped), times a
    random factor in [0.5, 1], so many devices that lost one server do not return at once."""

    first: float = 0.5
    maximum: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.maximum, self.first * 2 ** min(attempt, 30))
        return float(base * rng.uniform(0.5, 1.0))


class LiveSource:
    """A live ``Source`` over a ``Device`` that is reopened whenever it fails or stalls."""

    live = True

    def __init__(
        self,
        name: str,
        opener: Opener,
        *,
        stall_timeout: float = 5.0,
        backoff: Backoff | None = None,
        retry_at_start: bool = False,
        fps: float | None = None,
    ) -> None:
        self.name = name
        self.fps = fps
        self._opener = opener
        self._stall_timeout = stall_timeout
        self._backoff = backoff or Backoff()
        self._rng = random.Random()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._iterating = False
        self._device: Device | None = None
        self._state: SourceState = "opening"
        self._reconnects = 0
        self._last_activity = time.monotonic()
        self._opened_once = False
        if not retry_at_start:
            self._device = opener()  # errors surface now, before the run starts
            self._opened_once = True
        else:
            self._state = "reconnecting"

    def health(self) -> SourceHealth:
        return SourceHealth(self._state, self._reconnects, self._last_activity)

    def __iter__(self) -> Iterator[Frame]:
        with self._lock:
            if self._stop.is_set():
                return
            self._iterating = True
        index = 0
        try:
            while not self._stop.is_set():
                if self._device is None:
                    self._device = self._reopen()
                    if self._device is None:  # stopped while waiting
                        return
                capture = self._read_until_stall(self._device)
                if capture is None:
                    self._release()
                    continue
                self._state = "running"
                self._last_activity = time.monotonic()
                yield Frame(
                    capture.image,
                    index,
                    capture.timestamp,
                    self.name,
                    full=capture.full,
                    source_size=capture.source_size,
                )
                index += 1
        finally:
            self._state = "ended"
            self._release()

    def close(self) -> None:
        """Ask the iterating thread to stop; it releases the device after its current read.
        A source that was never iterated has no such thread, so it is released here."""
        with self._lock:
            self._stop.set()
            iterating = self._iterating
        if not iterating:
            self._state = "ended"
            self._release()

    def _read_until_stall(self, device: Device) -> Capture | None:
        """The next picture, or ``None`` once the device failed for ``stall_timeout``."""
        deadline = time.monotonic() + self._stall_timeout
        while not self._stop.is_set():
            try:
                capture = device.read()
            except SourceError as exc:
                log.warning("%s failed: %s; reconnecting", self.name, exc.message)
                self._state = "reconnecting"
                return None
            if capture is not None:
                return capture
            if time.monotonic() >= deadline:
                log.warning(
                    "%s delivered no frame for %g s; reconnecting", self.name, self._stall_timeout
                )
                self._state = "reconnecting"
                return None
            time.sleep(_FAILED_READ_PAUSE)
        return None

    def _reopen(self) -> Device | None:
        """Try to open until it works or the source is closed. Every attempt counts as
        activity; opening again after an earlier success counts as one reconnect."""
        self._state = "reconnecting"
        attempt = 0
        while not self._stop.is_set():
            if (attempt or self._opened_once) and self._wait_alive(
                self._backoff.delay(attempt, self._rng)
            ):
                return None
            self._last_activity = time.monotonic()
            try:
                device = self._opener()
            except SourceError as exc:
                attempt += 1
                if attempt == 1:
                    log.warning(
                        "%s cannot be opened: %s; retrying with backoff", self.name, exc.message
                    )
                else:
                    log.debug("%s: attempt %d failed: %s", self.name, attempt, exc.message)
                continue
            if self._opened_once:
                self._reconnects += 1
                log.info("%s reopened (reconnect %d)", self.name, self._reconnects)
            elif attempt:
                log.info("%s opened after %d failed attempts", self.name, attempt)
            self._opened_once = True
            return device
        return None

    def _wait_alive(self, seconds: float) -> bool:
        """Wait ``seconds`` (True if the source was closed meanwhile), marking activity
        every second: waiting for the next attempt is progress, not a hang."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop.wait(min(1.0, left)):
                return True
            self._last_activity = time.monotonic()
        return self._stop.is_set()

    def _release(self) -> None:
        device, self._device = self._device, None
        if device is not None:
            try:
                device.release()
            except Exception:  # releasing a broken device must not hide why it broke
                log.debug("%s: release failed", self.name, exc_info=True)
