"""Class-aware NMS and IoU on hand-made boxes."""

from __future__ import annotations

import numpy as np
import pytest

from edge.processing.geometry import iou, nms


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
