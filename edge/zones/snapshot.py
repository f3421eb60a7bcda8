"""One picture from the configured source, for ``edge zones check`` and ``edge zones draw``."""

from __future__ import annotations

from edge.config.sources import SourceConfig
from edge.errors import SourceError
from edge.types import Image


def snapshot(config: SourceConfig) -> Image:
    """The first frame the source delivers (the full picture where it has a larger one)."""
    from edge.sources import open_source

    source = open_source(config, keep_full=True)
    try:
        for frame in source:
            return frame.full if frame.full is not None else frame.image
    finally:
        source.close()
    raise SourceError("the source ended before its first frame", hint="check [source]")
