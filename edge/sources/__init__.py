"""Frame sources and the one factory that builds them from config.

``parse_source_spec`` turns the command line's SOURCE SPEC into a config dict, so a
flag and a config file go through the same validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.config.sources import (
    CameraSourceConfig,
    ImagesSourceConfig,
    LiveOptions,
    PiCamera2SourceConfig,
    SourceConfig,
    SyntheticSourceConfig,
    VideoSourceConfig,
)
from edge.errors import UsageError
from edge.sources.base import Source

__all__ = ["Source", "open_source", "parse_source_spec"]


def parse_source_spec(spec: str) -> dict[str, Any]:
    """``synthetic`` | ``0`` | ``/dev/video0`` | ``picamera2[:N|:MODEL]`` | file | URL |
    folder -> a [source] table."""
    if not spec.strip():
        raise UsageError(
            "--source is empty",
            hint="give a source (synthetic, 0, /dev/video0, a file, a folder, a URL, "
            "picamera2); an empty shell variable ($CAM) gives an empty --source",
        )
    if spec == "synthetic":
        return {"kind": "synthetic"}
    if spec.isdigit() or spec.startswith("/dev/video"):
        return {"kind": "camera", "device": int(spec) if spec.isdigit() else spec}
    if spec == "picamera2" or spec.startswith("picamera2:"):
        _, _, which = spec.partition(":")
        if spec.endswith(":") or (which and not which.strip()):
            raise UsageError(
                f"source {spec!r} names no camera",
                hint="use picamera2, picamera2:1 or picamera2:imx708",
            )
        return {
            "kind": "picamera2",
            "camera": (int(which) if which.isdigit() else which) if which else 0,
        }
    if _is_url(spec):
        return {"kind": "video", "uri": spec}
    if Path(spec).is_dir():
        return {"kind": "images", "path": spec}
    return {"kind": "video", "uri": spec}


def open_source(
    config: SourceConfig,
    *,
    input_size: tuple[int, int] | None = None,
    input_resize: str = "stretch",
    keep_full: bool = False,
    reduced_decode: bool = False,
    input_colour: str = "bgr",
) -> Source:
    """Build the source a config describes (imports stay inside each branch's module).

    ``input_size`` (width, height) and ``input_resize`` describe the model's input: the Pi
    camera sizes its lores stream from them. ``keep_full`` asks a source that has a larger
    picture than the one the model sees (the Pi camera's main stream) to attach it to
    each frame, for snapshots. ``reduced_decode`` lets an MJPEG file, webcam or stream be
    decoded at the smallest size that still covers ``input_size`` (nothing needs the full
    picture), and straight to grey when ``input_colour`` is ``gray``.
    """
    if isinstance(config, SyntheticSourceConfig):
        from edge.sources.synthetic import SyntheticCamera

        return SyntheticCamera(
            width=config.width,
            height=config.height,
            fps=config.fps,
            seed=config.seed,
            hold_frames=config.hold_frames,
            digit_scale=config.digit_scale,
            digit_count=config.digits,
            freeze_after=config.freeze_after,
            on_demand=config.on_demand,
        )
    if isinstance(config, CameraSourceConfig):
        from edge.sources.opencv import camera_source

        return camera_source(
            config.device,
            width=config.width,
            height=config.height,
            fps=config.fps,
            **_reduced(input_size, input_colour, reduced_decode),
            **_live_options(config),
        )
    if isinstance(config, VideoSourceConfig):
        from edge.sources.opencv import VideoFile, stream_source

        if _is_url(config.uri):
            return stream_source(
                config.uri,
                open_timeout=config.open_timeout,
                **_reduced(input_size, input_colour, reduced_decode),
                **_live_options(config),
            )
        return VideoFile(
            config.uri,
            loop=config.loop,
            pace=config.pace,
            **_reduced(input_size, input_colour, reduced_decode),
        )
    if isinstance(config, ImagesSourceConfig):
        from edge.sources.images import ImageFolder

        return ImageFolder(config.path, loop=config.loop)
    if isinstance(config, PiCamera2SourceConfig):
        from edge.sources.picamera import lores_size, picamera2_source

        main = (config.width, config.height)
        lores = lores_size(input_size or (320, 240), main, input_resize)
        lores = (config.lores_width or lores[0], config.lores_height or lores[1])
        return picamera2_source(
            camera=config.camera,
            main=main,
            lores=lores,
            fps=config.fps,
            pixel_format=config.format,
            buffer_count=config.buffer_count,
            capture_timeout=config.capture_timeout,
            keep_full=keep_full,
            **_live_options(config),
        )
    raise AssertionError(f"unhandled source config {config!r}")  # the union is exhaustive


def _reduced(input_size: tuple[int, int] | None, colour: str, allowed: bool) -> dict[str, Any]:
    """The OpenCV sources' reduced-decode arguments (``edge.sources.mjpeg``)."""
    if not allowed:
        return {"input_size": None, "grey": False}
    return {"input_size": input_size, "grey": colour == "gray"}


def _is_url(uri: str) -> bool:
    from edge.sources.opencv import is_url

    return is_url(uri)


def _live_options(config: LiveOptions) -> dict[str, Any]:
    from edge.sources.live import Backoff

    return {
        "stall_timeout": config.stall_timeout,
        "backoff": Backoff(config.reconnect_delay, config.reconnect_delay_max),
        "retry_at_start": config.retry_at_start,
    }
