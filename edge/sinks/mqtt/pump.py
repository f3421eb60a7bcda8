"""The outbox thread: results from ``write`` into SQLite, then to paho, within a window.

``add`` (the caller's thread) appends to an in-memory batch (bounded; overflow is
counted) and wakes the outbox thread, which commits the batch to SQLite at once (a
commit without fsync: a process crash cannot undo it, so a SIGKILL loses only the
results added in the last few milliseconds), makes the commits durable against a power
cut (``Outbox.sync``, an fsync) at most every ``commit_interval``, and deletes
acknowledged rows with the next commit (see ``edge.sinks.mqtt.outbox`` for the
durability and SD-card reasoning). It hands committed rows to paho, oldest first,
keeping at most ``max_inflight`` unacknowledged and at most ``drain_rate`` per second, so
a reconnect with a large backlog does not flood the broker. ``on_publish(mid)`` is the one
trustworthy delivery signal (``MQTTMessageInfo`` lies after a reconnect), so a row is
deleted only once its mid comes back through ``acked``.

After a reconnect paho resends what was in flight right after ``on_connect`` returns; a
new row published in between would overtake them and break ``seq`` order, so no new row
goes out until those are acknowledged (``InflightWindow``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from edge.errors import EdgeError, SinkError
from edge.sinks.mqtt.outbox import Outbox, OutboxGoneError

log = logging.getLogger(__name__)

BATCH_CAP = 10_000  # results waiting for the next commit before add() drops (counted)


class Link(Protocol):
    """What the pump needs of the connection."""

    def session(self) -> int | None:
        """The current connection's number (it changes at every reconnect), None while
        not connected."""

    def send(self, topic: str, payload: bytes) -> int | None:
        """Publish at QoS 1: the mid ``acked`` will report, or None to retry later."""


@dataclass(frozen=True)
class OutboxCounts:
    """The outbox's counters after the latest commit (for the stats and the logs)."""

    depth: int
    bytes: int
    dropped: int
    dropped_total: int

    @classmethod
    def of(cls, outbox: Outbox) -> OutboxCounts:
        return cls(outbox.rows, outbox.bytes, outbox.dropped, outbox.dropped_total)


class InflightWindow:
    """The rows handed to paho and not yet acknowledged (mid -> row id), and where the
    next send resumes (``last_sent``). Plain bookkeeping, no thread of its own: the
    pump's thread owns it.
    """

    def __init__(self, size: int, stuck_after: float) -> None:
        self.size = size
        self.stuck_after = stuck_after
        self.last_sent = 0
        self._rows: dict[int, int] = {}
        self._sent_at: dict[int, float] = {}
        self._session = 0
        self._hold = False

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> Collection[int]:
        """Row ids in flight (the outbox's overflow policy spares them)."""
        return self._rows.values()

    def ack(self, mids: Iterable[int]) -> list[int]:
        """Forget acknowledged mids; their row ids, to delete at the next commit."""
        done = []
        for mid in mids:
            row_id = self._rows.pop(mid, None)
            self._sent_at.pop(mid, None)
            if row_id is not None:
                done.append(row_id)
        return done

    def free(self, session: int, now: float, tokens: float) -> int:
        """How many rows may be sent now (connection number ``session``, ``tokens`` of
        the rate left)."""
        if session != self._session:
            # Reconnected: hold new rows until paho's resends are acknowledged.
            self._session = session
            self._hold = bool(self._rows)
            self._sent_at = dict.fromkeys(self._sent_at, now)  # the outage does not count
        if self._rows and now - min(self._sent_at.values()) > self.stuck_after:
            # Never seen with paho 2.x, but a lost in-flight message would otherwise block
            # the window for good: forget the window and send those rows again (receivers
            # drop a duplicate by id).
            log.warning(
                "MQTT: %d results unacknowledged for %.0f s; sending them again",
                len(self._rows),
                self.stuck_after,
            )
            self.last_sent = min(self._rows.values()) - 1
            self._rows.clear()
            self._sent_at.clear()
        if self._hold and self._rows:
            return 0
        self._hold = False
        return max(0, min(self.size - len(self._rows), int(tokens)))

    def sent(self, mid: int, row_id: int, now: float) -> None:
        self._rows[mid] = row_id
        self._sent_at[mid] = now
        self.last_sent = row_id


class OutboxPump:
    """The outbox thread and what feeds it.

    Threads: ``add`` runs on the caller's thread, ``acked`` on paho's network thread;
    what they share with the outbox thread (``_batch``, ``_acked``, ``_batch_dropped``,
    ``_counts``, ``_error``) is guarded by ``_lock``; ``_wake`` (an Event) is set by
    any of them to rouse the outbox thread. The outbox thread alone uses the
    ``Outbox`` and the ``InflightWindow`` while it runs; before ``start`` and after
    ``drain`` has joined it, they belong to the thread that calls ``start``/``close``.
    """

    def __init__(
        self,
        outbox: Outbox,
        link: Link,
        *,
        commit_interval: float,
        max_inflight: int,
        drain_rate: float,
        stuck_after: float,
        close_timeout: float,
    ) -> None:
        self.outbox = outbox
        self._link = link
        self._interval = commit_interval
        self._max_inflight = max_inflight
        self._rate = drain_rate
        self._close_timeout = close_timeout
        self._window = InflightWindow(max_inflight, stuck_after)
        self._lock = threading.Lock()
        self._batch: list[tuple[str, bytes]] = []
        self._batch_dropped = 0
        self._acked: list[int] = []
        self._counts = OutboxCounts.of(outbox)
        self._error: EdgeError | None = None
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)

    # ------------------------------------------------------------ other threads
    def add(self, topic: str, payload: bytes) -> None:
        """Queue one result and wake the outbox thread to commit it; dropped (counted)
        past ``BATCH_CAP`` or once the outbox thread has failed."""
        with self._lock:
            if len(self._batch) >= BATCH_CAP or self._error is not None:
                self._batch_dropped += 1
                return
            self._batch.append((topic, payload))
        self._wake.set()

    def acked(self, mid: int) -> None:
        """paho's ``on_publish``: the broker acknowledged ``mid``."""
        with self._lock:
            self._acked.append(mid)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def dropped(self) -> int:
        """Results that will never be sent: batch overflow + outbox overflow (this run)."""
        with self._lock:
            return self._batch_dropped + self._counts.dropped

    @property
    def counts(self) -> OutboxCounts:
        with self._lock:
            return self._counts

    @property
    def error(self) -> EdgeError | None:
        """Why the outbox thread stopped, if it failed."""
        with self._lock:
            return self._error

    @property
    def failure(self) -> str | None:
        """Why the outbox thread is gone while the run still needs it, else None."""
        error = self.error
        if error is not None:
            return str(error)
        started, alive = self._thread.ident is not None, self._thread.is_alive()
        if started and not alive and not self._closing.is_set():
            return "the MQTT outbox thread ended"
        return None

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._thread.start()

    def drain(self) -> None:
        """Commit what is batched and keep sending for up to ``close_timeout`` while
        connected, then stop the thread."""
        self._closing.set()
        self._wake.set()
        self._thread.join(self._close_timeout + 5.0)

    def close(self) -> None:
        """Close the outbox once ``drain`` has stopped the thread; what is not
        acknowledged stays for the next run."""
        if self._thread.is_alive():  # stuck on the disk: closing under it is unsafe
            log.warning("the MQTT outbox thread did not stop; what it committed is kept")
            return
        if self.outbox.rows and not self.outbox.in_place:
            gone = OutboxGoneError(self.outbox.path, self.outbox.rows)
            with self._lock:
                said = isinstance(self._error, OutboxGoneError)  # counted and logged
                if not said:
                    self._batch_dropped += self.outbox.rows
                    self._error = gone  # the sink's failure: the run exits 1
            if not said:
                log.error("%s", gone)
        elif self.outbox.rows:
            log.info(
                "%d results stay in the outbox %s for the next run",
                self.outbox.rows,
                self.outbox.path,
            )
        self.outbox.close()

    # ------------------------------------------------------- the outbox thread
    def _run(self) -> None:
        try:
            self._loop()
        except EdgeError as exc:
            with self._lock:
                self._error = exc
            log.error("%s", exc)
        except BaseException as exc:  # never die silently: the loop learns it at its next write
            with self._lock:
                self._error = SinkError(f"the MQTT outbox thread failed: {exc!r}")
            log.exception("the MQTT outbox thread failed")
            if not isinstance(exc, Exception):
                raise

    def _loop(self) -> None:
        next_sync = time.monotonic() + self._interval
        tokens, last_refill = float(self._max_inflight), time.monotonic()
        to_delete: list[int] = []
        unsynced = False  # commits since the last fsync (Outbox.sync)
        drain_deadline: float | None = None
        while True:
            now = time.monotonic()
            wait = next_sync - now
            if self._link.session() is not None and tokens < 1:
                wait = min(wait, 1.0 / self._rate)
            self._wake.wait(max(0.0, wait))
            self._wake.clear()
            now = time.monotonic()
            closing = self._closing.is_set()
            with self._lock:
                acked, self._acked = self._acked, []
                batched = bool(self._batch)
            to_delete += self._window.ack(acked)
            due = now >= next_sync or closing
            # New results are committed at once (a crash cannot undo a commit); deletes of
            # acknowledged rows wait for the next one, or for the fsync's turn.
            if batched or due:
                unsynced |= self._commit(to_delete)
                to_delete = []
            if due:
                if unsynced:
                    self._sync()
                    unsynced = False
                next_sync = now + self._interval
            tokens = min(float(self._max_inflight), tokens + (now - last_refill) * self._rate)
            last_refill = now
            session = self._link.session()
            if session is not None:
                tokens = self._send(session, tokens, now)
            if closing:
                if drain_deadline is None:
                    drain_deadline = now + self._close_timeout
                done = not self._window and not self.outbox.after(self._window.last_sent, 1)
                if done or self._link.session() is None or now >= drain_deadline:
                    with self._lock:
                        pending = bool(self._acked)
                    if to_delete or pending:
                        continue  # one more pass commits the last acknowledgements
                    return

    def _commit(self, to_delete: list[int]) -> bool:
        """Commit the batch and ``to_delete``; False when there was nothing to commit."""
        with self._lock:
            batch, self._batch = self._batch, []
        if not (batch or to_delete or self.outbox.rows > self.outbox.max_rows):
            return False
        try:
            self.outbox.commit(batch, to_delete, self._window.rows())
        except SinkError:
            with self._lock:  # never written anywhere: lost, and counted as such
                self._batch_dropped += len(batch) + len(self._batch)
                self._batch = []
            raise
        counts = OutboxCounts.of(self.outbox)
        with self._lock:
            self._counts = counts
        return True

    def _sync(self) -> None:
        try:
            self.outbox.sync()
        except OutboxGoneError as exc:  # what the lost file held, and what waits, is lost
            with self._lock:
                self._batch_dropped += exc.lost + len(self._batch)
                self._batch = []
            raise

    def _send(self, session: int, tokens: float, now: float) -> float:
        """Hand the next committed rows to paho, within the window and the rate."""
        free = self._window.free(session, now, tokens)
        if free <= 0:
            return tokens
        for row_id, topic, payload in self.outbox.after(self._window.last_sent, free):
            mid = self._link.send(topic, payload)
            if mid is None:
                break
            self._window.sent(mid, row_id, now)
            tokens -= 1
        return tokens
