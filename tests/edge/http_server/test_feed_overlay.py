"""The annotated stream draws the zones too ([15]): the run hands the feed the same overlay
the preview and the recording use; the raw picture stays untouched."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from edge.config.zones import ZoneConfig
from edge.http.feed import FrameFeed
from edge.types import Frame
from edge.zones.draw import ZoneOverlay


def decode(jpeg: bytes) -> np.ndarray:
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    return picture


def test_the_annotated_picture_shows_the_zone_and_the_raw_one_does_not() -> None:
    zone = ZoneConfig.model_validate(
        {"name": "left", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.9], [0.1, 0.9]]}
    )
    with_zone = FrameFeed(
        fps=5, width=320, quality=95, max_viewers=2, overlay=ZoneOverlay([zone], [], [])
    )
    plain = FrameFeed(fps=5, width=320, quality=95, max_viewers=2)
    frame = Frame(
        image=np.zeros((240, 320, 3), np.uint8), index=0, timestamp=time.time(), source="t"
    )
    record: dict[str, Any] = {"detections": []}
    try:
        drawn = decode(with_zone.encode(frame, record, annotated=True))
        bare = decode(plain.encode(frame, record, annotated=True))
        raw = decode(with_zone.encode(frame, record, annotated=False))
    finally:
        with_zone.close()
        plain.close()
    # The zone's outline runs down x = 0.1 of the width: there, only the overlay drew.
    column = drawn[40:200, 30:34]
    assert column.max() > 100 and bare[40:200, 30:34].max() < 40
    assert raw.max() < 40  # the raw stream is the camera's picture only
