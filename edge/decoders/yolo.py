"""Decoders for Ultralytics-style YOLO heads: ``yolov5`` and ``yolov8`` (also YOLO11).

Both export one output tensor of candidate boxes, one candidate per anchor:

- ``yolov5``: ``[1, N, 5 + C]`` rows of ``cx, cy, w, h, objectness, C class scores``;
  a box's score is objectness x its best class score;
- ``yolov8``/YOLO11: ``[1, 4 + C, N]`` (channels first; some converters transpose it to
  ``[1, N, 4 + C]``) of ``cx, cy, w, h, C class scores``, no objectness.

The layout is the one the user sets, or (``auto``) the smaller of the two dimensions
is the channel one: N is in the thousands (8400 for a 640 input), K = 4 + C is 84 for
COCO. Scores are taken as probabilities (the Ultralytics exports end in a sigmoid).

Boxes are centre/size in pixels of the model input (float exports) or normalised 0..1
(Ultralytics normalises them in int8 exports, so one quantization scale fits boxes
and scores); ``auto`` takes them as normalised when every coordinate is within 0..2.
Then: score threshold, class-aware NMS in the model window, and the ``Placement`` maps
the boxes back to the source frame, undoing a letterbox (``to_frame``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.params import YoloParams
from edge.errors import ConfigError
from edge.processing.geometry import nms, to_frame
from edge.processing.preprocess import Placement
from edge.types import Detections

FloatArray = npt.NDArray[np.float32]
Outputs = Mapping[str, FloatArray]
Decoded = tuple[Detections, dict[str, Any]]

# Candidates kept for NMS: enough for a crowded scene, bounded for a Pi's CPU.
_MAX_CANDIDATES = 1000


def decode_yolov8(
    outputs: Outputs, placement: Placement, params: Mapping[str, Any] | YoloParams
) -> Decoded:
    p = YoloParams.coerce(params)
    rows = candidate_rows(outputs, p, "yolov8", extra_columns=0)
    return _finish(rows[:, :4], rows[:, 4:], placement, p, rows[:, :4])


def decode_yolov5(
    outputs: Outputs, placement: Placement, params: Mapping[str, Any] | YoloParams
) -> Decoded:
    p = YoloParams.coerce(params)
    rows = candidate_rows(outputs, p, "yolov5", extra_columns=1)
    # A class score is at most 1, so a row whose objectness is under the threshold cannot
    # pass it: dropping those first saves multiplying 25200 x 80 scores.
    hopeful = rows[rows[:, 4] >= p.score_threshold]
    return _finish(hopeful[:, :4], hopeful[:, 5:] * hopeful[:, 4:5], placement, p, rows[:, :4])


def candidate_rows(outputs: Outputs, p: YoloParams, decoder: str, extra_columns: int) -> FloatArray:
    """The head as ``(N, K)`` rows, one per candidate."""
    tensor = _the_output(outputs, p, decoder)
    array = tensor[0] if tensor.ndim == 3 and tensor.shape[0] == 1 else tensor
    if array.ndim != 2:
        raise _head_error(outputs, decoder, "expects one output [1, K, N] or [1, N, K]")
    layout = p.layout
    if layout == "auto":
        layout = "channels-first" if array.shape[0] < array.shape[1] else "channels-last"
    rows = array.T if layout == "channels-first" else array
    if rows.shape[1] < 5 + extra_columns:
        raise _head_error(
            outputs,
            decoder,
            f"needs at least {5 + extra_columns} values per "
            f"candidate (4 box values, {'objectness, ' * extra_columns}classes)",
        )
    out: FloatArray = rows.astype(np.float32, copy=False)  # a view when transposed: no copy
    return out


def _finish(
    cxcywh: FloatArray,
    class_scores: FloatArray,
    placement: Placement,
    p: YoloParams,
    all_boxes: FloatArray,
) -> Decoded:
    best = class_scores.max(axis=1)
    keep = np.nonzero(best >= p.score_threshold)[0]
    keep = keep[np.argsort(-best[keep], kind="stable")[:_MAX_CANDIDATES]]
    # The class of the few candidates only: an argmax over all 8400 x 80 costs more.
    classes = np.argmax(class_scores[keep], axis=1).astype(np.int64)
    scores = best[keep].astype(np.float32)
    boxes = _normalised_xyxy(cxcywh[keep], placement, p, all_boxes)
    chosen = nms(
        boxes,
        scores,
        classes,
        iou_threshold=p.iou_threshold,
        max_detections=p.max_detections,
        class_agnostic=p.agnostic_nms,
    )
    frame_boxes = to_frame(boxes[chosen], placement)
    return Detections(classes[chosen], np.clip(scores[chosen], 0.0, 1.0), frame_boxes), {}


def _normalised_xyxy(
    cxcywh: FloatArray, placement: Placement, p: YoloParams, whole: FloatArray
) -> FloatArray:
    coordinates = p.coordinates
    if coordinates == "auto":
        # Decided on the whole head, not the kept rows, so one frame's few boxes cannot flip it.
        coordinates = "normalized" if float(np.abs(whole).max(initial=0.0)) <= 2.0 else "pixels"
    cx, cy, w, h = (cxcywh[:, i] for i in range(4))
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    if coordinates == "pixels":
        if placement.width <= 0 or placement.height <= 0:
            raise ConfigError(
                "the YOLO head gives boxes in input pixels but the input size is unknown",
                hint="set the decoder setting coordinates",
            )
        xyxy = xyxy / np.asarray([placement.width, placement.height] * 2, np.float32)
    out: FloatArray = xyxy.astype(np.float32)
    return out


def _the_output(outputs: Outputs, p: YoloParams, decoder: str) -> FloatArray:
    if p.output is not None:
        if p.output not in outputs:
            raise _head_error(outputs, decoder, f"was told to read output {p.output!r}")
        return outputs[p.output]
    heads = [value for value in outputs.values() if value.ndim == 3]
    if len(heads) != 1:
        raise _head_error(outputs, decoder, "expects exactly one output of rank 3")
    return heads[0]


def _head_error(outputs: Outputs, decoder: str, problem: str) -> ConfigError:
    shapes = ", ".join(f"{name} {list(value.shape)}" for name, value in outputs.items())
    return ConfigError(
        f"the {decoder} decoder {problem}; the model has {shapes}",
        hint="choose the decoder that matches the model's head with --decoder, or name the "
        "output with --decoder-opt output=NAME",
    )
