"""One conversion, start to finish, in this process: the API behind ``edge convert`` and
the training recipes.

``convert(request)`` runs every step in the calling process, so it executes the model:
the model file is first read as data (``converter.inspect_model``) and refused without
``trust_model`` when it holds more than layers and math. ``edge convert`` does not call
it directly: it runs it in a child process (``converter.isolation.convert_in_child``),
so nothing from the model ever executes in the command's own process.

The steps, each in its own module:

1. ``converter.request``: the request and its checks (no TensorFlow yet);
2. ``converter.inspect_model``: the model read as data, refused if it holds code or I/O;
3. ``converter.prepare``: the model loaded (``.keras``, legacy ``.h5`` or a SavedModel
   folder), the task (``converter.tasks.registry.TASKS``) checked against its outputs,
   labels, the manifest's input description, calibration and evaluation data read through
   the device's preprocessing;
4. here: the quantization rewrites (``converter.rewrite``, skipped with ``no_rewrite``),
   the float reference on the ORIGINAL model (what the user trained), one batch-1
   SavedModel converted to float32 (the reference for size and latency);
5. ``converter.ladder_walk``: the requested modes, one, or with ``auto`` the fallback
   ladder (``converter.ladder``) until a step's gate-metric drop is within ``max_drop``;
6. ``converter.manifest`` and ``converter.build_report``: the manifest embedded in the
   chosen bytes, the ``Report``;
7. ``converter.outputs.StagedOutputs``: the picture (``<report stem>.png``, from
   ``task.plot``), the ``.tflite`` and the JSON report written to temporary files and
   renamed into place together at the end, so a failure at any point leaves existing
   files untouched and no partial result.

When no step meets the budget it raises ``ConversionError`` (exit code 1) naming the layer
int8 hurts most and what to try, and leaves NOTHING at the output paths: a model or report
from an earlier run there is removed, so a stale file cannot pass for this run's result.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import edge
from converter.build_report import build_report
from converter.evaluate import float_outputs
from converter.ladder import failure_message
from converter.ladder_walk import Reference, walk_ladder, with_gate, worst_layer
from converter.manifest import build_decoder, build_manifest, embed_manifest
from converter.outputs import StagedOutputs, remove_stale
from converter.prepare import Prepared, prepare
from converter.progress import Phases
from converter.quantize import convert_saved_model
from converter.quiet import import_tensorflow, progress_terminal
from converter.report import Report
from converter.request import ConvertRequest, check_request
from converter.rewrite import rewrite_for_quantization
from converter.sanity import degenerate, missing_classes, range_advice
from converter.tasks.base import Outputs
from converter.tasks.classify import classify_decisions
from edge.errors import ConversionError

__all__ = ["ConvertRequest", "Report", "check_request", "convert"]

REWRITE_SAMPLES = 32


def convert(request: ConvertRequest) -> Report:
    check_request(request)
    phases = Phases(request.phases, request.phase_clock)
    try:
        return _convert(request, phases)
    finally:
        phases.close()


def _convert(request: ConvertRequest, phases: Phases) -> Report:
    # Read the model as data before anything in it runs, for every caller (the CLI's
    # child process, the training recipes, library users).
    from converter.inspect_model import inspect_model

    phases(f"reading {request.model.name} as data (nothing in it runs yet)")
    inspect_model(request.model, trust=request.trust_model, custom_objects=request.custom_objects)
    phases("importing TensorFlow, loading the model and the data")
    ready = prepare(request)
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
        phases("checking the quantization-friendly layer rewrites")
        keras_model, rewrites = rewrite_for_quantization(
            keras_model, ready.calibration.x[:REWRITE_SAMPLES], enabled=not request.no_rewrite
        )
    else:
        rewrites = ["skipped: rewrites need a Keras model, this is a SavedModel folder"]

    phases(f"float reference: the original model on {len(data)} {ready.data_kind} samples")
    with progress_terminal(request.progress) as stream:
        float_out = float_outputs(ready.source, data.x, stream)
    float_metrics = with_gate(task, task.metrics(float_out, data))
    _check_float_model(request, ready, float_out, phases)

    with ready.source.saved_model(keras_model) as saved:
        phases("exporting a batch-1 SavedModel and converting it to float32 (the reference)")
        float_bytes = convert_saved_model(saved, "float32")
        walk = walk_ladder(
            request,
            ready,
            Reference(saved, float_bytes, float_out, float_metrics),
            max_drop,
            phases=phases,
        )
        chosen, ladder = walk.chosen, walk.ladder
        worst = None if chosen is not None else worst_layer(walk, saved, ready.calibration)
    if chosen is None:
        remove_stale(
            target
            for mode in request.steps
            for target in (
                request.out_for(mode),
                request.report_for(mode),
                request.picture_for(mode),
            )
        )
        message, hint = failure_message(
            model=str(request.model),
            task=task,
            max_drop=max_drop or 0.0,
            tried=[(s.mode, s.drop) for s in ladder],
            worst=worst,
        )
        raise ConversionError(message, hint=hint)

    phases(f"{chosen.mode} chosen; measuring latency against float32")
    out_path = request.out_for(chosen.mode)
    report_path, picture_path = request.report_for(chosen.mode), request.picture_for(chosen.mode)
    decoder = build_decoder(request, ready, float_out)
    content = embed_manifest(
        chosen.content,
        build_manifest(request, ready, chosen, float_metrics, decoder=decoder, versions=versions),
    )
    report = build_report(
        request, ready, chosen, ladder,
        float_metrics=float_metrics, float_bytes=float_bytes, content=content,
        out_path=out_path, plot_path=picture_path, rewrites=rewrites, max_drop=max_drop,
        versions={**versions, "ai_edge_litert": _version("ai-edge-litert"),
                  **request.extra_versions},
    )  # fmt: skip
    phases("drawing the report's picture and writing the outputs")
    with StagedOutputs() as outputs:
        task.plot(float_out, chosen.outputs, data, ready.labels, outputs.path_for(picture_path))
        outputs.write(out_path, content)
        outputs.write(report_path, report.to_json().encode("utf-8"))
        outputs.commit()
    return report


CHECK_SAMPLES = 256  # calibration inputs the float model is checked on


def _check_float_model(
    request: ConvertRequest, ready: Prepared, float_out: Outputs, phases: Phases
) -> None:
    """Warn (stderr now, the report's warnings later) when the float model's own outputs
    look degenerate on calibration inputs, or the calibration data misses classes the
    evaluation data has (``converter.sanity``)."""
    calibration = ready.calibration
    if ready.eval_set is None:
        outputs, shown = float_out, len(calibration.x)  # the float reference ran on it
    else:
        step = max(1, len(calibration.x) // CHECK_SAMPLES)  # strided: sets grouped by class
        sample = calibration.x[::step][:CHECK_SAMPLES]
        phases(f"checking the float model on {len(sample)} calibration inputs")
        outputs, shown = ready.source.predict(sample), len(sample)
    warnings = []
    found = degenerate(outputs)
    if found:
        from_images = isinstance(request.calibration, Path) and request.calibration.is_dir()
        warnings.append(
            f"the float model's own outputs look degenerate on {shown} calibration inputs: "
            f"{found}. int8 is judged against float, so it will pass while both are wrong; "
            "the usual cause is input values the model was not trained on: "
            + range_advice(from_images, ready.spec.scale, ready.spec.offset, request.input_range)
        )
    if ready.task.name == "classify" and ready.eval_set is not None:
        missing = missing_classes(classify_decisions(outputs), ready.eval_set.y, ready.labels)
        if missing:
            warnings.append(missing)
    for warning in warnings:
        phases.warn(warning)
        ready.notes.append(warning)


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
