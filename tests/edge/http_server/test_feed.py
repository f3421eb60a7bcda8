"""The encoder's cost: nothing while nobody watches, at most ``stream_fps`` pictures a
second while someone does, and a viewer that stops reading never holds the frame loop."""

from __future__ import annotations

import time

import cv2
import numpy as np

from edge.http.feed import FrameFeed
from edge.sources.synthetic import SyntheticCamera
from edge.types import Frame


def frames(count: int) -> list[Frame]:
    camera = SyntheticCamera(fps=None)
    return [Frame(camera.render(i), i, time.time(), "synthetic") for i in range(count)]


def record() -> dict[str, object]:
    box = [0.1, 0.1, 0.5, 0.5]
    return {"detections": [{"label": "3", "class_id": 3, "score": 0.9, "box": box}]}


def test_nothing_is_encoded_while_nobody_watches() -> None:
    feed = FrameFeed(fps=30, width=640, quality=80, max_viewers=2)
    try:
        started = time.perf_counter()
        for frame in frames(300):
            feed.observe(frame, record())
        per_frame = (time.perf_counter() - started) / 300
        time.sleep(0.2)
        assert feed.encoded == 0
        assert per_frame < 0.001  # a reference kept, nothing else (generous bound)
        assert len(feed.recent) == 20  # the detections table is kept all the same
    finally:
        feed.close()


def test_a_viewer_gets_at_most_stream_fps_pictures_and_the_loop_never_waits() -> None:
    feed = FrameFeed(fps=5, width=640, quality=80, max_viewers=1)
    viewer = feed.stream("annotated")
    assert viewer is not None
    assert feed.stream("raw") is None  # the cap: one viewer
    try:
        pictures = iter(viewer)
        shown = frames(60)
        started = time.monotonic()
        for frame in shown:  # 60 frames over ~2 s; the viewer reads only one picture
            feed.observe(frame, record())
            time.sleep(1 / 30)
        first = next(pictures)
        elapsed = time.monotonic() - started
        assert cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR) is not None
        # Never more than stream_fps pictures a second (+1 for the first), though the
        # viewer read just one of them: encoding does not wait for viewers.
        assert 1 <= feed.encoded <= 5 * elapsed + 1
    finally:
        viewer.close()
        feed.close()
    assert feed.viewers == 0
