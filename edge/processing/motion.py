"""The motion gate: skip inference while nothing in the picture changes.

A parked car or an empty hallway otherwise costs a full inference and writes a record
30 times a second, forever. The gate shrinks each frame to a small grey picture
(``width`` pixels wide, blurred to ignore sensor noise) and compares it with the
picture of the last frame that WAS inferred: a pixel has changed when its grey level
differs by more than ``pixel_threshold``, and the frame goes to the model when at
least ``min_changed`` of the pixels changed. Comparing with the last inferred frame,
not the previous one, means a slow change (a shadow creeping, an object inching)
still adds up and wakes the model.

While nothing moves, ``heartbeat`` seconds after the last inference one frame goes
through anyway, so the log and the broker still get a record that says the device is
alive and what it sees. The first frame always goes through. The cost per frame is a
resize of the full frame plus arithmetic on about 64x48 pixels: well under a
millisecond on a Pi.

Motion masks (``[[masks]] applies_to = "motion"``: a tree in the wind, a clock, a TV)
are rasterised once at the small picture's size; pixels inside them never count as
changed, and ``min_changed`` is a fraction of the pixels outside them. The cost is one
``AND`` over the ~3,000 small pixels per frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from edge.types import Frame

if TYPE_CHECKING:
    from collections.abc import Sequence

GreyImage = npt.NDArray[np.uint8]


class MotionGate:
    def __init__(
        self,
        *,
        width: int = 64,
        pixel_threshold: int = 20,
        min_changed: float = 0.005,
        heartbeat: float = 30.0,
        masks: Sequence[Sequence[Sequence[float]]] = (),
    ) -> None:
        self.width = width
        self.pixel_threshold = pixel_threshold
        self.min_changed = min_changed
        self.heartbeat = heartbeat
        self._reference: GreyImage | None = None
        self._last_inference = 0.0
        self.last_change = 0.0  # fraction of pixels changed in the last frame looked at
        self.masks = [np.asarray(m, np.float32) for m in masks]
        self._watched: npt.NDArray[np.bool_] | None = None  # pixels outside the masks

    def should_infer(self, frame: Frame) -> bool:
        """True: run the model on this frame (and remember it as the new reference)."""
        small = self._small(frame.image)
        reference = self._reference
        if reference is None or reference.shape != small.shape:
            return self._wake(small, frame.timestamp)
        changed = cv2.absdiff(small, reference) > self.pixel_threshold
        if self.masks:
            watched = self._watched_pixels(small.shape[1], small.shape[0])
            changed &= watched
            self.last_change = float(np.count_nonzero(changed)) / max(1, int(watched.sum()))
        else:
            self.last_change = float(np.count_nonzero(changed)) / changed.size
        heartbeat_due = (
            self.heartbeat > 0 and frame.timestamp - self._last_inference >= self.heartbeat
        )
        if self.last_change >= self.min_changed or heartbeat_due:
            return self._wake(small, frame.timestamp)
        return False

    def _wake(self, small: GreyImage, timestamp: float) -> bool:
        self._reference = small
        self._last_inference = timestamp
        return True

    def _watched_pixels(self, width: int, height: int) -> npt.NDArray[np.bool_]:
        if self._watched is None or self._watched.shape != (height, width):
            from edge.zones.geometry import rasterise

            self._watched = rasterise(self.masks, width, height) == 0
        return self._watched

    def _small(self, image: npt.NDArray[np.uint8]) -> GreyImage:
        height, width = image.shape[:2]
        size = (self.width, max(1, round(height * self.width / width)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        grey = small if small.ndim == 2 else cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        return np.asarray(cv2.GaussianBlur(grey, (3, 3), 0), np.uint8)
