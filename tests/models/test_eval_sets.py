"""The shipped evaluation sets of ``edge eval`` are what ``models.eval_sets`` writes.

The device cannot rebuild them (``edge`` imports neither ``models`` nor TensorFlow), so
they ship; these tests regenerate them from the recipe and compare.
"""

from __future__ import annotations

import numpy as np

from models.eval_sets import (
    CROPS_EVAL_FILE,
    DETECTOR_EVAL_FILE,
    GENERATOR_EVAL_FILE,
    crops_eval_arrays,
    detector_eval_arrays,
    generator_eval_arrays,
)
from models.recipe import ZOO
from models.train_detector import EVAL_SCENES
from models.train_gan import EVAL_LATENTS, LATENTS_FILE


def test_detector_eval_set_is_the_recipe_output() -> None:
    fresh = detector_eval_arrays()
    with np.load(ZOO / DETECTOR_EVAL_FILE) as data:
        assert sorted(data.files) == sorted(fresh)
        # Boxes, classes and owners come from the seeded generator alone: exact.
        for key in ("boxes", "classes", "image_index"):
            assert data[key].dtype == fresh[key].dtype, key
            np.testing.assert_array_equal(data[key], fresh[key], err_msg=key)
        shipped = data["x"]
    assert shipped.shape == fresh["x"].shape == (EVAL_SCENES, 96, 96)
    assert shipped.dtype == np.uint8
    # The canvases go through OpenCV (resize of the digits, the blur of the background),
    # whose rounding may differ between releases by a grey level; another recipe or seed
    # moves them by tens of levels.
    step = np.abs(shipped.astype(np.int16) - fresh["x"].astype(np.int16))
    assert step.max() <= 2, int(step.max())
    assert step.mean() <= 0.05, float(step.mean())


def test_detector_eval_set_holds_every_scene_box() -> None:
    with np.load(ZOO / DETECTOR_EVAL_FILE) as data:
        owner, boxes = data["image_index"], data["boxes"]
        assert set(np.unique(owner)) <= set(range(EVAL_SCENES))
        assert boxes.min() >= 0 and boxes.max() <= 1
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
        assert set(np.unique(data["classes"])) == set(range(10))


def test_generator_eval_set_is_the_float_model_on_the_shipped_latents() -> None:
    fresh = generator_eval_arrays()
    with np.load(ZOO / GENERATOR_EVAL_FILE) as data, np.load(ZOO / LATENTS_FILE) as latents:
        np.testing.assert_array_equal(data["x"], latents["x"])
        assert data["x"].shape == (EVAL_LATENTS, 64)
        reference = data["reference"]
    assert reference.shape == (EVAL_LATENTS, 28, 28, 1) and reference.dtype == np.float16
    # Stored as float16: within half a float16 step (2**-12 just below 1) of what Keras
    # gives here, plus the float kernels' differences between CPU families (about 1e-6).
    error = np.abs(reference.astype(np.float32) - fresh["reference"])
    assert error.max() <= 2.5e-4, float(error.max())


def test_crops_eval_set_is_the_recipe_output() -> None:
    fresh = crops_eval_arrays()
    with np.load(ZOO / CROPS_EVAL_FILE) as data:
        assert sorted(data.files) == ["x", "y"]
        np.testing.assert_array_equal(data["y"], fresh["y"])  # seeded: exact
        shipped = data["x"]
    assert shipped.dtype == np.uint8 and shipped.shape == fresh["x"].shape
    assert shipped.shape[1:] == (28, 28) and len(shipped) > 900
    assert set(np.unique(fresh["y"])) == set(range(10))
    # Resized twice by OpenCV (the scene, then the crop): a grey level or two between
    # releases, tens of levels for another recipe or seed.
    step = np.abs(shipped.astype(np.int16) - fresh["x"].astype(np.int16))
    assert step.max() <= 3, int(step.max())
    assert step.mean() <= 0.05, float(step.mean())
