"""The source contract: iterate frames, then ``close()``.

``live`` tells the pipeline how to read: a live source (a camera, a stream, the
synthetic camera) produces frames whether or not anyone keeps up, so the pipeline
reads it on a capture thread and keeps only the newest frame; a file or a folder is
read in order without dropping anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from edge.types import Frame


class Source(Protocol):
    name: str
    live: bool

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...
