from __future__ import annotations

import numpy as np
import pytest

from edge.errors import ConfigError
from edge.model.manifest import InputSpec, default_input_spec
from edge.processing.preprocess import Preprocessor, model_values, prepare_pixels, quantize
from edge.types import TensorSpec

INT8 = TensorSpec("x", 0, (1, 28, 28, 1), "int8", 1.0, -128)


def spec(**kw: object) -> InputSpec:
    base: dict[str, object] = {"width": 28, "height": 28, "channels": 1, "colour": "gray"}
    base.update(kw)
    return InputSpec.model_validate(base)


def test_raw_pixel_int8_input_is_exact() -> None:
    lut = quantize(model_values(np.arange(256, dtype=np.uint8), spec()), INT8)
    assert lut.dtype == np.int8
    np.testing.assert_array_equal(lut.astype(int), np.arange(256) - 128)


def test_device_and_converter_share_one_path() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    tensor_spec = TensorSpec("x", 0, (1, 28, 28, 1), "int8", 0.02, -5)
    device, _ = Preprocessor(spec(scale=1 / 255), tensor_spec)(frame)
    pixels, _ = prepare_pixels(frame, spec(scale=1 / 255))
    offline = quantize(model_values(pixels, spec(scale=1 / 255)), tensor_spec)
    np.testing.assert_array_equal(device[0], offline)


def test_float_input_gets_scaled_values() -> None:
    tensor = TensorSpec("x", 0, (1, 4, 4, 3), "float32")
    frame = np.full((4, 4, 3), 255, np.uint8)
    out, _ = Preprocessor(spec(width=4, height=4, channels=3, colour="rgb", scale=1 / 255), tensor)(
        frame
    )
    assert out.dtype == np.float32 and np.allclose(out, 1.0)


def test_colour_order() -> None:
    frame = np.zeros((2, 2, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR
    rgb, _ = prepare_pixels(frame, spec(width=2, height=2, channels=3, colour="rgb"))
    bgr, _ = prepare_pixels(frame, spec(width=2, height=2, channels=3, colour="bgr"))
    assert rgb[0, 0].tolist() == [0, 0, 200]
    assert bgr[0, 0].tolist() == [200, 0, 0]


def test_crop_placement_is_centred() -> None:
    frame = np.zeros((240, 320, 3), np.uint8)
    pixels, placement = prepare_pixels(frame, spec(resize="crop"))
    assert pixels.shape == (28, 28, 1)
    assert placement.x0 == pytest.approx(0.125) and placement.x1 == pytest.approx(0.875)
    assert (placement.y0, placement.y1) == (0.0, 1.0)


def test_letterbox_pads_and_keeps_aspect() -> None:
    frame = np.full((100, 200, 3), 255, np.uint8)
    pixels, placement = prepare_pixels(frame, spec(width=20, height=20, resize="letterbox"))
    assert pixels[0, 10, 0] == 0 and pixels[10, 10, 0] == 255  # bands above, image inside
    assert placement.y0 < 0 and placement.y1 > 1
    assert (placement.x0, placement.x1) == (0.0, 1.0)


def test_shape_mismatch_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="input tensor"):
        Preprocessor(spec(channels=3, colour="rgb"), INT8)


@pytest.mark.parametrize(
    ("dtype", "zero_point", "expected"), [("int8", -128, -128), ("uint8", 0, 0), ("int8", 0, -128)]
)
def test_default_input_spec_maps_black_to_raw_code(
    dtype: str, zero_point: int, expected: int
) -> None:
    tensor = TensorSpec("x", 0, (1, 8, 8, 3), dtype, 0.5, zero_point)
    recipe = default_input_spec(tensor)
    lut = quantize(model_values(np.arange(256, dtype=np.uint8), recipe), tensor)
    assert int(lut[0]) == expected
    assert int(lut[255]) - int(lut[0]) == 255


@pytest.mark.parametrize(("dtype", "black", "white"), [("uint8", 0, 255), ("int8", -128, 127)])
def test_unquantized_integer_input_takes_raw_pixels(dtype: str, black: int, white: int) -> None:
    """A uint8 input with no quantization parameters (scale 0) takes the pixel itself, not
    the 0..1 float recipe, which would truncate every pixel to 0 or 1."""
    tensor = TensorSpec("x", 0, (1, 8, 8, 3), dtype)
    recipe = default_input_spec(tensor)
    lut = quantize(model_values(np.arange(256, dtype=np.uint8), recipe), tensor)
    assert (int(lut[0]), int(lut[128]), int(lut[255])) == (black, black + 128, white)
