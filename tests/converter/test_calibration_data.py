"""Reading calibration and evaluation data: formats, shapes, and the errors users see."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from converter.calibration import Calibration, load_calibration
from converter.evaluate import load_eval
from edge.errors import DataError
from edge.model.manifest import InputSpec
from edge.processing.preprocess import model_values, prepare_pixels

GRAY = InputSpec(width=28, height=28, channels=1, colour="gray")
RGB = InputSpec(width=16, height=12, channels=3, colour="rgb", resize="crop")


def test_folder_without_images_names_the_folder_and_extensions(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError) as info:
        load_calibration(tmp_path, GRAY)
    message = str(info.value)
    assert str(tmp_path) in message and "contains no images" in message
    assert ".png" in message and ".jpg" in message
    assert "fix:" in message


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_calibration(tmp_path / "absent.npz", GRAY)


def test_npz_without_x_lists_what_it_has(tmp_path: Path) -> None:
    np.savez(tmp_path / "cal.npz", images=np.zeros((4, 28, 28)))
    with pytest.raises(DataError, match=r"has arrays \['images'\]; expected 'x'"):
        load_calibration(tmp_path / "cal.npz", GRAY)


@pytest.mark.parametrize(
    ("shape", "spec", "expected"),
    [
        ((4, 32, 32), GRAY, "[4, 32, 32, 1]"),
        ((4, 28, 28, 3), GRAY, "[4, 28, 28, 3]"),
        ((28, 28), GRAY, "[28, 28]"),
        ((4, 12, 16), RGB, "[4, 12, 16]"),  # no channel axis is invented for 3 channels
    ],
)
def test_wrong_shape_names_both_shapes(
    tmp_path: Path, shape: tuple[int, ...], spec: InputSpec, expected: str
) -> None:
    np.save(tmp_path / "cal.npy", np.zeros(shape, np.float32))
    with pytest.raises(DataError) as info:
        load_calibration(tmp_path / "cal.npy", spec)
    message = str(info.value)
    assert expected in message
    assert f"[N, {spec.height}, {spec.width}, {spec.channels}]" in message


def test_arrays_are_taken_as_model_inputs(tmp_path: Path) -> None:
    x = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    np.save(tmp_path / "cal.npy", x)
    calibration = load_calibration(tmp_path / "cal.npy", GRAY)
    assert calibration.x.shape == (3, 28, 28, 1) and calibration.x.dtype == np.float32
    np.testing.assert_array_equal(calibration.x[..., 0], x)  # no scaling: raw model inputs


def test_large_sets_are_subsampled_evenly(tmp_path: Path) -> None:
    x = np.arange(1000, dtype=np.float32)[:, None, None, None] * np.ones((1, 28, 28, 1))
    np.save(tmp_path / "cal.npy", x)
    calibration = load_calibration(tmp_path / "cal.npy", GRAY, max_samples=10)
    assert calibration.samples == 10
    assert calibration.x[0, 0, 0, 0] == 0 and calibration.x[-1, 0, 0, 0] == 999


def test_pickled_arrays_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "cal.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read"):
        load_calibration(tmp_path / "cal.npy", GRAY)


def test_images_go_through_the_device_preprocessing(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (48, 80, 3), dtype=np.uint8) for _ in range(3)]
    (tmp_path / "sub").mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / ("sub" if i else ".") / f"f{i}.png"), frame)
    calibration = load_calibration(tmp_path, RGB)
    assert calibration.x.shape == (3, 12, 16, 3)
    expected = model_values(prepare_pixels(frames[0], RGB)[0], RGB)
    np.testing.assert_array_equal(calibration.x[0], expected)


def test_sha256_follows_the_data() -> None:
    x = np.zeros((2, 4, 4, 1), np.float32)
    same = Calibration(x.copy(), "a").sha256
    assert Calibration(x, "b").sha256 == same
    y = x.copy()
    y[1, 2, 3, 0] = 1
    assert Calibration(y, "a").sha256 != same
    assert Calibration(x.reshape(2, 4, 2, 2), "a").sha256 != same  # shape is hashed too


def test_eval_npz_checks_labels(tmp_path: Path) -> None:
    x = np.zeros((3, 28, 28), np.uint8)
    np.savez(tmp_path / "e.npz", x=x, y=np.array([0, 1, 10]))
    with pytest.raises(DataError, match=r"class ids range 0\.\.10.*10 classes"):
        load_eval(tmp_path / "e.npz", GRAY, [str(i) for i in range(10)])
    np.savez(tmp_path / "e.npz", x=x, y=np.array([0, 1]))
    with pytest.raises(DataError, match="one integer class id per sample"):
        load_eval(tmp_path / "e.npz", GRAY, [str(i) for i in range(10)])
    np.savez(tmp_path / "e.npz", x=x)
    with pytest.raises(DataError, match="expected 'x' and 'y'"):
        load_eval(tmp_path / "e.npz", GRAY, [str(i) for i in range(10)])


def test_eval_folder_maps_subfolders_to_labels(tmp_path: Path) -> None:
    for label, count in (("cat", 2), ("dog", 1)):
        (tmp_path / label).mkdir()
        for i in range(count):
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), np.zeros((28, 28, 3), np.uint8))
    data = load_eval(tmp_path, GRAY, ["dog", "cat"])
    assert data.y is not None
    assert data.y.tolist() == [1, 1, 0]
    with pytest.raises(DataError, match=r"subfolders \['cat', 'dog'\] that are not labels"):
        load_eval(tmp_path, GRAY, ["0", "1"])
