"""One frame through the model: preprocess -> infer -> dequantize -> decode -> filter, timed.

Three parts, so the pipeline can run them on three threads: ``prepare`` (resize and
quantize into an input buffer), ``run_prepared`` (``invoke``) and ``decode``
(dequantize, decode, filter). Calling the ``Inference`` runs them one after the other.

Shared by ``edge run``, ``edge check-config`` and the reload check (and later
``edge bench``), so all of them build and measure the same work: ``open_inference``
is the one place that turns a config into a ready model + inference, so whatever
``edge run`` would refuse at start, ``edge check-config`` refuses too.

An ``Inference`` borrows its model's interpreter and never closes it: the
``LoadedModel`` it was made from owns it (``edge.model.load``), and whoever holds that
closes it (``open_inference``'s caller).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.config.run import RunConfig
from edge.decoders.registry import get_decoder, params_model
from edge.errors import ConfigError
from edge.model.backends.base import Array, dequantize
from edge.model.load import LoadedModel, load_model
from edge.model.manifest import InputSpec
from edge.processing.filters import DetectionFilter, build_filter
from edge.processing.preprocess import Placement, Preprocessor
from edge.refine.load import open_classifier
from edge.refine.refiner import Refiner
from edge.types import Detections, Frame, Image, Latency


class Inference:
    """A model's frame path (``edge.pipeline.stages.ModelRunner``); borrows ``model``'s
    interpreter, which the model's owner closes (``LoadedModel.close``)."""

    def __init__(
        self,
        model: LoadedModel,
        detection_filter: DetectionFilter | None = None,
        refiner: Refiner | None = None,
    ) -> None:
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
        self._refiner = refiner

    @property
    def input_spec(self) -> InputSpec:
        """What the model takes (size, colour, resize), from its manifest."""
        return self._preprocess.spec

    def __call__(self, frame: Frame) -> tuple[Detections, dict[str, Any], Latency]:
        """One frame all the way on the calling thread, into this model's own buffer
        (check-config, the reload's test inference)."""
        return self.decode(self.run_prepared(self.prepare(frame, self._preprocess.buffer)))

    def new_input(self) -> Array:
        """An input buffer of this model (the pipeline allocates a few, once)."""
        return np.empty_like(self._preprocess.buffer)

    def prepare(self, frame: Frame, buffer: Array) -> Prepared:
        """Resize and quantize ``frame`` into ``buffer``: the preprocessing stage."""
        started = time.perf_counter()
        placement = self._preprocess.into(frame.image, buffer)
        # A second stage crops from the largest picture of the moment (boxes are normalised).
        picture = frame.full if frame.full is not None else frame.image
        return Prepared(buffer, placement, 1000 * (time.perf_counter() - started), picture)

    def run_prepared(self, prepared: Prepared) -> ModelOutput:
        """``invoke`` on a prepared input (``set_tensor`` copies it into the interpreter,
        so the buffer is free again when this returns): the inference stage."""
        started = time.perf_counter()
        raw = self._backend.infer([prepared.buffer])
        return ModelOutput(
            raw,
            prepared.placement,
            prepared.pre_ms,
            1000 * (time.perf_counter() - started),
            prepared.image,
        )

    def decode(self, output: ModelOutput) -> tuple[Detections, dict[str, Any], Latency]:
        """Dequantize, decode, refine (``[refine]``'s second stage, before the filters:
        it may change labels) and filter what ``run_prepared`` produced (the pipeline's
        decode stage, on another thread). ``Latency.post`` is this work alone, not the
        time the output waited between the stages."""
        started = time.perf_counter()
        outputs = {
            spec.name: dequantize(value, spec)
            for spec, value in zip(self._backend.outputs, output.raw, strict=True)
        }
        detections, extra = self._decode(outputs, output.placement, self.params)
        if self._refiner is not None:
            detections = self._refiner(output.image, detections)
        if self._filter is not None:
            detections = self._filter(detections)
        post_ms = 1000 * (time.perf_counter() - started)
        return detections, extra, Latency(output.pre_ms, output.infer_ms, post_ms)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A frame's input tensor, written into ``buffer``, and where the model's window sits;
    ``image`` is the frame's picture, which a second stage crops (``edge.refine``)."""

    buffer: Array
    placement: Placement
    pre_ms: float
    image: Image


@dataclass(frozen=True, slots=True)
class ModelOutput:
    """What the model gave for one frame, still undecoded. The pipeline keeps it with the
    model that made it (``edge.pipeline.stages.Inferred``): a reload can swap models between
    the stages, and each output is decoded by its own model's decoder."""

    raw: list[Array]
    placement: Placement
    pre_ms: float
    infer_ms: float
    image: Image


def open_inference(config: RunConfig) -> tuple[LoadedModel, Inference]:
    """The model (the caller owns it: ``LoadedModel.close``) and its inference, with the
    config's decoder settings and filters; raises what ``edge run`` would refuse at
    start, after closing the model itself."""
    model = load_model(config.model, config.decoder)
    try:
        f = config.filters
        detection_filter = build_filter(
            model.manifest.labels, f.thresholds, f.allow, f.deny, f.min_area
        )
        refiner = None
        if config.refine.path is not None:
            classifier = open_classifier(config.refine, model, config.model)
            refiner = Refiner(
                Inference(classifier),
                classifier.manifest.labels,
                model.manifest.labels,
                config.refine,
            )
        inference = Inference(model, detection_filter, refiner)
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
