"""The manifest of a converted model: what it says (``build_manifest``) and writing it
into the ``.tflite`` file's metadata (name ``edge.manifest``, ``embed_manifest``).

What it says: ``name`` is the model file's stem (``digits-cnn.keras`` -> ``digits-cnn``),
because Keras model names are often defaults such as ``sequential``; the labels and the
input description come from ``converter.prepare``; the decoder from the task, and for
``classify`` with the request's decision ``threshold``; the calibration hash and sample
count only when the chosen step was calibrated; the accuracy summary of the gate metric.

The file is rewritten with ``ai_edge_litert.tools.flatbuffer_utils`` (the TFLite
schema's Python object API, shipped in the ai-edge-litert wheel; TensorFlow carries the
same module): read the model into a ``ModelT``, append a buffer holding the UTF-8 JSON
and a ``Metadata`` entry naming it, pack it again. An existing ``edge.manifest`` entry
is replaced, never duplicated, so re-embedding is idempotent. Other metadata (the
converter's ``min_runtime_version``, TFLite Support metadata) is kept.

Reading back is ``edge.model.file.read_model_file(path).metadata["edge.manifest"]``,
which walks the flatbuffer with ``struct`` and needs no schema module on the device.
"""

from __future__ import annotations

import numpy as np

from converter.ladder_walk import Step
from converter.prepare import Prepared
from converter.request import ConvertRequest
from converter.tasks.base import Outputs
from edge.decoders.registry import task_of
from edge.errors import ConversionError
from edge.model.manifest import METADATA_NAME, DecoderSpec, Manifest, QuantizationInfo


def build_manifest(
    request: ConvertRequest,
    ready: Prepared,
    chosen: Step,
    float_metrics: dict[str, float | None],
    *,
    decoder: DecoderSpec,
    versions: dict[str, str],
) -> Manifest:
    calibration = chosen.calibration  # the set the chosen step used (recalibrated: its own)
    gate = ready.task.gate.metric
    return Manifest(
        name=request.model.stem,
        # The records' task is the decoder's: a patch discriminator converted as a
        # classifier reports anomaly scores (``patchgan``).
        task=task_of(decoder.name) or ready.task.name,
        labels=ready.labels,
        input=ready.spec,
        decoder=decoder,
        quantization=QuantizationInfo(
            mode=chosen.mode,
            calibration_sha256=calibration.sha256 if calibration is not None else None,
            calibration_samples=calibration.samples if calibration is not None else None,
        ),
        accuracy={
            "metric": gate,
            "float": float_metrics.get(gate),
            "quantized": chosen.metrics.get(gate),
            "agreement": chosen.compare.get("agreement"),
            "samples": len(ready.data),
            "data": ready.data_kind,
        },
        converter={
            "version": versions["edge"],
            "tensorflow": versions["tensorflow"],
            "keras": versions["keras"],
        },
    )


def build_decoder(request: ConvertRequest, ready: Prepared, float_out: Outputs) -> DecoderSpec:
    """The task's decoder; a classifier's decision threshold is the request's."""
    decoder = ready.task.decoder(float_out, ready.data, ready.labels)
    if decoder.name == "classify":
        decoder = DecoderSpec(
            name="classify", params={**decoder.params, "threshold": request.threshold}
        )
    return decoder


def embed_manifest(content: bytes, manifest: Manifest) -> bytes:
    """Return ``content`` with ``manifest`` stored as the ``edge.manifest`` metadata."""
    return embed_metadata(content, METADATA_NAME, manifest.to_json().encode("utf-8"))


def embed_metadata(content: bytes, name: str, data: bytes) -> bytes:
    """Return ``content`` with metadata ``name`` set to ``data`` (added or replaced)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    try:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    except Exception as exc:  # a flatbuffer that does not parse raises anything
        raise ConversionError(f"cannot parse the converted model to add metadata: {exc}") from exc
    model.buffers = list(model.buffers or [])
    model.metadata = list(model.metadata or [])
    existing = [m for m in model.metadata if _name(m) == name]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(data, dtype=np.uint8)
    if existing:
        # Reuse the entry and its buffer: re-embedding replaces, never duplicates.
        model.buffers[existing[0].buffer] = buffer
        model.metadata = [m for m in model.metadata if m not in existing[1:]]
    else:
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _name(entry: object) -> str:
    raw = getattr(entry, "name", b"")
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
