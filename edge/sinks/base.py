"""The sink contract: ``write(record)`` plus ``close()``, and the thread that runs it.

Sinks receive finished records (plain dicts, see ``edge.record``). The inference loop
never waits on disk or network: ``BackgroundSink`` gives each sink a bounded queue and
a writer thread. When the queue is full (the disk or broker stalled for longer than
the queue covers) the loop waits up to ``put_timeout`` and then counts the record as
dropped, with a warning; a failed write stops the run with ``SinkError`` at the next
``write`` so a broken sink is never silent.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

from edge.errors import EdgeError, SinkError

Record = dict[str, Any]
log = logging.getLogger(__name__)


class Sink(Protocol):
    name: str

    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...


_STOP = object()


class BackgroundSink:
    def __init__(self, inner: Sink, *, maxsize: int = 1024, put_timeout: float = 1.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.dropped = 0
        self._put_timeout = put_timeout
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name=f"sink-{inner.name}",
                                        daemon=True)
        self._thread.start()

    def write(self, record: Record) -> None:
        self._raise_pending()
        try:
            self._queue.put(record, timeout=self._put_timeout)
        except queue.Full:
            self.dropped += 1
            log.warning("sink %s is %d records behind; dropped record %s", self.name,
                        self._queue.qsize(), record.get("id"))

    def close(self) -> None:
        """Write out what is queued, then close the inner sink."""
        self._queue.put(_STOP)
        self._thread.join()
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
            if item is _STOP:
                return
            if self._error is not None:
                continue  # already failed; the loop learns it at its next write
            try:
                self.inner.write(item)  # type: ignore[arg-type]
            except Exception as exc:
                self._error = exc
