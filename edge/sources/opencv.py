"""Webcams, network streams and video files through OpenCV's ``VideoCapture``.

Webcams and streams are live: each is a ``Device`` inside a ``LiveSource``, which
reopens it after a failure or a stall (``edge/sources/live.py``). A video file is read
to the end without dropping, optionally looping and optionally paced at its own frame
rate.

OpenCV reports a missing device only as ``isOpened() == False`` plus a log line, so this
module checks and raises ``SourceError`` with the fix for the platform it runs on, and
silences OpenCV's own warnings (they would duplicate ours). Webcams are opened with the
platform's own backend: V4L2 on Linux, AVFoundation on macOS, DirectShow then Media
Foundation on Windows (``CAP_ANY`` elsewhere). Streams go through FFmpeg with an open
and a read timeout, so an unreachable server fails in seconds instead of hanging.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.errors import SourceError
from edge.sources.live import Backoff, Capture, LiveSource
from edge.sources.mjpeg import ReducedDecoder, ask_compressed, is_mjpeg, reduction
from edge.types import Frame, Image

# OpenCV 5 has cv2.utils.logging; the 4.x wheels (what a numpy<2 venv on Pi OS Bookworm
# gets) only have the older cv2.setLogLevel, where 2 is ERROR.
_cv_logging = getattr(cv2.utils, "logging", None)
if _cv_logging is not None:
    _cv_logging.setLogLevel(_cv_logging.LOG_LEVEL_ERROR)
elif hasattr(cv2, "setLogLevel"):
    cv2.setLogLevel(2)
# FFmpeg prints its own line on every failed connection ("Connection refused"); a stream
# retried forever would fill the journal with them, and our log says it once. 8 is
# AV_LOG_FATAL; read when the first capture opens, so setting it here is in time. An
# explicit OPENCV_FFMPEG_LOGLEVEL (e.g. 32 while debugging a stream) wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")

URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


def is_url(uri: str) -> bool:
    return uri.lower().startswith(URL_SCHEMES)


def camera_backends(platform: str = sys.platform) -> tuple[int, ...]:
    """The OpenCV capture backends to try for a webcam on ``platform``, in order."""
    if platform.startswith("linux"):
        return (cv2.CAP_V4L2,)
    if platform == "darwin":
        return (cv2.CAP_AVFOUNDATION,)
    if platform in ("win32", "cygwin"):
        return (cv2.CAP_DSHOW, cv2.CAP_MSMF)
    return (cv2.CAP_ANY,)


def camera_hint(platform: str = sys.platform) -> str:
    """What to check when a webcam does not open, for the platform it runs on."""
    if platform.startswith("linux"):
        return (
            "check that the webcam is plugged in and not used by another program "
            "(`v4l2-ctl --list-devices` lists cameras), and that this user is in the "
            "'video' group; a Raspberry Pi CSI ribbon camera delivers no frames through "
            "/dev/video*: use --source picamera2"
        )
    if platform == "darwin":
        return (
            "check that the webcam is connected and that the terminal app may use the "
            "camera (System Settings > Privacy & Security > Camera); indices start at 0"
        )
    if platform in ("win32", "cygwin"):
        return (
            "check that the webcam is connected, that no other app (Teams, Zoom, the "
            "Camera app) holds it, and that desktop apps may use the camera (Settings > "
            "Privacy & security > Camera); indices start at 0"
        )
    return "check that the webcam is connected and not used by another program"


STREAM_HINT = (
    "check the URL and that the server is up (try it with `ffplay URL` or VLC); "
    "for RTSP behind a firewall try TCP: "
    "OPENCV_FFMPEG_CAPTURE_OPTIONS='rtsp_transport;tcp'; set [source] "
    "retry_at_start = true to wait for a camera that comes up later"
)


def _as_bgr(image: Any, *, keep_grey: bool = False) -> Image:
    if image.ndim == 2 and keep_grey:
        return np.ascontiguousarray(image, np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image, np.uint8)


class OpenCVDevice:
    """One opened ``VideoCapture`` (webcam or stream), owned by the capture thread.

    With ``input_size`` (the model's width, height) an MJPEG device (most USB webcams,
    many IP cameras) hands over each frame's JPEG bytes and they are decoded at 1/2, 1/4
    or 1/8 of the size when that still covers the model's input (``edge.sources.mjpeg``):
    for V4L2 and FFmpeg streams alike. Anything else is decoded by OpenCV as usual."""

    def __init__(
        self, capture: Any, input_size: tuple[int, int] | None = None, *, grey: bool = False
    ) -> None:
        self._capture = capture
        size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        )
        factor = reduction(size, input_size) if all(size) else 1
        self._reduced = (
            ReducedDecoder(factor, grey=grey)
            if factor > 1 and is_mjpeg(capture) and ask_compressed(capture)
            else None
        )
        self._source_size = size if self._reduced is not None else None

    @property
    def reduction(self) -> int:
        return self._reduced.factor if self._reduced is not None else 1

    def read(self) -> Capture | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        if self._reduced is not None:
            image = self._reduced(image)
            if image is None:  # bytes libjpeg cannot decode: a failed read, as read() has it
                return None
        return Capture(
            _as_bgr(image, keep_grey=self._reduced is not None),
            time.time(),
            source_size=self._source_size,
        )

    def release(self) -> None:
        self._capture.release()


def open_camera(
    device: int | str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    platform: str = sys.platform,
    input_size: tuple[int, int] | None = None,
    grey: bool = False,
) -> OpenCVDevice:
    """Open a webcam by index (or /dev/videoN on Linux) with the platform's backend."""
    target: int | str = int(device) if isinstance(device, str) and device.isdigit() else device
    if isinstance(target, str) and not Path(target).exists():
        raise SourceError(f"camera {target!r} does not exist", hint=camera_hint(platform))
    capture = None
    for backend in camera_backends(platform):
        capture = cv2.VideoCapture(target, backend)
        if capture.isOpened():
            break
        capture.release()
        capture = None
    if capture is None:
        where = f"index {target}" if isinstance(target, int) else target
        raise SourceError(f"no camera could be opened at {where}", hint=camera_hint(platform))
    for prop, value in (
        (cv2.CAP_PROP_FRAME_WIDTH, width),
        (cv2.CAP_PROP_FRAME_HEIGHT, height),
        (cv2.CAP_PROP_FPS, fps),
    ):
        if value:
            capture.set(prop, float(value))
    return OpenCVDevice(capture, input_size, grey=grey)


def open_stream(
    uri: str,
    *,
    timeout: float = 10.0,
    input_size: tuple[int, int] | None = None,
    grey: bool = False,
) -> OpenCVDevice:
    """Open an rtsp/http(s) stream with FFmpeg; ``timeout`` bounds the open and each read."""
    milliseconds = int(timeout * 1000)
    capture = cv2.VideoCapture(
        uri,
        cv2.CAP_FFMPEG,
        [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            milliseconds,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            milliseconds,
        ],
    )
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"the stream {uri!r} could not be opened", hint=STREAM_HINT)
    return OpenCVDevice(capture, input_size, grey=grey)


def camera_source(
    device: int | str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    stall_timeout: float = 5.0,
    backoff: Backoff | None = None,
    retry_at_start: bool = False,
    input_size: tuple[int, int] | None = None,
    grey: bool = False,
) -> LiveSource:
    target = int(device) if isinstance(device, str) and device.isdigit() else device
    return LiveSource(
        f"camera:{target}",
        lambda: open_camera(
            target, width=width, height=height, fps=fps, input_size=input_size, grey=grey
        ),
        stall_timeout=stall_timeout,
        backoff=backoff,
        retry_at_start=retry_at_start,
        fps=fps,
    )


def stream_source(
    uri: str,
    *,
    open_timeout: float = 10.0,
    stall_timeout: float = 5.0,
    backoff: Backoff | None = None,
    retry_at_start: bool = False,
    input_size: tuple[int, int] | None = None,
    grey: bool = False,
) -> LiveSource:
    return LiveSource(
        uri,
        lambda: open_stream(uri, timeout=open_timeout, input_size=input_size, grey=grey),
        stall_timeout=stall_timeout,
        backoff=backoff,
        retry_at_start=retry_at_start,
    )


class VideoFile:
    """A video file read frame by frame, nothing dropped; ``loop`` wraps around at the end,
    ``pace`` plays it at the file's own frame rate (else as fast as the model goes).

    ``input_size`` (the model's width, height) lets an MJPEG file be decoded at 1/2, 1/4
    or 1/8 of its size when that still covers the model's input (``edge.sources.mjpeg``),
    straight to grey with ``grey`` (a grey model); ``reduction`` is the factor in use
    (1 = full decode)."""

    live = False

    def __init__(
        self,
        path: str,
        *,
        loop: bool = False,
        pace: bool = False,
        input_size: tuple[int, int] | None = None,
        grey: bool = False,
    ) -> None:
        if not Path(path).is_file():
            raise SourceError(
                f"video file {path!r} does not exist",
                hint="give the path of a video file, or an rtsp:// or http(s):// URL",
            )
        self._capture: Any = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(
                f"OpenCV could not open the video file {path!r}",
                hint="check that the file is a video OpenCV can decode (mp4/avi/mkv); "
                "re-encode it with `ffmpeg -i IN -c:v libx264 OUT.mp4` if it is not",
            )
        self.name = Path(path).name
        self.loop = loop
        native = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps: float | None = native if 0 < native < 1000 else None
        self.pace = pace and self.fps is not None
        self.size = (
            int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        self._reduced = self._reduced_decoder(input_size, grey)
        self.reduction = self._reduced.factor if self._reduced is not None else 1

    def _reduced_decoder(
        self, input_size: tuple[int, int] | None, grey: bool
    ) -> ReducedDecoder | None:
        factor = reduction(self.size, input_size)
        if factor == 1 or not is_mjpeg(self._capture) or not ask_compressed(self._capture):
            return None
        return ReducedDecoder(factor, grey=grey)

    def _read(self) -> tuple[bool, Image | None]:
        ok, image = self._capture.read()
        if not ok or self._reduced is None:
            return ok, image
        return True, self._reduced(image)

    def __iter__(self) -> Iterator[Frame]:
        index, in_pass = 0, 0
        start = time.monotonic()
        source_size = self.size if self._reduced is not None else None
        while self._capture is not None:
            ok, image = self._read()
            if ok and image is None:  # a frame libjpeg cannot decode: skip it, as read() does
                continue
            if not ok:
                if self.loop and in_pass > 0:
                    self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                    in_pass = 0
                    continue
                return
            if self.pace and self.fps:
                delay = start + index / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield Frame(
                _as_bgr(image, keep_grey=self._reduced is not None),
                index,
                time.time(),
                self.name,
                source_size=source_size,
            )
            index += 1
            in_pass += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
