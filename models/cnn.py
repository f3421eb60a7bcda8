"""The seed article's CNN digit classifier.

The model takes RAW pixels (float 0..255, shape ``(28, 28, 1)``) and divides by 255
itself with a ``Rescaling`` layer. Keeping the normalisation inside the model is what
makes full-int8 exact at the input: calibration sees values 0..255, so the int8 input
tensor gets scale 1.0 and zero point -128, and a camera's uint8 pixel minus 128 is the
int8 input with no rounding. The manifest then says ``scale=1.0, offset=0.0``.
"""

from __future__ import annotations

from typing import Any

import keras

NAME = "digits_cnn"


def build_cnn(input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10) -> Any:
    """Conv32-Pool-Conv64-Pool-Dense128-Dense(softmax); about 225k parameters."""
    return keras.Sequential(
        [
            keras.Input(shape=input_shape, name="pixels"),
            keras.layers.Rescaling(1.0 / 255.0, name="rescale"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="dense"),
            keras.layers.Dense(num_classes, activation="softmax", name="probabilities"),
        ],
        name=NAME,
    )
