"""Webcams, video files and network streams through OpenCV's ``VideoCapture``.

A webcam (index or /dev/videoN) and a URL are live; a file is read to the end without
dropping. OpenCV reports a missing device only as ``isOpened() == False`` plus a log
line, so this module checks and raises ``SourceError`` with the fix, and silences
OpenCV's own warnings (they would duplicate ours).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.errors import SourceError
from edge.types import Frame

# OpenCV 5 has cv2.utils.logging; the 4.x wheels (what a numpy<2 venv on Pi OS Bookworm
# gets) only have the older cv2.setLogLevel, where 2 is ERROR.
_cv_logging = getattr(cv2.utils, "logging", None)
if _cv_logging is not None:
    _cv_logging.setLogLevel(_cv_logging.LOG_LEVEL_ERROR)
elif hasattr(cv2, "setLogLevel"):
    cv2.setLogLevel(2)

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
# A live device that stops delivering this many reads in a row is treated as gone.
_MAX_FAILED_READS = 30


def is_url(uri: str) -> bool:
    return uri.lower().startswith(URL_SCHEMES)


class OpenCVSource:
    def __init__(self, capture: Any, *, name: str, live: bool, loop: bool = False) -> None:
        self._capture = capture
        self.name = name
        self.live = live
        self.loop = loop

    @classmethod
    def camera(cls, device: int | str, *, width: int | None = None, height: int | None = None,
               fps: float | None = None) -> OpenCVSource:
        if isinstance(device, str) and not device.isdigit() and not Path(device).exists():
            raise SourceError(
                f"camera {device!r} does not exist",
                hint="list cameras with `ls /dev/video*` or `v4l2-ctl --list-devices`; "
                "on a Raspberry Pi CSI camera use --source picamera2",
            )
        target: int | str = int(device) if isinstance(device, str) and device.isdigit() else device
        capture = cv2.VideoCapture(target, cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"no camera could be opened at {'index ' if isinstance(target, int) else ''}"
                f"{target}",
                hint="check that the webcam is plugged in and not used by another program "
                "(`ls /dev/video*`), and that this user is in the 'video' group",
            )
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width),
                            (cv2.CAP_PROP_FRAME_HEIGHT, height), (cv2.CAP_PROP_FPS, fps)):
            if value:
                capture.set(prop, float(value))
        return cls(capture, name=f"camera:{target}", live=True)

    @classmethod
    def video(cls, uri: str, *, loop: bool = False) -> OpenCVSource:
        live = is_url(uri)
        if not live and not Path(uri).is_file():
            raise SourceError(
                f"video file {uri!r} does not exist",
                hint="give the path of a video file, or an rtsp:// or http(s):// URL",
            )
        capture = cv2.VideoCapture(uri)
        if not capture.isOpened():
            capture.release()
            what = "stream" if live else "video file"
            raise SourceError(
                f"OpenCV could not open the {what} {uri!r}",
                hint="check the URL and that the stream is up" if live else
                "check that the file is a video OpenCV can decode (mp4/avi/mkv)",
            )
        return cls(capture, name=uri if live else Path(uri).name, live=live, loop=loop)

    def __iter__(self) -> Iterator[Frame]:
        index, failures = 0, 0
        while self._capture is not None:
            ok, image = self._capture.read()
            if not ok:
                if not self.live:
                    if self.loop and index > 0:
                        self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                    return
                failures += 1
                if failures >= _MAX_FAILED_READS:
                    raise SourceError(
                        f"{self.name} stopped delivering frames ({failures} failed reads)",
                        hint="check the cable or the stream; the service restarts on exit",
                    )
                time.sleep(0.01)
                continue
            failures = 0
            if image.ndim == 2:
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            elif image.shape[2] == 4:
                image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
            yield Frame(np.ascontiguousarray(image, np.uint8), index, time.time(), self.name)
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
