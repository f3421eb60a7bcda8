"""The source contract: iterate frames, then ``close()``.

``live`` tells the pipeline how to read: a live source (a camera, a stream, the
synthetic camera) produces frames whether or not anyone keeps up, so the pipeline
reads it on a capture thread and keeps only the newest frame; a file or a folder is
read in order without dropping anything.

Optional capabilities, each a small ``runtime_checkable`` protocol the loop tests with
``isinstance`` (a source offers what it can, and nothing is probed by name):

- ``HasHealth``: ``health() -> SourceHealth``, what the status line, the systemd
  watchdog and the MQTT stats report about it. A source without it is "running" while
  frames arrive.
- ``HasFrameRate``: ``fps``, the rate it delivers at (``None``: as fast as it is read,
  or unknown); the video recorder writes its files at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from edge.types import Frame

SourceState = Literal["opening", "running", "reconnecting", "ended"]


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What a source says about itself, read from the main loop at any time.

    ``state``: see ``SourceState``.
    ``reconnects``: how many times the source was reopened in this run.
    ``last_activity``: ``time.monotonic()`` of the last frame delivered or reopening
    attempt made; the watchdog treats a source with no activity for longer than its
    window as hung (a read that never returns makes no activity).
    """

    state: SourceState
    reconnects: int
    last_activity: float


class Source(Protocol):
    name: str
    live: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


@runtime_checkable
class HasHealth(Protocol):
    """A source that reports its own state (``LiveSource``: reconnects, a hung read)."""

    def health(self) -> SourceHealth: ...


@runtime_checkable
class HasFrameRate(Protocol):
    """A source that knows the rate it delivers at (a paced camera, a video file)."""

    @property
    def fps(self) -> float | None: ...
