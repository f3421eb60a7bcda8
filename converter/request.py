"""What one conversion is asked to do (``ConvertRequest``) and the checks made before any
TensorFlow work (``check_request``).

``ConvertRequest`` has the CLI's defaults (``mode="auto"``, task ``classify``, int8
input/output), so a library caller and ``edge convert`` with the same arguments get the
same conversion. ``edge convert`` hands over its flags as a typed
``edge.cli.convert_request.ConvertCommand``; ``ConvertRequest.from_command`` turns that into
a request (the labels file is read there).

The checks: the task and modes exist, ``max_drop`` fits the gate metric's unit (a fraction
for 0..1 metrics: above 1 is a ``ConfigError``, exit 78; dB for generate/raw), the input
range is well-formed, the data paths exist. They import no TensorFlow, so ``edge convert``
runs them in its own process before it starts the conversion's child process.

File names: ``out`` if given; otherwise ``<model stem>.<mode>.tflite`` next to the model,
where ``mode`` is the one chosen (with ``auto``: read ``Report.out``). The report
defaults to ``<out stem>.report.json``, its picture to ``<report stem>.png``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, get_args

from converter.calibration import Calibration
from converter.data import require_exists
from converter.input_range import resolve_input_range
from converter.ladder import AUTO_LADDER, STEPS
from converter.tasks.base import Gate, TaskEval
from converter.tasks.registry import TASKS
from edge.errors import ConfigError, ConversionError
from edge.model.convert_choices import IoDtype
from edge.model.labels import read_labels
from edge.model.manifest import Colour, ResizeMode

if TYPE_CHECKING:
    from edge.cli.convert_request import ConvertCommand

IO_DTYPES: tuple[IoDtype, ...] = get_args(IoDtype)
DEFAULT_THRESHOLD = 0.5


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
    # Phase lines on stderr (converter.progress); ``edge convert`` turns them on, timed
    # from ``phase_clock`` (time.monotonic() in the command's process) when given.
    phases: bool = False
    phase_clock: float | None = None
    extra_versions: dict[str, str] = field(default_factory=dict)
    max_drop: float | None = None  # None: the task's default budget for auto, no gate else
    ladder: tuple[str, ...] | None = None  # the steps ``auto`` walks (default AUTO_LADDER)
    no_rewrite: bool = False

    @classmethod
    def from_command(cls, command: ConvertCommand) -> ConvertRequest:
        """What ``edge convert`` asks for; its labels file is read here (a missing one is
        a ``ConfigError``). Progress goes to stderr unless the report is printed as JSON."""
        return cls(
            model=command.model,
            calibration=command.calibration,
            out=command.out,
            task=command.task,
            labels=read_labels(command.labels) if command.labels else None,
            mode=command.mode,
            io_dtype=command.io_dtype,
            eval=command.eval,
            report=command.report,
            custom_objects=command.custom_objects,
            trust_model=command.trust_model,
            resize=command.resize,
            colour=command.colour,
            input_scale=command.input_scale,
            input_offset=command.input_offset,
            input_range=command.input_range,
            progress=not command.json,
            phases=True,
            max_drop=command.max_drop,
            no_rewrite=command.no_rewrite,
        )

    def out_for(self, mode: str) -> Path:
        return self.out or self.model.with_name(f"{self.model.stem}.{mode}.tflite")

    def report_for(self, mode: str) -> Path:
        out = self.out_for(mode)
        return self.report or out.with_name(f"{out.stem}.report.json")

    def picture_for(self, mode: str) -> Path:
        return self.report_for(mode).with_suffix(".png")

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
        raise ConfigError(
            f"--max-drop {max_drop} must be 0 or more",
            hint=f"the largest acceptable loss of {gate.metric}, e.g. 0.01",
        )
    if gate.unit == "fraction" and max_drop > 1:
        raise ConfigError(
            f"--max-drop {max_drop:g} is above 1, but {gate.metric} lies in 0..1, so this "
            "budget would accept any loss",
            hint=f"give the budget as a fraction: --max-drop {max_drop / 100:g} means "
            f"{max_drop:g} points of {gate.metric}",
        )
