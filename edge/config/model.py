"""``[model]`` and ``[decoder]``: which model file, its input recipe and threads,
and the decoder with its settings (checked against the decoder's own parameters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.config.base import Strict
from edge.model.manifest import Colour, ResizeMode, Task


class InputOverride(Strict):
    """Override the input recipe of a model (needed for third-party models only)."""

    colour: Colour | None = Field(None, description="colour order the model takes")
    resize: ResizeMode | None = Field(None, description="how a frame is fitted to the input")
    scale: float | None = Field(
        None, ge=-1000, le=1000, description="model input = pixel * scale + offset"
    )
    offset: float | None = Field(
        None, ge=-10_000, le=10_000, description="model input = pixel * scale + offset"
    )


class ModelConfig(Strict):
    path: Path | None = Field(None, description=".tflite file; default: the shipped digits CNN")
    task: Task | None = Field(None, description="needed when the model has no manifest")
    labels: Path | None = Field(None, description="text file, one label per line")
    threads: int = Field(2, ge=1, le=64, description="interpreter threads")
    runtime: Literal["auto", "ai_edge_litert", "tflite_runtime", "tensorflow"] = Field(
        "auto", description="TFLite runtime package; auto takes the first that imports"
    )
    input: InputOverride = Field(default_factory=InputOverride)
    probe: bool = Field(
        True,
        description="load and run a model once in a limited child process before "
        "loading it here (edge.model_probe); false skips it, for trusted models only",
    )
    probe_timeout: float = Field(
        20.0,
        gt=0,
        le=3600,
        description="seconds the child may take to load and run the model once",
    )


class DecoderConfig(BaseModel):
    """``name`` plus the settings of that decoder (``edge.decoders.params``).

    The settings depend on the decoder, which may only be known once the model is read
    (its manifest names it), so they are kept as extra keys here and validated against
    the chosen decoder's parameter model: when the config is loaded if ``name`` is given,
    otherwise when the model is opened (``edge.model.load_model``). A key that no decoder
    has is refused when the config is loaded either way, with its line.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = Field(
        None,
        description="decoder; default: the manifest's, or the one that fits the model's outputs",
    )

    @property
    def settings(self) -> dict[str, Any]:
        """The explicit decoder settings (every key but ``name``)."""
        return dict(self.model_extra or {})
