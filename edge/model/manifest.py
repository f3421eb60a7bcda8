"""The model manifest: the facts a device needs to run a ``.tflite`` file.

The converter writes it as JSON into the model's TFLite metadata under the name
``edge.manifest`` (schema ``edge.manifest/1``); ``edge`` reads it back with
``edge.model.file``. A model without a manifest gets one built from flags or config
(``--task``, ``--labels``) and the shape of its input tensor, see ``manifest_for``.

Reading is lenient about unknown fields (``extra="ignore"``) so a device keeps running
models written by a newer converter of the same major schema.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.bounded import check_nesting
from edge.errors import ModelError
from edge.types import TensorSpec

SCHEMA = "edge.manifest/1"
METADATA_NAME = "edge.manifest"

Task = Literal["classify", "detect", "anomaly", "generate", "raw"]  # raw: no decoder
Colour = Literal["gray", "rgb", "bgr"]
ResizeMode = Literal["stretch", "crop", "letterbox"]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class InputSpec(_Lenient):
    """How a camera frame becomes the model's input.

    The value the Keras model saw during training is ``pixel * scale + offset`` for
    each uint8 pixel after colour conversion and resizing; the device then quantizes
    that value into the input tensor with the tensor's own scale and zero point.
    """

    layout: Literal["NHWC"] = "NHWC"
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    channels: Literal[1, 3]
    colour: Colour
    resize: ResizeMode = "stretch"
    # Finite: a NaN scale made every input NaN and every record empty, with exit 0.
    scale: float = Field(1.0, allow_inf_nan=False)
    offset: float = Field(0.0, allow_inf_nan=False)


class DecoderSpec(_Lenient):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class QuantizationInfo(_Lenient):
    mode: str
    calibration_sha256: str | None = None
    calibration_samples: int | None = None


class Manifest(_Lenient):
    schema_: Literal["edge.manifest/1"] = Field(default="edge.manifest/1", alias="schema")
    name: str
    task: Task
    labels: list[str] = Field(default_factory=list)
    input: InputSpec
    decoder: DecoderSpec
    quantization: QuantizationInfo | None = None
    accuracy: dict[str, Any] = Field(default_factory=dict)
    converter: dict[str, str] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=None)


def parse_manifest(raw: bytes, *, origin: str) -> Manifest:
    """Parse manifest JSON found in a model file; ``origin`` names the file in errors."""
    try:
        text = raw.decode("utf-8")
        check_nesting(text, what=f"{origin}: the embedded edge.manifest")
        data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"{origin}: the embedded edge.manifest is not valid JSON ({exc})",
            hint="re-create the model with `edge convert`",
        ) from exc
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise ModelError(
            f"{origin}: manifest schema {schema!r} is not supported (this edge reads {SCHEMA!r})",
            hint="upgrade edge-infer on this device, or convert the model with this version",
        )
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ModelError(
            f"{origin}: the embedded manifest is incomplete: {exc.errors()[0]['msg']} "
            f"at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}",
            hint="re-create the model with `edge convert`",
        ) from exc


def default_input_spec(tensor: TensorSpec) -> InputSpec:
    """Guess the input recipe of a third-party model from its input tensor.

    Quantized inputs take raw pixels (the convention of uint8/int8 TFLite models), and
    so do integer inputs without quantization parameters (some detector exports take
    plain uint8 pixels and cast them inside); float inputs take pixels scaled to 0..1.
    All can be overridden in the config.
    """
    if len(tensor.shape) != 4 or tensor.shape[3] not in (1, 3):
        raise ModelError(
            f"input tensor {tensor.name!r} has shape {list(tensor.shape)}; expected an image "
            "batch [1, height, width, 1 or 3] (NHWC)",
            hint="only NHWC image models are supported",
        )
    _, height, width, channels = tensor.shape
    if tensor.quantized:
        # Choose scale/offset so that quantizing ``pixel * scale + offset`` with the tensor's
        # (s, zp) gives back the raw code: pixel for uint8, pixel - 128 for int8.
        scale = tensor.scale
        shift = -128 if tensor.dtype == "int8" else 0
        offset = (shift - tensor.zero_point) * scale
    elif tensor.dtype in ("uint8", "int8"):
        scale, offset = 1.0, -128.0 if tensor.dtype == "int8" else 0.0
    else:
        scale, offset = 1.0 / 255.0, 0.0
    return InputSpec(
        width=width,
        height=height,
        channels=channels,
        colour="gray" if channels == 1 else "rgb",
        scale=scale,
        offset=offset,
    )
