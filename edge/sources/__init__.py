"""Frame sources and the one factory that builds them from config.

``parse_source_spec`` turns the command line's SOURCE SPEC into a config dict, so a
flag and a config file go through the same validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.config import CameraSource, ImagesSource, SourceConfig, SyntheticSource, VideoSource
from edge.errors import UsageError
from edge.sources.base import Source
from edge.sources.opencv import OpenCVSource, is_url

__all__ = ["Source", "open_source", "parse_source_spec"]


def parse_source_spec(spec: str) -> dict[str, Any]:
    """``synthetic`` | ``0`` | ``/dev/video0`` | file | URL | folder -> a [source] table."""
    if spec == "synthetic":
        return {"kind": "synthetic"}
    if spec.isdigit() or spec.startswith("/dev/video"):
        return {"kind": "camera", "device": int(spec) if spec.isdigit() else spec}
    if spec.startswith("picamera2"):
        raise UsageError(
            "the picamera2 source is not part of this release yet",
            hint="on a Raspberry Pi use the camera through V4L2 meanwhile (--source /dev/video0)",
        )
    if is_url(spec):
        return {"kind": "video", "uri": spec}
    if Path(spec).is_dir():
        return {"kind": "images", "path": spec}
    return {"kind": "video", "uri": spec}


def open_source(config: SourceConfig) -> Source:
    """Build the source a config describes (imports stay inside each branch's module)."""
    if isinstance(config, SyntheticSource):
        from edge.sources.synthetic import SyntheticCamera

        return SyntheticCamera(
            width=config.width, height=config.height, fps=config.fps, seed=config.seed,
            hold_frames=config.hold_frames, digit_scale=config.digit_scale,
            digit_count=config.digits, freeze_after=config.freeze_after,
        )
    if isinstance(config, CameraSource):
        return OpenCVSource.camera(config.device, width=config.width, height=config.height,
                                   fps=config.fps)
    if isinstance(config, VideoSource):
        return OpenCVSource.video(config.uri, loop=config.loop)
    if isinstance(config, ImagesSource):
        from edge.sources.images import ImageFolder

        return ImageFolder(config.path, loop=config.loop)
    raise AssertionError(f"unhandled source config {config!r}")  # the union is exhaustive
