"""The durable MQTT outbox: results wait here, in SQLite, until the broker acknowledges them.

Why: paho-mqtt keeps unacknowledged QoS 1 messages in memory only, so a restart or a
power cut loses them, and its ``MQTTMessageInfo`` cannot be trusted after a reconnect
(only ``on_publish(mid)`` tells the truth). So every result is committed here first, is
handed to paho only once committed, and its row is deleted only when ``on_publish``
reports the broker's PUBACK. Rows left by an earlier run are sent first, in id order;
ids grow with every insert, so order per device survives restarts.

Durability and SD-card wear: the file is in WAL mode with ``synchronous=NORMAL``, and the
caller commits every result as soon as it arrives (``commit``): the commit appends to
the WAL through the page cache, without an fsync, so once ``commit`` returns a crash of
the process (SIGKILL, OOM kill, a segfault) cannot undo it; only a power cut can. At most
once per ``commit_interval`` (1 s by default) the caller calls ``sync``, a
``wal_checkpoint(FULL)``: the WAL is fsynced (every commit before it is then on the
storage), copied into the database file, that is fsynced, and the WAL starts over from
its beginning, so it stays small. So the card sees at most two fsyncs per
``commit_interval``, whatever the frame rate, and a power cut loses at most the results
of the last ``commit_interval``; a process crash loses only what had not reached
``commit`` yet. A commit writes whole pages (the last leaf and ``sqlite_sequence``), so
a new file gets 1 KiB pages: less than half the bytes written per result of the 4 KiB
default (docs/mqtt.md has the measured write volume).

Bounds and overflow policy (drop oldest, as AWS Greengrass' spooler does: the newest
results describe the present): at most ``max_rows`` rows and ``max_bytes`` payload
bytes, and no row older than ``max_age`` seconds. Rows over a bound are deleted oldest
first, except rows handed to the client and not yet acknowledged (those are on their
way and would arrive anyway). Every deleted row is counted in ``dropped``; the count is
exact and persisted, so it survives restarts (``dropped_total``).

A corrupt file (``PRAGMA quick_check`` fails) is renamed to ``<name>.corrupt-<time>`` and
a fresh outbox is started: availability over the lost backlog, with the evidence kept.
A file (or folder) that cannot be written is not corrupt: it is reported as read-only
(``SinkError`` naming the file and the fix) and left as it is.

One thread owns the connection (SQLite connections are not shared across threads here).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from edge.errors import SinkError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

Row = tuple[int, str, bytes]


class Outbox:
    def __init__(
        self,
        path: Path,
        *,
        max_rows: int = 100_000,
        max_bytes: int = 64 * 1024 * 1024,
        max_age: float = 7 * 86400.0,
    ) -> None:
        self.path = path
        self.max_rows, self.max_bytes, self.max_age = max_rows, max_bytes, max_age
        self.dropped = 0  # rows deleted by the overflow policy in this run
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _check_writable(path)
            self._db = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise SinkError(
                f"cannot open the MQTT outbox {str(path)!r}: {exc}",
                hint="choose a writable place with outbox = ... in the [[sinks]] table "
                "(under systemd, StateDirectory= provides one)",
            ) from exc
        self.rows, self.bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
        ).fetchone()
        self.dropped_total = self._counter("dropped")
        self._identity = _identity(path)

    @property
    def in_place(self) -> bool:
        """The file at ``path`` is still the one this outbox writes. Deleted (``rm``, a
        clean-up script) or replaced (a restore), the open database lives on unlinked:
        commits succeed, but nothing in it reaches the next run."""
        try:
            return _identity(self.path) == self._identity
        except OSError:
            return False

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            if ok:
                _check_is_outbox(db, self.path)
        except sqlite3.OperationalError:
            db.close()  # locked, read-only, I/O error: not corruption, keep the file
            raise
        except sqlite3.DatabaseError:
            ok = False
        except SinkError:
            db.close()
            raise
        if not ok:
            db.close()
            kept = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            self.path.rename(kept)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            log.error(
                "the MQTT outbox %s was corrupt; kept it as %s and started a new one",
                self.path,
                kept,
            )
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # A commit appends every page it changed to the WAL (the table's last leaf and
        # sqlite_sequence): 1 KiB pages write less than half of what 4 KiB ones do.
        # Only a new file takes it; an existing one keeps its page size.
        db.execute("PRAGMA page_size=1024")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        return db

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def commit(
        self,
        new: Iterable[tuple[str, bytes]],
        acked: Collection[int],
        inflight: Collection[int] = (),
    ) -> None:
        """One transaction: add ``new`` rows, delete ``acked`` ids, apply the bounds."""
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            if acked:
                self._delete(list(acked))
            for topic, payload in new:
                self._db.execute(
                    "INSERT INTO outbox (topic, payload, created) VALUES (?, ?, ?)",
                    (topic, payload, now),
                )
                self.rows += 1
                self.bytes += len(payload)
            dropped = self._enforce_bounds(now, inflight)
            if dropped:
                self.dropped += dropped
                self.dropped_total += dropped
                self._db.execute(
                    "INSERT INTO counters (name, value) VALUES ('dropped', ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (self.dropped_total,),
                )
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self.rows, self.bytes = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox"
            ).fetchone()
            raise SinkError(
                f"cannot write the MQTT outbox {str(self.path)!r}: {exc}",
                hint="free disk space, or move the outbox with outbox = ...",
            ) from exc

    def sync(self) -> None:
        """Make every commit so far survive a power cut: ``wal_checkpoint(FULL)`` fsyncs
        the WAL, copies it into the database file and fsyncs that. ``OutboxGoneError`` when the
        file was deleted or replaced: what it holds would be lost at exit."""
        if not self.in_place:
            raise OutboxGoneError(self.path, self.rows)
        try:
            self._db.execute("PRAGMA wal_checkpoint(FULL)").fetchall()
        except sqlite3.Error as exc:
            raise SinkError(
                f"cannot write the MQTT outbox {str(self.path)!r}: {exc}",
                hint="free disk space, or move the outbox with outbox = ...",
            ) from exc

    def _delete(self, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            count, size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox "
                f"WHERE id IN ({marks})",
                chunk,
            ).fetchone()
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", chunk)
            self.rows -= count
            self.bytes -= size

    def _enforce_bounds(self, now: float, inflight: Collection[int]) -> int:
        protected = set(inflight)
        victims: list[int] = []
        rows, size = self.rows, self.bytes
        cursor = self._db.execute("SELECT id, LENGTH(payload), created FROM outbox ORDER BY id")
        for row_id, length, created in cursor:
            if rows <= self.max_rows and size <= self.max_bytes and now - created <= self.max_age:
                break
            if row_id in protected:
                continue
            victims.append(row_id)
            rows -= 1
            size -= length
        cursor.close()
        if victims:
            self._delete(victims)
        return len(victims)

    def after(self, last_id: int, limit: int) -> list[Row]:
        """Committed rows with id > ``last_id``, oldest first."""
        rows = self._db.execute(
            "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, limit),
        ).fetchall()
        return [(int(i), str(t), bytes(p)) for i, t, p in rows]

    def close(self) -> None:
        # A busy checkpoint is harmless: the WAL is replayed on the next open.
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()


class OutboxGoneError(SinkError):
    """The outbox file was deleted or replaced under the running sink; ``lost`` results
    were only in it."""

    def __init__(self, path: Path, lost: int) -> None:
        super().__init__(
            f"the MQTT outbox {str(path)!r} was deleted or replaced while this run used it: "
            f"the {lost} results it held cannot be kept for the next run and count as lost",
            hint="never delete the outbox of a running edge; restart it (systemd does, "
            "Restart=on-failure) and it starts a new outbox",
        )
        self.lost = lost


_OWN_TABLES = {"outbox", "counters", "sqlite_sequence"}
_OUTBOX_COLUMNS = ["id", "topic", "payload", "created"]


def _check_is_outbox(db: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite file that is not an outbox (another program's database): writing
    our tables into it, or reading its ``outbox`` table as ours, would damage both."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = [row[1] for row in db.execute("PRAGMA table_info(outbox)")]
    foreign = sorted(tables - _OWN_TABLES)
    if foreign or (columns and columns != _OUTBOX_COLUMNS):
        what = f"tables {', '.join(foreign[:5])}" if foreign else f"an outbox table {columns}"
        raise SinkError(
            f"{str(path)!r} is a SQLite database but not an edge MQTT outbox (it has {what})",
            hint="point outbox = ... in the [[sinks]] table at a new file; this one is left "
            "untouched",
        )


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def _check_writable(path: Path) -> None:
    """A read-only outbox (the file, its WAL or its folder) is an error to fix, not a
    corrupt file to set aside."""
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    for item in [*(f for f in files if f.exists()), path.parent]:
        if not os.access(item, os.W_OK):
            raise SinkError(
                f"the MQTT outbox {str(path)!r} is read-only: {str(item)!r} cannot be written",
                hint=f"make {str(item)!r} writable by the user running edge (chown/chmod), "
                "or move the outbox with outbox = ... in the [[sinks]] table",
            )
