"""Append records to a JSON Lines file, one object per line.

The file is opened in append mode so restarts add to the log. Writes are unbuffered,
one ``write`` per line, so a crash loses at most the line being written and a failed
write (a full disk) leaves nothing half-queued in a buffer to corrupt the next line.
A disk error becomes a ``SinkError`` naming the file and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import BinaryIO

from edge.errors import SinkError
from edge.sinks.base import Record


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"jsonl:{path}"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO | None = path.open("ab", buffering=0)
        except OSError as exc:
            raise SinkError(
                f"cannot open the log {str(path)!r} for appending: {exc.strerror}",
                hint="choose a writable path with --sink jsonl:PATH",
            ) from exc

    def write(self, record: Record) -> None:
        if self._file is None:
            raise SinkError(f"{self.name} is closed")
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        view = memoryview(line)
        try:
            while view:
                written = self._file.write(view)
                view = view[written or 0 :]
        except OSError as exc:
            raise SinkError(
                f"cannot write to {str(self.path)!r}: {exc.strerror}",
                hint="free disk space or choose another path with --sink jsonl:PATH",
            ) from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
