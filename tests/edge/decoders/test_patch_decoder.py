"""The ``patchgan`` decoder: a realness map as one anomaly score per frame."""

from __future__ import annotations

import numpy as np
import pytest

from edge.decoders.patch import decode_patch
from edge.decoders.registry import decoder_info, task_of
from edge.errors import ConfigError
from edge.processing.preprocess import Placement

PLACE = Placement(0.0, 0.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("realness", "activation", "score"),
    [
        (np.full((1, 16, 16, 1), 0.9, np.float32), "auto", 0.1),
        (np.full((1, 16, 16, 1), 0.2, np.float32), "none", 0.8),
        (np.zeros((1, 4, 4, 1), np.float32), "sigmoid", 0.5),  # logits 0: sigmoid 0.5
        (np.full((1, 4, 4, 1), -3.0, np.float32), "auto", 1 - 1 / (1 + np.exp(3.0))),
    ],
)
def test_score_is_one_minus_mean_realness(
    realness: np.ndarray, activation: str, score: float
) -> None:
    detections, extra = decode_patch(
        {"map": realness}, PLACE, {"threshold": 0.5, "activation": activation}
    )
    assert len(detections) == 0
    assert extra["anomaly"]["score"] == pytest.approx(score, abs=1e-6)
    assert extra["anomaly"]["anomalous"] == (score > 0.5)


def test_half_real_map_averages_and_registry_row() -> None:
    realness = np.zeros((1, 2, 2, 1), np.float32)
    realness[0, 0] = 1.0  # half the patches real
    _, extra = decode_patch({"map": realness}, PLACE, {"threshold": 0.4})
    assert extra["anomaly"] == {"score": 0.5, "threshold": 0.4, "anomalous": True}
    assert task_of("patchgan") == "anomaly" and decoder_info("patch-discriminator").name == (
        "patchgan"
    )
    with pytest.raises(ConfigError, match="expects one output"):
        decode_patch({"a": realness, "b": realness}, PLACE, {})
