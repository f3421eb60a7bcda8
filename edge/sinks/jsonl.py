"""Append records to a JSON Lines file, one object per line, safe against storage faults.

What a device on a shelf meets, and what this sink does about it:

- **A crash or power loss in the middle of a line.** Each record is one ``os.write`` of
  the whole line on an ``O_APPEND`` descriptor; a write cut short (a full disk, a file-size
  limit) is truncated back to the last whole line at once. On open, a torn last line left
  by a crash (or the zero-filled tail a power cut leaves) is cut off before anything is
  appended, so every line of the log parses.
- **A full disk or a file-size limit.** The record is dropped and counted in ``dropped``
  (the status line and the summary show it as sink drops), ``state`` says why, and the
  run goes on; the next record tries again, so writing resumes as soon as space returns.
- **An unbounded log.** Above ``max_bytes`` the file is rotated (``.1`` newest, ``keep``
  files kept, optionally gzip-compressed; see ``edge.sinks.rotation``).
- **Power loss and the page cache.** ``fsync_interval`` is the longest time (seconds)
  written records may sit only in the page cache: 0 syncs every record (safest, wears an
  SD card), ``None`` leaves it to the kernel (about 30 s on Linux). The file is synced on
  rotation and on close.

With ``only_detections`` a result record without detections is skipped unless
``heartbeat`` seconds have passed since the last line, so a quiet camera still shows
that it is alive; event records are always written.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from edge.bounded import special_kind
from edge.errors import ConfigError, SinkError
from edge.record import SCHEMA as RESULT_SCHEMA
from edge.sinks.base import Record
from edge.sinks.rotation import remove_partials, rotate

log = logging.getLogger(__name__)

_TAIL_CHUNK = 65536
_WARN_EVERY = 30.0  # seconds between repeated "still cannot write" warnings
_RETRY_ROTATION = 60.0  # seconds before a rotation that failed is tried again


def encode_line(record: Record) -> bytes:
    """One record as one UTF-8 JSON line. NaN and infinity are not JSON: they become
    ``null`` so a bad score can never make a line unreadable."""
    try:
        text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(record), separators=(",", ":"), allow_nan=False)
    return (text + "\n").encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def check_log_folder(path: Path) -> None:
    """A log in a folder that does not exist is a typo far more often than a wish to
    create folders (as root, silently creating ``/var/lgo/edge`` hides the mistake)."""
    folder = path.parent
    if path.is_dir():
        raise ConfigError(
            f"the log {str(path)!r} is a folder, not a file",
            hint=f"name a file in it, e.g. path = {str(path / 'detections.jsonl')!r}",
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"the folder of the log {str(path)!r} is not a folder: {str(folder)!r}",
            hint="fix the sink path",
        )
    if not folder.is_dir():
        raise ConfigError(
            f"the folder of the log {str(path)!r} does not exist: {str(folder)!r}",
            hint=f"create it (mkdir -p {folder}) or fix the sink path",
        )


def check_log_file(path: Path) -> None:
    """A configured log must be a regular file (or none yet): rotation renames it, so as
    root ``/dev/null`` would become ``/dev/null.1`` after 50 MB, and opening a FIFO blocks
    until a reader comes. (``JsonlSink`` itself takes any path: the tests write to
    ``/dev/full`` to meet a full disk.)"""
    try:
        kind = special_kind(path.stat().st_mode)
    except OSError:
        kind = None  # missing (created on open) or unreadable (the open says why)
    if kind is not None:
        raise ConfigError(
            f"the log {str(path)!r} is {kind}, not a file: it is rotated by renaming",
            hint="name a regular file; to see records on the terminal use the stdout sink, "
            "to keep none leave out the jsonl sink",
        )


class JsonlSink:
    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 0,
        keep: int = 5,
        compress: bool = False,
        fsync_interval: float | None = None,
        only_detections: bool = False,
        heartbeat: float = 60.0,
    ) -> None:
        self.path = path
        self.name = f"jsonl:{path}"
        self.max_bytes = max_bytes
        self.keep = keep
        self.compress = compress
        self.fsync_interval = fsync_interval
        self.only_detections = only_detections
        self.heartbeat = heartbeat
        self.dropped = 0
        self.state: str | None = None
        self.repaired_bytes = 0  # torn tail cut off on open (tests and the log read it)
        self._last_line_at = -math.inf
        self._last_sync = time.monotonic()
        self._last_warning = -_WARN_EVERY
        self._dirty = False
        self._closed = False
        self._rotate_after = 0.0  # a failed rotation is retried after _RETRY_ROTATION s
        check_log_folder(path)
        remove_partials(path)
        self._fd: int | None = self._open()

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise SinkError(
                f"cannot open the log {str(self.path)!r} for appending: {exc.strerror}",
                hint="choose a writable path with --sink jsonl:PATH",
            ) from exc
        self._size = self._repair(fd)
        return fd

    def _repair(self, fd: int) -> int:
        """Cut a torn last line (no final newline) back to the last whole line."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0
        with self.path.open("rb") as reader:
            end = size
            while end > 0:
                start = max(0, end - _TAIL_CHUNK)
                reader.seek(start)
                chunk = reader.read(end - start)
                if end == size and chunk.endswith(b"\n"):
                    return size
                newline = chunk.rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                end = start
            else:
                keep = 0
        try:
            os.ftruncate(fd, keep)
        except OSError as exc:
            raise SinkError(
                f"cannot repair the torn last line of {str(self.path)!r}: {exc.strerror}",
                hint="check the file system, or move the log away",
            ) from exc
        self.repaired_bytes = size - keep
        log.warning(
            "%s: cut off a torn last line of %d bytes (a crash, power loss or full "
            "disk interrupted it) before appending",
            self.path,
            size - keep,
        )
        return keep

    def write(self, record: Record) -> None:
        if self._closed:
            raise SinkError(f"{self.name} is closed")
        now = time.monotonic()
        if not self._wanted(record, now):
            return
        line = encode_line(record)
        if (
            self._fd is not None
            and self.max_bytes
            and self._size
            and self._size + len(line) > self.max_bytes
            and now >= self._rotate_after
        ):
            self._rotate(now)
        fd = self._fd if self._fd is not None else self._reopen()
        if fd is None:
            return
        try:
            written = os.write(fd, line)
        except OSError as exc:
            self._failed(exc.strerror or str(exc))
            return
        if written < len(line):  # a full disk or RLIMIT_FSIZE cut the line short
            self._cut_back(fd)
            self._failed("short write (disk full or file size limit)")
            return
        self._size += written
        self._last_line_at = now
        self._dirty = True
        if self.state is not None:
            log.warning("%s: writing again after %d dropped records", self.path, self.dropped)
            self.state = "ok"
        if self.fsync_interval is not None and now - self._last_sync >= self.fsync_interval:
            self._sync(now)

    def _wanted(self, record: Record, now: float) -> bool:
        # edge.result/2 (a run with zones) is a result too.
        schema = str(record.get("schema", ""))
        if not self.only_detections or not schema.startswith(RESULT_SCHEMA.split("/", 1)[0] + "/"):
            return True
        if record.get("detections"):
            return True
        return now - self._last_line_at >= self.heartbeat

    def _cut_back(self, fd: int) -> None:
        try:
            os.ftruncate(fd, self._size)
        except OSError as exc:  # the next open repairs the torn line instead
            log.warning("%s: could not remove a torn line: %s", self.path, exc.strerror)

    def _failed(self, reason: str) -> None:
        self.dropped += 1
        self.state = f"not writing ({reason})"
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            log.warning(
                "%s: cannot write (%s); dropping records until it works again "
                "(%d so far; free space or check the disk)",
                self.path,
                reason,
                self.dropped,
            )

    def _sync(self, now: float) -> None:
        self._last_sync = now
        if self._fd is None or not self._dirty:
            return
        try:
            os.fsync(self._fd)
            self._dirty = False
        except OSError as exc:
            log.warning("%s: fsync failed: %s", self.path, exc.strerror)

    def _rotate(self, now: float) -> None:
        assert self._fd is not None
        self._sync(now)
        os.close(self._fd)
        self._fd = None
        if not rotate(self.path, self.keep, self.compress):
            self._rotate_after = now + _RETRY_ROTATION  # go on appending meanwhile

    def _reopen(self) -> int | None:
        """After a rotation: the new file (None, counted as a drop, if it cannot be made)."""
        try:
            self._fd = self._open()
        except SinkError as exc:
            self._failed(exc.message)
            return None
        return self._fd

    def close(self) -> None:
        self._closed = True
        if self._fd is not None:
            self._sync(time.monotonic())
            os.close(self._fd)
            self._fd = None
