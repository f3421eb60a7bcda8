"""Read a source on its own thread: a live one keeping only the newest frame
(``LatestFrameReader``), a file or folder a few frames ahead, dropping nothing
(``ReadAheadReader``).

A camera delivers frames whether or not inference keeps up. Queuing them would make
every result older than the one before, so the slot holds one frame: a new frame
replaces an unread one, and the replaced frame is counted in ``dropped``. Errors on the
capture thread are handed to the reader and re-raised there.

``frames`` yields ``None`` when no frame arrived within ``poll`` seconds: an idle tick, so
the main loop keeps supervising (status line, watchdog, stop flag) while a camera is
stalled or reconnecting instead of blocking inside the reader.
"""

from __future__ import annotations

import queue
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


class _End:
    """The reader thread's last item: the source ended, or failed with ``error``."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class ReadAheadReader:
    """Read a file or a folder on its own thread, up to ``depth`` frames ahead.

    Decoding the next frame (OpenCV releases the GIL while it decodes) overlaps with
    inference, box decoding and the sinks of the current one. Unlike a live source
    nothing is dropped: the reader waits for room, so frames arrive in order and all
    of them. ``frames`` yields ``None`` after ``poll`` seconds without a frame, so a
    read that hangs starves the watchdog (no new frame) without blocking the loop's
    supervision. The reader thread owns the source: it closes it when it stops.
    """

    dropped = 0  # never: the hand-off waits instead

    def __init__(self, source: Source, depth: int = 4) -> None:
        self._source = source
        self._queue: queue.Queue[Frame | _End] = queue.Queue(maxsize=depth)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="read-ahead", daemon=True)
        self._thread.start()

    def frames(self, stop: threading.Event, poll: float = 0.1) -> Iterator[Frame | None]:
        while not stop.is_set():
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                yield None
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item

    def close(self, timeout: float = 2.0) -> None:
        """Stop reading (frames read ahead are discarded) and wait for the thread."""
        self._stopping.set()
        while True:  # make room, so a reader waiting to hand over a frame sees the stop
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)

    def _read(self) -> None:
        error: BaseException | None = None
        try:
            for frame in self._source:
                if not self._hand_over(frame):
                    break
        except BaseException as exc:
            error = exc
        finally:
            self._source.close()
            self._hand_over(_End(error))

    def _hand_over(self, item: Frame | _End) -> bool:
        """Put ``item`` in the queue, waiting for room; False once the reader is stopping."""
        while not self._stopping.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
