"""Raw output tensors -> ``Detections``. Decoders are plain functions in a dict.

A decoder receives the dequantized outputs keyed by tensor name (never by position:
a converted model's output order can differ from Keras's), the placement of the model
window in the frame, and its parameters: the pydantic model of ``edge.decoders.params``
(validated once at start), or a plain dict that the decoder validates itself (unit
tests). It returns the ``Detections`` and a dict of extra record fields (``{}`` for
most; the anomaly decoder returns ``{"anomaly": {...}}``), which the record merges at
its top level.

Registered: ``classify``, ``centernet`` (the project's own detector head), ``anomaly``,
``ssd`` (TF-Lite's detection post-process), ``yolov5`` and ``yolov8`` (``yolo11`` is
an alias). ``edge.decoders.heads`` picks one from the output tensors of a model that
has no manifest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.decoders.params import ALIASES, DecoderParams, canonical
from edge.errors import ConfigError
from edge.processing.preprocess import Placement
from edge.types import Detections

Outputs = Mapping[str, npt.NDArray[np.float32]]
Decoded = tuple[Detections, dict[str, Any]]
Params = Mapping[str, Any] | DecoderParams
Decoder = Callable[[Outputs, Placement, Any], Decoded]


# name -> (module, function). A decoder's module is imported only when a run chooses it,
# so a classifier's `edge run` never loads the box decoders (cold start, see
# docs/benchmarks.md).
DECODERS: dict[str, tuple[str, str]] = {
    "classify": ("edge.decoders.classify", "classify"),
    "centernet": ("edge.decoders.centernet", "decode_centernet"),
    "anomaly": ("edge.decoders.anomaly", "decode_anomaly"),
    "ssd": ("edge.decoders.ssd", "decode_ssd"),
    "yolov5": ("edge.decoders.yolo", "decode_yolov5"),
    "yolov8": ("edge.decoders.yolo", "decode_yolov8"),
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
