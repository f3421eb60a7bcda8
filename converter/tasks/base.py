"""The contract every task module implements (classify, detect, generate, anomaly).

The converter runs the float Keras model and the converted ``.tflite`` on the same
evaluation inputs and hands both sets of outputs to the task, keyed by the Keras
output name (never by position: a converted model's output order differs from
Keras's). Output arrays are stacked over the evaluation set: ``(N, *output_shape)``.

A task decides:
- what evaluation data looks like (``load_eval``) and which model outputs it expects
  (``check_outputs``);
- its metrics for one model (``metrics``) and the comparison of the two (``compare``);
- the ``gate``: the one metric the quality gate and the fallback ladder judge, and
  whether higher is better; ``drop`` is how much the quantized model lost on it;
- the decoder the device will use (``decoder``), written into the manifest;
- a picture for the report (``plot``), written next to the model as PNG.

Optional hooks, with their defaults in ``TaskDefaults`` (every task subclasses it and
overrides what does not fit):
- ``default_labels(output_shapes) -> list[str]``: labels when none are given (classify:
  "0".."N-1"); without it the manifest's label list is empty unless ``--labels``.
- ``input_spec(input_shape, default) -> InputSpec``: the manifest's input description.
  ``default`` is the image spec built from the flags, or None when the input is not an
  image ``(H, W, 1|3)`` (e.g. a generator's latent vector ``(latent_dim,)``); such a task
  must return a spec, and its calibration/eval data come from ``.npy``/``.npz`` only.
- ``drop_without_labels(compare) -> float | None``: the gate drop when ``metrics`` could
  not compute the gate metric (no labelled eval data), from the cross metrics;
  ``without_labels`` says in words what that drop measures.
- ``explain(...) -> str``: the gate's verdict as one sentence for the report and ladder.

Tasks gated on a fidelity in dB against float that must reach a bar (generate's PSNR,
raw's worst SQNR) subclass ``DecibelBar``, which gives the drop (the shortfall below the
bar) and the verdict's wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from edge.model.manifest import DecoderSpec, InputSpec

FloatArray = npt.NDArray[np.float32]
Outputs = Mapping[str, FloatArray]


@dataclass(frozen=True)
class TaskEval:
    """Evaluation data: model inputs ``x`` (as Keras takes them) and task targets ``y``.

    ``y`` is task-specific: class ids (classify), a list of (boxes, classes) per image
    (detect), None (generate: the float model is the reference), 0/1 "is anomalous"
    (anomaly).
    """

    x: FloatArray
    y: Any
    source: str

    def __len__(self) -> int:
        return len(self.x)


GateUnit = Literal["fraction", "dB"]


@dataclass(frozen=True)
class Gate:
    metric: str  # a key of ``metrics()``, e.g. "accuracy", "map50", "psnr_db", "roc_auc"
    higher_is_better: bool = True
    # "fraction": the metric lies in 0..1, so a budget above 1 can only be a typo for
    # points (2 meaning 0.02) and is refused; "dB": the budget is in decibels.
    unit: GateUnit = "fraction"

    def budget_text(self, max_drop: float) -> str:
        """``max_drop`` in words: "0.02 (2 points of accuracy)" or "3 dB"."""
        if self.unit == "dB":
            return f"{max_drop:g} dB"
        points = 100 * max_drop
        return f"{max_drop:g} ({points:g} point{'' if points == 1 else 's'} of {self.metric})"

    def drop(self, float_metrics: Mapping[str, float], quant_metrics: Mapping[str, float]) -> float:
        """Loss of the quantized model on the gate metric (positive = worse)."""
        before, after = float_metrics[self.metric], quant_metrics[self.metric]
        return before - after if self.higher_is_better else after - before


class Task(Protocol):
    name: str
    gate: Gate
    default_max_drop: float
    """The quality budget when the user gives no ``--max-drop``: the largest ``gate.drop``
    the ladder accepts, in the gate metric's own units (0.01 = one accuracy point for
    accuracy-like metrics; a task with a dB or mAP gate picks its own)."""

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        """Raise ``ConversionError`` naming what is wrong when the heads do not fit."""

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval: ...

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        """Metrics of one model on the data (float and quantized alike)."""

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        """Cross metrics: agreement, SQNR/PSNR of quantized vs float, confusion, ..."""

    def decoder(
        self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]
    ) -> DecoderSpec: ...

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None: ...

    def default_labels(self, output_shapes: Mapping[str, tuple[int, ...]]) -> list[str] | None: ...

    def input_spec(
        self, input_shape: tuple[int, ...], default: InputSpec | None
    ) -> InputSpec | None: ...

    def drop_without_labels(self, compare: Mapping[str, Any]) -> float | None: ...

    def explain(
        self,
        drop: float | None,
        *,
        labelled: bool,
        max_drop: float | None,
        within: bool,
        compare: Mapping[str, Any],
    ) -> str: ...


class TaskDefaults:
    """Defaults of the optional task hooks (see the module docstring)."""

    gate: Gate
    without_labels = "the share of samples int8 changed against float"

    def default_labels(self, output_shapes: Mapping[str, tuple[int, ...]]) -> list[str] | None:
        del output_shapes
        return None

    def input_spec(
        self, input_shape: tuple[int, ...], default: InputSpec | None
    ) -> InputSpec | None:
        del input_shape
        return default

    def drop_without_labels(self, compare: Mapping[str, Any]) -> float | None:
        del compare
        return None

    def explain(
        self,
        drop: float | None,
        *,
        labelled: bool,
        max_drop: float | None,
        within: bool,
        compare: Mapping[str, Any],
    ) -> str:
        """E.g. "accuracy fell by 2.00 points, over the budget of 0.01 (1 point of accuracy)"."""
        del compare
        metric = self.gate.metric
        if drop is None:
            subject = f"{metric} could not be measured"
        elif labelled:
            amount = (
                f"{abs(drop):.2f} dB" if self.gate.unit == "dB" else f"{100 * abs(drop):.2f} points"
            )
            subject = f"{metric} {'fell' if drop >= 0 else 'rose'} by {amount}"
        else:
            subject = (
                f"with no labelled eval data it is judged against float: "
                f"{self.without_labels} is {100 * drop:.2f} %"
            )
        return f"{subject}, {verdict(self.gate, max_drop, within)}"


class DecibelBar(TaskDefaults):
    """Tasks judged by a fidelity against float in dB that must reach ``minimum`` (the
    generator's PSNR, the raw task's worst SQNR): the drop is the shortfall below the
    bar, ``minimum - compare[gate.metric]`` (<= 0 when it is met), and ``--max-drop``
    lowers the bar."""

    minimum: float

    def drop_without_labels(self, compare: Mapping[str, Any]) -> float | None:
        """Shortfall of the measured dB below the bar (<= 0 when it is met)."""
        measured = compare.get(self.gate.metric)
        return None if measured is None else float(self.minimum - measured)

    def against_bar(self, measured: str, max_drop: float | None, within: bool) -> str:
        """``measured`` (a sentence on the dB found), then how it stands to the bar."""
        if max_drop is None:
            return f"{measured}, not gated (an explicit --mode without --max-drop)"
        bar = self.minimum - max_drop
        return (
            f"{measured}, {'reaching' if within else 'below'} the bar of {bar:g} dB "
            f"({self.minimum:g} dB minus the --max-drop budget of {max_drop:g} dB)"
        )


def verdict(gate: Gate, max_drop: float | None, within: bool) -> str:
    if max_drop is None:
        return "not gated (an explicit --mode without --max-drop)"
    return f"{'within' if within else 'over'} the budget of {gate.budget_text(max_drop)}"
