"""One conversion, start to finish: the API behind ``edge convert`` and the training recipes.

``convert(request)`` loads the model (``.keras``, legacy ``.h5`` or a SavedModel folder,
``converter.source_model``), looks the task up in ``converter.tasks.registry.TASKS``
(everything task-specific goes through it: output checks, eval data, metrics, gate,
decoder, plot), reads calibration and evaluation data through the device's
preprocessing, applies the quantization rewrites (``converter.rewrite``, skipped with
``no_rewrite``), exports one batch-1 SavedModel and converts it to float32 (the reference
for size and latency) and then walks the requested modes: one mode, or with ``auto``
the fallback ladder (``converter.ladder``) until a step's gate-metric drop is within
``max_drop``. The float side is always the ORIGINAL model (what the user trained); the
quantized side is the converted bytes run through the device's code path.

Checks before any TensorFlow work (``check_request``): the task and modes exist,
``max_drop`` fits the gate metric's unit (a fraction for 0..1 metrics: above 1 is a
``ConfigError``, exit 78; dB for generate/raw), the input range is well-formed.
``ConvertRequest`` has the CLI's defaults (``mode="auto"``).

On success it draws the report picture (``<report stem>.png``, from ``task.plot``) and
then writes the ``.tflite`` (manifest embedded) and the JSON report, and returns the
``Report``; drawing first means a failing picture never leaves a model behind.
When no step meets the budget it raises ``ConversionError`` (exit code 1) naming the
layer int8 hurts most and what to try, and leaves NOTHING at the output paths: a model
or report from an earlier run there is removed, so a stale file cannot pass for this
run's result.

File names: ``out`` if given; otherwise ``<model stem>.<mode>.tflite`` next to the model,
where ``mode`` is the one chosen (with ``auto``: read ``Report.out``). The report
defaults to ``<out stem>.report.json``.

Manifest choices:
- ``input.scale``/``offset``: from ``input_range`` (``--input-range 0..1``) or
  ``input_scale``/``input_offset`` (``converter.input_range``), default 1.0/0.0 (raw
  pixels: models that follow the project's recipe normalise in a layer). Image-folder
  calibration and eval data go through the same values, so the device feeds what
  calibration fed; array data holds what the Keras model takes and is not rescaled.
  A task whose input is not an image provides its own ``InputSpec`` (hook
  ``input_spec``, see ``converter.tasks.base``).
- labels: ``--labels``, else numbered labels "0".."N-1" from the output shape when the
  task can count classes (classify, detect); the report warns that it did so.
- the decoder comes from the task; for ``classify`` the ``threshold`` is the request's.
- ``name``: the model file's stem (``digits-cnn.keras`` -> ``digits-cnn``), because
  Keras model names are often defaults such as ``sequential``.
"""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import edge
from converter.calibration import Calibration, load_calibration, recalibrations
from converter.data import require_exists
from converter.evaluate import float_outputs, tflite_outputs
from converter.input_range import resolve_input_range
from converter.ladder import (
    AUTO_LADDER,
    MIXED,
    RECALIBRATED,
    STEPS,
    Judgement,
    describe_float_set,
    failure_message,
    judge,
    mixed_sizes,
)
from converter.layer_debug import LayerDebugger, LayerError
from converter.manifest import embed_manifest
from converter.measure import LATENCY_NOTE, float_ops, int8_share, median_latency_ms
from converter.quantize import MODES, SLOW_MODES, IoDtype, convert_saved_model
from converter.quiet import import_tensorflow, native_output_captured
from converter.report import LadderStep, Report
from converter.rewrite import rewrite_for_quantization, symmetric_batch_matmul_rhs
from converter.source_model import SourceModel, load_source_model
from converter.tasks.base import Gate, Outputs, Task, TaskEval
from converter.tasks.registry import TASKS
from edge.errors import ConfigError, ConversionError, DataError, ModelError
from edge.manifest import (
    Colour,
    DecoderSpec,
    InputSpec,
    Manifest,
    QuantizationInfo,
    ResizeMode,
)

IO_DTYPES = ("int8", "uint8")
DEFAULT_THRESHOLD = 0.5
REWRITE_SAMPLES = 32


@dataclass(frozen=True)
class ConvertRequest:
    """Everything one conversion needs. Paths or already-loaded data."""

    model: Path
    calibration: Path | Calibration
    out: Path | None = None
    task: str = "classify"
    labels: list[str] | None = None
    mode: str = "auto"  # as the CLI; or any of ladder.STEPS
    io_dtype: IoDtype = "int8"
    eval: Path | TaskEval | None = None  # a file/folder, or held-out data already loaded
    report: Path | None = None
    custom_objects: str | None = None
    trust_model: bool = False
    resize: ResizeMode = "stretch"
    colour: Colour | None = None
    input_scale: float | None = None  # pixel * scale + offset; None: 1.0 (raw pixels)
    input_offset: float | None = None  # None: 0.0
    input_range: str | None = None  # "0..255", "0..1", "-1..1" (converter.input_range)
    threshold: float = DEFAULT_THRESHOLD
    latency_seconds: float = 0.5
    progress: bool = True
    extra_versions: dict[str, str] = field(default_factory=dict)
    max_drop: float | None = None  # None: the task's default budget for auto, no gate else
    ladder: tuple[str, ...] | None = None  # the steps ``auto`` walks (default AUTO_LADDER)
    no_rewrite: bool = False

    def out_for(self, mode: str) -> Path:
        return self.out or self.model.with_name(f"{self.model.stem}.{mode}.tflite")

    def report_for(self, mode: str) -> Path:
        out = self.out_for(mode)
        return self.report or out.with_name(f"{out.stem}.report.json")

    @property
    def steps(self) -> tuple[str, ...]:
        if self.mode != "auto":
            return (self.mode,)
        return self.ladder or AUTO_LADDER

    @property
    def out_path(self) -> Path:
        """The output path; with ``auto`` and no ``out``, the int8 name (see Report.out)."""
        return self.out_for(self.steps[0])

    @property
    def report_path(self) -> Path:
        return self.report_for(self.steps[0])


def check_request(request: ConvertRequest) -> None:
    """Reject impossible requests before TensorFlow is even imported."""
    if request.task not in TASKS:
        raise ConversionError(
            f"task {request.task!r} is not supported by this converter yet",
            hint=f"supported: {', '.join(TASKS)}",
        )
    for mode in (request.mode, *(request.ladder or ())):
        if mode != "auto" and mode not in STEPS:
            raise ConversionError(
                f"mode {mode!r} is not available", hint=f"choose one of: auto, {', '.join(STEPS)}"
            )
    if request.io_dtype not in IO_DTYPES:
        raise ConversionError(
            f"io dtype {request.io_dtype!r} is not available",
            hint=f"choose one of: {', '.join(IO_DTYPES)}",
        )
    if not 0.0 <= request.threshold <= 1.0:
        raise ConversionError(f"threshold {request.threshold} must be within 0..1")
    if request.max_drop is not None:
        _check_max_drop(request.max_drop, TASKS[request.task].gate)
    resolve_input_range(request.input_range, request.input_scale, request.input_offset)
    if isinstance(request.calibration, Path):
        require_exists(request.calibration, "calibration data")
    if isinstance(request.eval, Path):
        require_exists(request.eval, "evaluation data")


def _check_max_drop(max_drop: float, gate: Gate) -> None:
    if not max_drop >= 0:
        raise ConfigError(f"--max-drop {max_drop} must be 0 or more",
                          hint=f"the largest acceptable loss of {gate.metric}, e.g. 0.01")
    if gate.unit == "fraction" and max_drop > 1:
        raise ConfigError(
            f"--max-drop {max_drop:g} is above 1, but {gate.metric} lies in 0..1, so this "
            "budget would accept any loss",
            hint=f"give the budget as a fraction: --max-drop {max_drop / 100:g} means "
            f"{max_drop:g} points of {gate.metric}",
        )


@dataclass(frozen=True)
class _Prepared:
    """The loaded model and data, checked against each other."""

    source: SourceModel
    task: Task
    labels: list[str]
    spec: InputSpec
    calibration: Calibration
    eval_set: TaskEval | None
    notes: list[str] = field(default_factory=list)  # for the report's warnings

    @property
    def data(self) -> TaskEval:
        # Without eval data, agreement is still measured, on the calibration inputs.
        return self.eval_set or TaskEval(self.calibration.x, None, self.calibration.source)


@dataclass(frozen=True)
class _Step:
    mode: str
    content: bytes
    outputs: Outputs
    metrics: dict[str, float | None]
    compare: dict[str, Any]
    judgement: Judgement
    note: str = ""


def convert(request: ConvertRequest) -> Report:
    check_request(request)
    # Read the model as data before anything in it runs, for every caller (the CLI, the
    # training recipes, library users), not only for `edge convert`.
    from converter.inspect_model import inspect_model

    inspect_model(request.model, trust=request.trust_model,
                  custom_objects=request.custom_objects)
    ready = _prepare(request)
    tf = import_tensorflow()
    import keras

    versions = {
        "edge": edge.__version__,
        "tensorflow": str(tf.__version__),
        "keras": str(keras.__version__),
    }
    task, data = ready.task, ready.data
    max_drop = request.max_drop
    if max_drop is None and request.mode == "auto":
        max_drop = task.default_max_drop
    keras_model, rewrites = ready.source.keras_model, list[str]()
    if ready.source.kind == "keras":
        keras_model, rewrites = rewrite_for_quantization(
            keras_model, ready.calibration.x[:REWRITE_SAMPLES], enabled=not request.no_rewrite
        )
    else:
        rewrites = ["skipped: rewrites need a Keras model, this is a SavedModel folder"]

    with _progress(request.progress) as stream:
        float_out = float_outputs(ready.source, data.x, stream)
    float_metrics = _with_gate(task, task.metrics(float_out, data))

    with ready.source.saved_model(keras_model) as saved:
        float_bytes = convert_saved_model(saved, "float32")
        walk = _walk(request, ready, saved, float_bytes=float_bytes, float_out=float_out,
                     float_metrics=float_metrics, max_drop=max_drop)
        chosen, ladder = walk.chosen, walk.ladder
        worst = None if chosen is not None else _worst_layer(walk.debugger, saved,
                                                             ready.calibration)
    if chosen is None:
        _remove_stale(request)
        message, hint = failure_message(
            model=str(request.model), task=task, max_drop=max_drop or 0.0,
            tried=[(s.mode, s.drop) for s in ladder], worst=worst,
        )
        raise ConversionError(message, hint=hint)

    out_path, report_path = request.out_for(chosen.mode), request.report_for(chosen.mode)
    decoder = _decoder(request, task, float_out, data, ready.labels)
    content = embed_manifest(
        chosen.content,
        _manifest(request, ready, chosen, float_metrics, decoder=decoder, versions=versions),
    )
    report = _report(
        request, ready, chosen, ladder,
        float_metrics=float_metrics, float_bytes=float_bytes, content=content,
        out_path=out_path, plot_path=report_path.with_suffix(".png"), rewrites=rewrites,
        max_drop=max_drop,
        versions={**versions, "ai_edge_litert": _version("ai-edge-litert"),
                  **request.extra_versions},
    )  # fmt: skip
    # The picture first: if drawing fails, no model is left on disk without its report.
    _make_folder(report_path)
    task.plot(float_out, chosen.outputs, data, ready.labels, report_path.with_suffix(".png"))
    _write(out_path, content)
    _write(report_path, report.to_json().encode("utf-8"))
    return report


@dataclass
class _Walk:
    chosen: _Step | None
    ladder: list[LadderStep]
    debugger: LayerDebugger | None


def _walk(
    request: ConvertRequest,
    ready: _Prepared,
    saved: Path,
    *,
    float_bytes: bytes,
    float_out: Outputs,
    float_metrics: dict[str, float | None],
    max_drop: float | None,
) -> _Walk:
    """Try the requested steps in order; stop at the first within budget.

    A step may try several candidates (int8-mixed: growing float sets); the first
    candidate within budget ends the walk, so the most int8 that passes is kept."""
    walk = _Walk(None, [], None)
    for mode in request.steps:
        candidates = _candidates(mode, request, ready, saved, float_bytes=float_bytes,
                                 walk=walk)
        while True:
            try:
                candidate = next(candidates, None)
                if candidate is None:
                    break
                step = _evaluate(request, ready, step=(mode, *candidate), float_out=float_out,
                                 float_metrics=float_metrics, max_drop=max_drop)
            except (ConversionError, ModelError) as err:
                # ModelError: the bytes converted but LiteRT cannot load them (e.g.
                # XNNPACK refusing a tensor's quantization): the step failed, not the run.
                if request.mode != "auto":
                    raise
                walk.ladder.append(LadderStep(mode, 0, {}, None, False,
                                              f"conversion failed: {_first_line(str(err))}"))
                break
            walk.ladder.append(_ladder_step(step, request, max_drop))
            if step.judgement.within_budget:
                walk.chosen = step
                return walk
    return walk


def _candidates(
    mode: str, request: ConvertRequest, ready: _Prepared, saved: Path, *, float_bytes: bytes,
    walk: _Walk,
) -> Iterator[tuple[bytes, str]]:
    """``(content, note)`` for each candidate of one ladder step, in the order to try."""
    if mode == MIXED:
        walk.debugger = walk.debugger or LayerDebugger(saved, ready.calibration)
        ranking = walk.debugger.ranking
        for size in mixed_sizes(len(ranking)):
            mixed = walk.debugger.selective_int8(ranking[:size])
            yield _symmetric(mode, request, mixed.content, describe_float_set(ranking, size))
        return
    if mode == RECALIBRATED:  # [9] calibration as a ladder step: converter/calibration.py
        for calibration, note in recalibrations(
                ready.calibration, request.calibration, ready.source.predict,
                spec=ready.spec if ready.source.is_image else None,
                input_shape=ready.source.input_shape):
            content = convert_saved_model(saved, "int8", calibration=calibration,
                                          io_dtype=request.io_dtype)
            yield _symmetric("int8", request, content, note)
        return
    content = float_bytes if mode == "float32" else convert_saved_model(
        saved, mode, calibration=ready.calibration, io_dtype=request.io_dtype
    )
    yield _symmetric(mode, request, content, "")


def _symmetric(mode: str, request: ConvertRequest, content: bytes,
               note: str) -> tuple[bytes, str]:
    if mode in ("int8", MIXED) and not request.no_rewrite:
        # XNNPACK runs int8 BATCH_MATMUL only with a symmetric right-hand input;
        # otherwise attention falls back to a kernel ~8x slower (docs/int8-speed.md).
        content, fixes = symmetric_batch_matmul_rhs(content)
        note = "; ".join(filter(None, [note, *fixes]))
    return content, note


def _evaluate(
    request: ConvertRequest,
    ready: _Prepared,
    *,
    step: tuple[str, bytes, str],
    float_out: Outputs,
    float_metrics: dict[str, float | None],
    max_drop: float | None,
) -> _Step:
    mode, content, note = step
    data = ready.data
    with _progress(request.progress) as stream:
        quant_out = tflite_outputs(
            content, data.x, stream, ready.source.tflite_names, ready.source.output_shapes
        )
    quant_metrics = _with_gate(ready.task, ready.task.metrics(quant_out, data))
    compare = ready.task.compare(float_out, quant_out, data)
    # Fidelity in dB (generate's PSNR/SQNR) is measured against float, so it exists for
    # the quantized model only: it stands in its metrics, where accuracy stands elsewhere.
    for key, value in compare.items():
        if key.endswith("_db") and quant_metrics.get(key) is None \
                and isinstance(value, (int, float)):
            quant_metrics[key] = float(value)
    judgement = judge(ready.task, float_metrics, quant_metrics, compare, max_drop)
    return _Step(mode, content, quant_out, quant_metrics, compare, judgement, note)


def _ladder_step(step: _Step, request: ConvertRequest, max_drop: float | None) -> LadderStep:
    judgement = step.judgement
    reason = judgement.reason
    if max_drop is None:
        reason = f"requested with --mode {request.mode}: {reason}"
    if step.note:
        reason += f"; {step.note}"
    agreement = step.compare.get("agreement")
    share = int8_share(step.content)
    return LadderStep(
        mode=step.mode,
        size_bytes=len(step.content),
        metrics=dict(step.metrics),
        agreement=None if agreement is None else float(agreement),
        accepted=judgement.within_budget,
        reason=reason,
        drop=judgement.drop,
        int8_share={"ops": share.ops, "params": share.params},
    )


def _worst_layer(
    debugger: LayerDebugger | None, saved: Path, calibration: Calibration
) -> LayerError | None:
    """The layer int8 hurts most, for the failure message (None if it cannot be told)."""
    try:
        debugger = debugger or LayerDebugger(saved, calibration)
    except ConversionError:
        return None
    return debugger.ranking[0] if debugger.ranking else None


def _with_gate(task: Task, metrics: dict[str, float]) -> dict[str, float | None]:
    """The task's metrics, with the gate metric present (None when not measurable)."""
    result: dict[str, float | None] = dict(metrics)
    result.setdefault(task.gate.metric, None)
    return result


def _prepare(request: ConvertRequest) -> _Prepared:
    task = TASKS[request.task]
    source = load_source_model(
        request.model, trust=request.trust_model, custom_objects=request.custom_objects
    )
    task.check_outputs(source.output_shapes, str(request.model))
    expected = task.default_labels(source.output_shapes)
    labels = request.labels or expected or []
    notes = []
    if not request.labels and expected:
        notes.append(
            f"no --labels given: the manifest carries numbered labels 0..{len(expected) - 1}; "
            "pass --labels (one name per line, in class order) to name them"
        )
    if expected is not None and len(labels) != len(expected):
        raise DataError(
            f"{len(labels)} labels were given, but the model has {len(expected)} outputs",
            hint="the labels file needs one line per class, in class-id order",
        )
    spec = _input_spec(request, source, task)
    calibration = request.calibration
    if not isinstance(calibration, Calibration):
        calibration = load_calibration(
            calibration, spec if source.is_image else None, input_shape=source.input_shape
        )
    if calibration.x.shape[1:] != source.input_shape:
        raise DataError(
            f"calibration data from {calibration.source} has shape "
            f"{list(calibration.x.shape)}, the model takes "
            f"[N, {', '.join(map(str, source.input_shape))}]"
        )
    eval_set: TaskEval | None = None
    if isinstance(request.eval, Path):
        eval_set = task.load_eval(request.eval, spec, labels)
    elif request.eval is not None:
        eval_set = request.eval
    return _Prepared(source, task, labels, spec, calibration, eval_set, notes)


def _input_spec(request: ConvertRequest, source: SourceModel, task: Task) -> InputSpec:
    default: InputSpec | None = None
    if source.is_image:
        height, width, channels = source.input_shape
        colour = request.colour or ("gray" if channels == 1 else "rgb")
        if (colour == "gray") != (channels == 1):
            raise ConversionError(
                f"colour {colour!r} does not fit a model with {channels} input channels",
                hint="use gray for 1 channel, rgb or bgr for 3",
            )
        scale, offset = resolve_input_range(
            request.input_range, request.input_scale, request.input_offset
        )
        default = InputSpec(
            width=width,
            height=height,
            channels=channels,
            colour=colour,
            resize=request.resize,
            scale=scale,
            offset=offset,
        )
    spec = task.input_spec(source.input_shape, default)
    if spec is None:
        raise ConversionError(
            f"{str(request.model)!r} takes input [batch, "
            f"{', '.join(map(str, source.input_shape))}], not an image [batch, height, width, "
            f"1 or 3], and task {task.name!r} only handles images",
            hint="choose the --task that matches the model (generate takes latent vectors)",
        )
    return spec


def _decoder(
    request: ConvertRequest, task: Task, float_out: Outputs, data: TaskEval, labels: list[str]
) -> DecoderSpec:
    decoder = task.decoder(float_out, data, labels)
    if decoder.name == "classify":
        decoder = DecoderSpec(name="classify",
                              params={**decoder.params, "threshold": request.threshold})
    return decoder


def _calibrated(mode: str) -> bool:
    return mode == MIXED or (mode in MODES and MODES[mode].calibrated)


def speed_summary(mode: str, float_ms: float, quant_ms: float) -> str:
    """The one sentence nobody should miss: is the chosen model faster or slower?"""
    where = f"on this machine ({platform.machine() or 'unknown CPU'}, XNNPACK); ARM differs"
    if float_ms <= 0 or quant_ms <= 0:
        return f"{mode} latency could not be measured {where}"
    if mode == "float32":
        return f"float32 chosen: not quantized, {float_ms:.3f} ms per invoke {where}"
    ratio = float_ms / quant_ms
    if ratio >= 1:
        return f"{mode} is {ratio:.1f}x faster than float32 {where}"
    return f"{mode} is {1 / ratio:.1f}x SLOWER than float32 {where}"


def _report(
    request: ConvertRequest,
    ready: _Prepared,
    chosen: _Step,
    ladder: list[LadderStep],
    *,
    float_metrics: dict[str, float | None],
    float_bytes: bytes,
    content: bytes,
    out_path: Path,
    plot_path: Path,
    rewrites: list[str],
    max_drop: float | None,
    versions: dict[str, str],
) -> Report:
    calibrated = _calibrated(chosen.mode)
    compare = chosen.compare
    float_ms = median_latency_ms(float_bytes, min_seconds=request.latency_seconds)
    quant_ms = median_latency_ms(content, min_seconds=request.latency_seconds)
    warnings = [SLOW_MODES[chosen.mode]] if chosen.mode in SLOW_MODES else []
    warnings += ready.notes
    fidelity: dict[str, float] = {
        k: float(compare[k]) for k in ("mean_abs_diff", "max_abs_diff") if k in compare
    }
    confusion = compare.get("confusion")
    agreement = compare.get("agreement")
    return Report(
        task=request.task,
        mode=chosen.mode,
        model=str(request.model),
        out=str(out_path),
        size_bytes={"float": len(float_bytes), "quantized": len(content)},
        metrics={"float": float_metrics, "quantized": chosen.metrics},
        agreement=None if agreement is None else float(agreement),
        agreement_data="eval" if ready.eval_set is not None else "calibration",
        fidelity=fidelity,
        confusion=None if confusion is None else {"labels": ready.labels, "matrix": confusion},
        float_ops=float_ops(content),
        ladder=ladder,
        latency_ms={
            "float": float_ms,
            "quantized": quant_ms,
            "threads": 1,
            "summary": speed_summary(chosen.mode, float_ms, quant_ms),
            "note": LATENCY_NOTE,
        },
        samples={"calibration": ready.calibration.samples, "eval": len(ready.eval_set)
                 if ready.eval_set is not None else 0},
        calibration_sha256=ready.calibration.sha256 if calibrated else None,
        io_dtype=request.io_dtype if chosen.mode == "int8" else None,
        versions=versions,
        gate={"metric": ready.task.gate.metric, "higher_is_better":
              ready.task.gate.higher_is_better, "unit": ready.task.gate.unit,
              "max_drop": max_drop,
              "drop": chosen.judgement.drop, "basis": chosen.judgement.basis,
              "reason": chosen.judgement.reason},
        comparison={k: v for k, v in compare.items()
                    if not isinstance(v, (list, dict))},
        rewrites=rewrites,
        plot=str(plot_path),
        warnings=warnings,
    )  # fmt: skip


def _manifest(
    request: ConvertRequest,
    ready: _Prepared,
    chosen: _Step,
    float_metrics: dict[str, float | None],
    *,
    decoder: DecoderSpec,
    versions: dict[str, str],
) -> Manifest:
    calibrated = _calibrated(chosen.mode)
    gate = ready.task.gate.metric
    return Manifest(
        name=request.model.stem,
        task=ready.task.name,
        labels=ready.labels,
        input=ready.spec,
        decoder=decoder,
        quantization=QuantizationInfo(
            mode=chosen.mode,
            calibration_sha256=ready.calibration.sha256 if calibrated else None,
            calibration_samples=ready.calibration.samples if calibrated else None,
        ),
        accuracy={
            "metric": gate,
            "float": float_metrics.get(gate),
            "quantized": chosen.metrics.get(gate),
            "agreement": chosen.compare.get("agreement"),
            "samples": len(ready.data),
            "data": "eval" if ready.eval_set is not None else "calibration",
        },
        converter={
            "version": versions["edge"],
            "tensorflow": versions["tensorflow"],
            "keras": versions["keras"],
        },
    )


def _remove_stale(request: ConvertRequest) -> None:
    """Remove what an earlier run left at this run's output paths (nothing is written)."""
    for mode in request.steps:
        for path in (request.out_for(mode), request.report_for(mode)):
            for stale in (path, path.with_suffix(".png")) if path.suffix == ".json" else (path,):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[TextIO | None]:
    """Capture native noise; hand back the terminal for progress bars (or None)."""
    with native_output_captured() as log:
        yield log.terminal if enabled else None


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(
            f"cannot create the folder {str(path.parent)!r}: {exc.strerror}",
            hint="check that the folder is writable, or choose another --out/--report",
        ) from exc


def _write(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a model."""
    _make_folder(path)
    try:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as exc:
        raise ConversionError(
            f"cannot write {str(path)!r}: {exc.strerror}",
            hint="check that the folder exists and is writable, or choose another --out",
        ) from exc


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
