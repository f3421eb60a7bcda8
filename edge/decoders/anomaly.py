"""The ``anomaly`` decoder: one score per frame, compared with the manifest's threshold.

An anomaly model (``models/gan.py``: encoder + generator reconstruction error plus a
designed emptiness term for frames with no strokes) computes its score inside the graph,
so the device reads one number and does no image math. The
decoder returns no detections and the record field
``{"anomaly": {"score": s, "threshold": t, "anomalous": s > t}}`` (schema
``edge.result/1``).

``threshold`` comes from the manifest (the converter chooses it on the float model's
scores of normal data) or the config; a model without one is a configuration error, not
a silent default, because the score's scale depends on the model. Scores are clipped
at 0 for the record (its schema says ``minimum 0``): a squared error plus a relu is never
negative, but a dequantized int8 zero point can land a hair below it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.params import AnomalyParams
from edge.errors import ConfigError
from edge.processing.preprocess import Placement
from edge.types import Detections


def decode_anomaly(
    outputs: Mapping[str, npt.NDArray[np.float32]],
    placement: Placement,
    params: Mapping[str, Any] | AnomalyParams,
) -> tuple[Detections, dict[str, Any]]:
    del placement  # the score describes the whole input window
    if len(outputs) != 1 or next(iter(outputs.values())).size != 1:
        described = ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items())
        raise ConfigError(
            f"the anomaly decoder expects one output holding one score; the model has {described}",
            hint="choose the decoder that matches the model's head with --decoder",
        )
    threshold = AnomalyParams.coerce(params).threshold
    if threshold is None:
        raise ConfigError(
            "the anomaly decoder needs a threshold and the model's manifest has none",
            hint="convert the model with `edge convert --task anomaly --eval DATA`, or set "
            "the decoder parameter threshold in the config",
        )
    score = max(0.0, float(next(iter(outputs.values())).reshape(-1)[0]))
    record = {"score": score, "threshold": threshold, "anomalous": score > threshold}
    return Detections.empty(), {"anomaly": record}
