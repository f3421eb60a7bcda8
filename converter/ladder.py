"""The fallback ladder of ``--mode auto`` and the quality gate every mode passes through.

Steps, in order (``AUTO_LADDER``); the first within budget wins:

1. ``int8``: full integer, the fast path (XNNPACK int8 kernels).
2. ``int8-recalibrated``: full int8 again, calibrated on other representative sets
   (``converter.calibration.recalibrations``): first as many samples stratified by the
   float model's output (its class, or quantiles of its output norm), then more samples
   (up to 4x, when the calibration data has them). TFLite calibrates by min/max, so a
   set that missed the rare inputs with the widest activations clips them; this step
   repairs that without giving up any int8. Each set tried is a ladder entry whose note
   names the set, its size and its sha256. A set identical to the first is skipped, so
   the step tries nothing when the calibration data holds no other samples.
3. ``int8-mixed``: int8 with the layers int8 hurts most kept in float. The layers are
   ranked by TensorFlow's QuantizationDebugger (RMSE in quantization steps, see
   ``converter.layer_debug``); the float set grows 1, 2, 4, 8, ... of the top-ranked
   layers (``mixed_sizes``: always fewer than all of them) and the step ends at the
   SMALLEST set within budget, so as much stays int8 as the budget allows. Every set
   tried is a ladder entry with its int8 share of ops and parameters. Each set is a
   re-quantization of the same calibration (no second calibration). Float input/output.
4. ``int16x8``: 16-bit activations. Accurate, but no fast kernels (10-50x slower than
   float32 measured on x86): the report says so when it is chosen.
5. ``float16``: float16 weights; float accuracy, half the float32 size.

``float32`` and ``dynamic`` are never picked automatically: float32 is always available
with ``--mode float32``, and dynamic range is slow for Conv2DTranspose and unloadable
by old runtimes.

The gate: ``task.gate.drop(float metrics, quantized metrics)`` (how much the gate metric
got worse), against ``max_drop`` (``--max-drop``, else ``task.default_max_drop``). When
the task cannot compute its gate metric (no labelled eval data), the task's
``drop_without_labels`` hook judges instead (classify: top-1 disagreement). An explicit
``--mode`` is only judged when ``--max-drop`` is given; otherwise it is accepted and
its drop reported (``--mode int8-mixed`` without ``--max-drop`` therefore keeps only
the top-ranked layer in float; with it, the float set grows as in ``auto``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from converter.layer_debug import LayerError
from converter.quantize import MODES
from converter.tasks.base import Task

AUTO_LADDER = ("int8", "int8-recalibrated", "int8-mixed", "int16x8", "float16")
MIXED = "int8-mixed"
RECALIBRATED = "int8-recalibrated"
STEPS = (*AUTO_LADDER, "dynamic", "float32")


def is_calibrated(mode: str) -> bool:
    """Whether the step's model was calibrated (its manifest names the calibration data)."""
    return mode == MIXED or (mode in MODES and MODES[mode].calibrated)


def mixed_sizes(ranked: int) -> list[int]:
    """Float-set sizes to try: 1, 2, 4, ... while fewer than the ``ranked`` layers."""
    sizes, size = [], 1
    while size < ranked or (size == 1 and ranked == 1):
        sizes.append(size)
        size *= 2
    return sizes


def describe_float_set(ranking: list[LayerError], size: int, shown: int = 3) -> str:
    names = "; ".join(layer.describe() for layer in ranking[: min(size, shown)])
    more = f"; and {size - shown} more" if size > shown else ""
    return (
        f"kept in float: the {size} of {len(ranking)} ranked layers int8 hurts most ({names}{more})"
    )


@dataclass(frozen=True)
class Judgement:
    drop: float | None
    basis: str  # what the drop was measured on: "<metric> drop" or "agreement with float"
    within_budget: bool
    reason: str  # the verdict as a sentence (the task's ``explain``)


def judge(
    task: Task,
    float_metrics: Mapping[str, float | None],
    quant_metrics: Mapping[str, float | None],
    compare: Mapping[str, Any],
    max_drop: float | None,
) -> Judgement:
    """How much the quantized model lost on the gate, and whether that is acceptable."""
    gate = task.gate
    before, after = float_metrics.get(gate.metric), quant_metrics.get(gate.metric)
    labelled = before is not None and after is not None
    if before is not None and after is not None:
        drop: float | None = gate.drop({gate.metric: before}, {gate.metric: after})
        basis = f"{gate.metric} drop"
    else:
        drop = task.drop_without_labels(compare)
        basis = "agreement with float"
    within = max_drop is None or (drop is not None and drop <= max_drop)
    reason = task.explain(
        drop, labelled=labelled, max_drop=max_drop, within=within, compare=compare
    )
    return Judgement(drop, basis, within, reason)


def failure_message(
    *,
    model: str,
    task: Task,
    max_drop: float,
    tried: list[tuple[str, float | None]],
    worst: LayerError | None,
) -> tuple[str, str]:
    """``(message, hint)`` when no step met the budget."""
    steps = ", ".join(
        f"{mode} ({'failed' if drop is None else f'drop {drop:.4f}'})" for mode, drop in tried
    )
    message = (
        f"no conversion of {model!r} keeps the {task.gate.metric} drop within --max-drop "
        f"{task.gate.budget_text(max_drop)}: tried {steps}; nothing was written"
    )
    if worst is not None:
        message += f". The layer int8 hurts most: {worst.describe()}"
    hint = (
        "try --mode int16x8 (accurate, but slow on CPUs) or --mode float16, calibrate on "
        "more representative data (the same preprocessing the device uses), raise "
        "--max-drop if the loss is acceptable"
    )
    if worst is not None:
        hint += (
            f", or change the layer producing {worst.tensor!r} (e.g. keep its input range "
            "small and symmetric, or normalise before it)"
        )
    return message, hint
