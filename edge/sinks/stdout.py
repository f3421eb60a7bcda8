"""Print each record as one JSON line on standard output (for pipes and jq).

When the reader goes away (``edge run --sink stdout | head``) the pipe breaks: this sink
then stops, counts what it could not print in ``dropped`` and says so in ``state``, and
the run and its other sinks (the JSONL log) go on. Standard output is pointed at
``/dev/null`` so the interpreter's own flush at exit cannot fail on the broken pipe.
"""

from __future__ import annotations

import logging
import os
import sys

from edge.sinks.base import Record
from edge.sinks.jsonl import encode_line

log = logging.getLogger(__name__)


class StdoutSink:
    name = "stdout"

    def __init__(self) -> None:
        self.dropped = 0
        self.state: str | None = None

    def write(self, record: Record) -> None:
        if self.state is not None:
            self.dropped += 1
            return
        try:
            sys.stdout.write(encode_line(record).decode("utf-8"))
            sys.stdout.flush()
        except BrokenPipeError:
            self._broken()
        except ValueError:  # stdout closed under us
            self._broken()

    def _broken(self) -> None:
        self.dropped += 1
        self.state = "closed (broken pipe)"
        log.warning(
            "standard output was closed by its reader; the stdout sink stops, the other sinks go on"
        )
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self.state is not None:
            return
        try:
            sys.stdout.flush()
        except (BrokenPipeError, ValueError):
            self._broken()
