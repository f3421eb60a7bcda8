"""The conversion report: one dataclass, written as JSON and printed as a table.

JSON contract (``edge convert --report PATH``; scripts depend on these keys):
``task``, ``mode`` (the precision chosen), ``size_bytes`` {``float``, ``quantized``},
``metrics`` {``float``, ``quantized``} (task-specific; classify: ``accuracy``, null when
no labelled eval data was given), ``agreement`` (top-1 agreement 0..1),
``float_ops`` (ops left computing in float), ``ladder`` (the steps tried, with their
metrics), ``latency_ms`` {``float``, ``quantized``, ``note``}. Also: ``schema``,
``samples`` {``calibration``, ``eval``}, ``agreement_data`` (``eval``, or
``calibration`` when no eval data was given), ``fidelity`` (mean/max absolute output
difference), ``confusion`` (the quantized model's, rows = true class), ``calibration_sha256``,
``model``/``out`` paths and ``versions``; ``gate`` (metric, budget ``max_drop``, the
chosen model's ``drop``), ``comparison`` (the task's scalar cross metrics),
``rewrites`` (what ``converter.rewrite`` changed), ``plot`` (the PNG written next to the
report), ``warnings`` (e.g. int16x8 is slow) and ``latency_ms.summary``: one plain
sentence "<mode> is N.Nx faster/SLOWER than float32 on this machine (...); ARM differs".
Each ladder step has ``mode``, ``size_bytes``, ``metrics``, ``drop``, ``accepted``,
``reason`` and ``int8_share`` (``ops``/``params``: the measured share of ops computing in
int8 and of weight values stored as int8); int8-mixed may appear several times, once
per float set tried. Fields added after the first release have defaults, so older report files
still load into ``Report(**json)``.

``size_bytes.float`` is the float32 ``.tflite`` of the same model (converted for the
comparison, not written); ``size_bytes.quantized`` is the file written, manifest included.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA = "edge.convert-report/1"
# A JSON list with no nested list or object; items are separated by ",\n<indent>"
# (JSON strings cannot hold a raw newline, so the split never cuts a string).
_INNER_LIST = re.compile(r"\[\s*\n\s*([^\[\]{}]*?)\s*\n\s*\]")
_ITEM_SEP = re.compile(r",\s*\n\s*")


@dataclass(frozen=True)
class LadderStep:
    """One precision tried: its metrics and whether it was kept."""

    mode: str
    size_bytes: int
    metrics: dict[str, float | None]
    agreement: float | None
    accepted: bool
    reason: str
    drop: float | None = None
    int8_share: dict[str, float] | None = None  # {"ops": 0..1, "params": 0..1}, measured


@dataclass(frozen=True)
class Report:
    task: str
    mode: str
    model: str
    out: str
    size_bytes: dict[str, int]
    metrics: dict[str, dict[str, float | None]]
    agreement: float | None
    agreement_data: str
    fidelity: dict[str, float]
    confusion: dict[str, Any] | None
    float_ops: list[str]
    ladder: list[LadderStep]
    latency_ms: dict[str, Any]
    samples: dict[str, int]
    calibration_sha256: str | None
    io_dtype: str | None
    versions: dict[str, str]
    schema: str = field(default=SCHEMA)
    gate: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] = field(default_factory=dict)
    rewrites: list[str] = field(default_factory=list)
    plot: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The report from its JSON (a report file, or the conversion's child process)."""
        steps = [LadderStep(**step) for step in data.get("ladder", [])]
        return cls(**{**data, "ladder": steps})

    def to_json(self) -> str:
        # Innermost lists (labels, matrix rows, op names) on one line each: readable diffs.
        text = json.dumps(self.to_dict(), indent=2)
        return (
            _INNER_LIST.sub(lambda m: "[" + ", ".join(_ITEM_SEP.split(m.group(1))) + "]", text)
            + "\n"
        )

    def table(self) -> str:
        """A readable summary for the terminal (the JSON has everything)."""
        chosen = self.mode if self.mode != "float32" else "float32 (not quantized)"
        rows = [
            ("", "float32", self.mode, "change"),
            (
                "size",
                _kb(self.size_bytes["float"]),
                _kb(self.size_bytes["quantized"]),
                f"{100 * self.size_bytes['quantized'] / max(1, self.size_bytes['float']):.1f} %",
            ),
        ]
        quantized = self.metrics.get("quantized", {})
        for metric in dict.fromkeys([*self.metrics.get("float", {}), *quantized]):
            before = self.metrics.get("float", {}).get(metric)
            after = quantized.get(metric)
            if before is None and after is None:
                continue  # not measurable here (e.g. accuracy without labelled eval data)
            if before is None and metric.endswith("_db"):
                rows.append((metric, "reference", _value(metric, after), "vs float"))
                continue
            rows.append(
                (
                    metric,
                    _value(metric, before),
                    _value(metric, after),
                    _change(metric, before, after),
                )
            )
        rows.append(
            (
                "latency, 1 thread",
                f"{self.latency_ms['float']:.3f} ms",
                f"{self.latency_ms['quantized']:.3f} ms",
                _speed(self.latency_ms["float"], self.latency_ms["quantized"]),
            )
        )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"edge convert: {self.model} -> {self.out}", f"  task {self.task}, mode {chosen}"]
        for row in rows:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            lines.append(("  " + "  ".join(cells)).rstrip())
        if self.latency_ms.get("summary"):
            lines.append(f"  SPEED: {self.latency_ms['summary']}")
        lines += [f"  WARNING: {warning}" for warning in self.warnings]
        if self.agreement is not None:
            # What "agreement" means is the task's: top-1, a binary decision, boxes kept.
            lines.append(
                f"  {self.comparison.get('agreement_is', 'top-1 agreement')}: "
                f"{100 * self.agreement:.2f} % on "
                f"{self.samples.get(self.agreement_data, 0)} {self.agreement_data} samples"
            )
        if self.gate.get("reason"):
            lines.append(f"  gate: {self.gate['reason']}")
        elif self.gate:  # a report written before gate reasons existed
            drop = self.gate.get("drop")
            lines.append(
                f"  gate               {self.gate.get('metric')} drop "
                f"{'-' if drop is None else f'{drop:.4f}'}"
            )
        lines += [
            f"  ops left in float  {_ops(self.float_ops)}",
            f"  calibration        {self.samples['calibration']} samples"
            + (f", sha256 {self.calibration_sha256[:12]}" if self.calibration_sha256 else ""),
            f"  rewrites           {'; '.join(self.rewrites) or 'none'}",
            "  ladder:",
        ]
        lines += [f"    {_step(s)}" for s in self.ladder]
        lines.append(f"  note: {self.latency_ms.get('note', '')}")
        return "\n".join(lines) + "\n"


def _step(step: LadderStep) -> str:
    size = f", {_kb(step.size_bytes)}" if step.size_bytes else ""
    share = step.int8_share
    if share is not None:
        size += (
            f", int8 {100 * share['ops']:.0f} % of ops / "
            f"{100 * share['params']:.0f} % of parameters"
        )
    return f"{step.mode} {'accepted' if step.accepted else 'rejected'}{size}: {step.reason}"


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


# Metrics that are fractions 0..1, shown as percentages (others as plain numbers).
_FRACTIONS = {"accuracy", "agreement", "map50", "map", "roc_auc", "recall", "precision"}


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.endswith("_db"):
        return f"{value:.1f} dB"
    return _pct(value) if metric in _FRACTIONS else f"{value:.4g}"


def _change(metric: str, before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "-"
    if metric in _FRACTIONS:
        return f"{100 * (after - before):+.2f} pt"
    return f"{after - before:+.4g}"


def _speed(reference: float, value: float) -> str:
    if value <= 0 or reference <= 0:
        return "-"
    ratio = reference / value
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def _ops(names: list[str]) -> str:
    if not names:
        return "none"
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} x{c}" if c > 1 else n for n, c in counts.items())
