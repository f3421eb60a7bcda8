"""``[refine]``: a second-stage classifier that names each detected box again.

Off unless ``path`` names a classifier. Only boxes the detector was unsure of (score
under ``below_score``) are cropped and classified, and the classifier's label replaces
the detector's only when it is sure (``min_confidence``): each model is trusted where
it is strong. The defaults were chosen for the shipped pair on digits that twins of both
models never saw (``benchmarks/refine_rule.py``, ``docs/refine.md``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.base import Strict
from edge.refine import DEFAULT_CONTEXT

DEFAULT_BELOW_SCORE = 0.9
DEFAULT_MIN_CONFIDENCE = 0.9


class RefineConfig(Strict):
    path: Path | None = Field(
        None,
        description="classifier .tflite that names each detected box again from its "
        "crop (the shipped one: models/zoo/digits-crops.int8.tflite); unset: no second stage",
    )
    labels: Path | None = Field(
        None,
        description="text file, one label per line, for a classifier without a manifest; "
        "its labels are matched to the detector's by name",
    )
    below_score: float = Field(
        DEFAULT_BELOW_SCORE,
        ge=0,
        le=1,
        description="only boxes the detector scored under this are classified again "
        "(1 checks every box)",
    )
    min_confidence: float = Field(
        DEFAULT_MIN_CONFIDENCE,
        ge=0,
        le=1,
        description="the classifier's label replaces the detector's when its "
        "probability reaches this",
    )
    context: float = Field(
        DEFAULT_CONTEXT,
        ge=1,
        le=4,
        description="the crop is the box grown by this factor on each axis",
    )
    threads: int = Field(1, ge=1, le=64, description="interpreter threads of the classifier")

    @property
    def enabled(self) -> bool:
        return self.path is not None
