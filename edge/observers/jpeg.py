"""A frame as JPEG bytes for a viewer: scaled down to a width, drawn on, encoded.

One routine for the pictures that leave the device while it runs: the MQTT snapshot for
Home Assistant's image entity (``edge.sinks.mqtt.snapshot``) and the web server's stream
and ``/latest.jpg`` (``edge.http.feed``). Scaling comes first, so the drawing is done at
the size the viewer gets (labels stay legible) and on fewer pixels.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from edge.observers.annotate import Overlay, annotate
from edge.types import Image


def frame_jpeg(
    image: Image,
    record: dict[str, Any] | None,
    *,
    width: int,
    quality: int,
    overlay: Overlay | None = None,
) -> bytes:
    """``image`` scaled down to ``width`` (never up), with ``record`` (and ``overlay``, the
    zones) drawn on it unless ``record`` is None (the raw picture), as JPEG bytes."""
    height, current = image.shape[:2]
    if current > width:
        size = (width, max(1, round(height * width / current)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    if record is not None:
        image = annotate(image, record, overlay=overlay)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the picture as JPEG")
    return jpeg.tobytes()
