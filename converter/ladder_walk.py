"""Walk the ladder: convert each requested step, run it the device's way, judge it.

``walk_ladder`` tries the steps of the request in order (one explicit ``--mode``, or the
``auto`` ladder of ``converter.ladder``) and stops at the first within budget. A step may
try several candidates (int8-mixed: growing float sets ranked by TensorFlow's
QuantizationDebugger, ``converter.layer_debug``); the first candidate within budget ends
the walk, so the most int8 that passes is kept. Under ``auto`` a candidate that fails to
convert or that LiteRT cannot load is a failed ladder entry, not a failed run; under an
explicit ``--mode`` its error is raised.

The float side is always the ORIGINAL model's outputs (computed once by the caller); the
quantized side is the converted bytes run through the device's code path
(``converter.evaluate.tflite_outputs``). Every entry carries its measured int8 share of
ops and parameters (``converter.measure.int8_share``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.calibration import Calibration, recalibrations
from converter.evaluate import tflite_outputs
from converter.ladder import (
    MIXED,
    RECALIBRATED,
    Judgement,
    describe_float_set,
    is_calibrated,
    judge,
    mixed_sizes,
)
from converter.layer_debug import LayerDebugger, LayerError
from converter.measure import int8_share
from converter.prepare import Prepared
from converter.progress import Phases
from converter.quantize import convert_saved_model
from converter.quiet import progress_terminal
from converter.report import LadderStep
from converter.request import ConvertRequest
from converter.rewrite import symmetric_batch_matmul_rhs
from converter.tasks.base import Outputs, Task
from edge.errors import ConversionError, ModelError


@dataclass(frozen=True)
class Step:
    """One candidate converted and measured."""

    mode: str
    content: bytes
    outputs: Outputs
    metrics: dict[str, float | None]
    compare: dict[str, Any]
    judgement: Judgement
    note: str = ""
    calibration: Calibration | None = None  # the set this step was calibrated on, if any


@dataclass
class Walk:
    chosen: Step | None  # the first candidate within budget; None: no step passed
    ladder: list[LadderStep]  # every candidate tried, for the report
    debugger: LayerDebugger | None  # kept for the failure message's worst layer


@dataclass(frozen=True)
class Reference:
    """What every candidate is compared with: the float model and its float32 bytes."""

    saved: Path  # the batch-1 SavedModel every step converts
    float_bytes: bytes
    float_out: Outputs
    float_metrics: dict[str, float | None]


def walk_ladder(
    request: ConvertRequest,
    ready: Prepared,
    reference: Reference,
    max_drop: float | None,
    *,
    phases: Phases | None = None,
) -> Walk:
    """Try the requested steps in order; stop at the first candidate within budget."""
    walk = Walk(None, [], None)
    say = phases or Phases(False)
    for mode in request.steps:
        candidates = _candidates(mode, request, ready, reference, walk)
        while True:
            try:
                say(f"{mode}: converting, then running it the device's way")
                candidate = next(candidates, None)
                if candidate is None:
                    break
                step = _evaluate(
                    request, ready, reference, mode=mode, candidate=candidate, max_drop=max_drop
                )
            except (ConversionError, ModelError) as err:
                # ModelError: the bytes converted but LiteRT cannot load them (e.g.
                # XNNPACK refusing a tensor's quantization): the step failed, not the run.
                if request.mode != "auto":
                    raise
                walk.ladder.append(
                    LadderStep(
                        mode, 0, {}, None, False, f"conversion failed: {_first_line(str(err))}"
                    )
                )
                break
            walk.ladder.append(_ladder_step(step, request, max_drop))
            if step.judgement.within_budget:
                walk.chosen = step
                return walk
    return walk


def worst_layer(walk: Walk, saved: Path, calibration: Calibration) -> LayerError | None:
    """The layer int8 hurts most, for the failure message (None if it cannot be told)."""
    try:
        debugger = walk.debugger or LayerDebugger(saved, calibration)
    except ConversionError:
        return None
    return debugger.ranking[0] if debugger.ranking else None


def with_gate(task: Task, metrics: dict[str, float]) -> dict[str, float | None]:
    """The task's metrics, with the gate metric present (None when not measurable)."""
    result: dict[str, float | None] = dict(metrics)
    result.setdefault(task.gate.metric, None)
    return result


Candidate = tuple[bytes, str, Calibration | None]  # content, note, calibration set used


def _candidates(
    mode: str, request: ConvertRequest, ready: Prepared, reference: Reference, walk: Walk
) -> Iterator[Candidate]:
    """``(content, note, calibration)`` for each candidate of one ladder step, in the
    order to try."""
    if mode == MIXED:
        walk.debugger = walk.debugger or LayerDebugger(reference.saved, ready.calibration)
        ranking = walk.debugger.ranking
        for size in mixed_sizes(len(ranking)):
            mixed = walk.debugger.selective_int8(ranking[:size])
            yield (
                *_symmetric(mode, request, mixed.content, describe_float_set(ranking, size)),
                ready.calibration,
            )
        return
    if mode == RECALIBRATED:  # other representative sets, converter/calibration.py
        for calibration, note in recalibrations(
            ready.calibration,
            request.calibration,
            ready.source.predict,
            spec=ready.spec if ready.source.is_image else None,
            input_shape=ready.source.input_shape,
        ):
            content = convert_saved_model(
                reference.saved, "int8", calibration=calibration, io_dtype=request.io_dtype
            )
            yield (*_symmetric("int8", request, content, note), calibration)
        return
    content = (
        reference.float_bytes
        if mode == "float32"
        else convert_saved_model(
            reference.saved, mode, calibration=ready.calibration, io_dtype=request.io_dtype
        )
    )
    yield (
        *_symmetric(mode, request, content, ""),
        ready.calibration if is_calibrated(mode) else None,
    )


def _symmetric(mode: str, request: ConvertRequest, content: bytes, note: str) -> tuple[bytes, str]:
    if mode in ("int8", MIXED) and not request.no_rewrite:
        # XNNPACK runs int8 BATCH_MATMUL only with a symmetric right-hand input;
        # otherwise attention falls back to a kernel ~8x slower (docs/int8-speed.md).
        content, fixes = symmetric_batch_matmul_rhs(content)
        note = "; ".join(filter(None, [note, *fixes]))
    return content, note


def _evaluate(
    request: ConvertRequest,
    ready: Prepared,
    reference: Reference,
    *,
    mode: str,
    candidate: Candidate,
    max_drop: float | None,
) -> Step:
    content, note, calibration = candidate
    data = ready.data
    with progress_terminal(request.progress) as stream:
        quant_out = tflite_outputs(
            content, data.x, stream, ready.source.tflite_names, ready.source.output_shapes
        )
    quant_metrics = with_gate(ready.task, ready.task.metrics(quant_out, data))
    compare = ready.task.compare(reference.float_out, quant_out, data)
    # Fidelity in dB (generate's PSNR/SQNR) is measured against float, so it exists for
    # the quantized model only: it stands in its metrics, where accuracy stands elsewhere.
    for key, value in compare.items():
        if (
            key.endswith("_db")
            and quant_metrics.get(key) is None
            and isinstance(value, (int, float))
        ):
            quant_metrics[key] = float(value)
    judgement = judge(ready.task, reference.float_metrics, quant_metrics, compare, max_drop)
    return Step(mode, content, quant_out, quant_metrics, compare, judgement, note, calibration)


def _ladder_step(step: Step, request: ConvertRequest, max_drop: float | None) -> LadderStep:
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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
