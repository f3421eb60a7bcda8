"""The ``anomaly`` decoder: one score against the manifest's threshold."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoders.anomaly import decode_anomaly
from edge.decoders.registry import get_decoder
from edge.errors import ConfigError
from edge.processing.preprocess import Placement


@pytest.mark.parametrize(("score", "anomalous"), [(0.5, True), (0.1, False), (0.25, False)])
def test_verdict_is_score_above_threshold(score: float, anomalous: bool) -> None:
    outputs = {"anomaly_score": np.array([[score]], np.float32)}
    detections, extra = decode_anomaly(outputs, Placement(), {"threshold": 0.25})
    assert len(detections) == 0  # equal to the threshold is not anomalous: score > t
    assert extra == {
        "anomaly": {"score": pytest.approx(score), "threshold": 0.25, "anomalous": anomalous}
    }


def test_registered_and_negative_scores_clip_to_zero() -> None:
    decoder = get_decoder("anomaly")
    _, extra = decoder({"s": np.array([[-1e-3]], np.float32)}, Placement(), {"threshold": 0.1})
    assert extra["anomaly"]["score"] == 0.0 and extra["anomaly"]["anomalous"] is False


def test_missing_threshold_and_wrong_heads_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="threshold"):
        decode_anomaly({"s": np.zeros((1, 1), np.float32)}, Placement(), {})
    with pytest.raises(ConfigError, match="one score"):
        decode_anomaly({"s": np.zeros((1, 10), np.float32)}, Placement(), {"threshold": 1})
