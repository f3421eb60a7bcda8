"""Pieces every training recipe shares (``models.train`` and ``models.train_vit`` both
import them from here, so neither imports the other at module level)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from converter.report import Report

ZOO = Path(__file__).resolve().parent / "zoo"
CALIBRATION_SAMPLES = 200
# The zoo's bar for a classifier (the CNN, the crop classifier): int8 within 1 point of
# float on held-out data, top-1 agreement, and the size int8 must come down to.
MAX_ACCURACY_DROP = 0.01
MIN_AGREEMENT = 0.98
MAX_SIZE_RATIO = 0.30


def recipe_parser(prog: str, doc: str, *, epochs: int, twin: str) -> argparse.ArgumentParser:
    """The options of a recipe that trains one zoo model: ``--out``, ``--seed``,
    ``--epochs`` and ``--digits`` (``twin`` says what its ``train``-only twin is for)."""
    from models.data import DEFAULT_SEED

    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n", maxsplit=1)[0])
    parser.add_argument("--out", type=Path, default=ZOO, help=f"output folder (default {ZOO})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument(
        "--digits",
        choices=["train+validation", "train"],
        default="train+validation",
        help=f"which digits train it; 'train' makes {twin} (default: train+validation, "
        "the shipped one)",
    )
    return parser


def log(message: str) -> None:
    print(message, flush=True)


def relative(path: Path) -> Path:
    """``path`` relative to the working directory when inside it: the shipped report
    then names ``models/zoo/...``, not the build machine's home folder."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def digit_inputs(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """uint8 (N, 28, 28) digits -> what the model takes: float32 (N, 28, 28, 1) raw pixels."""
    return x[..., np.newaxis].astype(np.float32)


def check_bar(report: Report) -> list[str]:
    """The ways ``report`` misses the zoo's bar (empty when it meets it)."""
    failures = []
    float_acc = report.metrics["float"]["accuracy"]
    quant_acc = report.metrics["quantized"]["accuracy"]
    if float_acc is None or quant_acc is None:
        failures.append("no held-out accuracy was measured")
    elif float_acc - quant_acc > MAX_ACCURACY_DROP:
        failures.append(
            f"int8 accuracy {quant_acc:.4f} is over 1 point below float {float_acc:.4f}"
        )
    if report.agreement is None or report.agreement < MIN_AGREEMENT:
        failures.append(f"top-1 agreement {report.agreement:.4f} < {MIN_AGREEMENT}")
    ratio = report.size_bytes["quantized"] / report.size_bytes["float"]
    if ratio > MAX_SIZE_RATIO:
        failures.append(
            f"int8 size is {100 * ratio:.1f} % of float32 (> {100 * MAX_SIZE_RATIO:.0f} %)"
        )
    return failures
