"""Shared fixtures: a tiny digit CNN trained for a few seconds, and its data files.

Session-scoped because TensorFlow work dominates the run time: the model is trained
once and each conversion is shared by the tests that read its outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.data import split_digits


@pytest.fixture(scope="session")
def digits() -> dict[str, np.ndarray]:
    split = split_digits()
    x_train, y_train = split.part("train")
    x_hold, y_hold = split.part("holdout")
    return {"x_train": x_train, "y_train": y_train, "x_hold": x_hold, "y_hold": y_hold}


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, digits: dict[str, np.ndarray]) -> Path:
    """``tiny.keras`` (Rescaling inside, softmax head) plus ``cal.npz`` and ``eval.npz``."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1), name="pixels"),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    # The split is grouped by label: stride through it so every class is present.
    x = digits["x_train"][::3, ..., None].astype(np.float32)
    model.fit(x, digits["y_train"][::3], epochs=3, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("tiny")
    model.save(folder / "tiny.keras")
    np.savez(folder / "cal.npz", x=digits["x_train"][1::55])  # (N, 28, 28): channel axis added
    np.savez(folder / "eval.npz", x=digits["x_hold"][::5], y=digits["y_hold"][::5])
    return folder


@pytest.fixture(scope="session")
def converted(tiny_model_dir: Path) -> Any:
    """One int8 conversion of the tiny model through the API: ``(request, report)``."""
    from converter.convert import ConvertRequest, convert

    request = ConvertRequest(
        model=tiny_model_dir / "tiny.keras",
        calibration=tiny_model_dir / "cal.npz",
        eval=tiny_model_dir / "eval.npz",
        latency_seconds=0.05,
        progress=False,
    )
    return request, convert(request)
