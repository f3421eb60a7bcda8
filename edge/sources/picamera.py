"""The Raspberry Pi camera (CSI ribbon, libcamera) through picamera2.

Facts this module relies on (from picamera2's manual and its source, ``picamera2.py``):

- Two processed streams: ``lores`` is what the model sees, sized just above the model's
  input so the ISP does the resize for free; ``main`` stays for snapshots (copied into
  ``Frame.full`` only when asked, since a 1280x720 copy per frame costs CPU on a Pi).
- Pi 5 (PiSP) gives RGB lores. picamera2's "RGB888" is B,G,R in memory (DRM names are
  little-endian), which is OpenCV's order, so it is used as is. Pi 4 and earlier (VC4)
  require a YUV lores: YUV420 is converted once with ``COLOR_YUV2BGR_I420`` (not
  ``COLOR_YUV420p2BGR``, which is YV12 and swaps U and V), then the stride padding is
  cropped (a 320-wide YUV420 array is 384 wide on a Pi 5).
- Every capture has a timeout: without one a capture blocks forever when the sensor
  stops. After a timeout the abandoned job is cancelled, or it would swallow a request.
- The colour space is set to Smpte170m (BT.601, limited range) when lores is YUV, since
  that is the matrix OpenCV's I420 conversion inverts.
- ``SensorTimestamp`` (ns, CLOCK_MONOTONIC as picamera2 uses it) dates the frame.
- No camera and no permission both surface as a bare ``IndexError`` from the
  constructor, so the camera list is checked first. One ``Picamera2`` per camera per
  process: the old instance is closed before a new one is made (picamera2 #1401).

picamera2 is imported only here, inside ``open_picamera2``: it exists only on a Pi.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import cv2
import numpy as np

from edge.errors import ConfigError, SourceError
from edge.sources.live import Backoff, Capture, LiveSource
from edge.types import Image

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "on Raspberry Pi OS: `sudo apt install python3-picamera2` (add --no-install-recommends "
    "on Lite), and create the venv with the system Python and `--system-site-packages` "
    "(python3 -m venv --system-site-packages .venv); pip cannot install picamera2's "
    "libcamera bindings. Keep numpy below 2 in that venv. Not on a Pi? Use a webcam "
    "(--source 0) or the synthetic camera"
)
NO_CAMERA_HINT = (
    "check that the ribbon cable is seated (contacts facing the right way) and list cameras "
    "with `rpicam-hello --list-cameras`; if that finds it, this user may lack access to "
    "/dev/dma_heap, /dev/media* and /dev/video* (add it to the 'video' group)"
)


def lores_size(model: tuple[int, int], main: tuple[int, int], resize: str) -> tuple[int, int]:
    """The smallest even lores size at or above the model input ``(width, height)``.

    For "stretch" that is the model size itself. For "crop" and "letterbox" it keeps the
    main stream's aspect ratio, so the ISP's resize does not squeeze the picture and the
    preprocessor only crops or pads. Never larger than main (picamera2 refuses that).
    """
    width, height = model
    if resize != "stretch":
        aspect = main[0] / main[1]
        if width / height < aspect:
            width = math.ceil(height * aspect)
        else:
            height = math.ceil(width / aspect)
    width, height = width + width % 2, height + height % 2
    return min(width, main[0] - main[0] % 2), min(height, main[1] - main[1] % 2)


def yuv420_to_bgr(array: np.ndarray[Any, Any], width: int) -> Image:
    """picamera2's YUV420 ``(h*3//2, stride)`` array -> BGR ``(h, width, 3)``.

    Converting with the padding and cropping afterwards is exact: the chroma planes'
    stride is exactly half the luma stride, which is the I420 layout OpenCV expects.
    """
    bgr = cv2.cvtColor(array, cv2.COLOR_YUV2BGR_I420)
    return np.ascontiguousarray(bgr[:, :width], np.uint8)


class PiCamera2Device:
    """One configured, started ``Picamera2``, owned by the capture thread."""

    def __init__(
        self,
        camera: Any,
        *,
        lores: tuple[int, int],
        yuv: bool,
        keep_full: bool,
        capture_timeout: float,
        timeout_error: type[BaseException],
    ) -> None:
        self._camera = camera
        self._width = lores[0]
        self._yuv = yuv
        self._keep_full = keep_full
        self._timeout = capture_timeout
        self._timeout_error = timeout_error

    def read(self) -> Capture | None:
        try:
            request = self._camera.capture_request(wait=self._timeout)
        except self._timeout_error:
            # The job stays queued after a timeout and would take the next frame.
            self._camera.cancel_all_and_flush()
            return None
        except RuntimeError as exc:  # the camera went away under us: reopen it
            raise SourceError(f"the camera stopped: {exc}", hint=NO_CAMERA_HINT) from exc
        try:
            lores = request.make_array("lores")
            full = request.make_array("main") if self._keep_full else None
            metadata = request.get_metadata()
        finally:
            request.release()  # a held request is a buffer the camera cannot fill
        image = yuv420_to_bgr(lores, self._width) if self._yuv else np.ascontiguousarray(lores)
        if full is not None and full.ndim == 3 and full.shape[2] == 4:
            full = np.ascontiguousarray(full[:, :, :3])
        return Capture(image, _wall_clock(metadata.get("SensorTimestamp")), full)

    def release(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()


def _wall_clock(sensor_ns: Any) -> float:
    """``SensorTimestamp`` (monotonic ns) -> wall-clock seconds for the record."""
    if not isinstance(sensor_ns, int):
        return time.time()
    return time.time() - (time.monotonic_ns() - sensor_ns) / 1e9


def _import_picamera2() -> Any:
    try:
        import picamera2
    except ImportError as exc:  # also the libcamera binding missing inside picamera2
        raise ConfigError(
            f"the picamera2 source needs the picamera2 package, which cannot be imported "
            f"here ({exc})",
            hint=INSTALL_HINT,
        ) from exc
    except ValueError as exc:  # numpy 2 in the venv against apt's numpy-1 simplejpeg
        raise ConfigError(
            f"picamera2 is installed but fails to import: {exc}",
            hint="pip pulled numpy 2 into the venv; apt's picamera2 stack is built for numpy "
            "1: run `pip install 'numpy<2'` in the venv",
        ) from exc
    return picamera2


def camera_index(cameras: list[dict[str, Any]], wanted: int | str) -> int:
    """The position in picamera2's camera list for an index or a sensor model name."""
    if not cameras:
        raise SourceError(
            "no Raspberry Pi camera was found (libcamera lists none)", hint=NO_CAMERA_HINT
        )
    found = ", ".join(f"{i}: {c.get('Model', '?')}" for i, c in enumerate(cameras))
    if isinstance(wanted, str) and not wanted.isdigit():
        for position, info in enumerate(cameras):
            if str(info.get("Model", "")).lower() == wanted.lower():
                return position
        raise SourceError(
            f"no camera with model {wanted!r}; cameras found: {found}",
            hint="give an index or one of the model names above",
        )
    index = int(wanted)
    if not 0 <= index < len(cameras):
        raise SourceError(
            f"camera index {index} does not exist; cameras found: {found}",
            hint="give an index from the list above",
        )
    return index


def open_picamera2(
    *,
    camera: int | str,
    main: tuple[int, int],
    lores: tuple[int, int],
    fps: float,
    pixel_format: str,
    buffer_count: int,
    capture_timeout: float,
    keep_full: bool,
) -> PiCamera2Device:
    """Find, configure and start the camera; every failure becomes an ``EdgeError``."""
    picamera2 = _import_picamera2()
    cls = picamera2.Picamera2
    index = camera_index(list(cls.global_camera_info()), camera)
    vc4 = str(getattr(cls, "platform", "")).upper().endswith("VC4")
    yuv = pixel_format == "yuv420" or (pixel_format == "auto" and vc4)
    if pixel_format == "rgb" and vc4:
        raise ConfigError(
            "this Raspberry Pi (VC4 ISP: Pi 4 and earlier) gives the lores stream only in YUV",
            hint="set [source] format = 'auto' or 'yuv420'",
        )
    if lores[0] > main[0] or lores[1] > main[1]:
        raise ConfigError(
            f"the lores stream {lores[0]}x{lores[1]} is larger than the main "
            f"stream {main[0]}x{main[1]}",
            hint="raise [source] width/height or lower lores_width/lores_height",
        )
    colour_space = _smpte170m() if yuv else None
    try:
        cam = cls(index)
    except IndexError as exc:  # listed a moment ago, gone now (or no permission)
        raise SourceError(
            "the Raspberry Pi camera disappeared while opening it", hint=NO_CAMERA_HINT
        ) from exc
    except RuntimeError as exc:
        cause = str(exc.__cause__ or exc)
        busy = "busy" in cause.lower()
        raise SourceError(
            f"camera {index} could not be acquired: {cause}",
            hint="another program holds the camera (rpicam-*, another edge run, a notebook): "
            "stop it"
            if busy
            else NO_CAMERA_HINT,
        ) from exc
    try:
        extra = {} if colour_space is None else {"colour_space": colour_space}
        config = cam.create_video_configuration(
            main={"size": main, "format": "RGB888"},
            lores={"size": lores, "format": "YUV420" if yuv else "RGB888"},
            raw=None,
            buffer_count=buffer_count,
            controls={"FrameRate": float(fps)},
            **extra,
        )
        cam.configure(config)
        cam.start()
    except (RuntimeError, ValueError) as exc:  # picamera2's checks: retrying cannot help
        cam.close()
        raise ConfigError(
            f"the camera refused the configuration: {exc}",
            hint="check [source] width/height, lores_width/lores_height (even, "
            "lores not larger than main) and format for this Pi",
        ) from exc
    except OSError as exc:  # CMA memory exhausted: may pass when other users free it
        cam.close()
        raise SourceError(
            f"the camera could not allocate its buffers: {exc}",
            hint="lower [source] buffer_count or width/height, or raise the "
            "CMA size (dtoverlay=vc4-kms-v3d,cma-512)",
        ) from exc
    stream = config["lores"]
    log.debug(
        "picamera2 %s lores %s stride %s", cls.platform, stream.get("size"), stream.get("stride")
    )
    return PiCamera2Device(
        cam,
        lores=tuple(stream["size"]),
        yuv=yuv,
        keep_full=keep_full,
        capture_timeout=capture_timeout,
        timeout_error=picamera2_timeout_error(picamera2),
    )


def _smpte170m() -> Any:
    """BT.601 limited range, the matrix ``COLOR_YUV2BGR_I420`` inverts. picamera2 would
    pick Rec709 for a main stream of 1280x720 or more, and the colours would drift."""
    try:
        import libcamera

        return libcamera.ColorSpace.Smpte170m()
    except (ImportError, AttributeError):
        return None


def picamera2_timeout_error(module: Any) -> type[BaseException]:
    """picamera2 re-exports concurrent.futures.TimeoutError (the builtin from Python 3.11)."""
    error = getattr(module, "TimeoutError", TimeoutError)
    return error if isinstance(error, type) and issubclass(error, BaseException) else TimeoutError


def picamera2_source(
    *,
    camera: int | str,
    main: tuple[int, int],
    lores: tuple[int, int],
    fps: float,
    pixel_format: str,
    buffer_count: int,
    capture_timeout: float,
    keep_full: bool,
    stall_timeout: float,
    backoff: Backoff,
    retry_at_start: bool,
) -> LiveSource:
    _import_picamera2()  # a missing package is a config error: retrying cannot fix it
    name = f"picamera2:{camera}"

    def opener() -> PiCamera2Device:
        return open_picamera2(
            camera=camera,
            main=main,
            lores=lores,
            fps=fps,
            pixel_format=pixel_format,
            buffer_count=buffer_count,
            capture_timeout=capture_timeout,
            keep_full=keep_full,
        )

    return LiveSource(
        name,
        opener,
        stall_timeout=stall_timeout,
        backoff=backoff,
        retry_at_start=retry_at_start,
        fps=fps,
    )
