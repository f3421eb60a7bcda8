"""Class-aware NMS and IoU on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from edge.processing.geometry import iou, iou_matrix, nms


def _f(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, np.float32)


def test_iou_values() -> None:
    box = _f([[0, 0, 2, 2]])[0]
    others = _f([[0, 0, 2, 2], [1, 0, 3, 2], [2, 2, 3, 3], [0, 0, 0, 0]])
    assert iou(box, others) == pytest.approx([1.0, 2 / 6, 0.0, 0.0])


def test_overlapping_same_class_is_suppressed_other_class_kept() -> None:
    boxes = _f([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30]])
    scores = np.asarray([0.9, 0.8, 0.7, 0.6], np.float32)
    classes = np.asarray([1, 1, 2, 1], np.int64)
    keep = nms(boxes, scores, classes, iou_threshold=0.5, max_detections=10)
    assert keep.tolist() == [0, 2, 3]


def test_order_by_score_and_max_detections() -> None:
    boxes = _f([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]])
    scores = np.asarray([0.2, 0.9, 0.5], np.float32)
    classes = np.zeros(3, np.int64)
    assert nms(boxes, scores, classes, iou_threshold=0.5, max_detections=2).tolist() == [1, 2]


def test_below_threshold_overlap_survives_and_empty_input() -> None:
    boxes = _f([[0, 0, 2, 2], [1, 0, 3, 2]])  # IoU 1/3
    scores = np.asarray([0.9, 0.8], np.float32)
    classes = np.zeros(2, np.int64)
    assert nms(boxes, scores, classes, iou_threshold=0.5, max_detections=5).tolist() == [0, 1]
    assert nms(boxes, scores, classes, iou_threshold=0.3, max_detections=5).tolist() == [0]
    empty = nms(
        np.zeros((0, 4), np.float32),
        np.zeros(0, np.float32),
        np.zeros(0, np.int64),
        iou_threshold=0.5,
        max_detections=5,
    )
    assert empty.shape == (0,)


def test_iou_matrix_is_the_pairwise_arithmetic_bit_for_bit() -> None:
    """Every pair through float32 scalars, in the order ``iou_matrix`` documents: empty,
    inverted, touching, identical and NaN boxes included (the tracker's ids depend on
    exact ties)."""
    rng = np.random.default_rng(3)
    corner = rng.uniform(-0.1, 1, (40, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(-0.05, 0.4, (40, 2))], 1)
    boxes[::3] = np.round(boxes[::3] * 8) / 8  # touching and identical boxes
    boxes[5, 2] = boxes[5, 0]  # empty
    boxes[7] = np.nan
    boxes = boxes.astype(np.float32)
    a, b = boxes[:25], boxes[10:]
    zero = np.float32(0)

    def pair(p: np.ndarray, q: np.ndarray) -> np.float32:
        w = max(min(p[2], q[2]) - max(p[0], q[0]), zero)
        h = max(min(p[3], q[3]) - max(p[1], q[1]), zero)
        inter = w * h
        area_p = max(p[2] - p[0], zero) * max(p[3] - p[1], zero)
        area_q = max(q[2] - q[0], zero) * max(q[3] - q[1], zero)
        union = area_p + area_q - inter
        return inter / union if union > 0 else zero

    matrix = iou_matrix(a, b)
    assert matrix.dtype == np.float32
    nan_free = [[pair(p, q) for q in b] for p in a]
    expected = np.asarray(nan_free, np.float32)
    expected[7, :] = 0  # box 7 is NaN: no IoU with anything (Python max would keep it)
    assert np.array_equal(matrix, expected)
