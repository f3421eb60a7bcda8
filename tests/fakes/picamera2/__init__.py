"""A faithful fake of picamera2 for machines without a Raspberry Pi camera (test fake).

Put ``tests/fakes`` first on ``sys.path`` / ``PYTHONPATH`` and ``import picamera2`` gets
this. It follows picamera2 0.3.36's public API and behaviour as documented in
``shared/notes/picamera2.md`` (read from picamera2's source, not watched on hardware):

- ``Picamera2.global_camera_info()`` lists ``Model Location Rotation Id Num`` dicts and is
  ``[]`` with no camera; ``Picamera2(n)`` indexes that list, so no camera is a bare
  ``IndexError``; a camera already held raises ``RuntimeError('Camera __init__ sequence
  did not complete.')`` caused by ``RuntimeError('Failed to acquire camera: Device or
  resource busy')``.
- ``create_video_configuration`` returns the same dict keys and defaults (main XBGR8888
  1280x720, lores YUV420 at main size, a raw stream unless ``raw=None``, buffer_count 6,
  30 fps ``FrameDurationLimits``, colour space Smpte170m below 1280x720 else Rec709);
  sizes are rounded down to even; stream keys other than format/size/stride/preserve_ar
  raise ``ValueError``.
- ``configure`` validates like picamera2 (``lores stream must be YUV`` on VC4, lores not
  larger than main, even sizes, tuple sizes, known formats and controls, ``FrameRate``
  turned into ``FrameDurationLimits``) and writes ``stride`` and ``framesize`` back into
  the caller's stream dicts. Strides follow the VC4 and PiSP rules: YUV420 luma stride
  is a multiple of 64 bytes on VC4 and 128 on PiSP (320 wide -> 384 on a Pi 5); RGB888
  rows are padded to 32 px on VC4 and 64 bytes on PiSP.
- Buffers: ``start`` makes ``buffer_count`` requests; each request the caller holds is a
  buffer the camera cannot fill, so holding all makes ``capture_request(wait=t)`` raise
  ``TimeoutError``. ``queue=True``: a capture returns the newest completed frame and older
  ones are dropped (gaps in ``SensorTimestamp``). After a timeout the job stays queued
  and swallows (and never releases) the next frame unless ``cancel_all_and_flush()``.
- ``make_array`` returns copies: RGB888 is B,G,R in memory, BGR888 is R,G,B, XRGB8888
  is B,G,R,255, XBGR8888 is R,G,B,255 (padding stripped); YUV420 is ``(h*3//2, stride)``
  with the stride padding kept and filled with non-zero junk, U then V planes of
  ``stride/2`` per row; NV12/NV21 raise ``RuntimeError: Format NV12 not supported``.
  After ``release()``, ``make_array`` raises and a second release raises.
- YUV is encoded with the configured colour space's matrix (BT.601 limited range for
  Smpte170m, BT.709 limited range for Rec709, full-range BT.601 for sYCC).
- A capture with no ``wait`` never returns once the sensor stops (here: until ``close``).

Test controls, read from the environment (so subprocess runs can set them):
``FAKE_PICAMERA2_PLATFORM`` ``pisp`` (default) or ``vc4``, read at import as picamera2
does; ``FAKE_PICAMERA2_CAMERAS`` comma-separated sensor models (default ``imx708``, empty
= no camera); ``FAKE_PICAMERA2_SCENE`` ``bars`` (default: red, green, blue thirds),
``solid:R,G,B`` or ``digits:N`` (the synthetic camera's N-digit scene, as if the camera
looked at a screen showing it); ``FAKE_PICAMERA2_FRAMES`` frames each opened camera
delivers before its sensor stops; ``FAKE_PICAMERA2_BUSY=1`` every camera is held by
another process.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from typing import Any

import cv2
import libcamera
import numpy as np

TimeoutError = TimeoutError  # noqa: PLW0127 - picamera2 re-exports it (3.11: the builtin)

__all__ = ["CompletedRequest", "Picamera2", "Platform", "TimeoutError"]

STREAM_KEYS = ("format", "size", "stride", "preserve_ar")
YUV_FORMATS = ("YUV420", "YVU420", "NV12", "NV21", "YUYV", "YVYU", "UYVY", "VYUY")
RGB_FORMATS = ("RGB888", "BGR888", "XRGB8888", "XBGR8888", "RGB161616", "BGR161616")
KNOWN_CONTROLS = {
    "FrameDurationLimits",
    "NoiseReductionMode",
    "ExposureTime",
    "AnalogueGain",
    "AeEnable",
    "AwbEnable",
    "ScalerCrop",
    "Brightness",
    "Contrast",
}


class Platform(enum.Enum):
    VC4 = "VC4"
    PISP = "PISP"


def _align(value: int, multiple: int) -> int:
    return (value + multiple - 1) // multiple * multiple


def stride_of(fmt: str, width: int, platform: Platform) -> int:
    vc4 = platform is Platform.VC4
    if fmt in ("YUV420", "YVU420", "NV12", "NV21"):
        return _align(width, 64) if vc4 else 2 * _align(width // 2, 64)
    if fmt in ("RGB888", "BGR888"):
        return _align(width, 32) * 3 if vc4 else _align(width * 3, 64)
    if fmt in ("XRGB8888", "XBGR8888"):
        return _align(width, 16) * 4 if vc4 else _align(width, 32) * 4
    if fmt in ("RGB161616", "BGR161616"):
        return _align(width * 6, 64)
    if fmt in ("YUYV", "YVYU", "UYVY", "VYUY"):
        return _align(width * 2, 64)
    return _align(width * 2, 32)  # raw Bayer, 16 bits per pixel unpacked


def _cameras() -> list[str]:
    value = os.environ.get("FAKE_PICAMERA2_CAMERAS", "imx708")
    return [name.strip() for name in value.split(",") if name.strip()]


def _scene(width: int, height: int, frame: int) -> np.ndarray:
    """What the sensor sees, as true R,G,B at ``(height, width, 3)``."""
    spec = os.environ.get("FAKE_PICAMERA2_SCENE", "bars")
    if spec.startswith("solid:"):
        rgb = [int(v) for v in spec[6:].split(",")]
        return np.broadcast_to(np.asarray(rgb, np.uint8), (height, width, 3)).copy()
    if spec.startswith("digits:"):
        from edge.sources.synthetic import SyntheticCamera

        camera = SyntheticCamera(width=width, height=height, fps=None, digit_count=int(spec[7:]))
        return np.ascontiguousarray(camera.render(frame)[:, :, ::-1])
    scene = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    scene[:, :third, 0] = 255
    scene[:, third : 2 * third, 1] = 255
    scene[:, 2 * third :, 2] = 255
    return scene


def _yuv_matrix(colour_space: Any) -> tuple[np.ndarray, bool]:
    """RGB -> YCbCr coefficients and whether the range is limited (16-235)."""
    name = getattr(colour_space, "name", "Rec709")
    kr, kb = (0.2126, 0.0722) if name == "Rec709" else (0.299, 0.114)
    kg = 1 - kr - kb
    matrix = np.asarray(
        [
            [kr, kg, kb],
            [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
            [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))],
        ]
    )
    return matrix, name != "sYCC"


def encode(rgb: np.ndarray, fmt: str, stride: int, colour_space: Any) -> np.ndarray:
    """True-colour RGB -> the stream's padded 1-D buffer, as the ISP writes it."""
    h, w = rgb.shape[:2]
    framesize = stride * h * 3 // 2 if fmt in ("YUV420", "YVU420") else stride * h
    junk = (np.arange(framesize, dtype=np.uint32) * 131 + 7) % 251 + 3  # never 0
    buffer = junk.astype(np.uint8)
    if fmt in ("RGB888", "BGR888", "XRGB8888", "XBGR8888"):
        pixels = rgb[:, :, ::-1] if fmt in ("RGB888", "XRGB8888") else rgb
        if fmt.startswith("X"):
            pixels = np.concatenate([pixels, np.full((h, w, 1), 255, np.uint8)], axis=2)
        rows = buffer.reshape(h, stride)
        rows[:, : pixels.shape[1] * pixels.shape[2]] = pixels.reshape(h, -1)
        return buffer
    if fmt in ("YUV420", "YVU420"):
        matrix, limited = _yuv_matrix(colour_space)
        ycc = rgb.astype(np.float64) / 255 @ matrix.T
        if limited:
            y = 16 + 219 * ycc[:, :, 0]
            cb, cr = 128 + 224 * ycc[:, :, 1], 128 + 224 * ycc[:, :, 2]
        else:
            y, cb, cr = 255 * ycc[:, :, 0], 128 + 255 * ycc[:, :, 1], 128 + 255 * ycc[:, :, 2]
        y_plane = np.clip(np.round(y), 0, 255).astype(np.uint8)

        def subsample(plane: np.ndarray) -> np.ndarray:
            quarter: np.ndarray = plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
            return np.clip(np.round(quarter), 0, 255).astype(np.uint8)

        u_plane, v_plane = subsample(cb), subsample(cr)
        if fmt == "YVU420":
            u_plane, v_plane = v_plane, u_plane
        buffer.reshape(h * 3 // 2, stride)[:h, :w] = y_plane
        half = stride // 2
        for offset, plane in ((stride * h, u_plane), (stride * h + half * (h // 2), v_plane)):
            region = buffer[offset : offset + half * (h // 2)].reshape(h // 2, half)
            region[:, : w // 2] = plane
        return buffer
    raise NotImplementedError(f"the fake does not encode {fmt}")


class CompletedRequest:
    """One captured frame: every stream's buffer plus metadata, holding one camera buffer."""

    def __init__(
        self, camera: Picamera2, buffers: dict[str, np.ndarray], metadata: dict[str, Any]
    ) -> None:
        self._camera = camera
        self._buffers = buffers
        self._metadata = metadata
        self._refcount = 1
        assert camera.camera_config is not None  # only a configured camera makes requests
        self.config: dict[str, Any] = camera.camera_config

    def acquire(self) -> None:
        with self._camera._lock:
            if self._refcount == 0:
                raise RuntimeError("CompletedRequest: acquiring lock with ref_count 0")
            self._refcount += 1

    def release(self) -> None:
        with self._camera._lock:
            self._refcount -= 1
            if self._refcount < 0:
                raise RuntimeError("CompletedRequest: lock now has negative ref_count")
            if self._refcount == 0:
                self._buffers = {}
                self._camera._held -= 1
                self._camera._lock.notify_all()

    def make_buffer(self, name: str) -> np.ndarray:
        if name not in self._buffers:
            raise RuntimeError(f"Stream {name!r} is not defined")
        return self._buffers[name].copy()

    def make_array(self, name: str) -> np.ndarray:
        buffer = self.make_buffer(name)
        stream = self.config[name]
        fmt, (w, h), stride = stream["format"], stream["size"], stream["stride"]
        if fmt in ("RGB888", "BGR888"):
            return np.ascontiguousarray(buffer.reshape(h, stride)[:, : w * 3].reshape(h, w, 3))
        if fmt in ("XRGB8888", "XBGR8888"):
            return np.ascontiguousarray(buffer.reshape(h, stride)[:, : w * 4].reshape(h, w, 4))
        if fmt in ("YUV420", "YVU420"):
            return buffer.reshape(h * 3 // 2, stride)  # "We leave any packing in there"
        raise RuntimeError(f"Format {fmt} not supported")

    def get_metadata(self) -> dict[str, Any]:
        assert self._buffers, "request already released"  # what picamera2 does
        return dict(self._metadata)


class Picamera2:
    platform = (
        Platform.VC4
        if os.environ.get("FAKE_PICAMERA2_PLATFORM", "pisp").lower() == "vc4"
        else Platform.PISP
    )
    _acquired: set[int] = set()  # noqa: RUF012 - process-wide, like libcamera's manager

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        return [
            {
                "Model": model,
                "Location": 2,
                "Rotation": 180,
                "Id": f"/base/soc/i2c0mux/i2c@1/{model}@1a",
                "Num": num,
            }
            for num, model in enumerate(_cameras())
        ]

    def __init__(self, camera_num: int = 0, tuning: Any = None, allocator: Any = None) -> None:
        del tuning, allocator
        self.is_open = False
        num = self.global_camera_info()[camera_num]["Num"]  # IndexError with no camera
        if os.environ.get("FAKE_PICAMERA2_BUSY") == "1" or num in Picamera2._acquired:
            try:
                raise RuntimeError("Failed to acquire camera: Device or resource busy")
            except RuntimeError as cause:
                raise RuntimeError("Camera __init__ sequence did not complete.") from cause
        Picamera2._acquired.add(num)
        self._num = num
        self.is_open = True
        self.started = False
        self.camera_config: dict[str, Any] | None = None
        self.camera_properties = {"Model": _cameras()[camera_num], "PixelArraySize": (4608, 2592)}
        self.sensor_resolution = (4608, 2592)
        self.controls: dict[str, Any] = {}
        self._lock = threading.Condition()
        self._held = 0
        self._abandoned = 0
        self._last = -1
        self._t0 = 0
        self._closed = threading.Event()
        self._limit = int(os.environ.get("FAKE_PICAMERA2_FRAMES", "0")) or None

    def __enter__(self) -> Picamera2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(
        self,
        main: dict[str, Any],
        lores: dict[str, Any] | None,
        raw: dict[str, Any] | None,
        *,
        main_default: dict[str, Any],
        buffer_count: int,
        controls: dict[str, Any],
        defaults: dict[str, Any],
        colour_space: Any,
        queue: bool,
        use_case: str,
    ) -> dict[str, Any]:
        for stream in (main, lores, raw):
            for key in stream or {}:
                if key not in STREAM_KEYS:
                    raise ValueError(
                        f"Bad key {key!r}: valid stream configuration keys are {STREAM_KEYS}"
                    )
        main_cfg = {**main_default, **main}
        lores_cfg = None
        if lores is not None:
            lores_cfg = {
                "format": "YUV420",
                "size": main_cfg["size"],
                "preserve_ar": False,
                **lores,
            }
        raw_cfg = (
            None if raw is None else {"format": "SBGGR10_CSI2P", "size": main_cfg["size"], **raw}
        )
        for stream in (main_cfg, lores_cfg, raw_cfg):
            if stream is not None and isinstance(stream["size"], tuple):
                stream["size"] = (stream["size"][0] & ~1, stream["size"][1] & ~1)
        if colour_space is None:
            small = main_cfg["size"][0] < 1280 or main_cfg["size"][1] < 720
            colour_space = (
                libcamera.ColorSpace.Smpte170m() if small else libcamera.ColorSpace.Rec709()
            )
        return {
            "use_case": use_case,
            "transform": None,
            "colour_space": colour_space,
            "buffer_count": buffer_count,
            "queue": queue,
            "main": main_cfg,
            "lores": lores_cfg,
            "raw": raw_cfg,
            "controls": {**defaults, **controls},
            "sensor": {},
            "display": "main",
            "encode": "main",
        }

    def create_video_configuration(  # noqa: PLR0917 - picamera2's own signature
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
        transform: Any = None,
        colour_space: Any = None,
        buffer_count: int = 6,
        controls: dict[str, Any] | None = None,
        display: str | None = "main",
        encode: str | None = "main",
        queue: bool = True,
        sensor: dict[str, Any] | None = None,
        use_case: str = "video",
    ) -> dict[str, Any]:
        del transform, display, encode, sensor
        return self._create(
            main or {},
            lores,
            raw,
            buffer_count=buffer_count,
            main_default={"format": "XBGR8888", "size": (1280, 720), "preserve_ar": True},
            controls=controls or {},
            colour_space=colour_space,
            queue=queue,
            defaults={"NoiseReductionMode": "Fast", "FrameDurationLimits": (33333, 33333)},
            use_case=use_case,
        )

    def create_preview_configuration(  # noqa: PLR0917 - picamera2's own signature
        self,
        main: dict[str, Any] | None = None,
        lores: dict[str, Any] | None = None,
        raw: dict[str, Any] | None = None,
        buffer_count: int = 4,
        controls: dict[str, Any] | None = None,
        queue: bool = True,
        **_: Any,
    ) -> dict[str, Any]:
        return self._create(
            main or {},
            lores,
            raw,
            buffer_count=buffer_count,
            main_default={"format": "XBGR8888", "size": (640, 480), "preserve_ar": True},
            controls=controls or {},
            colour_space=libcamera.ColorSpace.Sycc(),
            queue=queue,
            defaults={"NoiseReductionMode": "Minimal", "FrameDurationLimits": (100, 83333)},
            use_case="preview",
        )

    def configure(self, camera_config: dict[str, Any]) -> None:
        if self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        main, lores = camera_config["main"], camera_config.get("lores")
        for name, stream in (("main", main), ("lores", lores)):
            if stream is None:
                continue
            if not isinstance(stream["size"], tuple) or len(stream["size"]) != 2:
                raise RuntimeError(f"size in {name} stream should be (width, height)")
            if stream["format"] not in YUV_FORMATS + RGB_FORMATS:
                raise RuntimeError(f"Bad format {stream['format']} in stream {name}")
            if stream["size"][0] % 2 or stream["size"][1] % 2:
                raise RuntimeError("width and height should be even")
        if lores is not None:
            if lores["size"][0] > main["size"][0] or lores["size"][1] > main["size"][1]:
                raise RuntimeError("lores stream dimensions may not exceed main stream")
            if self.platform is Platform.VC4 and lores["format"] not in YUV_FORMATS:
                raise RuntimeError("lores stream must be YUV")
        controls = dict(camera_config["controls"])
        if "FrameRate" in controls:
            rate = controls.pop("FrameRate")
            controls["FrameDurationLimits"] = (int(1e6 / rate), int(1e6 / rate))
        for name in controls:
            if name not in KNOWN_CONTROLS:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")
        for stream in (main, lores):  # written into the caller's dicts, as picamera2 does
            if stream is None:
                continue
            (w, h), fmt = stream["size"], stream["format"]
            stream["stride"] = stride_of(fmt, w, self.platform)
            factor = 1.5 if fmt in ("YUV420", "YVU420", "NV12", "NV21") else 1
            stream["framesize"] = int(stream["stride"] * h * factor)
        self.controls = controls
        self.camera_config = camera_config

    def stream_configuration(self, name: str = "main") -> dict[str, Any]:
        assert self.camera_config is not None
        stream: dict[str, Any] = self.camera_config[name]
        return stream

    def camera_configuration(self) -> dict[str, Any] | None:
        return self.camera_config

    def set_controls(self, controls: dict[str, Any]) -> None:
        self.controls.update(controls)

    def start(
        self, config: dict[str, Any] | None = None, show_preview: bool | None = False
    ) -> None:
        del show_preview
        if self.started:
            return
        if config is not None:
            self.configure(config)
        if self.camera_config is None:
            self.configure(self.create_preview_configuration())
        self.started = True
        self._t0 = time.monotonic_ns()
        self._last = -1

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        if not self.is_open:
            return
        self.stop()
        self.is_open = False
        Picamera2._acquired.discard(self._num)
        self._closed.set()

    def cancel_all_and_flush(self) -> None:
        with self._lock:
            self._abandoned = 0

    def _frame_ns(self) -> int:
        limits = self.controls.get("FrameDurationLimits", (33333, 33333))
        return int(limits[0]) * 1000

    def capture_request(
        self, wait: Any = None, signal_function: Any = None, flush: Any = None
    ) -> CompletedRequest:
        del signal_function, flush
        if wait is False:
            raise NotImplementedError("the fake implements blocking captures only")
        timeout = None if wait is None or wait is True else float(wait)  # 1.0 == True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._next_frame(deadline)
            if frame is None:
                if self._closed.is_set():
                    raise RuntimeError("Camera closed while capturing (fake)")
                raise TimeoutError()
            if self._abandoned:  # a timed-out job still queued takes it, and keeps its buffer
                with self._lock:
                    self._abandoned -= 1
                continue
            return self._request(frame)

    def _next_frame(self, deadline: float | None) -> int | None:
        """Wait for the newest completed frame index after the last one returned."""
        period = self._frame_ns()
        while not self._closed.is_set():
            with self._lock:
                config = self.camera_config  # set whenever started (start configures)
                ready = self.started and config is not None and self._held < config["buffer_count"]
                newest = (time.monotonic_ns() - self._t0) // period
                if self._limit is not None:
                    newest = min(newest, self._limit - 1)
                if ready and newest > self._last:
                    self._last = newest
                    self._held += 1
                    return int(newest)
            if deadline is not None and time.monotonic() >= deadline:
                with self._lock:
                    self._abandoned += 1
                return None
            self._closed.wait(min(period / 1e9, 0.01))
        return None

    def _request(self, frame: int) -> CompletedRequest:
        assert self.camera_config is not None
        buffers = {}
        main_size = self.camera_config["main"]["size"]
        scene = _scene(main_size[0], main_size[1], frame)
        for name in ("main", "lores"):
            stream = self.camera_config.get(name)
            if stream is None:
                continue
            size = tuple(stream["size"])
            rgb = (
                scene
                if size == tuple(main_size)
                else cv2.resize(scene, size, interpolation=cv2.INTER_AREA)
            )
            buffers[name] = encode(
                rgb, stream["format"], stream["stride"], self.camera_config["colour_space"]
            )
        duration = self._frame_ns() // 1000
        metadata = {
            "SensorTimestamp": self._t0 + frame * self._frame_ns(),
            "FrameDuration": duration,
            "ExposureTime": min(duration, 10000),
            "AnalogueGain": 1.0,
            "DigitalGain": 1.0,
            "ColourGains": (2.0, 1.6),
            "Lux": 400.0,
            "ColourTemperature": 5000,
            "AeLocked": True,
            "ScalerCrop": (0, 0, 4608, 2592),
            "SensorTemperature": 0.0,
        }
        return CompletedRequest(self, buffers, metadata)

    def capture_metadata(self, wait: Any = None) -> dict[str, Any]:
        request = self.capture_request(wait)
        try:
            return request.get_metadata()
        finally:
            request.release()

    def capture_array(self, name: str = "main", wait: Any = None) -> np.ndarray:
        request = self.capture_request(wait)
        try:
            return request.make_array(name)
        finally:
            request.release()

    def capture_arrays(
        self, names: list[str] | None = None, wait: Any = None
    ) -> tuple[list[np.ndarray], dict[str, Any]]:
        request = self.capture_request(wait)
        try:
            return [request.make_array(n) for n in names or ["main"]], request.get_metadata()
        finally:
            request.release()
