"""The detect task on hand-made cases: mAP@0.5, eval loading, output checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converter.tasks.base import TaskEval
from converter.tasks.detect import DetectTask
from converter.tasks.registry import TASKS
from edge.errors import ConversionError, DataError
from edge.eval.metrics import average_precision, mean_average_precision, truth_lists
from edge.model.manifest import InputSpec

GRID, CLASSES = 24, 10


def _pred(
    boxes: list[list[float]], scores: list[float], classes: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.asarray(boxes, np.float32).reshape(-1, 4),
        np.asarray(scores, np.float32),
        np.asarray(classes, np.int64),
    )


def _truth(boxes: list[list[float]], classes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(classes, np.int64)


BOX_A = [0.1, 0.1, 0.3, 0.3]
BOX_B = [0.6, 0.6, 0.9, 0.8]


def test_perfect_predictions_give_map_one() -> None:
    truth = [_truth([BOX_A, BOX_B], [1, 2]), _truth([BOX_A], [1])]
    preds = [_pred([BOX_A, BOX_B], [0.9, 0.8], [1, 2]), _pred([BOX_A], [0.7], [1])]
    result = mean_average_precision(preds, truth)
    assert result["map"] == pytest.approx(1.0)
    assert set(result["per_class"]) == {1, 2}


def test_shifted_box_wrong_class_and_missing_give_zero() -> None:
    truth = [_truth([BOX_A], [1])]
    shifted = [0.25, 0.25, 0.45, 0.45]  # IoU with BOX_A = 0.0625 / 0.0775 < 0.5
    assert mean_average_precision([_pred([shifted], [0.9], [1])], truth)["map"] == 0.0
    assert mean_average_precision([_pred([BOX_A], [0.9], [3])], truth)["map"] == 0.0
    assert mean_average_precision([_pred([], [], [])], truth)["map"] == 0.0


def test_duplicate_is_a_false_positive_and_ranking_matters() -> None:
    truth = [_truth([BOX_A, BOX_B], [1, 1])]
    # A duplicate of A ranked above B: precision at recall 1 is 2/3.
    preds = [_pred([BOX_A, BOX_A, BOX_B], [0.9, 0.8, 0.7], [1, 1, 1])]
    assert mean_average_precision(preds, truth)["map"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # The same duplicate ranked last costs nothing (all-point interpolation).
    preds = [_pred([BOX_A, BOX_B, BOX_A], [0.9, 0.8, 0.7], [1, 1, 1])]
    assert mean_average_precision(preds, truth)["map"] == pytest.approx(1.0)


def test_mean_is_over_classes_present_only() -> None:
    truth = [_truth([BOX_A, BOX_B], [1, 2])]
    preds = [_pred([BOX_A, [0.0, 0.0, 0.05, 0.05]], [0.9, 0.8], [1, 7])]  # class 2 missed
    result = mean_average_precision(preds, truth)
    assert result["per_class"] == {1: pytest.approx(1.0), 2: 0.0}
    assert result["map"] == pytest.approx(0.5)


def test_average_precision_envelope() -> None:
    recall = np.asarray([0.5, 0.5, 1.0], np.float32)
    precision = np.asarray([1.0, 0.5, 2 / 3], np.float32)
    assert average_precision(recall, precision) == pytest.approx(0.5 + 0.5 * 2 / 3)


def _heads(objects: list[tuple[int, int, int, float]]) -> dict[str, np.ndarray]:
    heat = np.zeros((1, GRID, GRID, CLASSES), np.float32)
    ltrb = np.full((1, GRID, GRID, 4), 0.05, np.float32)
    for row, col, cls, score in objects:
        heat[0, row, col, cls] = score
    return {"heatmap": heat, "boxes": ltrb}


def _cell_box(row: int, col: int) -> list[float]:
    cx, cy = (col + 0.5) / GRID, (row + 0.5) / GRID
    return [cx - 0.05, cy - 0.05, cx + 0.05, cy + 0.05]


def test_metrics_decode_with_the_device_decoder() -> None:
    task = DetectTask()
    outputs = _heads([(5, 5, 3, 0.9), (15, 10, 8, 0.6)])
    data = TaskEval(
        np.zeros((1, 96, 96, 1), np.float32),
        [_truth([_cell_box(5, 5), _cell_box(15, 10)], [3, 8])],
        "hand-made",
    )
    metrics = task.metrics(outputs, data)
    assert metrics["map50"] == pytest.approx(1.0)
    assert metrics["recall"] == pytest.approx(1.0) and metrics["precision"] == pytest.approx(1.0)
    worse = _heads([(5, 5, 3, 0.9), (15, 10, 2, 0.6)])  # second digit: wrong class
    compared = task.compare(outputs, worse, data)
    assert compared["map50_ratio"] == pytest.approx(0.5)
    assert compared["agreement"] == pytest.approx(0.5)
    spec = task.decoder(outputs, data, [str(i) for i in range(CLASSES)])
    assert spec.name == "centernet" and spec.params["num_classes"] == CLASSES
    assert 0.2 <= spec.params["score_threshold"] <= 0.6


def test_registered_with_a_map_gate() -> None:
    task = TASKS["detect"]
    assert task.gate.metric == "map50" and task.gate.higher_is_better
    assert task.gate.drop({"map50": 0.9}, {"map50": 0.88}) == pytest.approx(0.02)


def test_check_outputs() -> None:
    task = DetectTask()
    task.check_outputs({"heatmap": (24, 24, 10), "boxes": (24, 24, 4)}, "m.keras")
    with pytest.raises(ConversionError, match="two outputs on one grid"):
        task.check_outputs({"probabilities": (10,)}, "m.keras")
    with pytest.raises(ConversionError, match="two outputs on one grid"):
        task.check_outputs({"heatmap": (24, 24, 10), "boxes": (12, 12, 4)}, "m.keras")


def test_load_eval_layout(tmp_path: Path) -> None:
    spec = InputSpec(width=96, height=96, channels=1, colour="gray")
    labels = [str(i) for i in range(CLASSES)]
    path = tmp_path / "eval.npz"
    np.savez(
        path,
        x=np.zeros((3, 96, 96), np.float32),
        boxes=np.asarray([BOX_A, BOX_B, BOX_A], np.float32),
        classes=np.asarray([1, 2, 3]),
        image_index=np.asarray([0, 0, 2]),
    )
    data = DetectTask().load_eval(path, spec, labels)
    assert data.x.shape == (3, 96, 96, 1) and len(data.y) == 3
    assert data.y[0][1].tolist() == [1, 2] and len(data.y[1][0]) == 0
    np.savez(
        path,
        x=np.zeros((3, 96, 96), np.float32),
        boxes=np.zeros((1, 4), np.float32),
        classes=np.asarray([1]),
        image_index=np.asarray([5]),
    )
    with pytest.raises(DataError, match="image_index"):
        DetectTask().load_eval(path, spec, labels)


def test_truth_lists_groups_by_image() -> None:
    lists = truth_lists(
        np.zeros((3, 4), np.float32), np.asarray([1, 2, 3]), np.asarray([1, 1, 0]), 3
    )
    assert [c.tolist() for _, c in lists] == [[3], [1, 2], []]


def test_yolo_heads_are_told_apart_and_counted() -> None:
    from converter.tasks.detect import head_of

    task = DetectTask()
    assert head_of({"out": (84, 8400)}) == "yolov8"  # Ultralytics v8/11: [4 + C, N]
    assert head_of({"out": (25200, 85)}) == "yolov5"  # v5: [N, 5 + C]
    assert head_of({"heatmap": (24, 24, 10), "boxes": (24, 24, 4)}) == "centernet"
    assert task.default_labels({"out": (84, 8400)}) == [str(i) for i in range(80)]
    assert task.default_labels({"out": (25200, 85)}) == [str(i) for i in range(80)]
    task.check_outputs({"out": (84, 8400)}, "yolo.keras")
    with pytest.raises(ConversionError, match="4 box values and class scores"):
        task.check_outputs({"out": (4, 8400)}, "boxes-only.keras")


def test_yolov5_rows_decode_with_the_device_decoder() -> None:
    """One image, two candidates in pixels of a 64x64 input; objectness x class score."""
    from converter.tasks.detect import decode_all

    rows = np.zeros((1, 2, 5 + 2), np.float32)
    rows[0, 0] = [16, 16, 8, 8, 0.9, 0.1, 0.9]  # class 1, score 0.81
    rows[0, 1] = [48, 48, 8, 8, 0.2, 0.9, 0.1]  # score 0.18: under the 0.25 threshold
    params = {
        **DetectTask().head_params("yolov5", {"out": rows}),
        "input_width": 64,
        "input_height": 64,
    }
    assert params["coordinates"] == "pixels" and params["layout"] == "channels-last"
    ((boxes, scores, classes),) = decode_all({"out": rows}, params, "yolov5")
    assert classes.tolist() == [1] and scores.tolist() == pytest.approx([0.81])
    np.testing.assert_allclose(boxes, [[0.1875, 0.1875, 0.3125, 0.3125]], atol=1e-6)


def test_report_picture_keeps_float_and_quantized_labels_apart() -> None:
    """Both models find the same boxes: their labels must not overlap in the picture."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    task = DetectTask()
    outputs = _heads([(5, 5, 3, 0.9), (15, 10, 8, 0.6)])
    data = TaskEval(np.zeros((1, 96, 96, 1), np.float32), None, "hand-made")
    figure = task.figure(outputs, outputs, data, [f"digit {i}" for i in range(CLASSES)])
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    texts = [t for t in figure.axes[0].texts if t.get_text()]
    assert len(texts) == 4  # two boxes, a float and a quantized label each
    extents = [(t.get_color(), t.get_window_extent(renderer)) for t in texts]
    for colour, box in extents:
        for other_colour, other in extents:
            if colour != other_colour:
                assert not box.overlaps(other), (colour, box, other_colour, other)
