"""``edge eval`` on models nobody here shipped: tiny classifiers built with TensorFlow in
the test, converted by TF-Lite directly (no edge manifest, so ``--task classify``).

Each model's answer is known by construction: it averages the pixels and calls a frame
bright (class 0) or dark (class 1) by a wide margin, so on frames of levels far from
mid-grey its decision is certain. Labels are then chosen so that a known share is
right: the figure must be exactly that share.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main

SIZE = 8
SAMPLES = 100
WRONG = 30  # labels that disagree with the frame's brightness


def convert(head: str, path: Path) -> Path:
    """``softmax``: two classes; ``sigmoid``: one value, the probability of class 1."""
    import tensorflow as tf

    keras = tf.keras
    units = 2 if head == "softmax" else 1
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(units, activation=head),
        ]
    )
    # mean m in 0..1: softmax logits (8m - 4, 4 - 8m) pick class 0 for bright frames;
    # the sigmoid of 4 - 8m is the probability of class 1 (dark).
    kernel = [[8.0, -8.0]] if units == 2 else [[-8.0]]
    bias = [-4.0, 4.0] if units == 2 else [4.0]
    model.layers[-1].set_weights([np.asarray(kernel, np.float32), np.asarray(bias, np.float32)])
    samples = np.linspace(0, 255, 64, dtype=np.float32)[:, None, None, None]
    calibration = np.broadcast_to(samples, (64, SIZE, SIZE, 1)).copy()
    calibration[::2, 0, 0, 0] = 255 - calibration[::2, 0, 0, 0]  # full range per pixel
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([calibration[i : i + 1]] for i in range(64))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no statistics for the int8 input
        path.write_bytes(converter.convert())
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("own-models")
    return {head: convert(head, folder / f"{head}.tflite") for head in ("softmax", "sigmoid")}


def frames() -> tuple[np.ndarray, np.ndarray]:
    """uint8 frames (levels 20..70 or 185..235, plus noise) and their true classes."""
    rng = np.random.default_rng(3)
    bright = rng.random(SAMPLES) < 0.5
    level = np.where(bright, rng.integers(185, 236, SAMPLES), rng.integers(20, 71, SAMPLES))
    noise = rng.integers(-15, 16, (SAMPLES, SIZE, SIZE))
    x = np.clip(level[:, None, None] + noise, 0, 255).astype(np.uint8)
    return x, np.where(bright, 0, 1).astype(np.int64)


def measure(model: Path, data: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code = main(["eval", str(model), str(data), "--task", "classify", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result: dict[str, object] = json.loads(out)
    return result


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_known_accuracy(
    head: str, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, truth = frames()
    y = truth.copy()
    y[:WRONG] = 1 - y[:WRONG]
    np.savez(tmp_path / "right.npz", x=x, y=truth)
    np.savez(tmp_path / "partly.npz", x=x, y=y)
    # The same frames as model values (float pixels: the model rescales inside).
    np.savez(tmp_path / "values.npz", x=x[..., None].astype(np.float32), y=y)
    right = measure(models[head], tmp_path / "right.npz", capsys)
    assert right == {
        "model": head,
        "task": "classify",
        "metric": "accuracy",
        "value": 100.0,
        "samples": SAMPLES,
        "data": str(tmp_path / "right.npz"),
    }
    expected = 100.0 * (SAMPLES - WRONG) / SAMPLES
    assert measure(models[head], tmp_path / "partly.npz", capsys)["value"] == expected
    assert measure(models[head], tmp_path / "values.npz", capsys)["value"] == expected


def test_frames_of_another_size_are_resized(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uint8 frames are pixels: a 3-channel 24x32 frame is made grey and resized to 8x8
    by the model's input recipe, as ``edge run`` does with a camera frame."""
    x, truth = frames()
    big = np.repeat(np.repeat(x, 3, axis=1), 4, axis=2)[..., None].repeat(3, axis=3)
    assert big.shape == (SAMPLES, 24, 32, 3)
    np.savez(tmp_path / "big.npz", x=big, y=truth)
    assert measure(models["softmax"], tmp_path / "big.npz", capsys)["value"] == 100.0
