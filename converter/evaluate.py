"""Float vs quantized: what quantization cost, measured on held-out data.

The float numbers come from the Keras model itself (the thing the user trained), the
quantized numbers from the converted bytes run by the device's own runtime path:
``edge.backends.litert.LiteRTBackend`` with ``edge.processing.preprocess.quantize`` on the
way in and ``edge.backends.base.dequantize`` on the way out. A bug in either shows up
here as lost agreement rather than on the device.

Evaluation data (``--eval``): an ``.npz`` with ``x`` (model inputs, as for calibration)
and ``y`` (integer class ids), or a folder with one subfolder of images per label whose
names are entries of the label list (``eval/7/*.png`` -> the class labelled "7").

Classification metrics: accuracy of each model, top-1 agreement between them (the
fraction of samples where both pick the same class, the fairest single number for
"did int8 change the model's behaviour"), the quantized model's confusion matrix
(rows = true class, columns = predicted), and the mean/max absolute difference of the
output probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from converter.data import (
    IMAGE_SUFFIXES,
    fit_shape,
    image_files,
    load_arrays,
    read_images,
    require_exists,
)
from converter.quiet import native_output_captured
from edge.backends.base import dequantize
from edge.backends.litert import LiteRTBackend
from edge.errors import DataError
from edge.manifest import InputSpec
from edge.processing.preprocess import quantize

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class EvalSet:
    x: FloatArray
    y: npt.NDArray[np.int64] | None
    source: str

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class ClassifyMetrics:
    float_accuracy: float | None
    quantized_accuracy: float | None
    agreement: float
    confusion: list[list[int]] | None
    mean_abs_diff: float
    max_abs_diff: float
    samples: int


def load_eval(path: Path, spec: InputSpec, labels: Sequence[str]) -> EvalSet:
    """Read ``--eval`` data for a classifier with ``labels``."""
    require_exists(path, "evaluation data")
    shape = (spec.height, spec.width, spec.channels)
    if path.is_dir():
        return _load_eval_folder(path, spec, labels)
    if path.suffix.lower() != ".npz":
        raise DataError(
            f"evaluation data {str(path)!r} must be an .npz with arrays 'x' and 'y', or a "
            "folder with one subfolder of images per label",
        )
    arrays = load_arrays(path, ["x", "y"])
    x = fit_shape(arrays["x"], shape, f"evaluation data {str(path)!r}")
    y = arrays["y"]
    if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{str(path)!r}: 'y' must hold one integer class id per sample: got {y.dtype} "
            f"{list(y.shape)} for {len(x)} samples",
        )
    if len(y) and (y.min() < 0 or y.max() >= len(labels)):
        raise DataError(
            f"{str(path)!r}: class ids range {int(y.min())}..{int(y.max())}, but the model "
            f"has {len(labels)} classes (0..{len(labels) - 1})",
        )
    return EvalSet(x, y.astype(np.int64), source=str(path))


def _load_eval_folder(path: Path, spec: InputSpec, labels: Sequence[str]) -> EvalSet:
    groups = sorted(p for p in path.iterdir() if p.is_dir())
    unknown = [p.name for p in groups if p.name not in labels]
    if unknown:
        raise DataError(
            f"evaluation folder {str(path)!r} has subfolders {unknown} that are not labels "
            f"of the model ({', '.join(labels[:12])}{', ...' if len(labels) > 12 else ''})",
            hint="name each subfolder after its label, or give --labels FILE",
        )
    files: list[Path] = []
    ids: list[int] = []
    for group in groups:
        found = image_files(group)
        files += found
        ids += [labels.index(group.name)] * len(found)
    if not files:
        raise DataError(
            f"evaluation folder {str(path)!r} contains no images in label subfolders "
            f"(looked for {', '.join(IMAGE_SUFFIXES)})",
            hint="lay it out as EVAL/<label>/<image>, e.g. eval/7/0001.png",
        )
    return EvalSet(read_images(files, spec), np.asarray(ids, np.int64), source=str(path))


def keras_outputs(
    model: Any, x: FloatArray, progress: TextIO | None, batch: int = 64
) -> FloatArray:
    """The float model's outputs for ``x`` (one output tensor)."""
    from tqdm import tqdm

    parts = []
    starts = range(0, len(x), batch)
    for start in tqdm(
        starts,
        desc="float model",
        unit="batch",
        file=progress,
        leave=False,
        disable=None if progress is not None else True,
    ):
        parts.append(np.asarray(model.predict_on_batch(x[start : start + batch]), np.float32))
    return np.concatenate(parts).reshape(len(x), -1)


def tflite_outputs(content: bytes, x: FloatArray, progress: TextIO | None) -> FloatArray:
    """The converted model's outputs for ``x``, run the way the device runs it."""
    from tqdm import tqdm

    # LiteRT prints "Created TensorFlow Lite XNNPACK delegate" from C++ on creation.
    with native_output_captured():
        backend = LiteRTBackend(content, threads=2, runtime="ai_edge_litert", origin="converted")
    try:
        (input_spec,) = backend.inputs
        (output_spec,) = backend.outputs
        out = np.empty((len(x), int(np.prod(output_spec.shape))), np.float32)
        for i in tqdm(
            range(len(x)),
            desc="converted model",
            unit="img",
            file=progress,
            leave=False,
            disable=None if progress is not None else True,
        ):
            (raw,) = backend.infer([quantize(x[i : i + 1], input_spec)])
            out[i] = dequantize(raw, output_spec).reshape(-1)
        return out
    finally:
        backend.close()


def classify_metrics(
    float_out: FloatArray, quant_out: FloatArray, y: npt.NDArray[np.int64] | None, classes: int
) -> ClassifyMetrics:
    float_top = float_out.argmax(axis=1)
    quant_top = quant_out.argmax(axis=1)
    diff = np.abs(float_out - quant_out)
    confusion = None
    float_acc = quant_acc = None
    if y is not None:
        float_acc = float((float_top == y).mean())
        quant_acc = float((quant_top == y).mean())
        matrix = np.zeros((classes, classes), np.int64)
        np.add.at(matrix, (y, quant_top), 1)
        confusion = matrix.tolist()
    return ClassifyMetrics(
        float_accuracy=float_acc,
        quantized_accuracy=quant_acc,
        agreement=float((float_top == quant_top).mean()),
        confusion=confusion,
        mean_abs_diff=float(diff.mean()),
        max_abs_diff=float(diff.max()),
        samples=len(float_out),
    )


def looks_like_probabilities(outputs: FloatArray) -> bool:
    """True when every row is a distribution (a softmax head), within float error."""
    return bool(
        outputs.min() >= -1e-4
        and outputs.max() <= 1 + 1e-4
        and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)
    )
