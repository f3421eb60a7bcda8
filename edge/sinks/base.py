"""The sink contract: ``write(record)`` plus ``close()``, and the thread that runs it.

Sinks receive finished records (plain dicts, see ``edge.record``). No sink ever blocks
the frame loop: ``BackgroundSink`` gives each sink a bounded queue and a writer thread,
and ``write`` never waits. When the queue is full (the disk or the network stalled for
longer than the queue covers) the record is dropped and counted in ``dropped``, which
the loop reads into ``RunStats.sink_dropped``; the warning is logged at most every 30 s,
not per record.

Optional capabilities of a sink, each a small ``runtime_checkable`` protocol tested with
``isinstance`` (nothing is probed by name):

- ``HasDropCount``: ``dropped``, records it could not deliver on its own (the MQTT
  outbox when it overflows, a JSONL file on a full disk); added to the queue's drops.
- ``HasState``: ``state``, a short text for the status line (``connected``, ``not
  writing (No space left on device)``) or ``None`` while all is normal. It is free
  text, not a ``Literal``: the JSONL and stdout sinks put the reason in it.
- ``HasTick``: ``tick(stats)``, run by the loop on every turn (the MQTT stats message).
- ``HasFrameObserver``: ``frame_observer``, an object that needs the frames as well
  (``observe(frame, record)``, ``close()``): the MQTT sink's snapshot for Home
  Assistant's image entity. The run adds it to the loop's frame observers.
- ``HasFailure``: ``failure``, why the sink can no longer deliver although the run goes
  on (a thread of its own ended: paho's network thread, the MQTT outbox thread), or
  ``None``. The loop copies it into ``RunStats.sink_failed``; a failed sink makes the
  run unhealthy (``failed`` in the status line and ``STATUS=``), and the systemd
  watchdog is no longer fed, so systemd restarts the service.

A failed write stops the run with the sink's error at the next ``write``, so a broken
sink is never silent; a ``BackgroundSink`` whose writer thread ended without one reports
it through ``failure``. ``close`` waits at most ``close_timeout`` seconds for the queue to
be written; what is still queued after that is counted as dropped and the stop goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from edge.errors import EdgeError, SinkError

if TYPE_CHECKING:
    from edge.pipeline.loop import FrameObserver
    from edge.pipeline.stats import RunStats

Record = dict[str, Any]
log = logging.getLogger(__name__)


class Sink(Protocol):
    name: str

    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class HasDropCount(Protocol):
    """A sink that drops records on its own and counts them."""

    @property
    def dropped(self) -> int: ...


@runtime_checkable
class HasState(Protocol):
    """A sink with something to say on the status line (``None``: nothing to say)."""

    @property
    def state(self) -> str | None: ...


@runtime_checkable
class HasTick(Protocol):
    """A sink that wants to run on every loop turn, frame or idle (MQTT stats)."""

    def tick(self, stats: RunStats) -> None: ...


@runtime_checkable
class HasFailure(Protocol):
    """A sink that can fail while the run goes on (``None``: it has not)."""

    @property
    def failure(self) -> str | None: ...


@runtime_checkable
class HasBacklog(Protocol):
    """A sink with records waiting to go out (the MQTT outbox's rows), for ``/metrics``."""

    @property
    def backlog(self) -> int: ...


@runtime_checkable
class HasFrameObserver(Protocol):
    """A sink that also needs the frames (the MQTT image entity): the run adds its
    ``frame_observer`` (``None``: none this run) to the loop's frame observers."""

    @property
    def frame_observer(self) -> FrameObserver | None: ...


_STOP = None  # queued by close(): the writer thread ends
_WARN_EVERY = 30.0  # seconds between repeated "still dropping" warnings


class BackgroundSink:
    """``inner`` behind a bounded queue and a writer thread.

    Threads: ``write`` and ``close`` run on the loop's thread, ``_drain`` on the writer
    thread; ``_dropped`` and ``_last_warning`` are the loop thread's; ``_error`` is set
    by the writer thread and read and cleared by the loop thread (one reference,
    assigned whole); ``_stopped`` is set by the writer thread when it reads the stop.
    """

    def __init__(self, inner: Sink, *, maxsize: int = 1024, close_timeout: float = 10.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.close_timeout = close_timeout
        self._dropped = 0
        self._last_warning = -_WARN_EVERY
        self._queue: queue.Queue[Record | None] = queue.Queue(maxsize=maxsize)
        self._error: BaseException | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._drain, name=f"sink-{inner.name}", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Records this sink could not deliver: queue overflows plus the inner sink's own."""
        own = self.inner.dropped if isinstance(self.inner, HasDropCount) else 0
        return self._dropped + own

    @property
    def state(self) -> str | None:
        """``failed (<why>)`` once ``failure`` says so, else the inner sink's ``state``
        (``HasState``), or ``None``."""
        failure = self.failure
        if failure is not None:
            return f"failed ({failure})"
        return self.inner.state if isinstance(self.inner, HasState) else None

    @property
    def failure(self) -> str | None:
        """Why records no longer get delivered: the writer thread ended before ``close``
        asked it to, or the inner sink's own ``failure`` (``HasFailure``)."""
        if not self._thread.is_alive() and not self._stopped.is_set():
            return f"the writer thread of sink {self.name} ended"
        return self.inner.failure if isinstance(self.inner, HasFailure) else None

    def write(self, record: Record) -> None:
        self._raise_pending()
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped += 1
            now = time.monotonic()
            if now - self._last_warning >= _WARN_EVERY:
                self._last_warning = now
                log.warning(
                    "sink %s is %d records behind and drops new ones (%d so far; "
                    "counted in the status line)",
                    self.name,
                    self._queue.qsize(),
                    self.dropped,
                )

    def close(self) -> None:
        """Write out what is queued (waiting at most ``close_timeout``), then close."""
        deadline = time.monotonic() + self.close_timeout
        stop_queued = False
        while self._thread.is_alive() and not stop_queued:
            try:
                self._queue.put(_STOP, timeout=0.05)
                stop_queued = True
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            left = self._queue.qsize() - stop_queued
            self._dropped += left
            log.warning(
                "sink %s did not finish within %.1f s; %d queued records not written",
                self.name,
                self.close_timeout,
                left,
            )
            return  # the inner sink is busy on its thread; closing under it is unsafe
        self.inner.close()
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, EdgeError):
                raise error
            raise SinkError(f"sink {self.name} failed: {error}") from error

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._stopped.set()
                return
            if self._error is not None:
                continue  # already failed; the loop learns it at its next write
            try:
                self.inner.write(item)
            except Exception as exc:
                self._error = exc
