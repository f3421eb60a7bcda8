"""The source contract: iterate frames, then ``close()``.

``live`` tells the pipeline how to read: a live source (a camera, a stream, the
synthetic camera) produces frames whether or not anyone keeps up, so the pipeline
reads it on a capture thread and keeps only the newest frame; a file or a folder is
read in order without dropping anything.

A source may also offer ``health() -> SourceHealth`` (optional, read with ``getattr``):
what the status line, the systemd watchdog and the MQTT stats report about it. A
source without it is "running" while frames arrive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from edge.types import Frame


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What a source says about itself, read from the main loop at any time.

    ``state``: "opening", "running", "reconnecting" or "ended".
    ``reconnects``: how many times the source was reopened in this run.
    ``last_activity``: ``time.monotonic()`` of the last frame delivered or reopening
    attempt made; the watchdog treats a source with no activity for longer than its
    window as hung (a read that never returns makes no activity).
    """

    state: str
    reconnects: int
    last_activity: float


class Source(Protocol):
    name: str
    live: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
