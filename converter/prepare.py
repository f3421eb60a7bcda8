"""Load the model and the data of one request and check them against each other.

``prepare(request)`` loads the model (``converter.source_model``; the caller has already
inspected it, ``converter.inspect_model``), checks its outputs against the task, settles
the labels (``--labels``, else numbered labels when the task can count classes, with a
warning for the report), builds the input description the manifest will carry and reads
calibration and evaluation data through it, so image folders go through the device's
own preprocessing.

Manifest input choices: ``scale``/``offset`` from ``input_range`` (``--input-range
0..1``) or ``input_scale``/``input_offset`` (``converter.input_range``), default 1.0/0.0
(raw pixels: models that follow the project's recipe normalise in a layer). Array data
holds what the Keras model takes and is not rescaled. A task whose input is not an image
provides its own ``InputSpec`` (hook ``input_spec``, see ``converter.tasks.base``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from converter.calibration import Calibration, load_calibration
from converter.input_range import resolve_input_range
from converter.request import ConvertRequest
from converter.source_model import SourceModel, load_source_model
from converter.tasks.base import Task, TaskEval
from converter.tasks.registry import TASKS, task_hint
from edge.errors import ConversionError, DataError
from edge.model.manifest import InputSpec


@dataclass(frozen=True)
class Prepared:
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

    @property
    def data_kind(self) -> str:
        """What agreement was measured on: "eval", or "calibration" without eval data."""
        return "eval" if self.eval_set is not None else "calibration"


def prepare(request: ConvertRequest) -> Prepared:
    task = TASKS[request.task]
    source = load_source_model(
        request.model, trust=request.trust_model, custom_objects=request.custom_objects
    )
    try:
        task.check_outputs(source.output_shapes, str(request.model))
    except ConversionError as err:
        # Whatever the task said, the hint lists every task that fits, raw included.
        raise _with_task_hint(err, source) from None
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
    return Prepared(source, task, labels, spec, calibration, eval_set, notes)


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
    try:
        spec = task.input_spec(source.input_shape, default)
    except ConversionError as err:
        raise _with_task_hint(err, source) from None
    if spec is None:
        raise ConversionError(
            f"{str(request.model)!r} takes input [batch, "
            f"{', '.join(map(str, source.input_shape))}], not an image [batch, height, width, "
            f"1 or 3], and task {task.name!r} only handles images",
            hint=task_hint(source.output_shapes, source.input_shape),
        )
    return spec


def _with_task_hint(err: ConversionError, source: SourceModel) -> ConversionError:
    """The task's refusal, its hint ending with every task that fits, raw included."""
    listed = task_hint(source.output_shapes, source.input_shape)
    return ConversionError(err.message, hint=f"{err.hint}; or {listed}" if err.hint else listed)
