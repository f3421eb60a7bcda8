"""``--record PATH``: the annotated frames as a video file, at the source's frame size.

The codec follows the file name: ``.mp4`` mp4v (every OpenCV build writes it; H.264
needs an encoder most pip wheels lack), ``.avi`` MJPG, ``.mkv`` XVID. The writer opens on
the first frame, whose size fixes the video's; a later frame of another size (a webcam
that came back in another mode) is scaled to it, since a video has one size.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.errors import ConfigError
from edge.observers.annotate import FrameAnnotator
from edge.types import Frame

log = logging.getLogger(__name__)

FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}


class VideoRecorder:
    def __init__(
        self, path: Path, *, fps: float = 30.0, annotator: FrameAnnotator | None = None
    ) -> None:
        fourcc = FOURCC_BY_SUFFIX.get(path.suffix.lower())
        if fourcc is None:
            raise ConfigError(
                f"cannot tell which video format to record for {str(path)!r}",
                hint=f"end the file name in one of {', '.join(sorted(FOURCC_BY_SUFFIX))}",
            )
        if not path.parent.is_dir():
            raise ConfigError(
                f"the folder of the recording {str(path)!r} does not exist",
                hint="create it first, or record somewhere else",
            )
        self.path = path
        self.fps = fps
        self.frames = 0
        self._fourcc = fourcc
        self._writer: Any = None
        self._size: tuple[int, int] | None = None
        self._annotate = annotator or FrameAnnotator()

    def observe(self, frame: Frame, record: dict[str, Any]) -> None:
        image = self._annotate(frame, record)
        size = (int(image.shape[1]), int(image.shape[0]))  # the picture, not the source's size
        if self._writer is None:
            self._open(*size)
        if self._size is not None and size != self._size:
            image = np.asarray(cv2.resize(image, self._size), np.uint8)
        self._writer.write(image)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter.fourcc(*self._fourcc), self.fps, (width, height)
        )
        if not writer.isOpened():
            raise ConfigError(
                f"OpenCV cannot write {self._fourcc} video to {str(self.path)!r}",
                hint="check that the folder is writable, or record to .avi",
            )
        self._writer, self._size = writer, (width, height)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            log.info("recorded %d frames to %s", self.frames, self.path)
