"""Read a live source on its own thread and keep only the newest frame.

A camera delivers frames whether or not inference keeps up. Queuing them would make
every result older than the one before, so the slot holds one frame: a new frame
replaces an unread one, and the replaced frame is counted in ``dropped``. Errors on the
capture thread are handed to the reader and re-raised there.

``frames`` yields ``None`` when no frame arrived within ``poll`` seconds: an idle tick, so
the main loop keeps supervising (status line, watchdog, stop flag) while a camera is
stalled or reconnecting instead of blocking inside the reader.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from edge.sources.base import Source
from edge.types import Frame


class LatestFrameReader:
    def __init__(self, source: Source) -> None:
        self._source = source
        self._lock = threading.Condition()
        self._frame: Frame | None = None
        self._finished = False
        self._error: BaseException | None = None
        self._stopping = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._capture, name="capture", daemon=True)
        self._thread.start()

    def frames(self, stop: threading.Event, poll: float = 0.1) -> Iterator[Frame | None]:
        """Yield the newest frame each time one is ready (``None`` after ``poll`` seconds
        without one), until the source ends or ``stop`` is set."""
        while not stop.is_set():
            with self._lock:
                if self._frame is None and not self._finished and not stop.is_set():
                    self._lock.wait(poll)
                frame, self._frame = self._frame, None
                finished, error = self._finished, self._error
            if frame is not None:
                yield frame
            elif error is not None:
                raise error
            elif finished:
                return
            else:
                yield None

    def close(self, timeout: float = 2.0) -> None:
        self._stopping = True
        self._source.close()
        self._thread.join(timeout)

    def _capture(self) -> None:
        try:
            for frame in self._source:
                if self._stopping:
                    break
                with self._lock:
                    if self._frame is not None:
                        self.dropped += 1
                    self._frame = frame
                    self._lock.notify()
        except BaseException as exc:
            with self._lock:
                self._error = exc
        finally:
            with self._lock:
                self._finished = True
                self._lock.notify()
