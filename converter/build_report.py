"""Build the ``Report`` of a finished conversion (the dataclass and its JSON/table are in
``converter.report``; this module only fills it in).

The latencies are measured here, on the float32 bytes and on the chosen model's final
bytes (manifest included), with ``converter.measure.paired_latency_ms`` (float and
quantized timed in alternation); the one sentence
nobody should miss (``speed_summary``) says whether the chosen model is faster or slower
than float32 on this machine.
"""

from __future__ import annotations

import platform
from pathlib import Path

from converter.ladder import RECALIBRATED
from converter.ladder_walk import Step
from converter.measure import LATENCY_NOTE, float_ops, paired_latency_ms
from converter.prepare import Prepared
from converter.quantize import SLOW_MODES
from converter.report import LadderStep, Report
from converter.request import ConvertRequest


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


def build_report(
    request: ConvertRequest,
    ready: Prepared,
    chosen: Step,
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
    compare = chosen.compare
    # Alternated, so a burst of load on a shared machine slows both sides alike.
    float_ms, quant_ms = paired_latency_ms(
        float_bytes, content, min_seconds=request.latency_seconds
    )
    warnings = [SLOW_MODES[chosen.mode]] if chosen.mode in SLOW_MODES else []
    warnings += ready.notes
    fidelity: dict[str, float] = {
        k: float(compare[k]) for k in ("mean_abs_diff", "max_abs_diff") if k in compare
    }
    confusion = compare.get("confusion")
    agreement = compare.get("agreement")
    gate = ready.task.gate
    return Report(
        task=request.task,
        mode=chosen.mode,
        model=str(request.model),
        out=str(out_path),
        size_bytes={"float": len(float_bytes), "quantized": len(content)},
        metrics={"float": float_metrics, "quantized": chosen.metrics},
        agreement=None if agreement is None else float(agreement),
        agreement_data=ready.data_kind,
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
        samples={"calibration": (chosen.calibration or ready.calibration).samples,
                 "eval": len(ready.eval_set) if ready.eval_set is not None else 0},
        calibration_sha256=chosen.calibration.sha256 if chosen.calibration is not None
        else None,
        io_dtype=request.io_dtype if chosen.mode in ("int8", RECALIBRATED) else None,
        versions=versions,
        gate={"metric": gate.metric, "higher_is_better": gate.higher_is_better,
              "unit": gate.unit, "max_drop": max_drop,
              "drop": chosen.judgement.drop, "basis": chosen.judgement.basis,
              "reason": chosen.judgement.reason},
        comparison={k: v for k, v in compare.items()
                    if not isinstance(v, (list, dict))},
        rewrites=rewrites,
        plot=str(plot_path),
        warnings=warnings,
    )  # fmt: skip
