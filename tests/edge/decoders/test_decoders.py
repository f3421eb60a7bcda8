from __future__ import annotations

import numpy as np
import pytest

from edge.decoders.classify import classify
from edge.decoders.registry import get_decoder
from edge.errors import ConfigError
from edge.processing.preprocess import Placement


def scores(*values: float) -> dict[str, np.ndarray]:
    return {"out": np.asarray([values], np.float32)}


def test_top_k_in_score_order() -> None:
    det, _ = classify(scores(0.1, 0.6, 0.3), Placement(), {"top_k": 2})
    assert det.class_id.tolist() == [1, 2]
    assert det.confidence.tolist() == pytest.approx([0.6, 0.3])
    assert det.xyxy is None


def test_threshold_drops_low_scores() -> None:
    assert len(classify(scores(0.4, 0.35, 0.25), Placement(), {"threshold": 0.5})[0]) == 0


def test_logits_get_softmax_automatically() -> None:
    det, _ = classify(scores(2.0, -1.0, 5.0), Placement(), {})
    assert det.class_id.tolist() == [2]
    assert 0.9 < float(det.confidence[0]) <= 1.0


def test_probabilities_are_left_alone() -> None:
    det, _ = classify(scores(0.2, 0.8), Placement(), {"activation": "auto"})
    assert float(det.confidence[0]) == pytest.approx(0.8)


def test_two_outputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="one output tensor"):
        classify({"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)}, Placement(), {})


def test_unknown_decoder() -> None:
    with pytest.raises(ConfigError, match="unknown decoder 'yolo9'"):
        get_decoder("yolo9")


@pytest.mark.parametrize(
    ("value", "params", "expected"),
    [
        (0.8, {}, (1, 0.8)),  # a sigmoid probability above the decision threshold
        (0.3, {}, (0, 0.7)),  # below: class 0 with 1 - p
        (0.3, {"decision_threshold": 0.25}, (1, 0.3)),
        (2.0, {}, (1, 1 / (1 + np.exp(-2.0)))),  # outside 0..1: a logit
        (0.2, {"activation": "sigmoid"}, (1, 1 / (1 + np.exp(-0.2)))),
    ],
)
def test_one_value_is_a_binary_classifier(
    value: float, params: dict[str, object], expected: tuple[int, float]
) -> None:
    detections, _ = classify(
        {"out": np.asarray([[value]], np.float32)}, Placement(), {"top_k": 1, **params}
    )
    assert detections.class_id.tolist() == [expected[0]]
    assert detections.confidence[0] == pytest.approx(expected[1], abs=1e-6)


def test_binary_score_below_threshold_reports_nothing() -> None:
    detections, _ = classify(
        {"out": np.asarray([[0.55]], np.float32)}, Placement(), {"threshold": 0.6}
    )
    assert len(detections.class_id) == 0


@pytest.mark.parametrize("logit", [-710.0, -1e30, 710.0, 1e30])
def test_binary_logits_far_out_do_not_overflow(logit: float) -> None:
    """A sigmoid head's logit of -710 overflowed math.exp (found by hypothesis)."""
    from edge.decoders.params import ClassifyParams

    detections, _ = get_decoder("classify")(
        {"p": np.asarray([[logit]], np.float32)}, Placement(), ClassifyParams(activation="sigmoid")
    )
    assert list(detections.class_id) == [int(logit > 0)]
    assert detections.confidence[0] == pytest.approx(1.0)
