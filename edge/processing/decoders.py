"""Raw output tensors -> ``Detections``. Decoders are plain functions in a dict.

A decoder receives the dequantized outputs keyed by tensor name (never by position:
a converted model's output order can differ from Keras's), the placement of the model
window in the frame, and its parameters: the pydantic model of ``edge.processing.params``
(validated once at start), or a plain dict that the decoder validates itself (unit
tests). It returns the ``Detections`` and a dict of extra record fields (``{}`` for
most; the anomaly decoder returns ``{"anomaly": {...}}``), which the record merges at
its top level.

Registered: ``classify``, ``centernet`` (the project's own detector head), ``anomaly``,
``ssd`` (TF-Lite's detection post-process), ``yolov5`` and ``yolov8`` (``yolo11`` is
an alias). ``edge.processing.heads`` picks one from the output tensors of a model that
has no manifest.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.processing.params import ALIASES, ClassifyParams, DecoderParams, canonical
from edge.processing.preprocess import Placement
from edge.types import Detections

Outputs = Mapping[str, npt.NDArray[np.float32]]
Decoded = tuple[Detections, dict[str, Any]]
Params = Mapping[str, Any] | DecoderParams
Decoder = Callable[[Outputs, Placement, Any], Decoded]


def classify(outputs: Outputs, placement: Placement, params: Params) -> Decoded:
    """Top-k classes above ``threshold``; boxes are None.

    ``activation``: ``softmax`` applies it, ``sigmoid`` applies it per value, ``none``
    takes scores as they are, ``auto`` (default) applies softmax only when the values are
    not already probabilities. A ONE-value output is a binary classifier (a Keras
    ``Dense(1, activation="sigmoid")`` head): class 1 with the probability as score when
    it reaches ``decision_threshold``, else class 0 with ``1 - probability`` (``auto``
    takes a value outside 0..1 for a logit and applies the sigmoid).
    """
    del placement  # a classifier describes the whole input window
    if len(outputs) != 1:
        raise ConfigError(
            f"the classify decoder expects one output tensor, the model has {len(outputs)} "
            f"({', '.join(outputs)})",
            hint="choose the decoder that matches the model's head with --decoder",
        )
    p = ClassifyParams.coerce(params)
    scores = next(iter(outputs.values())).reshape(-1).astype(np.float32)
    if len(scores) == 1:
        return _binary(float(scores[0]), p), {}
    if p.activation == "sigmoid":
        scores = (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)
    elif p.activation == "softmax" or (p.activation == "auto" and not _is_probability(scores)):
        shifted = np.exp(scores - scores.max())
        scores = (shifted / shifted.sum()).astype(np.float32)
    order = np.argsort(-scores, kind="stable")[: p.top_k]
    order = order[scores[order] >= p.threshold]
    return Detections(order.astype(np.int64), np.clip(scores[order], 0.0, 1.0)), {}


def _sigmoid(value: float) -> float:
    """1 / (1 + e^-x) without overflow: e^-x overflows a float for x below about -709."""
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    small = math.exp(value)
    return small / (1.0 + small)


def _binary(value: float, p: ClassifyParams) -> Detections:
    """One sigmoid output (a binary Keras classifier): class 1 at ``decision_threshold``."""
    logits = p.activation == "sigmoid" or (p.activation == "auto" and not -0.01 <= value <= 1.01)
    probability = _sigmoid(value) if logits else min(max(value, 0.0), 1.0)
    cut = 0.5 if p.decision_threshold is None else p.decision_threshold
    positive = probability >= cut
    score = probability if positive else 1.0 - probability
    if score < p.threshold:
        return Detections(np.zeros(0, np.int64), np.zeros(0, np.float32))
    return Detections(np.asarray([int(positive)], np.int64), np.asarray([score], np.float32))


def _is_probability(scores: npt.NDArray[np.float32]) -> bool:
    # int8 softmax outputs carry a quantization error of about 1/256 per class.
    return bool(scores.min() >= -0.01 and scores.max() <= 1.01 and abs(scores.sum() - 1) < 0.05)


# name -> (module, function). A decoder's module is imported only when a run chooses it,
# so a classifier's `edge run` never loads the box decoders (cold start, see
# docs/benchmarks.md).
DECODERS: dict[str, tuple[str, str]] = {
    "classify": (__name__, "classify"),
    "centernet": ("edge.processing.detector", "decode_centernet"),
    "anomaly": ("edge.processing.anomaly", "decode_anomaly"),
    "ssd": ("edge.processing.ssd", "decode_ssd"),
    "yolov5": ("edge.processing.yolo", "decode_yolov5"),
    "yolov8": ("edge.processing.yolo", "decode_yolov8"),
}
TASK_DECODERS = {"classify": "classify", "detect": "centernet", "anomaly": "anomaly"}


def get_decoder(name: str) -> Decoder:
    try:
        module, function = DECODERS[canonical(name)]
    except KeyError:
        raise ConfigError(
            f"unknown decoder {name!r}",
            hint=f"choose one of: {', '.join(sorted([*DECODERS, *ALIASES]))}",
        ) from None
    decoder: Decoder = getattr(importlib.import_module(module), function)
    return decoder
