"""The ``classify`` decoder: one output of class scores (softmax or logits) or one
sigmoid value (a binary classifier) -> top-k ``Detections`` with no boxes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from edge.decoders.params import ClassifyParams
from edge.decoders.registry import Decoded, Outputs, Params
from edge.errors import ConfigError
from edge.processing.preprocess import Placement
from edge.types import Detections


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
