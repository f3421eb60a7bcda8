"""Synthetic scenes and detector targets: deterministic, boxes tight on the ink."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from models.augment import DigitDistortion
from models.data import split_digits
from models.detector import GRID, encode_targets
from models.scenes import MAX_DIGITS, make_scenes


@pytest.mark.parametrize(
    ("distort", "ink"),
    # A thinned stroke at the dimmest brightness (0.6) can peak
    # below 100; it is still far above the background's darkest digit-free level.
    [(None, 100), (DigitDistortion(), 60)],
    ids=["evaluation", "training"],
)
def test_scenes_are_deterministic_and_boxes_hold_the_ink(
    distort: DigitDistortion | None, ink: int
) -> None:
    x, y = split_digits().part("holdout")
    a = make_scenes(x, y, 40, seed=5, distort=distort)
    b = make_scenes(x, y, 40, seed=5, distort=distort)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.images, make_scenes(x, y, 40, seed=6, distort=distort).images)
    counts = np.bincount(a.image_index, minlength=len(a))
    assert counts.min() >= 1 and counts.max() <= MAX_DIGITS
    assert set(a.classes.tolist()) <= set(range(10))
    assert (a.boxes[:, :2] >= 0).all() and (a.boxes[:, 2:] <= 1).all()
    assert (a.boxes[:, 2:] > a.boxes[:, :2]).all()
    for i in range(len(a)):
        boxes, _ = a.truth(i)
        for x0, y0, x1, y1 in (boxes * 96).round().astype(int):
            assert a.images[i, y0:y1, x0:x1].max() > ink  # a digit is drawn there
        # Outside the boxes there is background only (no stray digit).
        mask = np.ones((96, 96), bool)
        for x0, y0, x1, y1 in boxes * 96:
            mask[int(y0) : int(np.ceil(y1)) + 1, int(x0) : int(np.ceil(x1)) + 1] = False
        assert a.images[i][mask].max() < 100


def test_targets_put_one_peak_per_digit() -> None:
    x, y = split_digits().part("train")
    scenes = make_scenes(x, y, 20, seed=1)
    heat, ltrb = encode_targets(scenes.boxes, scenes.classes, scenes.image_index, len(scenes))
    assert heat.shape == (20, GRID, GRID, 10) and ltrb.shape == (20, GRID, GRID, 4)
    assert int((heat == 1.0).sum()) == len(scenes.boxes)
    centres = heat.max(axis=-1) == 1.0
    assert (ltrb[centres] > 0).all()  # the centre cell lies inside its box
    assert (ltrb[~centres & (ltrb[..., 0] == -1)] == -1).all()  # no target: all -1
    assert int((ltrb[..., 0] != -1).sum()) <= 9 * len(scenes.boxes)


def _touches_the_edge(digit: npt.NDArray[np.uint8]) -> bool:
    return bool(max(digit[0].max(), digit[-1].max(), digit[:, 0].max(), digit[:, -1].max()) >= 128)


def test_a_distorted_digit_stays_a_digit_on_its_tile_and_differs_each_draw() -> None:
    x, _ = split_digits().part("train")
    distort = DigitDistortion(thicken=0.5, thin=0.5)
    rng = np.random.default_rng(3)
    changed = at_edge = 0
    for digit in x[:400]:
        out = distort(digit, rng)
        assert out.shape == digit.shape and out.dtype == np.uint8
        assert np.count_nonzero(out > 64) >= 20  # still a digit, not erased
        changed += not np.array_equal(out, digit)
        at_edge += _touches_the_edge(out)
    assert changed == 400
    # MNIST centres its ink in a 20x20 box, but 1.4 % of the training digits already
    # reach the tile's edge; the warp may push a few more there (about 5 % measured),
    # never most: the scene's box is measured on the warped ink, so it stays right.
    assert at_edge <= 0.1 * 400
    first, second = (DigitDistortion()(x[0], np.random.default_rng(9)) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_scenes_without_distortion_keep_the_evaluation_stream() -> None:
    """A DigitDistortion draws from the scene's generator only when given: the
    evaluation scenes (and the shipped digits-detector-eval.npz) never change."""
    x, y = split_digits().part("holdout")
    plain = make_scenes(x, y, 10, seed=2)
    distorted = make_scenes(x, y, 10, seed=2, distort=DigitDistortion())
    assert not np.array_equal(plain.images, distorted.images)
    np.testing.assert_array_equal(plain.images, make_scenes(x, y, 10, seed=2, distort=None).images)
