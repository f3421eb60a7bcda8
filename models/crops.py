"""Camera-like crops of detected digits, and the small classifier that names them.

The second stage (``edge.refine``) names each box a detector found again, from the
picture around it. Its classifier must learn what that picture looks like on the device:
a digit cut out of a camera frame with some background, parts of a neighbour now and
then, a box that is a little off, at any size the camera shows. So the crops are cut
from rendered scenes (``models.scenes``, the detector's own training world), each scene
first enlarged 1 to 3.3 times (digit tiles of 20 to 130 px, as the 320x240 synthetic
camera shows 72 to 120 px ones) with fresh pixel noise, around each digit's true box
moved by a few percent (``jitter``: a detector's box error), by the device's own crop
function (``edge.refine.crop.crop``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge.refine.crop import crop
from models.augment import DigitDistortion
from models.scenes import make_scenes

CROP_SIZE = 28
SCALE_RANGE = (1.0, 3.3)
BOX_JITTER = 0.05  # standard deviation of each edge's shift, as a fraction of the box side
NAME = "digits_crops"


def camera_crops(
    digits: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int64],
    scenes: int,
    *,
    seed: int,
    distort: DigitDistortion | None = None,
    jitter: float = BOX_JITTER,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """About 2.5 crops per scene (``CROP_SIZE`` square, grey) and their labels;
    deterministic for a seed."""
    rendered = make_scenes(digits, labels, scenes, seed=seed, distort=distort)
    rng = np.random.default_rng((seed, 7))
    crops: list[npt.NDArray[np.uint8]] = []
    for i, image in enumerate(rendered.images):
        scale = rng.uniform(*SCALE_RANGE)
        big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        noise = rng.integers(0, 12, size=big.shape, dtype=np.uint8)
        big = np.asarray(cv2.add(big, noise), np.uint8)
        boxes, _ = rendered.truth(i)
        for box in boxes:
            crops.append(crop(big, _jittered(box, rng, jitter), (CROP_SIZE, CROP_SIZE)))
    return np.stack(crops), rendered.classes


def _jittered(
    box: npt.NDArray[np.float32], rng: np.random.Generator, jitter: float
) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    dx0, dx1 = rng.normal(0, jitter * w, 2)
    dy0, dy1 = rng.normal(0, jitter * h, 2)
    nx0, nx1 = sorted((x0 + dx0, x1 + dx1))
    ny0, ny1 = sorted((y0 + dy0, y1 + dy1))
    return nx0, ny0, max(nx1, nx0 + 1e-3), max(ny1, ny0 + 1e-3)


def build_crop_classifier(num_classes: int = 10) -> Any:
    """Five 3x3 conv layers (32, 32, pool, 64, 64, pool, 128) with batch norm, global
    average pooling, dropout, softmax; about 0.16 M parameters. Takes raw pixels 0..255
    and rescales inside, as ``models.cnn`` does (an exact int8 input)."""
    import keras
    from keras import layers

    def block(t: Any, filters: int) -> Any:
        t = layers.Conv2D(filters, 3, padding="same", use_bias=False)(t)
        t = layers.BatchNormalization()(t)
        return layers.ReLU()(t)

    pixels = keras.Input((CROP_SIZE, CROP_SIZE, 1), name="pixels")
    t = layers.Rescaling(1.0 / 255.0, name="rescale")(pixels)
    t = layers.MaxPooling2D()(block(block(t, 32), 32))
    t = layers.MaxPooling2D()(block(block(t, 64), 64))
    t = layers.GlobalAveragePooling2D()(block(t, 128))
    t = layers.Dropout(0.3)(t)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(t)
    return keras.Model(pixels, probabilities, name=NAME)
