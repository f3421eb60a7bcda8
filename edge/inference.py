"""One frame through the model: preprocess -> infer -> dequantize -> decode, timed.

Shared by ``edge run`` and (later) ``edge bench``, so both measure the same work.
"""

from __future__ import annotations

import time
from typing import Any

from edge.backends.base import dequantize
from edge.errors import ConfigError
from edge.model import LoadedModel
from edge.processing.decoders import get_decoder
from edge.processing.preprocess import Preprocessor
from edge.types import Detections, Frame, Latency


class Inference:
    def __init__(self, model: LoadedModel) -> None:
        manifest = model.manifest
        if manifest.task == "generate":
            raise ConfigError(
                f"{model.file.path.name} is a generator: it turns latent vectors into images "
                "and takes no camera frames, so `edge run` cannot feed it",
                hint="run a model that looks at frames (classify, detect or anomaly); the "
                "shipped anomaly model runs this generator on-device behind its encoder",
            )
        if len(model.backend.inputs) != 1:
            raise ValueError("only single-input image models are supported")
        self._backend = model.backend
        self._preprocess = Preprocessor(manifest.input, model.backend.inputs[0])
        self._decode = get_decoder(manifest.decoder.name)
        self._params = dict(manifest.decoder.params)

    def __call__(self, frame: Frame) -> tuple[Detections, dict[str, Any], Latency]:
        t0 = time.perf_counter()
        tensor, placement = self._preprocess(frame.image)
        t1 = time.perf_counter()
        raw = self._backend.infer([tensor])
        t2 = time.perf_counter()
        outputs = {
            spec.name: dequantize(value, spec)
            for spec, value in zip(self._backend.outputs, raw, strict=True)
        }
        detections, extra = self._decode(outputs, placement, self._params)
        t3 = time.perf_counter()
        return detections, extra, Latency(1000 * (t1 - t0), 1000 * (t2 - t1), 1000 * (t3 - t2))
