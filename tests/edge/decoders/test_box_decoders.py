"""The ssd, yolov5 and yolov8 decoders on hand-made tensors, the head detection rules and
the post-decoder filters."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoders.heads import guess_decoder
from edge.decoders.ssd import decode_ssd
from edge.decoders.yolo import decode_yolov5, decode_yolov8
from edge.errors import ConfigError
from edge.processing.filters import build_filter
from edge.processing.preprocess import Placement
from edge.types import Detections, TensorSpec
from tests.edge.head_models import YOLO_CELLS, YOLO_SIZE, ssd_outputs, yolo_head

SQUARE = Placement(width=YOLO_SIZE, height=YOLO_SIZE)


def test_yolov8_channels_first_normalised_one_label_per_object() -> None:
    head = yolo_head(8)
    found, extra = decode_yolov8({"out": head}, SQUARE, {})
    assert extra == {}
    # By score; the duplicate cat is gone, and so is the cat (0.6) under the dog (0.7).
    assert found.class_id.tolist() == [0, 2, 1]
    assert found.confidence.tolist() == pytest.approx([0.9, 0.9, 0.7])
    assert found.xyxy is not None
    assert found.xyxy[0].tolist() == pytest.approx([20 / 160, 50 / 160, 60 / 160, 100 / 160])


def test_yolov8_class_aware_nms_keeps_a_box_per_class() -> None:
    found, _ = decode_yolov8({"out": yolo_head(8)}, SQUARE, {"agnostic_nms": False})
    assert found.class_id.tolist() == [0, 2, 1, 0]  # the duplicate cat alone is gone
    assert found.confidence.tolist() == pytest.approx([0.9, 0.9, 0.7, 0.6])


def test_yolov8_transposed_and_pixel_boxes_give_the_same() -> None:
    head = yolo_head(8)
    pixels = head.copy()
    pixels[0, :4] *= YOLO_SIZE
    reference, _ = decode_yolov8({"out": head}, SQUARE, {})
    for variant, params in (
        (head.transpose(0, 2, 1), {}),
        (pixels, {}),
        (pixels, {"coordinates": "pixels"}),
        (pixels.transpose(0, 2, 1), {"layout": "channels-last"}),
    ):
        found, _ = decode_yolov8({"out": variant}, SQUARE, params)
        assert found.class_id.tolist() == reference.class_id.tolist()
        assert found.xyxy is not None and reference.xyxy is not None
        np.testing.assert_allclose(found.xyxy, reference.xyxy, atol=1e-6)


def test_yolov5_multiplies_objectness() -> None:
    found, _ = decode_yolov5({"out": yolo_head(5)}, SQUARE, {})
    assert found.class_id.tolist() == [0, 1]  # the bird's objectness is 0.1
    assert found.confidence.tolist() == pytest.approx([0.9 * 0.95, 0.7 * 0.95])
    lower, _ = decode_yolov5({"out": yolo_head(5)}, SQUARE, {"score_threshold": 0.05})
    assert 2 in lower.class_id.tolist()


def test_yolo_letterbox_is_undone() -> None:
    # A 320x180 frame in a 160 input: content rows 35..125, so y = 35 is the frame's top.
    placement = Placement(0.0, -35 / 90, 1.0, 125 / 90, width=160, height=160)
    head = np.zeros((1, 4 + 1, YOLO_CELLS), np.float32)
    head[0, :, 0] = [80 / 160, 80 / 160, 40 / 160, 90 / 160, 0.9]  # x 60..100, y 35..125
    found, _ = decode_yolov8({"out": head}, placement, {})
    assert found.xyxy is not None
    assert found.xyxy[0].tolist() == pytest.approx([60 / 160, 0.0, 100 / 160, 1.0], abs=1e-5)


def test_yolo_pixel_boxes_need_the_input_size() -> None:
    head = yolo_head(8)
    with pytest.raises(ConfigError, match="input size is unknown"):
        decode_yolov8({"out": head}, Placement(), {"coordinates": "pixels"})


def test_yolo_output_found_by_name_not_position() -> None:
    head = yolo_head(8)
    protos = np.zeros((1, 40, 40, 32), np.float32)  # a segmentation export's second output
    found, _ = decode_yolov8({"protos": protos, "output0": head}, SQUARE, {})
    assert len(found) == 3
    with pytest.raises(ConfigError, match="told to read output 'missing'"):
        decode_yolov8({"output0": head}, SQUARE, {"output": "missing"})
    with pytest.raises(ConfigError, match="exactly one output of rank 3"):
        decode_yolov8({"a": head, "b": head}, SQUARE, {})


def test_ssd_honours_count_threshold_and_offset() -> None:
    names = [
        "TFLite_Detection_PostProcess",
        *(f"TFLite_Detection_PostProcess:{i}" for i in (1, 2, 3)),
    ]
    outputs = dict(zip(names, ssd_outputs(), strict=True))
    found, _ = decode_ssd(outputs, Placement(), {"label_offset": 1})
    assert found.class_id.tolist() == [1, 3]  # person, car; the junk past count ignored
    assert found.xyxy is not None
    assert found.xyxy[0].tolist() == pytest.approx([10 / 96, 30 / 96, 40 / 96, 70 / 96])


def test_ssd_outputs_by_content_when_names_say_nothing() -> None:
    boxes, classes, scores, count = ssd_outputs()
    shuffled = {"Identity_3": scores, "Identity": count, "Identity_2": boxes, "Identity_1": classes}
    found, _ = decode_ssd(shuffled, Placement(), {})
    assert found.class_id.tolist() == [0, 2]
    named, _ = decode_ssd(
        {"s": scores, "c": classes, "b": boxes, "n": count},
        Placement(),
        {"boxes": "b", "classes": "c", "scores": "s", "count": "n"},
    )
    assert named.class_id.tolist() == [0, 2]
    with pytest.raises(ConfigError, match="expects four outputs"):
        decode_ssd({"b": boxes}, Placement(), {})


def _specs(*shapes: tuple[int, ...]) -> list[TensorSpec]:
    return [TensorSpec(f"t{i}", i, shape, "float32") for i, shape in enumerate(shapes)]


@pytest.mark.parametrize(
    ("shapes", "input_shape", "expected"),
    [
        ([(1, 10, 4), (1, 10), (1, 10), (1,)], (1, 300, 300, 3), "ssd"),
        ([(1, 10, 4), (1, 10), (1, 10), (1, 1)], (1, 32, 32, 1), "ssd"),  # count as Keras has it
        ([(1, 84, 8400)], (1, 640, 640, 3), "yolov8"),
        ([(1, 8400, 84)], (1, 640, 640, 3), "yolov8"),  # transposed, told apart by the count
        ([(1, 25200, 85)], (1, 640, 640, 3), "yolov5"),
        ([(1, 7, 100)], (1, 96, 96, 3), "yolov8"),  # unknown grid: channels first
        ([(1, 100, 7)], (1, 96, 96, 3), "yolov5"),
        ([(1, 12, 12, 10), (1, 12, 12, 4)], (1, 96, 96, 1), "centernet"),
        ([(1, 1)], (1, 28, 28, 1), "anomaly"),
        ([(1, 10)], (1, 28, 28, 1), "classify"),
        ([(1, 10), (1, 3)], (1, 28, 28, 1), ""),
    ],
)
def test_head_detection(
    shapes: list[tuple[int, ...]], input_shape: tuple[int, ...], expected: str
) -> None:
    name, reason = guess_decoder(_specs(*shapes), input_shape)
    assert name == expected, reason
    assert reason


def _detections() -> Detections:
    boxes = np.asarray(
        [[0, 0, 0.5, 0.5], [0, 0, 0.05, 0.05], [0.5, 0.5, 1, 1], [0.2, 0.2, 0.6, 0.6]], np.float32
    )
    return Detections(np.asarray([0, 0, 1, 2]), np.asarray([0.9, 0.8, 0.5, 0.7], np.float32), boxes)


@pytest.mark.parametrize(
    ("kwargs", "kept"),
    [
        ({}, [0, 1, 2, 3]),
        ({"thresholds": {"dog": 0.6}}, [0, 1, 3]),
        ({"allow": ["cat", "bird"]}, [0, 1, 3]),
        ({"deny": ["cat"]}, [2, 3]),
        ({"min_area": 0.01}, [0, 2, 3]),
        ({"allow": ["cat"], "min_area": 0.01}, [0]),
    ],
)
def test_filters(kwargs: dict[str, object], kept: list[int]) -> None:
    settings = {"thresholds": {}, "allow": None, "deny": [], "min_area": 0.0, **kwargs}
    detection_filter = build_filter(["cat", "dog", "bird"], **settings)  # type: ignore[arg-type]
    before = _detections()
    after = detection_filter(before)
    expected = [float(before.confidence[i]) for i in kept]
    assert after.confidence.tolist() == pytest.approx(expected)


def test_filter_with_unknown_label_is_refused() -> None:
    with pytest.raises(
        ConfigError,
        match=r"filters\.deny names labels the model does not have: "
        r"cta",
    ):
        build_filter(["cat", "dog"], {}, None, ["cta"], 0.0)


def test_ssd_output_errors_name_the_tensors() -> None:
    boxes, classes, scores, count = ssd_outputs()
    four = {"b": boxes, "c": classes, "s": scores, "n": count}
    with pytest.raises(ConfigError, match=r"told to read outputs \['x'\], which do not exist"):
        decode_ssd(four, Placement(), {"boxes": "x", "classes": "c", "scores": "s", "count": "n"})
    with pytest.raises(ConfigError, match="cannot tell its outputs apart by shape"):
        decode_ssd({**four, "n": np.zeros((1, 3), np.float32)}, Placement(), {})


def test_ssd_int8_classes_told_from_scores_by_order() -> None:
    """An int8 model's classes dequantize to near-whole numbers (class 1 as 0.996 at a
    scale of 2/255), so "the fractional one is scores" alone would swap the two; the
    scores are the ones sorted best first within 0..1."""
    step = np.float32(2 / 255)  # float32 classes, as the model dequantizes them
    classes = np.round(np.asarray([[1, 2, 0, 1, 0]], np.float32) / step) * step
    scores = np.asarray([[0.9, 0.8, 0.8, 0.4, 0.1]], np.float32)
    boxes = np.tile(np.asarray([0.1, 0.2, 0.5, 0.6], np.float32), (1, 5, 1))
    for order in ((classes, scores), (scores, classes)):
        outputs = {"a": boxes, "b": order[0], "c": order[1], "d": np.asarray([[4]], np.float32)}
        found, _ = decode_ssd(outputs, Placement(), {"score_threshold": 0.3})
        assert found.class_id.tolist() == [1, 2, 0, 1]
        assert found.confidence.tolist() == pytest.approx([0.9, 0.8, 0.8, 0.4])


def test_ssd_int8_classes_when_both_rows_are_sorted() -> None:
    """Two classes in falling order ([1, 1, 0], int8: 0.996, 0.996, 0) are sorted like the
    scores; the scores are then the ones further from whole numbers."""
    step = np.float32(2 / 255)  # float32 classes, as the model dequantizes them
    classes = np.round(np.asarray([[1, 1, 0]], np.float32) / step) * step
    scores = np.asarray([[0.9, 0.7, 0.6]], np.float32)
    boxes = np.tile(np.asarray([0.1, 0.2, 0.5, 0.6], np.float32), (1, 3, 1))
    for first, second in ((classes, scores), (scores, classes)):
        found, _ = decode_ssd(
            {"a": boxes, "b": first, "c": second, "d": np.asarray([3], np.float32)}, Placement(), {}
        )
        assert found.class_id.tolist() == [1, 1, 0]
        assert found.confidence.tolist() == pytest.approx([0.9, 0.7, 0.6])
