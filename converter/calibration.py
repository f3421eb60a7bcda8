"""The representative dataset that int8 calibration measures activation ranges on.

Accepted sources (``--calibration``): a folder of images (searched recursively), a
``.npy`` array, or a ``.npz`` with an array ``x``; see ``converter.data`` for how each is
turned into model inputs.

At most ``MAX_SAMPLES`` are used, picked evenly across the set (deterministic): int8
ranges settle after a few hundred samples and conversion time grows linearly (about
2.8 s for 200 samples on the reference CNN, see the toolchain notes).

When full int8 misses the budget, the ladder's ``int8-recalibrated`` step asks
``recalibrations`` for other sets (stratified by the float model's output, then more
samples, from a pool of up to ``POOL_SAMPLES``) before any layer is kept in float.

``sha256`` hashes exactly the float32 inputs used, shape included, so the manifest
records which data calibrated the model independently of file names or formats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

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
from edge.errors import DataError
from edge.model.manifest import InputSpec

MAX_SAMPLES = 500


@dataclass(frozen=True)
class Calibration:
    """Model inputs ``(N, *input_shape)`` float32 (images: ``(N, H, W, C)``) and their source."""

    x: npt.NDArray[np.float32]
    source: str

    def __post_init__(self) -> None:
        if self.x.ndim < 2 or len(self.x) == 0 or self.x.dtype != np.float32:
            raise DataError(
                f"calibration data from {self.source} must be a non-empty float32 "
                f"(N, ...) array, got {self.x.dtype} {list(self.x.shape)}"
            )

    @property
    def samples(self) -> int:
        return len(self.x)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256(repr(tuple(self.x.shape)).encode())
        digest.update(np.ascontiguousarray(self.x).tobytes())
        return digest.hexdigest()

    def representative_dataset(
        self, progress: TextIO | None = None
    ) -> Iterator[list[npt.NDArray[np.float32]]]:
        """Batches of one, as TFLiteConverter's representative_dataset yields them.

        A progress bar goes to ``progress`` when that is a terminal (tqdm's
        ``disable=None``), so logs and pipes stay clean.
        """
        from tqdm import tqdm

        bar = tqdm(
            self.x,
            desc="calibrating",
            unit="img",
            file=progress,
            leave=False,
            disable=None if progress is not None else True,
        )
        for sample in bar:
            yield [sample[np.newaxis]]


def load_calibration(
    path: Path,
    spec: InputSpec | None,
    *,
    max_samples: int = MAX_SAMPLES,
    input_shape: tuple[int, ...] | None = None,
) -> Calibration:
    """Read ``path`` into model inputs for the model ``spec`` describes.

    A model whose input is not an image (a generator's latent vector) has no ``spec``
    for the images path: give ``input_shape`` (batch excluded); arrays only then.
    """
    require_exists(path, "calibration data")
    if input_shape is None:
        if spec is None:
            raise DataError("load_calibration needs an InputSpec or an input_shape")
        input_shape = (spec.height, spec.width, spec.channels)
    shape = input_shape
    if path.is_dir():
        if spec is None:
            raise DataError(
                f"calibration folder {str(path)!r}: this model does not take images",
                hint="give a .npy array or a .npz with an array 'x' of model inputs",
            )
        files = image_files(path)
        if not files:
            raise DataError(
                f"calibration folder {str(path)!r} contains no images (looked for "
                f"{', '.join(IMAGE_SUFFIXES)}, in subfolders too)",
                hint="point --calibration at a folder of typical camera images, or at a "
                ".npy/.npz array of model inputs",
            )
        files = [files[i] for i in _evenly(len(files), max_samples)]
        return Calibration(read_images(files, spec), source=f"{len(files)} images in {path}")
    x = fit_shape(load_arrays(path, ["x"])["x"], shape, f"calibration data {str(path)!r}")
    return Calibration(x[_evenly(len(x), max_samples)], source=str(path))


def _evenly(n: int, k: int) -> npt.NDArray[np.int64]:
    """``min(n, k)`` indices spread evenly over ``range(n)``, in order."""
    if n <= k:
        return np.arange(n, dtype=np.int64)
    return np.linspace(0, n - 1, k).round().astype(np.int64)


# The ladder's ``int8-recalibrated`` step (converter.ladder): when int8 misses the budget
# with the calibration set as given, int8 is tried again on other representative sets
# before any layer is given up to float.
POOL_SAMPLES = 4 * MAX_SAMPLES
POOL_BYTES = 512 * 2**20  # 2,000 inputs of 224x224x3 float32 would be 1.2 GB: fewer then
STRATA = 8
PREDICT_BATCH = 64


def recalibrations(
    calibration: Calibration,
    source: Path | Calibration,
    predict: Callable[[npt.NDArray[np.float32]], Mapping[str, npt.NDArray[np.float32]]],
    *,
    spec: InputSpec | None,
    input_shape: tuple[int, ...],
) -> Iterator[tuple[Calibration, str]]:
    """Other calibration sets for int8, each with a note for the report, in the order to try.

    Min/max calibration (what TFLite's converter does) only sees the samples it is given,
    so a set that misses the rare inputs with the widest activations clips them in int8.
    The pool is the calibration data read with up to ``POOL_SAMPLES`` samples (more than
    the ``MAX_SAMPLES`` the first int8 step used, when the source has them; fewer when
    they would take more than ``POOL_BYTES``):

    1. ``stratified``: as many samples as the first set, spread evenly over the float
       model's behaviour on the pool: its predicted class (one 2-D output of several
       classes), else ``STRATA`` quantile bins of the outputs' norm; rare kinds of input
       get the share of common ones;
    2. ``more samples``: the whole pool, when it is larger than the first set.

    A set identical to one already tried is skipped."""
    pool = calibration
    if isinstance(source, Path):
        per_sample = 4 * int(np.prod(input_shape))
        pool = load_calibration(
            source,
            spec,
            input_shape=input_shape,
            max_samples=max(calibration.samples, min(POOL_SAMPLES, POOL_BYTES // per_sample)),
        )
    tried = {calibration.sha256}
    groups = _strata(_predict_batched(predict, pool.x))
    picked = _stratified(groups, calibration.samples)
    candidates = [
        (
            Calibration(
                pool.x[picked],
                source=f"{len(picked)} of {pool.samples} samples of "
                f"{pool.source}, stratified by {groups.describe}",
            ),
            f"calibration stratified by {groups.describe}",
        ),
        (pool, f"calibration on more samples: {pool.samples} instead of {calibration.samples}"),
    ]
    for candidate, note in candidates:
        if candidate.sha256 in tried:
            continue
        tried.add(candidate.sha256)
        yield candidate, f"{note} ({candidate.samples} samples, sha256 {candidate.sha256[:12]})"


def _predict_batched(
    predict: Callable[[npt.NDArray[np.float32]], Mapping[str, npt.NDArray[np.float32]]],
    x: npt.NDArray[np.float32],
) -> dict[str, npt.NDArray[np.float32]]:
    parts: dict[str, list[npt.NDArray[np.float32]]] = {}
    for start in range(0, len(x), PREDICT_BATCH):
        for name, value in predict(x[start : start + PREDICT_BATCH]).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


@dataclass(frozen=True)
class _Strata:
    labels: npt.NDArray[np.int64]  # one group per pool sample
    describe: str


def _strata(outputs: Mapping[str, npt.NDArray[np.float32]]) -> _Strata:
    """Group the pool by the float model's output: its class, else its output norm."""
    values = list(outputs.values())
    if len(values) == 1 and values[0].ndim == 2 and values[0].shape[1] > 1:
        return _Strata(
            values[0].argmax(axis=1).astype(np.int64), "the float model's predicted class"
        )
    norm = np.sqrt(sum(np.square(v.reshape(len(v), -1)).sum(axis=1) for v in values))
    edges = np.quantile(norm, np.linspace(0, 1, STRATA + 1)[1:-1])
    return _Strata(
        np.searchsorted(edges, norm).astype(np.int64),
        f"{STRATA} quantiles of the float model's output norm",
    )


def _stratified(groups: _Strata, k: int) -> npt.NDArray[np.int64]:
    """Up to ``k`` indices: the same quota from every group (all of a small group), each
    group picked evenly, topped up evenly from what is left; in pool order."""
    members = [np.flatnonzero(groups.labels == g) for g in np.unique(groups.labels)]
    quota = max(k // max(len(members), 1), 1)
    chosen = [m[_evenly(len(m), quota)] for m in members]
    picked = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    rest = np.setdiff1d(np.arange(len(groups.labels)), picked)
    if len(picked) < k and len(rest):
        picked = np.concatenate([picked, rest[_evenly(len(rest), k - len(picked))]])
    return np.sort(picked[:k]).astype(np.int64)
