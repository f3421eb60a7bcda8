"""Read an ``edge eval`` data file and check it against the model (layout: ``layout``).

Everything a user can get wrong in the file is a ``ConfigError`` (exit 78) that names
the file, the array, what it holds and what the model needs: a missing file, a file
that is not an ``.npz``, a missing array, a shape or dtype that does not fit the model's
input or output, labels outside the model's classes, non-finite values. The file is
untrusted input: it is read with ``allow_pickle=False`` (an object array is refused,
never unpickled), and whatever numpy raises while parsing it becomes such an error.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.eval.layout import KEYS, meaning
from edge.eval.metrics import Truth, truth_lists
from edge.types import TensorSpec

Array = npt.NDArray[np.generic]
FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
NPY_MAGIC = b"\x93NUMPY"
# Box coordinates are normalised 0..1; a little float slack, then it is pixels.
BOX_SLACK = 0.01


@dataclass(frozen=True)
class EvalSet:
    """The checked contents of a data file.

    ``x``: uint8 pixels (``pixels`` true; one image per row, 2-D for one channel) or
    float32 model values of the input's shape. The targets of the task: ``y`` (classify,
    anomaly), ``truth`` (detect: boxes and classes per image), ``reference`` (generate).
    """

    path: Path
    x: Array
    pixels: bool
    y: IntArray | None = None
    truth: Truth | None = None
    reference: FloatArray | None = None

    def __len__(self) -> int:
        return len(self.x)

    @property
    def boxes(self) -> int:
        return sum(len(classes) for _, classes in self.truth or [])

    def targets(self, name: Literal["y", "reference"]) -> Array:
        """The task's target array (``load_eval_set`` read it for the task)."""
        value = self.y if name == "y" else self.reference
        if value is None:
            raise ValueError(f"this {len(self)}-sample set has no {name}")
        return value

    def ground_truth(self) -> Truth:
        if self.truth is None:
            raise ValueError("this set has no boxes")
        return self.truth


def check_data_path(path: Path) -> None:
    """The data file exists and is a file (checked before the model is loaded)."""
    if not path.exists():
        raise ConfigError(
            f"data file {str(path)!r} does not exist",
            hint="give an .npz with the arrays the model's task needs (see `edge eval --help`)",
        )
    if not path.is_file():
        raise ConfigError(
            f"data path {str(path)!r} is not a file",
            hint="edge eval reads one .npz file (numpy.savez), not a folder of images",
        )


def load_eval_set(
    path: Path,
    task: str,
    tensor: TensorSpec,
    outputs: Sequence[TensorSpec],
    classes: int | None,
) -> EvalSet:
    """The arrays of ``task`` from ``path``, checked against the model's input ``tensor``
    and ``outputs``; ``classes``: the class count when known (labels are checked)."""
    check_data_path(path)
    arrays = _read_npz(path, task)
    x, pixels = _inputs(arrays["x"], tensor, path)
    origin = str(path)
    if task == "classify":
        y = _labels(arrays["y"], len(x), origin)
        count = classes or 0
        if count and (y.min() < 0 or y.max() >= count):
            raise ConfigError(
                f"{origin}: y holds class ids {int(y.min())}..{int(y.max())}, but the model "
                f"has {count} classes (ids 0..{count - 1})",
                hint="y holds class indices in the model's label order, from 0",
            )
        return EvalSet(path, x, pixels, y=y)
    if task == "anomaly":
        y = _labels(arrays["y"], len(x), origin)
        if not np.isin(y, (0, 1)).all():
            raise ConfigError(
                f"{origin}: y must hold 0 (normal) or 1 (anomalous) per sample; it holds "
                f"{sorted({int(v) for v in np.unique(y)[:8]})}",
            )
        if y.min() == y.max():
            raise ConfigError(
                f"{origin}: every sample is {'anomalous' if y[0] else 'normal'}; ROC-AUC "
                "ranks anomalous against normal samples and needs both",
                hint="add normal (y=0) and anomalous (y=1) samples",
            )
        return EvalSet(path, x, pixels, y=y)
    if task == "detect":
        return EvalSet(path, x, pixels, truth=_truth(arrays, len(x), classes, origin))
    (output,) = outputs  # generate: the caller checked there is one
    return EvalSet(path, x, pixels, reference=_reference(arrays["reference"], len(x), output, path))


def _read_npz(path: Path, task: str) -> dict[str, Array]:
    keys = KEYS[task]
    expected = "; ".join(f"{key}: {meaning(key, task)}" for key in keys)
    save = f"numpy.savez(PATH, {', '.join(f'{k}={k}' for k in keys)})"
    try:
        with path.open("rb") as handle:
            head = handle.read(len(NPY_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read data file {str(path)!r}: {exc.strerror}") from exc
    if head.startswith(NPY_MAGIC):
        raise ConfigError(
            f"{str(path)!r} is a single .npy array; a {task} model is measured on an .npz "
            f"holding {', '.join(keys)} ({expected})",
            hint=f"save them together: {save}",
        )
    if not zipfile.is_zipfile(path):
        raise ConfigError(
            f"{str(path)!r} is not an .npz file (a zip archive of arrays, as numpy.savez "
            f"writes); a {task} model is measured on arrays {', '.join(keys)}",
            hint=f"save the arrays with {save}",
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise ConfigError(
                    f"{str(path)!r} has arrays {sorted(archive.files)}, but a {task} model "
                    f"is measured on {', '.join(keys)}; missing: {', '.join(missing)} "
                    f"({'; '.join(f'{k}: {meaning(k, task)}' for k in missing)})",
                    hint=f"save them by name: {save}",
                )
            return {key: np.asarray(archive[key]) for key in keys}
    except ConfigError:
        raise
    except Exception as exc:  # untrusted input: any parse failure is the file's fault
        # Seen: ValueError (an object array under allow_pickle=False), BadZipFile, zlib.error
        # and EOFError (a damaged member), OSError.
        raise ConfigError(
            f"cannot read {str(path)!r} as an .npz of numeric arrays: {exc}",
            hint=f"save plain numeric arrays (no objects or strings) with {save}",
        ) from exc


def _inputs(x: Array, tensor: TensorSpec, path: Path) -> tuple[Array, bool]:
    """``(x, pixels)``: uint8 images for the input recipe, or float32 model values."""
    shape = tuple(tensor.shape[1:])
    image = len(shape) == 3
    if len(x) == 0 or x.ndim == 0:
        raise ConfigError(f"{str(path)!r}: x holds no samples (shape {list(x.shape)})")
    if image and x.dtype == np.uint8:
        if x.ndim == 4 and x.shape[3] == 1:
            x = x[..., 0]  # one channel: the 2-D grey frames the preprocessing takes
        if not (x.ndim == 3 or (x.ndim == 4 and x.shape[3] == 3)) or 0 in x.shape:
            raise ConfigError(
                f"{str(path)!r}: x is uint8 {list(x.shape)}; uint8 images are "
                "(N, height, width) or (N, height, width, 1 or 3)",
                hint=f"the model takes {_shape_text(shape)}: "
                "save grey images as (N, H, W), colour ones as (N, H, W, 3) in BGR order",
            )
        return np.ascontiguousarray(x), True
    if not np.issubdtype(x.dtype, np.floating):
        kinds = "uint8 pixels or float model values" if image else "float model values"
        raise ConfigError(
            f"{str(path)!r}: x has dtype {x.dtype}; the model takes {kinds} {_shape_text(shape)}",
            hint="save pixels as numpy.uint8, or model values as float32",
        )
    given = list(x.shape)
    if image and shape[2] == 1 and x.ndim == 3:
        x = x[..., np.newaxis]
    if tuple(x.shape[1:]) != shape:
        raise ConfigError(
            f"{str(path)!r}: x is {x.dtype} {given}, but the model takes "
            f"{_shape_text(shape)} (float x is model values, not resized)",
            hint="save model values in the input's shape, or images as uint8 pixels, "
            "which go through the model's resize",
        )
    if not np.isfinite(x).all():
        raise ConfigError(f"{str(path)!r}: x contains NaN or infinite values")
    return np.asarray(x, np.float32), False


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"[N, {', '.join(map(str, shape))}]"


def _labels(y: Array, count: int, origin: str) -> IntArray:
    if y.dtype == np.bool_:
        y = y.astype(np.int64)
    if y.ndim != 1 or len(y) != count or not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(
            f"{origin}: y must hold one integer per sample of x: it is {y.dtype} "
            f"{list(y.shape)} for {count} samples",
            hint="y = numpy.asarray(labels, numpy.int64), in the order of x",
        )
    return np.asarray(y, np.int64)


def _truth(arrays: dict[str, Array], count: int, classes: int | None, origin: str) -> Truth:
    boxes, ids, owner = arrays["boxes"], arrays["classes"], arrays["image_index"]
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.issubdtype(boxes.dtype, np.number):
        raise ConfigError(
            f"{origin}: boxes is {boxes.dtype} {list(boxes.shape)}; expected (M, 4) "
            "x0, y0, x1, y1 normalised 0..1 to the image"
        )
    for name, values in (("classes", ids), ("image_index", owner)):
        if values.shape != (len(boxes),) or not np.issubdtype(values.dtype, np.integer):
            raise ConfigError(
                f"{origin}: {name} is {values.dtype} {list(values.shape)}; expected one "
                f"integer per box ({len(boxes)} boxes)",
            )
    corners: FloatArray = np.asarray(boxes, np.float32)
    if not np.isfinite(corners).all():
        raise ConfigError(f"{origin}: boxes contain NaN or infinite values")
    if len(corners):
        if corners.min() < -BOX_SLACK or corners.max() > 1 + BOX_SLACK:
            raise ConfigError(
                f"{origin}: boxes range {float(corners.min()):g}..{float(corners.max()):g}; "
                "they are normalised 0..1 to the image",
                hint="divide pixel boxes by the image's width (x) and height (y)",
            )
        if (corners[:, 2] < corners[:, 0]).any() or (corners[:, 3] < corners[:, 1]).any():
            raise ConfigError(f"{origin}: a box has x1 < x0 or y1 < y0; boxes are x0, y0, x1, y1")
        if owner.min() < 0 or owner.max() >= count:
            raise ConfigError(
                f"{origin}: image_index ranges {int(owner.min())}..{int(owner.max())}, but "
                f"x has {count} images (indices 0..{count - 1})"
            )
        if ids.min() < 0 or (classes and ids.max() >= classes):
            limit = f"the model has {classes} classes (ids 0..{classes - 1})" if classes else ""
            raise ConfigError(
                f"{origin}: classes holds ids {int(ids.min())}..{int(ids.max())}"
                + (f", but {limit}" if limit else "; class ids start at 0"),
                hint="classes hold indices in the model's label order, from 0",
            )
    return truth_lists(corners, np.asarray(ids, np.int64), np.asarray(owner, np.int64), count)


def _reference(reference: Array, count: int, output: TensorSpec, path: Path) -> FloatArray:
    shape = (count, *output.shape[1:])
    if not np.issubdtype(reference.dtype, np.floating) or reference.shape != shape:
        raise ConfigError(
            f"{str(path)!r}: reference is {reference.dtype} {list(reference.shape)}; the "
            f"model's output for {count} latent vectors is float {list(shape)}",
            hint="reference holds the float (Keras) model's outputs for x, in the order of x",
        )
    if not np.isfinite(reference).all():
        raise ConfigError(f"{str(path)!r}: reference contains NaN or infinite values")
    return np.asarray(reference, np.float32)
