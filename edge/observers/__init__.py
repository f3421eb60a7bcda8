"""Frame observers: what needs the picture as well as the record (``observe(frame,
record)`` + ``close()``, see ``edge.pipeline.loop.FrameObserver``).

``build_observers`` makes the ones ``[output]`` asks for: the preview window, the video
recorder and the snapshot saver. Each draws with ``edge.observers.annotate``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from edge.config.output import OutputConfig
from edge.pipeline.loop import FrameObserver

if TYPE_CHECKING:
    from edge.observers.annotate import Overlay

__all__ = ["build_observers"]


def build_observers(
    config: OutputConfig,
    *,
    stop: threading.Event,
    fps: float | None = None,
    overlay: Overlay | None = None,
) -> list[FrameObserver]:
    """The observers ``config`` asks for; the preview checks for a GUI before the run."""
    observers: list[FrameObserver] = []
    if config.preview or config.record is not None:
        from edge.observers.annotate import FrameAnnotator

        # Preview and recording share one drawing per frame (``overlay``: the zones).
        annotator = FrameAnnotator(overlay)
    if config.preview:
        from edge.observers.preview import PreviewWindow

        observers.append(PreviewWindow(stop, annotator=annotator))
    if config.record is not None:
        from edge.observers.recorder import VideoRecorder

        observers.append(
            VideoRecorder(config.record, fps=config.record_fps or fps or 30.0, annotator=annotator)
        )
    if config.snapshot_dir is not None:
        from edge.observers.snapshots import SnapshotSaver

        observers.append(SnapshotSaver(config.snapshot_dir, interval=config.snapshot_interval))
    return observers
