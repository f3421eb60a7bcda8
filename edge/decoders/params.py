"""Each decoder's parameters as a pydantic model: names, types, ranges and defaults.

Where the values come from, lowest priority first: the model class's defaults, the
manifest's ``decoder.params`` (calibrated by the converter, e.g. the anomaly
threshold), then the user's ``[decoder]`` table and ``--decoder-opt KEY=VALUE``. A
manifest value is replaced only by an explicit setting of the same name.

The user's settings are checked strictly against the chosen decoder: an unknown key,
a key of another decoder, a wrong type or a value out of range is a ``ConfigError``
(exit 78) that names the key, the decoder and its valid keys. The manifest is read
leniently (a newer converter may write keys this device does not know): its unknown
keys are dropped.

This module imports only pydantic, so ``edge.config`` can check a ``[decoder]`` table
without loading OpenCV or numpy.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import ConfigError

P = TypeVar("P", bound="DecoderParams")


class DecoderParams(BaseModel):
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
        description="class-aware NMS: a box overlapping a better box of "
        "its class by more than this is dropped",
    )


class CenternetParams(_BoxParams):
    heads: Literal["by-shape", "by-name"] = Field(
        "by-shape", description="how the two outputs are told apart (the converter writes it)"
    )
    heatmap: str | None = Field(None, description="name of the heatmap output tensor")
    boxes: str | None = Field(None, description="name of the box-distance output tensor")
    num_classes: int | None = Field(None, ge=1, description="classes of the heatmap")


class AnomalyParams(DecoderParams):
    threshold: float | None = Field(
        None,
        ge=0.0,
        description="score above which a frame is anomalous; default: the "
        "manifest's calibrated value",
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
    iou_threshold: float = Field(0.45, ge=0.0, le=1.0, description="class-aware NMS IoU")
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


PARAMS: dict[str, type[DecoderParams]] = {
    "classify": ClassifyParams,
    "centernet": CenternetParams,
    "anomaly": AnomalyParams,
    "ssd": SsdParams,
    "yolov5": YoloParams,
    "yolov8": YoloParams,
}
ALIASES = {"yolo11": "yolov8"}
# The task a decoder implies, for a model without a manifest run with --decoder only.
DECODER_TASKS = {
    "classify": "classify",
    "centernet": "detect",
    "anomaly": "anomaly",
    "ssd": "detect",
    "yolov5": "detect",
    "yolov8": "detect",
}


def canonical(name: str) -> str:
    """``yolo11`` -> ``yolov8`` (one head format); other names unchanged."""
    return ALIASES.get(name, name)


def all_keys() -> set[str]:
    return {key for model in PARAMS.values() for key in model.model_fields}


def valid_keys(name: str) -> list[str]:
    return sorted(params_model(name).model_fields)


def params_model(name: str) -> type[DecoderParams]:
    try:
        return PARAMS[canonical(name)]
    except KeyError:
        raise ConfigError(
            f"unknown decoder {name!r}",
            hint=f"choose one of: {', '.join(sorted([*PARAMS, *ALIASES]))}",
        ) from None


def resolve_params(
    name: str, manifest: Mapping[str, Any], settings: Mapping[str, Any]
) -> DecoderParams:
    """The decoder's parameters: defaults < manifest < explicit settings (checked)."""
    model = params_model(name)
    check_settings(name, settings)
    known = {key: value for key, value in manifest.items() if key in model.model_fields}
    try:
        return model.model_validate({**known, **settings})
    except ValidationError as exc:
        raise ConfigError(
            _describe(name, exc, settings),
            hint=f"valid keys of the {canonical(name)} decoder: {', '.join(valid_keys(name))}",
        ) from None


def check_settings(name: str, settings: Mapping[str, Any]) -> None:
    """Refuse keys the decoder does not have, and values it would not take."""
    model = params_model(name)
    keys = ", ".join(valid_keys(name))
    for key in settings:
        if key in model.model_fields:
            continue
        owners = sorted(n for n, m in PARAMS.items() if key in m.model_fields)
        near = difflib.get_close_matches(key, list(model.model_fields), n=1)
        whose = (
            f" (it is a setting of {', '.join(owners)})"
            if owners
            else (f"; did you mean {near[0]!r}?" if near else "")
        )
        raise ConfigError(
            f"decoder {canonical(name)!r} has no setting {key!r}{whose}",
            hint=f"valid keys of the {canonical(name)} decoder: {keys}",
        )
    try:
        model.model_validate(dict(settings))
    except ValidationError as exc:
        raise ConfigError(
            _describe(name, exc, settings),
            hint=f"valid keys of the {canonical(name)} decoder: {', '.join(valid_keys(name))}",
        ) from None


def _describe(name: str, exc: ValidationError, settings: Mapping[str, Any]) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"]) or "decoder"
        given = f" (got {settings[key]!r})" if key in settings else " (from the manifest)"
        parts.append(f"decoder {canonical(name)!r} setting {key}: {error['msg']}{given}")
    return "\n".join(parts)
