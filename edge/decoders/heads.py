"""Which decoder fits a model that has no manifest, judged from its output tensors.

Used when neither the manifest nor the user names a decoder; the caller logs the choice
and the reason, so a wrong guess is one ``--decoder`` away. The converter's detect task
(``converter.tasks.detect.head_of``) asks the same function, so both agree on the head.
The rules:

- four outputs, ``[1, N, 4]`` + ``[1, N]`` + ``[1, N]`` + one value (``[1]`` as the
  op writes it, or ``[1, 1]`` as a Keras model does): ``ssd``;
- two rank-4 outputs on one grid, one ending in 4: ``centernet``;
- one rank-3 output ``[1, a, b]``: a YOLO head. N (the larger dimension) tells the two
  families apart when it matches the input (an empty ``input_shape`` skips this):
  YOLOv8/YOLO11 have one candidate per cell of the stride 8, 16 and 32 grids (8400 for
  640x640), YOLOv5 three (25200). When N
  matches neither, channels-first ``[1, 4+C, N]`` is ``yolov8`` and channels-last
  ``[1, N, 5+C]`` is ``yolov5`` (the layouts of the Ultralytics exports);
- one output of one value: ``anomaly``; one ``[1, C]`` output: ``classify``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from edge.types import TensorSpec


def guess_decoder(outputs: Sequence[TensorSpec], input_shape: Sequence[int]) -> tuple[str, str]:
    """``(decoder name, reason)``, or ``("", reason)`` when no rule fits."""
    shapes = [tuple(int(d) for d in spec.shape) for spec in outputs]
    described = ", ".join(str(list(shape)) for shape in shapes)
    if is_ssd(shapes):
        return "ssd", f"four outputs {described}: boxes, classes, scores, count"
    if (
        len(shapes) == 2
        and all(len(s) == 4 for s in shapes)
        and shapes[0][1:3] == shapes[1][1:3]
        and 4 in (shapes[0][3], shapes[1][3])
    ):
        return "centernet", f"a heatmap and box distances on one grid {described}"
    if len(shapes) == 1 and len(shapes[0]) == 3:
        return _yolo(shapes[0], input_shape)
    if len(shapes) == 1 and math.prod(shapes[0]) == 1:
        return "anomaly", f"one output holding one score {described}"
    if len(shapes) == 1 and len(shapes[0]) == 2:
        return "classify", f"one output of class scores {described}"
    return "", f"no known head has outputs {described}"


def is_ssd(shapes: Sequence[tuple[int, ...]]) -> bool:
    """Four outputs (batch included) shaped as ``TFLite_Detection_PostProcess`` ends:
    ``[1, N, 4]`` boxes, two ``[1, N]`` rows (classes, scores), one value (count)."""
    if len(shapes) != 4:
        return False
    boxes = [s for s in shapes if len(s) == 3 and s[2] == 4]
    counts = [s for s in shapes if math.prod(s) == 1]
    rows = [s for s in shapes if len(s) == 2 and math.prod(s) != 1]  # count may be [1, 1]
    return (
        len(boxes) == 1
        and len(counts) == 1
        and len(rows) == 2
        and rows[0] == rows[1] == boxes[0][:2]
    )


def _yolo(shape: tuple[int, ...], input_shape: Sequence[int]) -> tuple[str, str]:
    _, a, b = shape
    candidates = max(a, b)
    cells = 0
    if len(input_shape) == 4:
        height, width = int(input_shape[1]), int(input_shape[2])
        cells = sum(math.ceil(height / s) * math.ceil(width / s) for s in (8, 16, 32))
    if candidates == cells:
        return "yolov8", f"one head {list(shape)} with one candidate per grid cell ({cells})"
    if candidates == 3 * cells:
        return "yolov5", f"one head {list(shape)} with three anchors per grid cell ({cells})"
    if a < b:
        return "yolov8", f"one channels-first head {list(shape)}"
    return (
        "yolov5",
        f"one channels-last head {list(shape)} (a transposed YOLOv8 head needs --decoder yolov8)",
    )
