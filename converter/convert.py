"""One conversion, start to finish: the API behind ``edge convert`` and ``models.train``.

``convert(request)`` loads the Keras model, reads the calibration (and evaluation)
data through the device's preprocessing, exports one batch-1 SavedModel, converts it
to float32 (the reference for size and latency) and to the requested mode, evaluates
float (Keras) against converted (LiteRT, the device's code path), embeds the manifest
and writes the ``.tflite`` and the JSON report. It returns the ``Report``.

Scope now: task ``classify``; modes ``int8`` and ``float32``. The ladder in the report
has the one step that was requested; ``--mode auto`` and ``--max-drop`` will make it a
walk over ``converter.quantize.MODES``.

Manifest choices:
- ``input.scale = 1.0, offset = 0.0``: array data holds what the Keras model takes, and
  models that follow the project's recipe take raw pixels (normalisation is a layer
  inside the model), so this is right for them; a model that expects 0..1 inputs from
  image files needs ``input_scale`` set (API only for now).
- decoder ``classify`` with ``top_k = 1`` and ``threshold = 0.5``: a top class below 0.5
  is, by construction, less likely than "one of the others", so the device reports
  nothing rather than a guess. ``activation`` is ``none`` when the float model's outputs
  are probabilities and ``softmax`` when they are logits.
- ``name``: the Keras file's stem (``digits-cnn.keras`` -> ``digits-cnn``), because
  Keras model names are often defaults such as ``sequential``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import edge
from converter.calibration import Calibration, load_calibration
from converter.data import require_exists
from converter.evaluate import (
    ClassifyMetrics,
    EvalSet,
    classify_metrics,
    keras_outputs,
    load_eval,
    looks_like_probabilities,
    tflite_outputs,
)
from converter.keras_model import load_keras_model, model_facts
from converter.manifest import embed_manifest
from converter.measure import LATENCY_NOTE, float_ops, median_latency_ms
from converter.quantize import MODES, IoDtype, convert_saved_model, exported_saved_model
from converter.quiet import import_tensorflow, native_output_captured
from converter.report import LadderStep, Report
from edge.errors import ConversionError, DataError
from edge.manifest import (
    Colour,
    DecoderSpec,
    InputSpec,
    Manifest,
    QuantizationInfo,
    ResizeMode,
)

TASKS = ("classify",)
IO_DTYPES = ("int8", "uint8")
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ConvertRequest:
    """Everything one conversion needs. Paths or already-loaded data."""

    model: Path
    calibration: Path | Calibration
    out: Path | None = None
    task: str = "classify"
    labels: list[str] | None = None
    mode: str = "int8"
    io_dtype: IoDtype = "int8"
    eval: Path | EvalSet | None = None
    report: Path | None = None
    custom_objects: str | None = None
    trust_model: bool = False
    resize: ResizeMode = "stretch"
    colour: Colour | None = None
    input_scale: float = 1.0
    input_offset: float = 0.0
    threshold: float = DEFAULT_THRESHOLD
    latency_seconds: float = 0.5
    progress: bool = True
    extra_versions: dict[str, str] = field(default_factory=dict)

    @property
    def out_path(self) -> Path:
        return self.out or self.model.with_name(f"{self.model.stem}.{self.mode}.tflite")

    @property
    def report_path(self) -> Path:
        out = self.out_path
        return self.report or out.with_name(f"{out.stem}.report.json")


def check_request(request: ConvertRequest) -> None:
    """Reject impossible requests before TensorFlow is even imported."""
    if request.task not in TASKS:
        raise ConversionError(
            f"task {request.task!r} is not supported by this converter yet",
            hint=f"supported: {', '.join(TASKS)}",
        )
    if request.mode not in MODES:
        raise ConversionError(
            f"mode {request.mode!r} is not available", hint=f"choose one of: {', '.join(MODES)}"
        )
    if request.io_dtype not in IO_DTYPES:
        raise ConversionError(
            f"io dtype {request.io_dtype!r} is not available",
            hint=f"choose one of: {', '.join(IO_DTYPES)}",
        )
    if not 0.0 <= request.threshold <= 1.0:
        raise ConversionError(f"threshold {request.threshold} must be within 0..1")
    if isinstance(request.calibration, Path):
        require_exists(request.calibration, "calibration data")
    if isinstance(request.eval, Path):
        require_exists(request.eval, "evaluation data")


@dataclass(frozen=True)
class _Prepared:
    """The loaded model and data, checked against each other."""

    model: Any
    labels: list[str]
    spec: InputSpec
    calibration: Calibration
    eval_set: EvalSet | None
    input_name: str  # reused for the TFLite signature input (``pixels`` etc.)


def convert(request: ConvertRequest) -> Report:
    check_request(request)
    ready = _prepare(request)
    tf = import_tensorflow()
    import keras

    versions = {
        "edge": edge.__version__,
        "tensorflow": str(tf.__version__),
        "keras": str(keras.__version__),
    }
    shape = (ready.spec.height, ready.spec.width, ready.spec.channels)
    with exported_saved_model(ready.model, shape, ready.input_name) as saved:
        float_bytes = convert_saved_model(saved, "float32")
        converted = (
            float_bytes
            if request.mode == "float32"
            else convert_saved_model(
                saved, request.mode, calibration=ready.calibration, io_dtype=request.io_dtype
            )
        )

    # Without eval data, agreement is still measured, on the calibration inputs.
    data = ready.eval_set or EvalSet(ready.calibration.x, None, ready.calibration.source)
    with _progress(request.progress) as stream:
        float_out = keras_outputs(ready.model, data.x, stream)
        quant_out = tflite_outputs(converted, data.x, stream)
    metrics = classify_metrics(float_out, quant_out, data.y, len(ready.labels))
    activation = "none" if looks_like_probabilities(float_out) else "softmax"

    content = embed_manifest(
        converted, _manifest(request, ready, metrics, activation=activation, versions=versions)
    )
    _write(request.out_path, content)
    report = _report(
        request,
        ready,
        metrics,
        float_bytes=float_bytes,
        content=content,
        versions={
            **versions,
            "ai_edge_litert": _version("ai-edge-litert"),
            **request.extra_versions,
        },
    )
    _write(request.report_path, report.to_json().encode("utf-8"))
    return report


def _prepare(request: ConvertRequest) -> _Prepared:
    model = load_keras_model(
        request.model, trust=request.trust_model, custom_objects=request.custom_objects
    )
    facts = model_facts(model, request.model)
    classes = _classes(facts.num_outputs, facts.output_shape, request.model)
    labels = request.labels or [str(i) for i in range(classes)]
    if len(labels) != classes:
        raise DataError(
            f"{len(labels)} labels were given, but the model has {classes} outputs",
            hint="the labels file needs one line per class, in class-id order",
        )
    height, width, channels = facts.input_shape
    colour = request.colour or ("gray" if channels == 1 else "rgb")
    if (colour == "gray") != (channels == 1):
        raise ConversionError(
            f"colour {colour!r} does not fit a model with {channels} input channels",
            hint="use gray for 1 channel, rgb or bgr for 3",
        )
    spec = InputSpec(
        width=width,
        height=height,
        channels=channels,
        colour=colour,
        resize=request.resize,
        scale=request.input_scale,
        offset=request.input_offset,
    )
    calibration = request.calibration
    if not isinstance(calibration, Calibration):
        calibration = load_calibration(calibration, spec)
    if calibration.x.shape[1:] != facts.input_shape:
        raise DataError(
            f"calibration data from {calibration.source} has shape "
            f"{list(calibration.x.shape)}, the model takes [N, {height}, {width}, {channels}]"
        )
    eval_set = request.eval
    if isinstance(eval_set, Path):
        eval_set = load_eval(eval_set, spec, labels)
    return _Prepared(model, labels, spec, calibration, eval_set, facts.input_name)


def _report(
    request: ConvertRequest,
    ready: _Prepared,
    metrics: ClassifyMetrics,
    *,
    float_bytes: bytes,
    content: bytes,
    versions: dict[str, str],
) -> Report:
    calibrated = MODES[request.mode].calibrated
    quantized = {"accuracy": metrics.quantized_accuracy}
    return Report(
        task=request.task,
        mode=request.mode,
        model=str(request.model),
        out=str(request.out_path),
        size_bytes={"float": len(float_bytes), "quantized": len(content)},
        metrics={"float": {"accuracy": metrics.float_accuracy}, "quantized": quantized},
        agreement=metrics.agreement,
        agreement_data="eval" if ready.eval_set is not None else "calibration",
        fidelity={"mean_abs_diff": metrics.mean_abs_diff, "max_abs_diff": metrics.max_abs_diff},
        confusion=None
        if metrics.confusion is None
        else {"labels": ready.labels, "matrix": metrics.confusion},
        float_ops=float_ops(content),
        ladder=[
            LadderStep(
                mode=request.mode,
                size_bytes=len(content),
                metrics=quantized,
                agreement=metrics.agreement,
                accepted=True,
                reason=f"requested with --mode {request.mode}",
            )
        ],
        latency_ms={
            "float": median_latency_ms(float_bytes, min_seconds=request.latency_seconds),
            "quantized": median_latency_ms(content, min_seconds=request.latency_seconds),
            "threads": 1,
            "note": LATENCY_NOTE,
        },
        samples={
            "calibration": ready.calibration.samples,
            "eval": len(ready.eval_set) if ready.eval_set is not None else 0,
        },
        calibration_sha256=ready.calibration.sha256 if calibrated else None,
        io_dtype=request.io_dtype if calibrated else None,
        versions=versions,
    )


def _classes(num_outputs: int, output_shape: tuple[int, ...], path: Path) -> int:
    if num_outputs != 1 or len(output_shape) != 1 or output_shape[0] < 2:
        raise ConversionError(
            f"{str(path)!r} does not look like a classifier: it has {num_outputs} output(s), "
            f"the first of shape [batch, {', '.join(map(str, output_shape))}]; expected one "
            "output [batch, classes]",
            hint="only --task classify is supported so far",
        )
    return output_shape[0]


def _manifest(
    request: ConvertRequest,
    ready: _Prepared,
    metrics: ClassifyMetrics,
    *,
    activation: str,
    versions: dict[str, str],
) -> Manifest:
    calibrated = MODES[request.mode].calibrated
    return Manifest(
        name=request.model.stem,
        task="classify",
        labels=ready.labels,
        input=ready.spec,
        decoder=DecoderSpec(
            name="classify",
            params={"top_k": 1, "threshold": request.threshold, "activation": activation},
        ),
        quantization=QuantizationInfo(
            mode=request.mode,
            calibration_sha256=ready.calibration.sha256 if calibrated else None,
            calibration_samples=ready.calibration.samples if calibrated else None,
        ),
        accuracy={
            "float": metrics.float_accuracy,
            "quantized": metrics.quantized_accuracy,
            "agreement": metrics.agreement,
            "samples": metrics.samples,
            "data": "eval" if ready.eval_set is not None else "calibration",
        },
        converter={
            "version": versions["edge"],
            "tensorflow": versions["tensorflow"],
            "keras": versions["keras"],
        },
    )


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[TextIO | None]:
    """Capture native noise; hand back the terminal for progress bars (or None)."""
    with native_output_captured() as log:
        yield log.terminal if enabled else None


def _write(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a model."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as exc:
        raise ConversionError(
            f"cannot write {str(path)!r}: {exc.strerror}",
            hint="check that the folder exists and is writable, or choose another --out",
        ) from exc


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
