"""The evaluation sets ``edge eval`` reads for the detector and the generator.

``python -m models.eval_sets [--out DIR]`` writes, under ``models/zoo/``:

- ``digits-detector-eval.npz``: the ``EVAL_SCENES`` (300) held-out scenes the shipped
  detector's report was measured on, ``models.train_detector.eval_scenes`` of the
  held-out split: ``x`` uint8 ``(300, 96, 96)`` (the canvases: pixels, which ``edge
  eval`` sends through the model's input recipe), ``boxes`` float32 ``(M, 4)``
  ``x0, y0, x1, y1`` normalised 0..1, ``classes`` int64 ``(M,)``, ``image_index`` int64
  ``(M,)``. The device cannot rebuild them: ``edge`` never imports ``models``.
- ``digits-crops-eval.npz``: the crops of held-out digits the crop classifier's report
  was measured on (``models.train_crops.eval_crops``): ``x`` uint8 ``(N, 28, 28)``,
  ``y`` int64 ``(N,)``.
- ``digits-dcgan-eval.npz``: ``x`` float32 ``(256, 64)``, the evaluation latents of
  ``digits-dcgan-latents.npz``, and ``reference`` ``(256, 28, 28, 1)``, the shipped float
  generator's (``digits-dcgan-generator.keras``) outputs for them: the float side of the
  PSNR the report gives, which the device cannot compute without TensorFlow. Stored as
  float16, which halves the file (311 against 712 kB): rounding to float16 is 84 dB
  below the outputs, so the int8 model's 42.8 dB against it moves by about 0.0003 dB.

The other tasks' sets already ship: ``digits-holdout.npz`` (the CNN and the ViT) and
``digits-anomaly-eval.npz`` (the anomaly model). ``tests/models/test_eval_sets.py``
regenerates these files and compares them with the shipped ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from models.data import DEFAULT_SEED, split_digits
from models.recipe import ZOO
from models.train_crops import STEM as CROPS_STEM
from models.train_crops import eval_crops
from models.train_detector import eval_scenes
from models.train_gan import GENERATOR_STEM, LATENTS_FILE

DETECTOR_EVAL_FILE = "digits-detector-eval.npz"
GENERATOR_EVAL_FILE = "digits-dcgan-eval.npz"
CROPS_EVAL_FILE = f"{CROPS_STEM}-eval.npz"

Arrays = dict[str, npt.NDArray[Any]]


def detector_eval_arrays(seed: int = DEFAULT_SEED) -> Arrays:
    """The detector's held-out scenes, as the converter measured it (``eval_scenes``)."""
    scenes = eval_scenes(*split_digits(seed).part("holdout"), seed=seed)
    return {
        "x": scenes.images,
        "boxes": scenes.boxes.astype(np.float32),
        "classes": scenes.classes.astype(np.int64),
        "image_index": scenes.image_index.astype(np.int64),
    }


def crops_eval_arrays(seed: int = DEFAULT_SEED) -> Arrays:
    """The crop classifier's held-out crops, as the converter measured it (``eval_crops``)."""
    x, y = eval_crops(*split_digits(seed).part("holdout"), seed=seed)
    return {"x": x, "y": y.astype(np.int64)}


def generator_eval_arrays(zoo: Path = ZOO) -> Arrays:
    """The evaluation latents and the float generator's outputs for them (TensorFlow);
    ``write_eval_sets`` stores the outputs as float16."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    with np.load(zoo / LATENTS_FILE) as data:
        latents = np.asarray(data["x"], np.float32)
    generator = keras.saving.load_model(zoo / f"{GENERATOR_STEM}.keras", compile=False)
    reference = np.asarray(generator.predict(latents, batch_size=64, verbose=0), np.float32)
    return {"x": latents, "reference": reference}


def write_eval_sets(out: Path, *, seed: int = DEFAULT_SEED, zoo: Path = ZOO) -> list[Path]:
    """Write the files into ``out``; the generator's reference comes from ``zoo``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    generator = generator_eval_arrays(zoo)
    generator["reference"] = generator["reference"].astype(np.float16)
    for name, arrays in (
        (DETECTOR_EVAL_FILE, detector_eval_arrays(seed)),
        (CROPS_EVAL_FILE, crops_eval_arrays(seed)),
        (GENERATOR_EVAL_FILE, generator),
    ):
        path = out / name
        np.savez_compressed(path, **cast(dict[str, Any], arrays))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.eval_sets", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=ZOO, help=f"output folder (default {ZOO})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="split and scene seed")
    args = parser.parse_args(argv)
    for path in write_eval_sets(args.out, seed=args.seed):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
