"""``[source]``: one table per kind of frame source (synthetic, camera, video file or
stream, picamera2, image folder), told apart by ``kind``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from edge.config.base import Strict


class SyntheticSourceConfig(Strict):
    """Built-in camera: held-out digits moving over a background, with known truth."""

    kind: Literal["synthetic"] = "synthetic"
    width: int = Field(320, ge=32, le=4096, description="frame width in pixels")
    height: int = Field(240, ge=32, le=4096, description="frame height in pixels")
    fps: float = Field(30.0, gt=0, le=1000, description="frames per second delivered")
    seed: int = Field(
        0, ge=0, le=2**32 - 1, description="seed of the digit order, motion and noise"
    )
    hold_frames: int = Field(15, ge=1, le=1_000_000, description="frames each digit stays in view")
    digit_scale: float = Field(
        0.9, gt=0.1, le=1.5, description="digit tile height as a fraction of the frame height"
    )
    digits: int = Field(
        1,
        ge=1,
        le=4,
        description="digits per frame; more than 1 draws them at non-overlapping "
        "places (2-4, for detector models) and the truth lists every digit's label and box",
    )
    on_demand: bool = Field(
        False,
        description="deliver each frame when the pipeline takes it, dropping none and "
        "ignoring fps, as a video file does (edge bench's pipeline rate: a paced camera "
        "faster than the model spends CPU rendering frames that are then dropped)",
    )
    freeze_after: int | None = Field(
        None,
        ge=0,
        le=10**12,
        description="simulate a hung camera: after this many frames the camera "
        "delivers nothing more and its read blocks until the run stops (no activity, so the "
        "systemd watchdog stops being fed); for testing the watchdog",
    )


class LiveOptions(Strict):
    """How a live source (webcam, stream, Pi camera) survives the real world."""

    stall_timeout: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="seconds without a frame before the source is closed and reopened",
    )
    reconnect_delay: float = Field(
        0.5, gt=0, le=3600, description="first wait before reopening; doubles per failed attempt"
    )
    reconnect_delay_max: float = Field(
        30.0,
        gt=0,
        le=86400,
        description="longest wait between reopening attempts (jitter is added)",
    )
    retry_at_start: bool = Field(
        False,
        description="a source that cannot be opened at start: keep trying in state "
        "'reconnecting' instead of exiting 1 (the service template sets this)",
    )


class CameraSourceConfig(LiveOptions):
    """A webcam by index (0) or device path (/dev/video0, Linux), read with OpenCV."""

    kind: Literal["camera"] = "camera"
    device: Annotated[int, Field(ge=0, le=1023)] | str = Field(
        0, description="index (0-1023) or /dev/videoN path"
    )
    width: int | None = Field(None, ge=1, le=16384, description="requested capture width")
    height: int | None = Field(None, ge=1, le=16384, description="requested capture height")
    fps: float | None = Field(None, gt=0, le=1000, description="requested capture frame rate")


class VideoSourceConfig(LiveOptions):
    """A video file (read without dropping) or an rtsp/http(s) stream (live, reopened on
    failure; the live options apply to streams only)."""

    kind: Literal["video"] = "video"
    uri: str = Field(min_length=1, description="file path or rtsp:// http(s):// URL")
    loop: bool = Field(False, description="restart a file at its end")
    pace: bool = Field(
        False,
        description="play a file at its own frame rate instead of as fast as the model "
        "goes (frames are never dropped either way)",
    )
    open_timeout: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds a stream may take to open, and a read to return",
    )


class PiCamera2SourceConfig(LiveOptions):
    """The Raspberry Pi camera (CSI ribbon, libcamera) through picamera2."""

    kind: Literal["picamera2"] = "picamera2"
    camera: Annotated[int, Field(ge=0, le=63)] | str = Field(
        0, description="camera index (0 = first) or sensor model name such as 'imx708'"
    )
    width: int = Field(1280, ge=64, le=9152, description="main stream width (snapshots)")
    height: int = Field(720, ge=64, le=6944, description="main stream height (snapshots)")
    lores_width: int | None = Field(
        None,
        ge=16,
        le=4096,
        description="width of the stream the model sees; default: just above the "
        "model's input, in the main stream's aspect ratio, even",
    )
    lores_height: int | None = Field(
        None,
        ge=16,
        le=4096,
        description="height of the stream the model sees; default as lores_width",
    )
    fps: float = Field(30.0, gt=0, le=240, description="sensor frame rate (FrameRate control)")
    format: Literal["auto", "rgb", "yuv420"] = Field(
        "auto",
        description="lores pixel format: auto = RGB where the ISP gives it (Pi 5), "
        "YUV420 where lores must be YUV (Pi 4 and earlier)",
    )
    buffer_count: int = Field(4, ge=2, le=16, description="camera buffers (fewer saves CMA)")
    capture_timeout: float = Field(
        2.0, gt=0, le=3600, description="seconds a capture may take before it counts as a stall"
    )


class ImagesSourceConfig(Strict):
    """Every image in a folder, in name order, read without dropping."""

    kind: Literal["images"] = "images"
    path: Path = Field(description="folder of .jpg/.png/... images")
    loop: bool = Field(False, description="start again after the last image")


SourceConfig = Annotated[
    SyntheticSourceConfig
    | CameraSourceConfig
    | VideoSourceConfig
    | ImagesSourceConfig
    | PiCamera2SourceConfig,
    Field(discriminator="kind"),
]
