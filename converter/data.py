"""Read calibration and evaluation inputs: image folders and ``.npy``/``.npz`` arrays.

Two kinds of input, two rules:

- Arrays hold inputs exactly as the Keras model takes them (what you would pass to
  ``model.predict``): no preprocessing is applied, only a missing channel axis is added
  to ``(N, H, W)`` for one-channel models.
- Image files are decoded with OpenCV (BGR, as a camera frame) and go through the
  device's own preprocessing (``edge.processing.preprocess.prepare_pixels`` and
  ``model_values``) with the same ``InputSpec`` the manifest will carry. Calibrating on
  differently preprocessed pixels than the device feeds is the most common silent
  cause of int8 accuracy loss, hence one implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import DataError
from edge.model.manifest import InputSpec
from edge.processing.preprocess import model_values, prepare_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm")
FloatArray = npt.NDArray[np.float32]


def image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted so runs are reproducible."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )


def read_images(files: Sequence[Path], spec: InputSpec) -> FloatArray:
    """Decode and preprocess ``files`` into model inputs ``(N, H, W, C)`` float32."""
    batch = np.empty((len(files), spec.height, spec.width, spec.channels), np.float32)
    for i, path in enumerate(files):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(
                f"cannot decode image {str(path)!r}",
                hint="remove the file or re-save it as PNG or JPEG",
            )
        pixels, _ = prepare_pixels(np.asarray(image, np.uint8), spec)
        batch[i] = model_values(pixels, spec)
    return batch


def load_arrays(path: Path, names: Sequence[str]) -> dict[str, npt.NDArray[np.generic]]:
    """Arrays ``names`` from an ``.npz`` (or the one array of an ``.npy`` as ``x``)."""
    _refuse_empty(path)
    try:
        if path.suffix.lower() == ".npy":
            if list(names) != ["x"]:
                raise DataError(
                    f"{str(path)!r} is a single .npy array, but {', '.join(names)} are needed",
                    hint="save them together: numpy.savez(PATH, "
                    + ", ".join(f"{n}={n}" for n in names)
                    + ")",
                )
            with path.open("rb") as handle:  # ours to close, whatever numpy raises
                return {"x": np.load(handle, allow_pickle=False)}
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
            missing = [n for n in names if n not in archive.files]
            if missing:
                raise DataError(
                    f"{str(path)!r} has arrays {sorted(archive.files)}; expected "
                    + " and ".join(repr(n) for n in names),
                    hint="save them by name: numpy.savez(PATH, "
                    + ", ".join(f"{n}={n}" for n in names)
                    + ")",
                )
            return {n: np.asarray(archive[n]) for n in names}
    except DataError:
        raise
    except Exception as exc:  # the file is untrusted input: any parse failure is its fault
        # allow_pickle=False: an object array (pickled data) is refused, not executed.
        # Seen here: EOFError (truncated .npy), SyntaxError / tokenize.TokenError (damaged
        # header), MemoryError (a header claiming a huge shape), BadZipFile and zlib.error
        # (damaged .npz), OSError, ValueError.
        raise DataError(
            f"cannot read {str(path)!r} as a numpy array file: {exc}",
            hint="use numpy.save / numpy.savez with plain numeric arrays",
        ) from exc


def _refuse_empty(path: Path) -> None:
    try:
        empty = path.stat().st_size == 0
    except OSError:
        return  # missing or unreadable: np.load's error names it
    if empty:
        raise DataError(
            f"{str(path)!r} is empty (0 bytes): no arrays in it",
            hint="write it again with numpy.save / numpy.savez (an interrupted "
            "copy or a full disk leaves an empty file)",
        )


def fit_shape(x: npt.NDArray[np.generic], shape: tuple[int, ...], origin: str) -> FloatArray:
    """Check ``x`` against the model input shape (batch excluded); images ``(H, W, C)``
    with one channel may come without the channel axis."""
    if len(shape) == 3 and x.ndim == 3 and shape[2] == 1:
        x = x[..., np.newaxis]
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise DataError(
            f"{origin} holds an array of shape {list(x.shape)}, but the model takes "
            f"[N, {', '.join(map(str, shape))}]",
            hint="arrays hold inputs exactly as model.predict takes them; for image "
            "files, give a folder instead",
        )
    if len(x) == 0:
        raise DataError(f"{origin} holds no samples (shape {list(x.shape)})")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{origin} has dtype {x.dtype}; expected real numbers")
    # Checked before the cast to float32: a finite float64 beyond float32's range would
    # otherwise become infinity (with numpy's overflow warning) and be misreported.
    if not np.isfinite(x).all():
        raise DataError(f"{origin} contains NaN or infinite values")
    if x.dtype.kind == "f" and x.dtype.itemsize > np.dtype(np.float32).itemsize:
        biggest = float(np.abs(x).max())
        if biggest > float(np.finfo(np.float32).max):
            raise DataError(
                f"{origin} holds values up to {biggest:.3g}, beyond the float32 range "
                "(3.4e38) the model computes in",
                hint="give the inputs exactly as model.predict takes them (scaled)",
            )
    return x.astype(np.float32)


def require_exists(path: Path, what: str) -> None:
    if not path.exists():
        hint = (
            "give a folder with one subfolder of images per label, or a .npz with arrays "
            "'x' and 'y'"
            if what.startswith("evaluation")
            else "give a folder of images, a .npy array or a .npz with an array 'x'"
        )
        raise DataError(f"{what} {str(path)!r} does not exist", hint=hint)
