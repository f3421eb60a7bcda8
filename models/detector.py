"""The project's own digit detector: a small CNN with a CenterNet-style dense head.

Input: raw pixels, float 0..255, ``(96, 96, 1)``; ``Rescaling(1/127.5, offset=-1)`` is
the first layer, so the int8 input tensor gets scale 1.0 (a uint8 pixel - 128 is the
exact int8 input; see the int8 toolchain notes, pitfall 9).

Backbone: four stride-2 stages (48, 24, 12, 6 px grids), the 6 and 12 grids upsampled
and merged into the 24x24 grid (stride 4), then two heads:

- ``heatmap`` ``(24, 24, 10)``, sigmoid: per cell and class, "a digit's centre is here".
- ``boxes`` ``(24, 24, 4)``, linear: the distances from the cell's centre to the box's
  left, top, right and bottom edges, as fractions of the input size (0..~0.45).

The two heads are SEPARATE output tensors on purpose: int8 gives every tensor one
scale, and a single tensor that mixed 0..1 scores with box coordinates would round
every score to zero (the classic broken int8 YOLO export). Each head here gets its own
scale: 1/256 for the sigmoid, about 0.002 (0.2 px) for the distances.

Targets (``encode_targets``): the heatmap is a Gaussian bump per digit at the cell of
its box centre (peak exactly 1, sigma from the box size, max over digits); box distances
are given on the 3x3 cells around the centre, so a peak found one cell off still gets a
good box; other cells hold -1, which the box loss masks out. The mask tests the first
(left) distance for >= 0, so a neighbour cell whose centre lies left of a very narrow
box (a "1") gets no box target either; one to its right keeps a small negative right
distance, which the decoder handles like any other (the distances are signed). Losses: the CenterNet
penalty-reduced focal loss and a masked L1.

Decoding is ``edge.decoders.centernet.decode_centernet``, the device's code, which the
converter's detect task also uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

INPUT_SIZE = 96
STRIDE = 4
GRID = INPUT_SIZE // STRIDE
NUM_CLASSES = 10
NAME = "digits_detector"
HEATMAP = "heatmap"
BOXES = "boxes"
BOX_LOSS_WEIGHT = 10.0


def build_detector(size: int = INPUT_SIZE, num_classes: int = NUM_CLASSES) -> Any:
    """About 493k parameters; outputs ``[heatmap, boxes]`` (a list, named by their layers).

    A list, not a dict: Keras 3 exports list outputs as signature keys ``output_0``,
    ``output_1``, which the converter maps back to ``model.output_names``.
    """
    import keras
    from keras import layers

    def block(x: Any, filters: int, stride: int, name: str) -> Any:
        x = layers.Conv2D(
            filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
        # momentum 0.9, not Keras's 0.99: the moving statistics must settle within a short
        # training run, or inference (which uses them) sees a different network.
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input(shape=(size, size, 1), name="pixels")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = block(x, 16, 2, "s2")  # 48
    s4 = block(block(x, 48, 2, "s4a"), 48, 1, "s4b")  # 24
    # The deep stages are wider than the shallow ones: naming the digit (not finding
    # it) is what limits whole-frame accuracy, and on the 12 and 6 px grids width is
    # cheap (these three stages are about a fifth of the multiply-adds).
    s8 = block(block(s4, 64, 2, "s8a"), 64, 1, "s8b")  # 12
    s16 = block(block(block(s8, 96, 2, "s16a"), 96, 1, "s16b"), 96, 1, "s16c")  # 6
    up8 = layers.UpSampling2D(2, name="up8")(block(s16, 64, 1, "lat16"))
    m8 = block(layers.Add(name="merge8")([up8, s8]), 64, 1, "m8")
    up4 = layers.UpSampling2D(2, name="up4")(block(m8, 48, 1, "lat8"))
    m4 = block(layers.Add(name="merge4")([up4, s4]), 48, 1, "m4")
    heat = block(m4, 48, 1, "heat")
    heatmap = layers.Conv2D(
        num_classes,
        1,
        activation="sigmoid",
        name=HEATMAP,
        # Start every score near 0.01 (CenterNet's prior): focal loss trains stably.
        bias_initializer=keras.initializers.Constant(-4.6),
    )(heat)
    box = block(m4, 32, 1, "box")
    boxes = layers.Conv2D(4, 1, name=BOXES)(box)
    return keras.Model(inputs, [heatmap, boxes], name=NAME)


def encode_targets(
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    image_index: npt.NDArray[np.int64],
    count: int,
    *,
    grid: int = GRID,
    num_classes: int = NUM_CLASSES,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Heatmap ``(count, grid, grid, classes)`` and box ``(count, grid, grid, 4)`` targets."""
    heat = np.zeros((count, grid, grid, num_classes), np.float32)
    ltrb = np.full((count, grid, grid, 4), -1.0, np.float32)
    centres = (np.arange(grid, dtype=np.float32) + 0.5) / grid
    # Digits that are closer get their boxes written last: ties go to the nearer centre.
    for (x0, y0, x1, y1), cls, owner in zip(boxes, classes, image_index, strict=True):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        col = min(grid - 1, int(cx * grid))
        row = min(grid - 1, int(cy * grid))
        sigma = max(0.6, min(x1 - x0, y1 - y0) * grid / 6)
        gx = np.exp(-((np.arange(grid) - col) ** 2) / (2 * sigma**2))
        gy = np.exp(-((np.arange(grid) - row) ** 2) / (2 * sigma**2))
        bump = (gy[:, np.newaxis] * gx[np.newaxis, :]).astype(np.float32)
        np.maximum(heat[owner, :, :, cls], bump, out=heat[owner, :, :, cls])
        heat[owner, row, col, cls] = 1.0
        for r in range(max(0, row - 1), min(grid, row + 2)):
            for c in range(max(0, col - 1), min(grid, col + 2)):
                ltrb[owner, r, c] = (
                    centres[c] - x0,
                    centres[r] - y0,
                    x1 - centres[c],
                    y1 - centres[r],
                )
    return heat, ltrb


def focal_loss(y_true: Any, y_pred: Any) -> Any:
    """CenterNet's penalty-reduced focal loss, normalised by the number of centres."""
    from keras import ops

    p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
    positive = ops.cast(ops.equal(y_true, 1.0), "float32")
    pos_loss = -ops.log(p) * ops.square(1 - p) * positive
    neg_loss = -ops.log(1 - p) * ops.square(p) * ops.power(1 - y_true, 4) * (1 - positive)
    centres = ops.maximum(ops.sum(positive), 1.0)
    return (ops.sum(pos_loss) + ops.sum(neg_loss)) / centres


def box_loss(y_true: Any, y_pred: Any) -> Any:
    """L1 on the cells that carry a box target (the others hold -1)."""
    from keras import ops

    mask = ops.cast(ops.greater_equal(y_true[..., :1], 0.0), "float32")
    total = ops.sum(ops.abs(y_true - y_pred) * mask)
    return BOX_LOSS_WEIGHT * total / ops.maximum(ops.sum(mask), 1.0)
