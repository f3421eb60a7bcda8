"""Every image of a folder, in name order, read without dropping.

Unreadable files are skipped with a warning (counted in ``skipped``) rather than
ending the run: one bad JPEG in a folder of thousands should not lose the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.errors import SourceError
from edge.types import Frame

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
log = logging.getLogger(__name__)


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


class ImageFolder:
    live = False

    def __init__(self, folder: Path, *, loop: bool = False) -> None:
        if not folder.is_dir():
            raise SourceError(
                f"image folder {str(folder)!r} does not exist or is not a folder",
                hint="give a folder that holds .jpg/.png images",
            )
        self.paths = list_images(folder)
        if not self.paths:
            raise SourceError(
                f"image folder {str(folder)!r} holds no images",
                hint=f"put images with one of these suffixes there: {' '.join(IMAGE_SUFFIXES)}",
            )
        self.name = folder.name or str(folder)
        self.loop = loop
        self.skipped = 0
        self._closed = False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while not self._closed:
            for path in self.paths:
                if self._closed:
                    return
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None:
                    self.skipped += 1
                    log.warning("skipping %s: not an image OpenCV can read", path)
                    continue
                yield Frame(np.ascontiguousarray(image, np.uint8), index, time.time(), path.name)
                index += 1
            if not self.loop or index == 0:
                return

    def close(self) -> None:
        self._closed = True
