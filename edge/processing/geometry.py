"""Box geometry in numpy (no TensorFlow on the device): IoU, class-aware non-maximum
suppression, and the mapping of model-window boxes to the source frame.

Greedy NMS: take the highest score, drop every box of the SAME class whose IoU with it
exceeds the threshold, repeat. Boxes of different classes never suppress each other.
Boxes are ``x0, y0, x1, y1`` in any one unit; degenerate boxes have IoU 0.

``to_frame``: the box decoders work in the model window (normalised to the model
input); the ``Placement`` says where that window lies in the source frame (a letterbox
or a crop), so ``frame_x = x0 + model_x * (x1 - x0)``, clipped to 0..1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from edge.processing.preprocess import Placement

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.int64]


def iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    """IoU of one box ``(4,)`` with each of ``boxes`` ``(N, 4)``."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.maximum(ix1 - ix0, 0) * np.maximum(iy1 - iy0, 0)
    area = max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0)
    widths = np.maximum(boxes[:, 2] - boxes[:, 0], 0)
    areas = widths * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    union = area + areas - inter
    out: FloatArray = np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(
        np.float32
    )
    return out


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """IoU of every box of ``a`` ``(M, 4)`` with every box of ``b`` ``(N, 4)``: ``(M, N)``.

    The arithmetic of ``iou``, with the coordinates in planes ``(coordinate, M, N)``: the
    two corners of the intersection are two calls, and every call runs along N (the
    tracker calls this every frame of a zone run: 50 x 50 boxes cost ~10 us, not ~30)."""
    a_t = np.ascontiguousarray(a.T, np.float32)[:, :, np.newaxis]  # (4, M, 1)
    b_t = np.ascontiguousarray(b.T, np.float32)[:, np.newaxis, :]  # (4, 1, N)
    size = np.minimum(a_t[2:], b_t[2:])  # the intersection's far corner (x1, y1) ...
    size -= np.maximum(a_t[:2], b_t[:2])  # ... minus its near corner: (width, height)
    np.maximum(size, 0, out=size)
    inter = size[0] * size[1]
    area_a = np.maximum(a_t[2] - a_t[0], 0) * np.maximum(a_t[3] - a_t[1], 0)  # (M, 1)
    area_b = np.maximum(b_t[2] - b_t[0], 0) * np.maximum(b_t[3] - b_t[1], 0)  # (1, N)
    union = area_a + area_b
    union -= inter
    out: FloatArray = np.zeros(inter.shape, np.float32)
    np.divide(inter, union, out=out, where=union > 0)  # 0 where the union is empty (or NaN)
    return out


def nms(
    boxes: FloatArray,
    scores: FloatArray,
    classes: IndexArray,
    *,
    iou_threshold: float,
    max_detections: int,
    class_agnostic: bool = False,
) -> IndexArray:
    """Indices of the kept boxes, highest score first (at most ``max_detections``).

    Class-aware by default: a box suppresses only boxes of its own class. With
    ``class_agnostic`` it suppresses any box it overlaps, so one object gets one label
    (a ``3`` at 0.68 and an ``8`` at 0.43 on the same digit become the ``3``)."""
    order = np.argsort(-scores, kind="stable")
    suppressed = np.zeros(len(scores), bool)
    keep: list[int] = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(int(i))
        if len(keep) >= max_detections:
            break
        rest = order[position + 1 :]
        same = True if class_agnostic else classes[rest] == classes[i]
        rest = rest[same & ~suppressed[rest]]
        if len(rest):
            suppressed[rest[iou(boxes[i], boxes[rest]) > iou_threshold]] = True
    return np.asarray(keep, np.int64)


def to_frame(boxes: FloatArray, placement: Placement) -> FloatArray:
    """Model-window boxes (normalised) -> source-frame boxes (normalised, clipped)."""
    w, h = placement.x1 - placement.x0, placement.y1 - placement.y0
    scale = np.asarray([w, h, w, h], np.float32)
    shift = np.asarray([placement.x0, placement.y0, placement.x0, placement.y0], np.float32)
    mapped: FloatArray = np.clip(boxes.reshape(-1, 4) * scale + shift, 0.0, 1.0).astype(np.float32)
    return mapped
