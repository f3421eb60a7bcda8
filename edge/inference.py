"""One frame through the model: preprocess -> infer -> dequantize -> decode -> filter, timed.

Shared by ``edge run``, ``edge check-config`` and the reload check (and later
``edge bench``), so all of them build and measure the same work: ``open_inference``
is the one place that turns a config into a ready model + inference, so whatever
``edge run`` would refuse at start, ``edge check-config`` refuses too.
"""

from __future__ import annotations

import time
from typing import Any

from edge.backends.base import dequantize
from edge.config import RunConfig
from edge.errors import ConfigError
from edge.model import LoadedModel, load_model
from edge.processing.decoders import get_decoder
from edge.processing.filters import DetectionFilter, build_filter
from edge.processing.params import params_model
from edge.processing.preprocess import Preprocessor
from edge.types import Detections, Frame, Latency


class Inference:
    def __init__(self, model: LoadedModel, detection_filter: DetectionFilter | None = None) -> None:
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
        self.decoder = manifest.decoder.name
        self.params = params_model(manifest.decoder.name).coerce(manifest.decoder.params)
        self._filter = detection_filter

    def close(self) -> None:
        """Free the interpreter (idempotent): the reload closes the model it replaced."""
        self._backend.close()

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
        detections, extra = self._decode(outputs, placement, self.params)
        if self._filter is not None:
            detections = self._filter(detections)
        t3 = time.perf_counter()
        return detections, extra, Latency(1000 * (t1 - t0), 1000 * (t2 - t1), 1000 * (t3 - t2))


def open_inference(config: RunConfig) -> tuple[LoadedModel, Inference]:
    """The model (the caller closes it) and its inference, with the config's decoder
    settings and filters; raises what ``edge run`` would refuse at start."""
    model = load_model(config.model, config.decoder)
    try:
        f = config.filters
        detection_filter = build_filter(model.manifest.labels, f.thresholds, f.allow, f.deny,
                                        f.min_area)
        inference = Inference(model, detection_filter)
        if config.events.enabled and model.manifest.task != "detect":
            raise ConfigError(
                f"event mode tracks boxes, and {model.file.path.name} is a "
                f"{model.manifest.task} model with none",
                hint="turn [events] enabled off, or run a detection model",
            )
    except BaseException:
        model.close()
        raise
    return model, inference
