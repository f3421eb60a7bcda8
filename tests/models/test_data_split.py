"""The digit split: real data, deterministic, stratified, and the held-out part unseen."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from models.data import DEFAULT_SEED, split_digits
from models.recipe import ZOO


def test_split_is_deterministic_disjoint_and_stratified() -> None:
    first, again = split_digits(), split_digits()
    for part in ("train", "validation", "holdout"):
        np.testing.assert_array_equal(getattr(first, part), getattr(again, part))
    train, validation, holdout = (set(first.train), set(first.validation), set(first.holdout))
    assert not train & holdout and not validation & holdout and not train & validation
    assert len(train | validation | holdout) == 5000
    assert (len(train), len(validation), len(holdout)) == (3500, 500, 1000)
    assert np.bincount(first.y[first.holdout]).tolist() == [100] * 10
    assert np.bincount(first.y[first.train]).tolist() == [350] * 10
    other = split_digits(seed=DEFAULT_SEED + 1)
    assert set(other.holdout) != holdout


def test_digits_are_real_mnist() -> None:
    split = split_digits()
    assert split.x.shape == (5000, 28, 28) and split.x.dtype == np.uint8
    assert np.bincount(split.y).tolist() == [500] * 10
    # White digits on black: the border is almost all black, every image has a bright stroke.
    assert split.x[:, :2, :].mean() < 1 and (split.x.reshape(5000, -1).max(axis=1) > 200).all()


def test_shipped_holdout_is_the_held_out_split() -> None:
    split = split_digits()
    x, y = split.part("holdout")
    with np.load(ZOO / "digits-holdout.npz") as data:
        assert data["x"].dtype == np.uint8 and data["y"].dtype == np.int64
        np.testing.assert_array_equal(data["x"], x)
        np.testing.assert_array_equal(data["y"], y)
    # No held-out image appears (as pixels) among the training digits.
    train_x, _ = split.part("train")
    seen = {image.tobytes() for image in train_x}
    assert not any(image.tobytes() in seen for image in x)


def test_importing_models_and_data_does_not_import_tensorflow() -> None:
    code = "import sys, models, models.data, models.augment; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_training_digits_with_and_without_validation() -> None:
    split = split_digits()
    alone_x, alone_y = split.training("train")
    both_x, both_y = split.training("train+validation")
    assert len(alone_y) == 3500 and len(both_y) == 4000
    # The training part first, in order, then the validation part: the shipped recipes'
    # order (the detector's scenes draw by index, so another order is another detector).
    np.testing.assert_array_equal(both_x[:3500], alone_x)
    np.testing.assert_array_equal(both_x[3500:], split.part("validation")[0])
    held = {image.tobytes() for image in split.part("holdout")[0]}
    assert not any(image.tobytes() in held for image in both_x)
