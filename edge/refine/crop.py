"""The picture around one detected box, at a classifier's input size.

The region is the box grown by ``context`` on each axis (1.4 by default: MNIST-style
classifiers see a 20 px digit in a 28 px square, 28 / 20 = 1.4), then widened on its
short side to the classifier's aspect, so the object keeps its shape. Parts of the
region outside the frame repeat the frame's edge pixels instead of adding black bars,
which a classifier trained on crops inside a scene has never seen.

The training recipe (``models.crops``) cuts its crops with this same function, so the
classifier learns exactly what the device gives it.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.refine import DEFAULT_CONTEXT
from edge.types import Image


def region(
    box: tuple[float, float, float, float],
    frame_size: tuple[int, int],
    out_size: tuple[int, int],
    context: float = DEFAULT_CONTEXT,
) -> tuple[int, int, int, int]:
    """Pixel rectangle ``(x0, y0, x1, y1)``, end-exclusive, that ``crop`` takes for a
    normalised ``box`` in a frame of ``frame_size`` (width, height); may reach outside
    the frame. Never empty."""
    width, height = frame_size
    x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    region_w = max(x1 - x0, 1.0) * context
    region_h = max(y1 - y0, 1.0) * context
    out_w, out_h = out_size
    if region_w * out_h < region_h * out_w:
        region_w = region_h * out_w / out_h
    else:
        region_h = region_w * out_h / out_w
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = round(cx - region_w / 2), round(cy - region_h / 2)
    return left, top, left + max(round(region_w), 1), top + max(round(region_h), 1)


def crop(
    image: Image,
    box: tuple[float, float, float, float],
    out_size: tuple[int, int],
    context: float = DEFAULT_CONTEXT,
) -> Image:
    """The region around ``box`` (normalised x0, y0, x1, y1) resized to ``out_size``
    (width, height), in the image's own layout (grey stays grey, BGR stays BGR)."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = region(box, (width, height), out_size, context)
    pad_left, pad_top = max(0, -x0), max(0, -y0)
    pad_right, pad_bottom = max(0, x1 - width), max(0, y1 - height)
    window = image[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    if window.size == 0:  # a box wholly outside the frame: its nearest edge pixel
        row = min(max(y0, 0), height - 1)
        column = min(max(x0, 0), width - 1)
        window = image[row : row + 1, column : column + 1]
        pad_left = pad_top = pad_right = pad_bottom = 0
    if pad_left or pad_top or pad_right or pad_bottom:
        window = np.asarray(
            cv2.copyMakeBorder(
                window, pad_top, pad_bottom, pad_left, pad_right, cv2.BORDER_REPLICATE
            ),
            np.uint8,
        )
    shrinking = window.shape[1] > out_size[0] or window.shape[0] > out_size[1]
    # INTER_AREA averages the pixels a smaller picture merges (no aliasing of thin
    # strokes); it only does that when shrinking, so growing uses a linear filter.
    method = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    resized: Image = np.ascontiguousarray(cv2.resize(window, out_size, interpolation=method))
    return resized
