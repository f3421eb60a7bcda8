"""Each built-in decoder's parameters as a pydantic model: names, types, ranges and
defaults (a ``description`` on every field).

A decoder's row in ``edge.decoders.registry`` names its model; the registry resolves
and checks the settings by decoder name (``resolve_params``, ``check_settings``). A
plug-in decoder subclasses ``DecoderParams`` in its own package.

This module imports only pydantic, so ``edge.config`` can check a ``[decoder]`` table
without loading OpenCV, numpy or a decoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

P = TypeVar("P", bound="DecoderParams")


class DecoderParams(BaseModel):
    """The base of every decoder's parameters: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def coerce(cls: type[P], params: Mapping[str, Any] | DecoderParams) -> P:
        """The validated parameters; a plain dict (unit tests, old callers) is validated."""
        if isinstance(params, cls):
            return params
        return cls.model_validate(dict(params))


class ClassifyParams(DecoderParams):
    top_k: int = Field(1, ge=1, le=1000, description="classes reported per frame")
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="minimum score reported")
    activation: Literal["auto", "softmax", "sigmoid", "none"] = Field(
        "auto",
        description="softmax applies it, sigmoid applies it per value (binary logits), "
        "none takes the outputs as scores, auto applies softmax (sigmoid for one value) only "
        "when the outputs are not probabilities already",
    )
    decision_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="one-value (binary) output: class 1 when its "
        "probability reaches this (unset: 0.5), else class 0 with score 1 - probability",
    )


class _ScoreParams(DecoderParams):
    score_threshold: float = Field(0.3, ge=0.0, le=1.0, description="minimum box score")
    max_detections: int = Field(20, ge=1, le=1000, description="boxes reported per frame")


class _BoxParams(_ScoreParams):
    """Heads whose NMS runs here (SSD's runs inside the model, so it has no iou_threshold)."""

    iou_threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="NMS: a box overlapping a better box (of any class with "
        "agnostic_nms, else of its own class) by more than this is dropped",
    )
    agnostic_nms: bool = Field(
        True,
        description="one label per object: NMS across classes, so overlapping boxes of "
        "different classes keep only the best; false keeps one box per class",
    )


class CenternetParams(_BoxParams):
    heads: Literal["by-shape", "by-name"] = Field(
        "by-shape", description="how the two outputs are told apart (the converter writes it)"
    )
    heatmap: str | None = Field(None, description="name of the heatmap output tensor")
    boxes: str | None = Field(None, description="name of the box-distance output tensor")
    num_classes: int | None = Field(
        None, ge=1, le=100_000, description="classes of the heatmap (ImageNet-21k has 21,843)"
    )


class AnomalyParams(DecoderParams):
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1e6,
        allow_inf_nan=False,
        description="score above which a frame is anomalous; default: the "
        "manifest's calibrated value (the score's scale is the model's own: the shipped "
        "model's is a squared error, 0.1075; at most 1e6)",
    )


class SsdParams(_ScoreParams):
    score_threshold: float = Field(0.5, ge=0.0, le=1.0, description="minimum box score")
    label_offset: int = Field(
        0,
        ge=0,
        le=1000,
        description="added to the model's class index before the label "
        "lookup: 1 for the TF-Lite examples' COCO labelmap.txt, whose first line is '???'",
    )
    boxes: str | None = Field(None, description="name of the boxes output [1,N,4]")
    classes: str | None = Field(None, description="name of the classes output [1,N]")
    scores: str | None = Field(None, description="name of the scores output [1,N]")
    count: str | None = Field(None, description="name of the count output [1]")


class YoloParams(_BoxParams):
    score_threshold: float = Field(0.25, ge=0.0, le=1.0, description="minimum box score")
    iou_threshold: float = Field(0.45, ge=0.0, le=1.0, description="NMS IoU (see agnostic_nms)")
    coordinates: Literal["auto", "pixels", "normalized"] = Field(
        "auto",
        description="unit of the centre/size boxes: pixels of the model input, "
        "normalised 0..1 (int8 exports), or auto: normalised when every value is within 0..2",
    )
    layout: Literal["auto", "channels-first", "channels-last"] = Field(
        "auto",
        description="channels-first [1, K, N] or channels-last [1, N, K]; auto takes "
        "the smaller of the two dimensions as K",
    )
    output: str | None = Field(None, description="name of the output tensor, if several")


def model_score_threshold(task: str, params: Mapping[str, Any]) -> float | None:
    """The lowest score the model's decoder reports: a detector's ``score_threshold``, a
    classifier's ``threshold``; None for other tasks (an anomaly threshold is on the
    score's own scale, not a detection score's 0..1)."""
    key = {"detect": "score_threshold", "classify": "threshold"}.get(task)
    value = params.get(key) if key else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
