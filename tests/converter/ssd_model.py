"""A tiny SSD-style detector built here (untrained, weights seeded), for the detect task.

Backbone -> per-anchor box encodings ``[N, 4]`` and class logits ``[N, C]`` on a 4x4 grid
of anchors (priors), then the post-processing TF-Lite's ``TFLite_Detection_PostProcess``
does, written with plain ops so the TF converter quantizes it: decode the encodings
against the anchors (the TF object-detection box coder: centre offsets scaled by 10,
log sizes by 5), sigmoid class scores, the best class per anchor, the top ``detections``
anchors by score. It ends in the op's four outputs, which the device's ``ssd`` decoder
reads (``edge/decoders/ssd.py``): boxes ``[1, K, 4]`` ymin, xmin, ymax, xmax
normalised, classes ``[1, K]`` (0 = the first real class), scores ``[1, K]``, count
``[1, 1]``. Unlike the real op there is no NMS: untrained, nothing to suppress matters.

``PostProcess`` is a custom layer, so converting the ``.keras`` file needs
``--custom-objects tests.converter.ssd_model`` (as a third-party model with its own
layers would).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from converter.quiet import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402
from keras import ops  # noqa: E402

CLASSES = 3
GRID = 4
DETECTIONS = 10
SIZE = 32
LOGIT_GAIN = 40.0


@keras.saving.register_keras_serializable(package="edge_tests")
class PostProcess(keras.layers.Layer):  # type: ignore[misc]
    """Anchors + encodings + logits -> the four outputs of the SSD post-processing op."""

    def __init__(self, anchors: list[list[float]], detections: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.anchors = [list(map(float, a)) for a in anchors]
        self.detections = detections

    def call(self, encodings: Any, logits: Any) -> Any:
        a = np.asarray(self.anchors, np.float32)  # (N, 4): cy, cx, h, w
        zeros = np.zeros_like(a[:, :2])
        # Per anchor [cy', cx', h', w'] with whole-tensor ops only (int8 PACK and XNNPACK's
        # int8 CONCATENATION refuse inputs of different scales, so no slicing and stacking):
        # centres move by encoding / 10 * anchor size, sizes scale by exp(encoding / 5).
        centres = np.concatenate([a[:, :2], zeros], 1) + encodings * np.concatenate(
            [a[:, 2:] / 10.0, zeros], 1
        )
        sizes = np.concatenate([zeros, a[:, 2:]], 1) * ops.exp(
            encodings * np.asarray([0.0, 0.0, 0.2, 0.2], np.float32)
        )
        corners = np.asarray(
            [[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]], np.float32
        )  # -> ymin, xmin, ymax, xmax
        boxes = ops.matmul(centres + sizes, corners)
        probs = ops.sigmoid(logits)
        scores, best = ops.top_k(ops.max(probs, axis=-1), self.detections)
        # tf.gather with batch_dims (keras.ops.take_along_axis lowers to int64 index
        # arithmetic, and keras.ops.argmax to a -0.0 check with BitwiseAnd, neither of
        # which TFLite runs); class ids are gathered as integers and cast last.
        boxes = tf.gather(boxes, best, batch_dims=1)
        classes = tf.gather(tf.argmax(probs, axis=-1, output_type="int32"), best, batch_dims=1)
        classes = ops.cast(classes, "float32")
        count = ops.ones_like(scores[:, :1]) * float(self.detections)
        return boxes, classes, scores, count

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "anchors": self.anchors, "detections": self.detections}


def anchors() -> list[list[float]]:
    """One 0.4 x 0.4 prior per grid cell: cy, cx, h, w."""
    centres = (np.arange(GRID) + 0.5) / GRID
    return [[float(cy), float(cx), 0.4, 0.4] for cy in centres for cx in centres]


def build(folder: Path, seed: int = 1) -> Path:
    """``ssd.keras``: 32x32 grey in, the four SSD outputs (named) out."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 1))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    for _ in range(3):  # 32 -> 4
        h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    encodings = keras.layers.Reshape((GRID * GRID, 4))(keras.layers.Conv2D(4, 1)(h))
    # Confident scores (an untrained head sits near 0.5 everywhere, where any rounding
    # reorders the top k): logits scaled up, as a trained detector's are spread.
    logits = keras.layers.Conv2D(CLASSES, 1)(keras.layers.Rescaling(LOGIT_GAIN)(h))
    logits = keras.layers.Reshape((GRID * GRID, CLASSES))(logits)
    boxes, classes, scores, count = PostProcess(anchors(), DETECTIONS)(encodings, logits)
    model = keras.Model(
        inputs, {"boxes": boxes, "classes": classes, "scores": scores, "count": count}
    )
    path = folder / "ssd.keras"
    model.save(path)
    return path
