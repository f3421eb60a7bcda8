"""The ``ssd`` decoder: the four outputs of TF-Lite's ``TFLite_Detection_PostProcess``.

The COCO SSD MobileNet of the TF-Lite examples (and every model exported by TF's
object-detection API with that op) has NMS inside the graph and ends in four float
tensors:

- boxes ``[1, N, 4]``: ``ymin, xmin, ymax, xmax`` normalised to the model input;
- classes ``[1, N]``: class indices as floats, 0 = the first real class;
- scores ``[1, N]``: 0..1, best first;
- count ``[1]``: how many of the N rows are valid.

Finding them, never by position alone: the decoder settings ``boxes``/``classes``/
``scores``/``count`` name them; otherwise the op's own naming
(``TFLite_Detection_PostProcess`` and ``:1`` ``:2`` ``:3``, in that order); otherwise
by shape (``[1, N, 4]`` boxes, one value = count) and content (of the two ``[1, N]``
tensors, the one sorted best first within 0..1 is scores; when that does not tell them
apart, the one further from whole numbers is scores, and of two whole-numbered ones the
one above 1 is classes).

Labels: the examples' ``labelmap.txt`` starts with a ``???`` line for the background,
so class index 0 is line 2: ``label_offset = 1`` says so explicitly instead of the
off-by-one being guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.params import SsdParams
from edge.errors import ConfigError
from edge.processing.geometry import to_frame
from edge.processing.preprocess import Placement
from edge.types import Detections

FloatArray = npt.NDArray[np.float32]
Outputs = Mapping[str, FloatArray]
OP_NAME = "TFLite_Detection_PostProcess"


def decode_ssd(
    outputs: Outputs, placement: Placement, params: Mapping[str, Any] | SsdParams
) -> tuple[Detections, dict[str, Any]]:
    p = SsdParams.coerce(params)
    boxes, classes, scores, count = find_outputs(outputs, p)
    n = min(round(float(count.reshape(-1)[0])), len(scores))
    boxes, classes, scores = boxes[:n], classes[:n], scores[:n]
    keep = np.nonzero(scores >= p.score_threshold)[0]
    keep = keep[np.argsort(-scores[keep], kind="stable")[: p.max_detections]]
    yxyx = boxes[keep]
    xyxy = yxyx[:, [1, 0, 3, 2]].astype(np.float32)
    class_id = np.round(classes[keep]).astype(np.int64) + p.label_offset
    return Detections(
        class_id, np.clip(scores[keep], 0.0, 1.0).astype(np.float32), to_frame(xyxy, placement)
    ), {}


def find_outputs(outputs: Outputs, p: SsdParams) -> tuple[FloatArray, ...]:
    """(boxes (N, 4), classes (N,), scores (N,), count (1,))."""
    if len(outputs) != 4:
        raise _error(outputs, "expects four outputs (boxes, classes, scores, count)")
    named = [p.boxes, p.classes, p.scores, p.count]
    if all(name is not None for name in named):
        missing = [name for name in named if name not in outputs]
        if missing:
            raise _error(outputs, f"was told to read outputs {missing}, which do not exist")
        found = [outputs[str(name)] for name in named]
    elif set(outputs) == {OP_NAME, f"{OP_NAME}:1", f"{OP_NAME}:2", f"{OP_NAME}:3"}:
        found = [outputs[OP_NAME], *(outputs[f"{OP_NAME}:{i}"] for i in (1, 2, 3))]
    else:
        found = _by_shape(outputs)
    boxes, classes, scores, count = (_squeeze(a) for a in found)
    rows = (len(boxes),)
    if (
        boxes.ndim != 2
        or boxes.shape[1] != 4
        or classes.shape != rows
        or scores.shape != rows
        or count.size != 1
    ):
        raise _error(outputs, "needs boxes [1,N,4], classes [1,N], scores [1,N], count [1]")
    return boxes, classes, scores, count


def _by_shape(outputs: Outputs) -> list[FloatArray]:
    arrays = list(outputs.values())
    boxes = [a for a in arrays if a.ndim >= 2 and a.shape[-1] == 4 and a.size > 4]
    counts = [a for a in arrays if a.size == 1]
    pairs = [a for a in arrays if a.ndim in (1, 2) and a.size > 1 and a.shape[-1] != 4]
    if len(boxes) != 1 or len(counts) != 1 or len(pairs) != 2:
        raise _error(
            outputs,
            "cannot tell its outputs apart by shape; name them with "
            "--decoder-opt boxes=NAME (and classes, scores, count)",
        )
    first, second = pairs
    scores_first = [boxes[0], second, first, counts[0]]
    classes_first = [boxes[0], first, second, counts[0]]
    # Scores come best first (the op sorts its `count` valid rows); classes rarely do.
    valid = max(round(float(counts[0].reshape(-1)[0])), 0)
    first_sorted, second_sorted = (_sorted(a.reshape(-1)[:valid]) for a in (first, second))
    if first_sorted != second_sorted:
        return scores_first if first_sorted else classes_first
    # Both or neither sorted: scores lie further from whole numbers than classes, which
    # are whole (float) or near-whole (an int8 output: class 1 as 0.996 at a scale of
    # 2/255). Both whole: the classes are the ones above 1, if any. When a frame shows
    # nothing, both can be all zeros, and then either reading finds nothing.
    off_first, off_second = _off_whole(first), _off_whole(second)
    if off_first > off_second + 1e-6:
        return scores_first
    if max(off_first, off_second) <= 1e-3 and second.max(initial=0) > 1:
        return scores_first
    return classes_first


def _sorted(array: FloatArray) -> bool:
    """Non-increasing within 0..1, as the op writes scores."""
    return bool(
        array.min(initial=0.0) >= 0.0
        and array.max(initial=0.0) <= 1.0
        and np.all(np.diff(array) <= 1e-6)
    )


def _off_whole(array: FloatArray) -> float:
    """How far the values lie from whole numbers, at most."""
    return float(np.abs(array - np.round(array)).max(initial=0.0))


def _squeeze(array: FloatArray) -> FloatArray:
    return array[0] if array.ndim >= 2 and array.shape[0] == 1 else array.reshape(-1)


def _error(outputs: Outputs, problem: str) -> ConfigError:
    shapes = ", ".join(f"{name} {list(value.shape)}" for name, value in outputs.items())
    return ConfigError(
        f"the ssd decoder {problem}; the model has {shapes}",
        hint="choose the decoder that matches the model's head with --decoder",
    )
