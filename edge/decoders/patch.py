"""The ``patchgan`` decoder: a patch discriminator's realness map as one anomaly score.

A PatchGAN-style critic (the seed article's GAN discriminator: 64x64x3 in, a
``[batch, 16, 16, 1]`` sigmoid map out) judges every patch of the input real or fake;
its decision for the whole frame is the mean over the patches. The device reports it
through the anomaly fields of the result record (``edge.result/1``, unchanged): ``score
= 1 - mean realness`` (0: every patch looks real, 1: none does), the ``threshold`` (0.5 by
default: the discriminator's own decision) and ``anomalous = score > threshold``. The
converter writes this decoder into the manifest of a model whose one output is a
single-channel map (``converter.tasks.classify``), with task ``anomaly``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.patch_params import PatchParams
from edge.errors import ConfigError
from edge.processing.preprocess import Placement
from edge.types import Detections


def realness(values: npt.NDArray[np.float32], activation: str = "auto") -> float:
    """Mean realness over the patches: the map's values, or their sigmoid for logits."""
    array = np.asarray(values, np.float64).reshape(-1)
    logits = activation == "sigmoid" or (
        activation == "auto" and (array.min() < -1e-4 or array.max() > 1 + 1e-4)
    )
    if logits:
        array = 1.0 / (1.0 + np.exp(-array))
    return float(np.clip(array, 0.0, 1.0).mean())


def decode_patch(
    outputs: Mapping[str, npt.NDArray[np.float32]],
    placement: Placement,
    params: Mapping[str, Any] | PatchParams,
) -> tuple[Detections, dict[str, Any]]:
    del placement  # the score describes the whole input window
    if len(outputs) != 1:
        described = ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items())
        raise ConfigError(
            f"the patchgan decoder expects one output, a realness map; the model has {described}",
            hint="choose the decoder that matches the model's head with --decoder",
        )
    settings = PatchParams.coerce(params)
    score = 1.0 - realness(next(iter(outputs.values())), settings.activation)
    record = {
        "score": max(0.0, score),
        "threshold": settings.threshold,
        "anomalous": score > settings.threshold,
    }
    return Detections.empty(), {"anomaly": record}
