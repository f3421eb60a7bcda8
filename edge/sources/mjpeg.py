"""Decode MJPEG frames at the size the model needs, not the size the camera sent.

Most USB webcams and many IP cameras and clips deliver MJPEG. Decoding a 640x480 JPEG
costs more than invoking a small detector, and the model then throws most of those
pixels away in its resize. libjpeg can decode at 1/2, 1/4 or 1/8 of the size directly
(it skips the high-frequency coefficients), which OpenCV exposes as
``cv2.imdecode(buffer, IMREAD_REDUCED_COLOR_2/4/8)``; OpenCV hands over the compressed
frame when ``CAP_PROP_FORMAT`` is set to -1 (files and V4L2 alike).

``reduction`` picks the largest factor that still leaves at least the model's input
size, so the model's own resize still only shrinks. For a grey model the JPEG is decoded
straight to grey (``IMREAD_REDUCED_GRAYSCALE_*``): the frame is then ``(h, w)``, which
the preprocessing takes as it is. A run that needs the full picture
(preview, recording, snapshots) does not ask for it.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edge.types import Image

_FLAGS = {
    8: cv2.IMREAD_REDUCED_COLOR_8,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    1: cv2.IMREAD_COLOR,
}
_GREY_FLAGS = {
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    1: cv2.IMREAD_GRAYSCALE,
}
_MJPG = int.from_bytes(b"MJPG", "little")


def reduction(frame_size: tuple[int, int], input_size: tuple[int, int] | None) -> int:
    """The largest of 8, 4, 2 that keeps ``frame_size`` (width, height) at least
    ``input_size`` in both directions; 1 (full decode) when none does or the input size
    is unknown."""
    if input_size is None:
        return 1
    (width, height), (in_width, in_height) = frame_size, input_size
    for factor in (8, 4, 2):
        if width // factor >= in_width and height // factor >= in_height:
            return factor
    return 1


def is_mjpeg(capture: Any) -> bool:
    return int(capture.get(cv2.CAP_PROP_FOURCC) or 0) == _MJPG


def ask_compressed(capture: Any) -> bool:
    """Ask ``capture`` to hand over each frame's JPEG bytes instead of decoding it."""
    return bool(capture.set(cv2.CAP_PROP_FORMAT, -1))


class ReducedDecoder:
    """Compressed JPEG bytes -> a BGR picture at 1/``factor`` of the frame's size, or a
    grey one (``grey``, for a grey model): libjpeg then skips the colour planes too."""

    def __init__(self, factor: int, *, grey: bool = False) -> None:
        self.factor = factor
        self.grey = grey
        self._flag = (_GREY_FLAGS if grey else _FLAGS)[factor]

    def __call__(self, buffer: Any) -> Image | None:
        """The picture, or ``None`` when the bytes are not a JPEG this build decodes."""
        data = np.asarray(buffer, np.uint8).reshape(-1)
        image = cv2.imdecode(data, self._flag)
        return None if image is None else np.asarray(image, np.uint8)
