"""Raw output tensors -> ``Detections``. Decoders are plain functions in a dict.

A decoder receives the dequantized outputs keyed by tensor name (never by position:
a converted model's output order can differ from Keras's), the placement of the model
window in the frame, and its parameters from the manifest or config. It returns the
``Detections`` and a dict of extra record fields (``{}`` for most; the anomaly decoder
returns ``{"anomaly": {...}}``), which the record merges at its top level.

Only ``classify`` exists so far; the detector heads (ssd, yolov5, yolov8, the
project's own) and ``anomaly`` plug in here with their own issue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.processing.anomaly import decode_anomaly
from edge.processing.detector import decode_centernet
from edge.processing.preprocess import Placement
from edge.types import Detections

Outputs = Mapping[str, npt.NDArray[np.float32]]
Decoded = tuple[Detections, dict[str, Any]]
Decoder = Callable[[Outputs, Placement, Mapping[str, Any]], Decoded]


def classify(outputs: Outputs, placement: Placement, params: Mapping[str, Any]) -> Decoded:
    """Top-k classes above ``threshold``; boxes are None.

    ``activation``: ``softmax`` applies it, ``none`` takes scores as they are, ``auto``
    (default) applies softmax only when the values are not already probabilities.
    """
    del placement  # a classifier describes the whole input window
    if len(outputs) != 1:
        raise ConfigError(
            f"the classify decoder expects one output tensor, the model has {len(outputs)} "
            f"({', '.join(outputs)})",
            hint="choose the decoder that matches the model's head with --decoder",
        )
    scores = next(iter(outputs.values())).reshape(-1).astype(np.float32)
    activation = params.get("activation", "auto")
    if activation == "softmax" or (activation == "auto" and not _is_probability(scores)):
        shifted = np.exp(scores - scores.max())
        scores = (shifted / shifted.sum()).astype(np.float32)
    top_k = int(params.get("top_k", 1))
    threshold = float(params.get("threshold", 0.0))
    order = np.argsort(-scores, kind="stable")[:top_k]
    order = order[scores[order] >= threshold]
    return Detections(order.astype(np.int64), np.clip(scores[order], 0.0, 1.0)), {}


def _is_probability(scores: npt.NDArray[np.float32]) -> bool:
    # int8 softmax outputs carry a quantization error of about 1/256 per class.
    return bool(scores.min() >= -0.01 and scores.max() <= 1.01 and abs(scores.sum() - 1) < 0.05)


DECODERS: dict[str, Decoder] = {"classify": classify, "centernet": decode_centernet,
                               "anomaly": decode_anomaly}
TASK_DECODERS = {"classify": "classify", "detect": "centernet", "anomaly": "anomaly"}


def get_decoder(name: str) -> Decoder:
    try:
        return DECODERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown decoder {name!r}",
            hint=f"choose one of: {', '.join(sorted(DECODERS))}",
        ) from None
