"""The centernet decoder on hand-made head tensors: peaks, boxes, heads by shape, placement."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoders.centernet import decode_centernet
from edge.decoders.registry import get_decoder
from edge.errors import ConfigError
from edge.processing.geometry import to_frame
from edge.processing.preprocess import Placement

GRID, CLASSES = 24, 10


def _heads(
    peaks: list[tuple[int, int, int, float, tuple[float, float, float, float]]],
) -> tuple[np.ndarray, np.ndarray]:
    """A (1, G, G, C) heatmap and (1, G, G, 4) ltrb with the given (row, col, cls, score, ltrb)."""
    heat = np.zeros((1, GRID, GRID, CLASSES), np.float32)
    ltrb = np.zeros((1, GRID, GRID, 4), np.float32)
    for row, col, cls, score, box in peaks:
        heat[0, row, col, cls] = score
        ltrb[0, row, col] = box
    return heat, ltrb


def test_one_peak_becomes_its_box() -> None:
    heat, ltrb = _heads([(12, 6, 7, 0.9, (0.1, 0.05, 0.1, 0.15))])
    heat[0, 12, 7, 7] = 0.6  # a neighbour of the peak: not a peak itself
    found, extra = decode_centernet({"a": heat, "b": ltrb}, Placement(), {})
    assert extra == {}
    assert found.class_id.tolist() == [7]
    assert found.confidence.tolist() == pytest.approx([0.9])
    cx, cy = 6.5 / GRID, 12.5 / GRID
    assert found.xyxy is not None
    assert found.xyxy[0] == pytest.approx([cx - 0.1, cy - 0.05, cx + 0.1, cy + 0.15], abs=1e-6)


def test_heads_found_by_shape_in_any_order_and_names() -> None:
    heat, ltrb = _heads([(3, 3, 2, 0.8, (0.05, 0.05, 0.05, 0.05))])
    a, _ = decode_centernet(
        {"StatefulPartitionedCall:0": ltrb, "StatefulPartitionedCall:1": heat}, Placement(), {}
    )
    b, _ = decode_centernet({"x": heat, "y": ltrb}, Placement(), {})
    assert a.class_id.tolist() == b.class_id.tolist() == [2]
    assert a.xyxy is not None and b.xyxy is not None
    np.testing.assert_allclose(a.xyxy, b.xyxy)


def test_threshold_max_detections_and_duplicate_suppression() -> None:
    heat, ltrb = _heads(
        [
            (2, 2, 1, 0.95, (0.05, 0.05, 0.05, 0.05)),
            (2, 4, 1, 0.90, (0.13, 0.05, 0.05, 0.05)),  # same box as the first, two cells over
            (20, 20, 3, 0.7, (0.05, 0.05, 0.05, 0.05)),
            (10, 10, 4, 0.2, (0.05, 0.05, 0.05, 0.05)),  # under the threshold
        ]
    )
    found, _ = decode_centernet(
        {"h": heat, "b": ltrb}, Placement(), {"score_threshold": 0.3, "iou_threshold": 0.5}
    )
    assert found.class_id.tolist() == [1, 3]
    top1, _ = decode_centernet({"h": heat, "b": ltrb}, Placement(), {"max_detections": 1})
    assert top1.class_id.tolist() == [1]


def test_placement_maps_letterboxed_boxes_to_the_frame() -> None:
    # A 4:3 frame letterboxed into a square: the model window runs from y=-1/6 to 7/6.
    placement = Placement(0.0, -1 / 6, 1.0, 7 / 6)
    mapped = to_frame(np.asarray([[0.25, 0.125, 0.5, 0.5]], np.float32), placement)
    assert mapped[0] == pytest.approx([0.25, 0.125 * 4 / 3 - 1 / 6, 0.5, 0.5], abs=1e-6)
    clipped = to_frame(np.asarray([[-0.1, 0.0, 1.2, 0.05]], np.float32), placement)
    assert clipped[0] == pytest.approx([0.0, 0.0, 1.0, 0.0], abs=1e-6)
    heat, ltrb = _heads([(12, 12, 0, 0.9, (0.1, 0.1, 0.1, 0.1))])
    found, _ = get_decoder("centernet")({"h": heat, "b": ltrb}, placement, {})
    assert found.xyxy is not None
    c = 12.5 / GRID
    expected = [c - 0.1, -1 / 6 + (c - 0.1) * 4 / 3, c + 0.1, -1 / 6 + (c + 0.1) * 4 / 3]
    assert found.xyxy[0] == pytest.approx(expected, abs=1e-5)
    assert found.xyxy[0][3] - found.xyxy[0][1] == pytest.approx(0.2 * 4 / 3, abs=1e-5)


def test_wrong_heads_are_a_config_error() -> None:
    heat, ltrb = _heads([])
    with pytest.raises(ConfigError, match="two output tensors"):
        decode_centernet({"h": heat}, Placement(), {})
    with pytest.raises(ConfigError, match="last dimension 4"):
        decode_centernet({"h": heat, "b": heat}, Placement(), {})
    with pytest.raises(ConfigError, match="3 classes"):
        decode_centernet({"h": heat, "b": ltrb}, Placement(), {"num_classes": 3})


def test_named_heads_are_used_when_present() -> None:
    heat, ltrb = _heads([(5, 5, 9, 0.9, (0.02, 0.02, 0.02, 0.02))])
    found, _ = decode_centernet(
        {"heatmap": heat, "boxes": ltrb}, Placement(), {"heatmap": "heatmap", "boxes": "boxes"}
    )
    assert found.class_id.tolist() == [9]
