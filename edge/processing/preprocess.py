"""Frame -> input tensor. The one preprocessing implementation of the project.

The converter calls ``prepare_pixels`` and ``model_values`` to build calibration and
evaluation data, and the device calls ``Preprocessor``, which applies the same two
steps and then quantizes. Mismatched preprocessing between calibration and device is
the most common silent cause of int8 accuracy loss, so there is only this one.

Quantization goes through a 256-entry lookup table: every uint8 pixel value maps to
exactly one tensor value, computed once from the manifest and the input tensor's
(scale, zero point). That is exact, and cheaper per frame than float arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.model.manifest import InputSpec
from edge.types import Image, TensorSpec

_COLOUR_CODES = {"gray": cv2.COLOR_BGR2GRAY, "rgb": cv2.COLOR_BGR2RGB}
_FROM_GREY = {"rgb": cv2.COLOR_GRAY2RGB, "bgr": cv2.COLOR_GRAY2BGR}  # a grey frame (MJPEG)
_NUMPY_DTYPES: dict[str, type[np.generic]] = {
    "float32": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the model's input window sits in the source frame, normalised 0..1.

    A decoder maps boxes from model coordinates back to the frame with it:
    ``frame_x = x0 + model_x * (x1 - x0)`` (letterbox padding gives x0 < 0 or x1 > 1).
    ``width``/``height`` are the model input's size in pixels (0 = unknown), for heads
    that give boxes in input pixels (YOLO).
    """

    x0: float = 0.0
    y0: float = 0.0
    x1: float = 1.0
    y1: float = 1.0
    width: int = 0
    height: int = 0


def prepare_pixels(image: Image, spec: InputSpec) -> tuple[Image, Placement]:
    """Colour-convert and resize a BGR (or grey) frame to the model's ``(height, width,
    channels)``."""
    code = _FROM_GREY.get(spec.colour) if image.ndim == 2 else _COLOUR_CODES.get(spec.colour)
    pixels: Image = np.asarray(cv2.cvtColor(image, code), np.uint8) if code is not None else image
    pixels, placement = _resize(pixels, spec)
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    return pixels, replace(placement, width=spec.width, height=spec.height)


def model_values(pixels: npt.NDArray[np.uint8], spec: InputSpec) -> npt.NDArray[np.float32]:
    """The float values the Keras model takes for these pixels: ``pixel * scale + offset``."""
    return (pixels.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset)).astype(
        np.float32
    )


def quantize(values: npt.NDArray[np.float32], tensor: TensorSpec) -> npt.NDArray[np.generic]:
    """Float model values -> the dtype of ``tensor`` with its scale and zero point."""
    dtype = _NUMPY_DTYPES.get(tensor.dtype)
    if dtype is None:
        raise ValueError(f"input tensor dtype {tensor.dtype} is not supported")
    if not tensor.quantized:
        return values.astype(dtype)
    info = np.iinfo(dtype)  # type: ignore[type-var]
    codes = np.round(values / tensor.scale) + tensor.zero_point
    quantized: npt.NDArray[np.generic] = np.clip(codes, info.min, info.max).astype(dtype)
    return quantized


class Preprocessor:
    """BGR frame -> a batch-of-one input tensor, built once per model.

    ``into`` writes the tensor into a buffer the caller owns: the pipeline's model stage
    passes one of a few buffers it allocated once, so no array is allocated per frame.
    Calling the preprocessor instead writes into one buffer allocated here, the same
    array every frame (used before the next call).
    """

    def __init__(self, spec: InputSpec, tensor: TensorSpec) -> None:
        expected = (1, spec.height, spec.width, spec.channels)
        colour_channels = 1 if spec.colour == "gray" else 3
        if (
            colour_channels != spec.channels
            or len(tensor.shape) != 4
            or tensor.shape[3] != colour_channels
        ):
            raise ConfigError(
                f"colour {spec.colour!r} gives {colour_channels} channel(s) but the model's "
                f"input tensor {tensor.name!r} is {list(tensor.shape)}",
                hint="the colour override must match the model's channels (gray for 1, rgb/bgr "
                "for 3)",
            )
        if tuple(tensor.shape) != expected:
            raise ConfigError(
                f"the manifest describes input {list(expected)} but the model's input tensor "
                f"{tensor.name!r} is {list(tensor.shape)}",
                hint="the colour override must match the model's channels (gray for 1, rgb/bgr "
                "for 3)",
            )
        self.spec = spec
        self.tensor = tensor
        self._lut = quantize(model_values(np.arange(256, dtype=np.uint8), spec), tensor)
        self.buffer: npt.NDArray[np.generic] = np.empty(expected, self._lut.dtype)

    def __call__(self, image: Image) -> tuple[npt.NDArray[np.generic], Placement]:
        return self.buffer, self.into(image, self.buffer)

    def into(self, image: Image, out: npt.NDArray[np.generic]) -> Placement:
        """Write the tensor for ``image`` into ``out`` (shape ``(1, h, w, c)``, the input
        dtype). Keeps no reference to ``out``."""
        pixels, placement = prepare_pixels(image, self.spec)
        # mode="clip" lets numpy write straight into the buffer (uint8 indices are always
        # in range; the default mode="raise" buffers the output).
        np.take(self._lut, pixels, out=out[0], mode="clip")
        return placement


def _resize(pixels: Image, spec: InputSpec) -> tuple[Image, Placement]:
    h, w = pixels.shape[:2]
    if spec.resize == "crop":
        # Centre crop to the model's aspect ratio, then scale: nothing is distorted.
        target = spec.width / spec.height
        if w / h > target:
            cw, ch = round(h * target), h
        else:
            cw, ch = w, round(w / target)
        x, y = (w - cw) // 2, (h - ch) // 2
        pixels = pixels[y : y + ch, x : x + cw]
        placement = Placement(x / w, y / h, (x + cw) / w, (y + ch) / h)
        return _scale(pixels, spec.width, spec.height), placement
    if spec.resize == "letterbox":
        ratio = min(spec.width / w, spec.height / h)
        nw, nh = max(1, round(w * ratio)), max(1, round(h * ratio))
        canvas = np.zeros((spec.height, spec.width, *pixels.shape[2:]), np.uint8)
        px, py = (spec.width - nw) // 2, (spec.height - nh) // 2
        canvas[py : py + nh, px : px + nw] = _scale(pixels, nw, nh)
        # The model window extends past the frame by the padding, in frame units.
        placement = Placement(-px / nw, -py / nh, (spec.width - px) / nw, (spec.height - py) / nh)
        return canvas, placement
    return _scale(pixels, spec.width, spec.height), Placement()


def _scale(pixels: Image, width: int, height: int) -> Image:
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    shrinking = width < pixels.shape[1] or height < pixels.shape[0]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(pixels, (width, height), interpolation=interpolation), np.uint8)
