"""Draw a record onto its frame: boxes, labels, scores, the anomaly score, the frame rate.

One drawing, used by the preview window, the recorded video and the snapshots, so all
three show the same thing. Boxes in a record are normalised to the frame, so they are
drawn on any size of the same picture (the Pi camera's main stream included).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from edge.types import Frame, Image

# Distinct colours (BGR) per class id; chosen to read on dark and light backgrounds.
_PALETTE = [
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (211, 188, 0),
    (255, 128, 0),
]
_FONT = cv2.FONT_HERSHEY_SIMPLEX
# Draws under the boxes, in place: the zones, lines and masks with their counts (edge.zones.draw).
Overlay = Callable[[Image, dict[str, Any]], None]


def colour_of(class_id: int) -> tuple[int, int, int]:
    return _PALETTE[class_id % len(_PALETTE)]


def annotate(
    image: Image, record: dict[str, Any], fps: float | None = None, overlay: Overlay | None = None
) -> Image:
    """A copy of ``image`` with the record drawn on it (the input is not changed)."""
    canvas: Image = np.ascontiguousarray(
        cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    )
    if overlay is not None:
        overlay(canvas, record)
    h, w = canvas.shape[:2]
    scale = max(0.35, min(w, h) / 600)
    thickness = max(2, round(min(w, h) / 160))  # 1 px lines lose their colour in 4:2:0 video
    detections = record.get("detections", [])
    # A classifier's top classes go in the corner text, in the record's order.
    lines = [
        f"{item['label']} {item['score']:.2f}" for item in detections if item.get("box") is None
    ]
    # Lowest score first: where boxes and labels overlap, the best one is drawn last, on top.
    for item in sorted(detections, key=lambda item: float(item["score"])):
        text = f"{item['label']} {item['score']:.2f}"
        box = item.get("box")
        if box is None:
            continue
        x0, y0 = round(box[0] * w), round(box[1] * h)
        x1, y1 = round(box[2] * w), round(box[3] * h)
        colour = colour_of(int(item["class_id"]))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness)
        _label(canvas, text, (x0, y0), colour, scale)
    anomaly = record.get("anomaly")
    if isinstance(anomaly, dict):
        flagged = anomaly["score"] >= anomaly["threshold"]
        lines.append(
            f"anomaly {anomaly['score']:.2f} / {anomaly['threshold']:.2f}"
            + (" !" if flagged else "")
        )
    if fps is not None:
        lines.append(f"{fps:.1f} fps")
    step = round(34 * scale)  # one text line, with a little air
    for row, text in enumerate(lines):
        _text(canvas, text, (4, 4 + (row + 1) * step), scale)
    return canvas


def _label(
    canvas: Image, text: str, corner: tuple[int, int], colour: tuple[int, int, int], scale: float
) -> None:
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x, y = corner
    top = y - th - base - 2 if y - th - base - 2 >= 0 else y  # inside the box at the top edge
    cv2.rectangle(canvas, (x, top), (x + tw + 2, top + th + base + 2), colour, cv2.FILLED)
    cv2.putText(canvas, text, (x + 1, top + th + 1), _FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _text(canvas: Image, text: str, origin: tuple[int, int], scale: float) -> None:
    """White text with a dark outline, readable on any picture."""
    cv2.putText(canvas, text, origin, _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, origin, _FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


class RateMeter:
    """Frames per second over the last few seconds of ``tick()`` calls."""

    def __init__(self, window: float = 2.0) -> None:
        self._window = window
        self._times: deque[float] = deque()

    def tick(self) -> float | None:
        now = time.monotonic()
        self._times.append(now)
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) < 2:
            return None
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])


class FrameAnnotator:
    """The annotated picture of a frame, drawn once however many observers want it.

    The preview window and the recorder show the same drawing with the same frame rate;
    given the same frame and record twice in a row (one loop turn), it returns the picture
    it drew the first time. Callers must not change the picture they get."""

    def __init__(self, overlay: Overlay | None = None) -> None:
        self._overlay = overlay
        self._meter = RateMeter()
        self._frame: Frame | None = None
        self._record: dict[str, Any] | None = None
        self._image: Image | None = None

    def __call__(self, frame: Frame, record: dict[str, Any]) -> Image:
        # Identity, not equality: this exact frame and record (the references held here
        # keep their ids from being reused by later objects).
        if frame is not self._frame or record is not self._record or self._image is None:
            fps = self._meter.tick()
            self._image = (
                annotate(frame.image, record, fps)
                if self._overlay is None
                else annotate(frame.image, record, fps, self._overlay)
            )
            self._frame, self._record = frame, record
        return self._image
