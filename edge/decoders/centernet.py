"""Decoder for the project's own detector head (``models/detector.py``): "centernet".

The model has two output tensors:

- a class heatmap ``(1, G, G, C)`` of sigmoid scores: "a centre of class c is in this
  cell";
- box distances ``(1, G, G, 4)``: from the cell's centre ``((col + 0.5) / G,
  (row + 0.5) / G)`` to the box's left, top, right and bottom edges, as fractions of
  the model input.

Finding the heads: TFLite names its outputs ``StatefulPartitionedCall:0``/``:1`` and
their order is not Keras's, so names cannot be trusted. The decoder takes the tensor
named by ``params["heatmap"]``/``params["boxes"]`` when such a key is present (the
converter evaluates with Keras output names), otherwise it identifies each head by
SHAPE: the heatmap's last dimension is ``num_classes``, the boxes' is 4 (the manifest
records ``"heads": "by-shape"``). A model with 4 classes would be ambiguous and is
rejected.

Decoding: a cell is a peak when its score equals the maximum of its 3x3 neighbourhood
(CenterNet's max-pool NMS) and is at least ``score_threshold``; the best
``max_detections * 4`` peaks become boxes; class-aware NMS (``edge.processing.geometry``,
``iou_threshold``) removes the duplicates a peak straddling two cells leaves; boxes are
mapped from the model window to the source frame with the ``Placement``
(``edge.processing.geometry.to_frame``) and clipped to 0..1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.params import CenternetParams
from edge.errors import ConfigError
from edge.processing.geometry import nms, to_frame
from edge.processing.preprocess import Placement
from edge.types import Detections

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.intp]
Outputs = Mapping[str, FloatArray]

# The converter evaluates with the same defaults as the device.
DEFAULT_PARAMS: dict[str, Any] = CenternetParams().model_dump(exclude_none=True)


def find_heads(outputs: Outputs, params: CenternetParams) -> tuple[FloatArray, FloatArray]:
    """The (heatmap, boxes) arrays, as ``(G, G, C)`` and ``(G, G, 4)``."""
    heat_name, box_name = params.heatmap, params.boxes
    if (
        heat_name is not None
        and box_name is not None
        and heat_name in outputs
        and box_name in outputs
    ):
        heat, boxes = outputs[heat_name], outputs[box_name]
    else:
        num_classes = params.num_classes
        if len(outputs) != 2:
            raise _heads_error(outputs, "expects exactly two output tensors")
        ranked = sorted(outputs.items(), key=lambda item: item[1].shape[-1] == 4)
        (_, heat), (_, boxes) = ranked
        if boxes.shape[-1] != 4 or heat.shape[-1] == 4:
            raise _heads_error(
                outputs,
                "needs one output with last dimension 4 (boxes) and "
                "one with the class count (heatmap)",
            )
        if num_classes is not None and heat.shape[-1] != int(num_classes):
            raise _heads_error(outputs, f"expects a heatmap with {num_classes} classes")
    heat, boxes = _squeeze(heat), _squeeze(boxes)
    if heat.ndim != 3 or boxes.shape != (*heat.shape[:2], 4):
        raise _heads_error(outputs, "needs a (G, G, C) heatmap and (G, G, 4) boxes on one grid")
    return heat, boxes


def decode_centernet(
    outputs: Outputs, placement: Placement, params: Mapping[str, Any] | CenternetParams
) -> tuple[Detections, dict[str, Any]]:
    settings = CenternetParams.coerce(params)
    heat, ltrb = find_heads(outputs, settings)
    rows, cols = heat.shape[:2]
    threshold = settings.score_threshold
    max_detections = settings.max_detections
    r, c, k = _peaks(heat, threshold)
    scores = heat[r, c, k].astype(np.float32)
    best = np.argsort(-scores, kind="stable")[: max_detections * 4]
    r, c, k, scores = r[best], c[best], k[best], scores[best]
    cx = (c.astype(np.float32) + 0.5) / cols
    cy = (r.astype(np.float32) + 0.5) / rows
    d = ltrb[r, c].astype(np.float32)
    model_boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1)
    classes = k.astype(np.int64)
    keep = nms(
        model_boxes.astype(np.float32),
        scores,
        classes,
        iou_threshold=settings.iou_threshold,
        max_detections=max_detections,
        class_agnostic=settings.agnostic_nms,
    )
    frame = to_frame(model_boxes[keep], placement)
    return Detections(classes[keep], np.clip(scores[keep], 0.0, 1.0), frame), {}


_NEIGHBOURS = np.array([(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)], np.int64)


def _peaks(heat: FloatArray, threshold: float) -> tuple[IndexArray, IndexArray, IndexArray]:
    """Cells at or above ``threshold`` that are the maximum of their 3x3 neighbourhood
    (per class): CenterNet's max-pool NMS. Only cells above the threshold are compared
    with their neighbours; in a real scene they are a handful of the grid's cells, so
    this costs a fraction of a full 3x3 max filter over the whole heatmap."""
    r, c, k = np.nonzero(heat >= threshold)
    if len(r) == 0:
        return r, c, k
    rows, cols = heat.shape[:2]
    padded = np.full((rows + 2, cols + 2, heat.shape[2]), -np.inf, np.float32)
    padded[1:-1, 1:-1] = heat
    around = padded[
        r[:, np.newaxis] + 1 + _NEIGHBOURS[:, 0],
        c[:, np.newaxis] + 1 + _NEIGHBOURS[:, 1],
        k[:, np.newaxis],
    ]
    peak = heat[r, c, k] >= around.max(axis=1)
    return r[peak], c[peak], k[peak]


def _squeeze(array: FloatArray) -> FloatArray:
    return array[0] if array.ndim == 4 and array.shape[0] == 1 else array


def _heads_error(outputs: Outputs, problem: str) -> ConfigError:
    shapes = ", ".join(f"{name} {list(value.shape)}" for name, value in outputs.items())
    return ConfigError(
        f"the centernet decoder {problem}; the model has {shapes}",
        hint="choose the decoder that matches the model's head (decoder.name in the manifest "
        "or config)",
    )
