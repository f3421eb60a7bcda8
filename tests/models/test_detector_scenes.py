"""Synthetic scenes and detector targets: deterministic, boxes tight on the ink."""

from __future__ import annotations

import numpy as np

from models.data import split_digits
from models.detector import GRID, encode_targets
from models.scenes import MAX_DIGITS, make_scenes


def test_scenes_are_deterministic_and_boxes_hold_the_ink() -> None:
    x, y = split_digits().part("holdout")
    a = make_scenes(x, y, 40, seed=5)
    b = make_scenes(x, y, 40, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert not np.array_equal(a.images, make_scenes(x, y, 40, seed=6).images)
    counts = np.bincount(a.image_index, minlength=len(a))
    assert counts.min() >= 1 and counts.max() <= MAX_DIGITS
    assert set(a.classes.tolist()) <= set(range(10))
    assert (a.boxes[:, :2] >= 0).all() and (a.boxes[:, 2:] <= 1).all()
    assert (a.boxes[:, 2:] > a.boxes[:, :2]).all()
    for i in range(len(a)):
        boxes, _ = a.truth(i)
        for x0, y0, x1, y1 in (boxes * 96).round().astype(int):
            assert a.images[i, y0:y1, x0:x1].max() > 100  # a digit is drawn there
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
