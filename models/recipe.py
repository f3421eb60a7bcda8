"""Pieces every training recipe shares (``models.train`` and ``models.train_vit`` both
import them from here, so neither imports the other at module level)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

ZOO = Path(__file__).resolve().parent / "zoo"
CALIBRATION_SAMPLES = 200


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
