"""The model the user gives: a Keras file (``.keras``, legacy ``.h5``) or a SavedModel folder.

Both present the same face to ``convert``: the input shape and name, the outputs by
name with their shapes, a float ``predict`` that returns outputs by name, and a
SavedModel directory for ``TFLiteConverter.from_saved_model``.

Outputs are identified by NAME, never by position: the converted model's output tensors
come in an order of the converter's choosing (measured: a two-head Keras model's heads
came out swapped in ``get_output_details()``). The TFLite signature keeps the SavedModel
signature's output keys, and those are what ``tflite_names`` maps to our names:

- Keras 3 ``model.export`` names the signature outputs ``output_0``, ``output_1``, ...
  in the order of ``model.outputs`` (measured), so ``output_i`` -> ``model.output_names[i]``;
  a model with dict outputs keeps its dict keys as signature keys (``_signature_keys``);
  shapes are checked against each other when the converted model is read.
- A SavedModel folder's serving signature already has named outputs; they are kept.

SavedModel folders are converted directly (no Keras involved) and evaluated on the float
side with ``tf.saved_model.load(dir).signatures["serving_default"]``. The rewrite step
(``converter.rewrite``) needs a Keras model and is skipped for them (the report says so).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from converter.keras_model import load_keras_model
from converter.quantize import exported_saved_model
from converter.quiet import import_tensorflow, native_output_captured
from edge.errors import ConversionError

FloatArray = npt.NDArray[np.float32]


@dataclass
class SourceModel:
    """A loaded float model, Keras or SavedModel."""

    path: Path
    kind: str  # "keras" or "saved_model"
    input_shape: tuple[int, ...]  # batch excluded
    input_name: str
    output_shapes: dict[str, tuple[int, ...]]  # our name -> shape, batch excluded
    tflite_names: dict[str, str]  # TFLite signature output key -> our name
    keras_model: Any = None
    _signature: Any = None

    @property
    def is_image(self) -> bool:
        return (
            len(self.input_shape) == 3
            and self.input_shape[2] in (1, 3)
            and min(self.input_shape) > 0
        )

    def predict(self, batch: FloatArray) -> dict[str, FloatArray]:
        """Float outputs by name for a batch of inputs."""
        if self.kind == "keras":
            raw = self.keras_model.predict_on_batch(batch)
            names = list(self.output_shapes)
            if isinstance(raw, dict):
                return {name: np.asarray(raw[name], np.float32) for name in names}
            parts = list(raw) if isinstance(raw, (list, tuple)) else [raw]
            return {
                name: np.asarray(part, np.float32) for name, part in zip(names, parts, strict=True)
            }
        tf = import_tensorflow()
        results: dict[str, list[FloatArray]] = {}
        for i in range(len(batch)):  # the signature may have a fixed batch of one
            out = self._signature(**{self.input_name: tf.constant(batch[i : i + 1])})
            for key, value in out.items():
                results.setdefault(self.tflite_names[key], []).append(np.asarray(value))
        return {name: np.concatenate(parts).astype(np.float32) for name, parts in results.items()}

    @contextlib.contextmanager
    def saved_model(self, keras_model: Any = None) -> Iterator[Path]:
        """A SavedModel directory to convert (``keras_model``: a rewritten Keras model)."""
        if self.kind == "saved_model":
            yield self.path
            return
        with exported_saved_model(
            keras_model or self.keras_model, self.input_shape, self.input_name
        ) as directory:
            yield directory


def load_source_model(
    path: Path, *, trust: bool = False, custom_objects: str | None = None
) -> SourceModel:
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise ConversionError(
                f"{str(path)!r} is a folder but not a SavedModel (no saved_model.pb in it)",
                hint="give a .keras or .h5 file, or a folder written by tf.saved_model.save / "
                "model.export",
            )
        return _load_saved_model(path)
    model = load_keras_model(path, trust=trust, custom_objects=custom_objects)
    return _keras_source(model, path)


def _keras_source(model: Any, path: Path) -> SourceModel:
    inputs = list(model.inputs)
    if len(inputs) != 1:
        raise ConversionError(
            f"{str(path)!r} has {len(inputs)} inputs; the converter handles models with "
            "exactly one input",
        )
    shape = tuple(inputs[0].shape)[1:]
    if not shape or None in shape:
        raise ConversionError(
            f"{str(path)!r} takes input of shape {[None, *shape]}; every dimension but the "
            "batch must be fixed",
            hint="give the Input layer a fixed size, e.g. keras.Input((224, 224, 3))",
        )
    names = _output_names(model)
    shapes = {
        name: tuple(int(d) if d is not None else -1 for d in out.shape[1:])
        for name, out in zip(names, model.outputs, strict=True)
    }
    return SourceModel(
        path=path,
        kind="keras",
        input_shape=tuple(int(d) for d in shape),
        input_name=_tensor_name(str(getattr(inputs[0], "name", ""))),
        output_shapes=shapes,
        tflite_names=_signature_keys(model, names),
        keras_model=model,
    )


def _load_saved_model(path: Path) -> SourceModel:
    tf = import_tensorflow()
    try:
        with native_output_captured():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise ConversionError(f"cannot load the SavedModel {str(path)!r}: {exc}") from exc
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ConversionError(
            f"SavedModel {str(path)!r} has no 'serving_default' signature "
            f"(it has: {', '.join(loaded.signatures) or 'none'})",
            hint="export it with model.export(DIR) or tf.saved_model.save(m, DIR, signatures=...)",
        )
    _, kwargs = signature.structured_input_signature
    if len(kwargs) != 1:
        raise ConversionError(
            f"SavedModel {str(path)!r} takes {len(kwargs)} inputs; one is supported"
        )
    ((input_name, spec),) = kwargs.items()
    shape = tuple(spec.shape)[1:]
    if not shape or None in shape:
        raise ConversionError(
            f"SavedModel {str(path)!r} takes input {list(spec.shape)}; every dimension but "
            "the batch must be fixed",
        )
    outputs = signature.structured_outputs
    shapes = {
        str(k): tuple(int(d) if d is not None else -1 for d in v.shape[1:])
        for k, v in outputs.items()
    }
    return SourceModel(
        path=path,
        kind="saved_model",
        input_shape=tuple(int(d) for d in shape),
        input_name=str(input_name),
        output_shapes=shapes,
        tflite_names={name: name for name in shapes},
        _signature=signature,
        # Keep the loaded object alive: the signature function refers to its variables.
        keras_model=loaded,
    )


def _signature_keys(model: Any, names: list[str]) -> dict[str, str]:
    """Signature output key -> output name.

    Keras 3 export keys outputs ``output_0``, ``output_1``, ... in the order of
    ``model.outputs``, but keeps a dict-output model's dict keys
    (``keras.Model(x, {"boxes": b, "scores": s})``), measured on Keras 3.15; for those
    the dict keys are the names (``_output_names``), so the map is the identity.
    """
    if isinstance(getattr(model, "_outputs_struct", None), dict):
        return {name: name for name in names}
    return {f"output_{i}": name for i, name in enumerate(names)}


def _output_names(model: Any) -> list[str]:
    """Names of ``model.outputs``, in order: the dict keys of a dict-output model (what
    ``predict`` and the export signature use), else the output layers' names (a
    Sequential's one output is its last layer)."""
    structure = getattr(model, "_outputs_struct", None)
    if isinstance(structure, dict):
        by_tensor = {id(tensor): str(key) for key, tensor in structure.items()}
        keys = [by_tensor.get(id(output)) for output in model.outputs]
        if all(keys):
            return [str(key) for key in keys]
    names = getattr(model, "output_names", None)
    if names:
        return [str(n) for n in names]
    found = []
    for i, tensor in enumerate(model.outputs):
        history = getattr(tensor, "_keras_history", None)
        operation = getattr(history, "operation", None)
        found.append(str(getattr(operation, "name", f"output_{i}")))
    return found


def _tensor_name(name: str) -> str:
    # The name becomes the TFLite signature input; TF accepts only [A-Za-z0-9_.-] there.
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", name.split(":", maxsplit=1)[0])
    return cleaned or "input"
