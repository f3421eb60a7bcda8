"""``edge eval MODEL DATA``: the model over labelled samples, the device's way, one figure.

The model is opened as ``edge run`` opens it (``edge.model.load_model``: the manifest,
the probe of a file not verified yet, the LiteRT backend with ``threads``), and each
sample goes through the device's own code: pixels through ``Preprocessor`` (the input
recipe), model values through ``quantize``; one ``invoke`` per sample (the tensors have
a batch of one), outputs through ``dequantize``; then per task:

- classify: the classify decoder with ``top_k`` 1 and no score threshold gives the
  class each sample gets (argmax, or a binary model's decision at its
  ``decision_threshold``); accuracy in % against ``y``;
- detect: the manifest's decoder with its parameters, the score threshold lowered to
  ``EVAL_SCORE_THRESHOLD`` (AP integrates over thresholds, as the converter measures),
  boxes mapped to the image by the preprocessing's placement; mAP@0.5 against the boxes;
- anomaly: the model's one output is the score; ROC-AUC against ``y``;
- generate: the output images; PSNR in dB against ``reference`` with the output range
  the manifest names (``decoder.params.range``, [-1, 1] for a tanh generator).

The figure is reported in the unit the README's table prints: accuracy in % (98.1),
mAP@0.5 and ROC-AUC in 0..1, PSNR in dB.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.config.model import ModelConfig
from edge.decoders.registry import get_decoder, params_model
from edge.errors import ConfigError, ModelError, UsageError
from edge.eval.data import EvalSet, check_data_path, load_eval_set
from edge.eval.layout import METRICS
from edge.eval.metrics import (
    DATA_RANGE,
    Predictions,
    accuracy,
    map_overrides,
    mean_average_precision,
    psnr_db,
    roc_auc,
)
from edge.model.backends.base import dequantize
from edge.model.file import read_model_file
from edge.model.load import LoadedModel, load_model
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.model.zoo import shipped_model_named
from edge.processing.preprocess import Placement, Preprocessor, quantize

log = logging.getLogger("edge")
FloatArray = npt.NDArray[np.float32]
Outputs = dict[str, FloatArray]
MAX_THREADS = 64  # as [model] threads


@dataclass(frozen=True)
class Measurement:
    """One figure: the ``edge eval --json`` object (``model`` is the manifest's name)."""

    model: str
    task: str
    metric: str
    value: float
    samples: int
    data: str

    def to_json(self) -> dict[str, Any]:
        """Strict JSON: an infinite PSNR (outputs equal to the reference) is null."""
        result = asdict(self)
        if not math.isfinite(self.value):
            result["value"] = None
        return result


@dataclass(frozen=True)
class EvalRequest:
    model: Path
    data: Path
    threads: int = 2
    task: str | None = None  # for a model without a manifest
    probe: bool = True


def evaluate(request: EvalRequest) -> tuple[Measurement, str]:
    """The figure, and its line for people (``render``)."""
    if not 1 <= request.threads <= MAX_THREADS:
        raise UsageError(f"--threads must be 1..{MAX_THREADS}, got {request.threads}")
    _check_model_path(request.model)
    check_data_path(request.data)
    task = _declared_task(request.model, request.task)
    model = load_model(
        ModelConfig(
            path=request.model, task=request.task, threads=request.threads, probe=request.probe
        )
    )
    try:
        inputs, outputs = model.backend.inputs, model.backend.outputs
        if len(inputs) != 1:
            raise ModelError(
                f"{request.model} has {len(inputs)} inputs; edge eval measures models with one"
            )
        if task in ("anomaly", "generate") and len(outputs) != 1:
            raise ModelError(
                f"{request.model}: a {task} model has one output; this one has "
                + ", ".join(f"{o.name} {list(o.shape)}" for o in outputs)
            )
        data = load_eval_set(request.data, task, inputs[0], outputs, _classes(model))
        started = time.perf_counter()
        value, detail = _MEASURE[task](model, data)
        seconds = time.perf_counter() - started
    finally:
        model.close()
    log.info(
        "%d samples in %.2f s (%.2f ms each, %d thread%s, runtime %s)",
        len(data),
        seconds,
        1000 * seconds / len(data),
        request.threads,
        "" if request.threads == 1 else "s",
        model.backend.runtime,
    )
    measurement = Measurement(
        model=model.manifest.name,
        task=task,
        metric=METRICS[task][0],
        value=value,
        samples=len(data),
        data=str(request.data),
    )
    return measurement, render(measurement, detail)


def render(m: Measurement, detail: str = "") -> str:
    """``digits-cnn (classify): accuracy 98.1 % on 1,000 samples from PATH``: the figure
    in the README's unit and rounding."""
    name = METRICS[m.task][1]
    if m.task == "classify":
        figure = f"{m.value:.1f} %"
    elif m.task == "generate":
        figure = f"{m.value:.1f} dB against the reference outputs"
    else:
        figure = f"{m.value:.3f}"
    unit = {"detect": "images", "generate": "latent vectors"}.get(m.task, "samples")
    return f"{m.model} ({m.task}): {name} {figure} on {m.samples:,} {unit}{detail} from {m.data}"


def _check_model_path(path: Path) -> None:
    """A missing model gets a hint at the zoo's file when the name is a shipped model's."""
    if path.exists():
        return
    shipped = shipped_model_named(path)
    hint = (
        f"the shipped model of that name is {shipped}"
        if shipped
        else "give the path of a .tflite file"
    )
    raise ModelError(f"model file {str(path)!r} does not exist", hint=hint)


def _declared_task(path: Path, task: str | None) -> str:
    """The task the figure belongs to, refused early when it has no metric here."""
    if task is None:
        raw = read_model_file(path).metadata.get(METADATA_NAME)
        if raw is None:
            raise ModelError(
                f"{path} has no edge manifest, so its task (and the figure to measure) is unknown",
                hint="say what it is with --task classify|detect|anomaly|generate",
            )
        task = parse_manifest(raw, origin=str(path)).task
    if task not in METRICS:
        raise ConfigError(
            f"{path} is a {task!r} model, which has no task metric; edge eval measures "
            + ", ".join(f"{t} ({METRICS[t][1]})" for t in METRICS),
            hint="a raw model is judged against its float model by `edge convert --task raw`",
        )
    return task


def _classes(model: LoadedModel) -> int | None:
    """How many classes the model tells apart, when it says (labels are checked)."""
    manifest = model.manifest
    if manifest.task == "classify" and len(model.backend.outputs) == 1:
        size = int(np.prod(model.backend.outputs[0].shape[1:]))
        return 2 if size == 1 else size
    if manifest.labels:
        return len(manifest.labels)
    count = manifest.decoder.params.get("num_classes")
    return int(count) if isinstance(count, int) else None


def _outputs(model: LoadedModel, data: EvalSet) -> Iterator[tuple[Outputs, Placement]]:
    """Per sample: the dequantized outputs by tensor name and where the model's window
    sits in the image."""
    backend = model.backend
    (tensor,) = backend.inputs
    if data.pixels:
        preprocess = Preprocessor(model.manifest.input, tensor)
        for image in data.x:
            placement = preprocess.into(image, preprocess.buffer)
            yield _dequantized(model, backend.infer([preprocess.buffer])), placement
        return
    shape = tensor.shape
    placement = Placement(width=shape[2], height=shape[1]) if len(shape) == 4 else Placement()
    values = quantize(np.asarray(data.x, np.float32), tensor)
    for i in range(len(values)):
        yield _dequantized(model, backend.infer([values[i : i + 1]])), placement


def _dequantized(model: LoadedModel, raw: list[npt.NDArray[np.generic]]) -> Outputs:
    specs = model.backend.outputs
    return {spec.name: dequantize(value, spec) for spec, value in zip(specs, raw, strict=True)}


def _classify(model: LoadedModel, data: EvalSet) -> tuple[float, str]:
    decode = get_decoder(model.manifest.decoder.name)
    params = params_model(model.manifest.decoder.name).coerce(model.manifest.decoder.params)
    params = params.model_copy(update={"top_k": 1, "threshold": 0.0})
    predicted = np.empty(len(data), np.int64)
    for i, (outputs, placement) in enumerate(_outputs(model, data)):
        detections, _ = decode(outputs, placement, params)
        # Empty only when a "none" activation meets negative scores: the argmax then.
        (scores,) = outputs.values()
        predicted[i] = detections.class_id[0] if len(detections) else int(np.argmax(scores))
    return 100.0 * accuracy(predicted, data.targets("y")), ""


def _detect(model: LoadedModel, data: EvalSet) -> tuple[float, str]:
    decode = get_decoder(model.manifest.decoder.name)
    params = params_model(model.manifest.decoder.name).coerce(model.manifest.decoder.params)
    params = params.model_copy(update=map_overrides(type(params).model_fields))
    predictions: Predictions = []
    for outputs, placement in _outputs(model, data):
        found, _ = decode(outputs, placement, params)
        boxes = found.xyxy if found.xyxy is not None else np.zeros((0, 4), np.float32)
        predictions.append((boxes, found.confidence, found.class_id))
    value = float(mean_average_precision(predictions, data.ground_truth())["map"])
    return value, f" ({data.boxes:,} boxes)"


def _anomaly(model: LoadedModel, data: EvalSet) -> tuple[float, str]:
    scores = np.asarray(
        [next(iter(outputs.values())).reshape(-1)[0] for outputs, _ in _outputs(model, data)],
        np.float64,
    )
    y = data.targets("y")
    return roc_auc(scores, y), f" ({int(y.sum()):,} anomalous)"


def _generate(model: LoadedModel, data: EvalSet) -> tuple[float, str]:
    images = np.stack([next(iter(outputs.values()))[0] for outputs, _ in _outputs(model, data)])
    return psnr_db(data.targets("reference"), images, _output_range(model)), ""


def _output_range(model: LoadedModel) -> float:
    """The span of the generator's output values, from the manifest (default 2: tanh)."""
    span = model.manifest.decoder.params.get("range")
    if (
        isinstance(span, list)
        and len(span) == 2
        and all(isinstance(v, (int, float)) for v in span)
        and math.isfinite(span[1] - span[0])
        and span[1] > span[0]
    ):
        return float(span[1] - span[0])
    return DATA_RANGE


_MEASURE = {
    "classify": _classify,
    "detect": _detect,
    "anomaly": _anomaly,
    "generate": _generate,
}
