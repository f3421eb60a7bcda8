"""Train and ship the crop classifier: ``python -m models.train_crops [--out DIR]``.

The second stage of the digit detector (``edge.refine``, config ``[refine]``): it names
each detected box again from the picture around it. Writes ``digits-crops.keras``
(weights only), ``digits-crops.int8.tflite`` (full int8, manifest embedded) and
``digits-crops.report.json`` (float vs int8 on crops of the held-out digits).

Recipe: ``EPOCHS`` epochs, each over the crops of ``SCENES_PER_EPOCH`` fresh scenes
(``models.crops.camera_crops``: about 7,500 crops) of the training and validation
digits, each digit's shape changed by the detector's ``DISTORTION``; Adam with cosine
decay from 2e-3, batch 128. About 6 min on 2 CPU cores. Deterministic for a seed.

Why a second model at all: a zone count on a 4-digit frame needs all four digits named
right, so it compounds per-digit errors (0.988^4 = 0.953), and every detector trained
here plateaus at 98.7 % of held-out digits. A classifier that sees only the digit, at a
resolution of its own, misses mostly other digits than the detector does
(``docs/zones.md`` has the figures).

``--digits train`` trains on the 3,500 training digits alone: the classifier that the
fusion rule's defaults were chosen with, on the validation digits it never saw
(``benchmarks/refine_rule.py``).

The run fails (exit 1) when the int8 model misses the zoo's bar (``models.recipe.check_bar``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from converter.quiet import import_tensorflow
from converter.report import Report
from models.crops import build_crop_classifier, camera_crops
from models.data import DEFAULT_SEED, Split, TrainingDigits, split_digits
from models.recipe import (
    MAX_ACCURACY_DROP,
    check_bar,
    digit_inputs,
    log,
    recipe_parser,
    relative,
)
from models.train_detector import DISTORTION, LABELS

STEM = "digits-crops"
EPOCHS = 40
SCENES_PER_EPOCH = 3000
CALIBRATION_SCENES = 100
EVAL_SCENES = 400
BATCH = 128


def eval_crops(
    holdout_x: npt.NDArray[np.uint8], holdout_y: npt.NDArray[np.int64], seed: int = DEFAULT_SEED
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The crops the report measures: held-out digits in ``EVAL_SCENES`` scenes
    (``models.eval_sets`` ships them for ``edge eval``, which cannot rebuild them)."""
    return camera_crops(holdout_x, holdout_y, EVAL_SCENES, seed=seed + 2)


def fit_classifier(split: Split, *, seed: int, epochs: int, digits: TrainingDigits) -> Any:
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    x_train, y_train = split.training(digits)
    model = build_crop_classifier(len(LABELS))
    # About 2.5 crops per scene: the schedule's length only needs to be close.
    steps = epochs * -(-int(SCENES_PER_EPOCH * 2.5) // BATCH)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    log(
        f"crops: {epochs} epochs x crops of {SCENES_PER_EPOCH} scenes of {len(x_train)} "
        f"{digits} digits ({model.count_params()} parameters)"
    )
    start = time.monotonic()
    for epoch in range(1, epochs + 1):
        crops, labels = camera_crops(
            x_train, y_train, SCENES_PER_EPOCH, seed=seed * 1000 + epoch, distort=DISTORTION
        )
        history = model.fit(digit_inputs(crops), labels, batch_size=BATCH, epochs=1, verbose=0)
        accuracy = history.history["accuracy"][0]
        log(
            f"  epoch {epoch:2d}/{epochs}  {len(crops)} crops  loss "
            f"{history.history['loss'][0]:.4f}  accuracy {accuracy:.4f}  "
            f"{time.monotonic() - start:5.1f} s"
        )
    return model


def train(
    out: Path,
    *,
    seed: int = DEFAULT_SEED,
    epochs: int = EPOCHS,
    digits: TrainingDigits = "train+validation",
) -> Report:
    split = split_digits(seed)
    trained = fit_classifier(split, seed=seed, epochs=epochs, digits=digits)
    model = build_crop_classifier(len(LABELS))  # ships without the optimizer's state
    model.set_weights(trained.get_weights())
    out.mkdir(parents=True, exist_ok=True)
    keras_path = relative(out / f"{STEM}.keras")
    model.save(keras_path)
    return convert_classifier(keras_path, split, seed=seed, epochs=epochs, digits=digits)


def convert_classifier(
    keras_path: Path, split: Split, *, seed: int, epochs: int, digits: TrainingDigits
) -> Report:
    """int8 through the converter API, measured on crops of the held-out digits."""
    from converter.calibration import Calibration
    from converter.convert import ConvertRequest, convert
    from converter.tasks.base import TaskEval

    x_train, y_train = split.part("train")
    calibration_crops, _ = camera_crops(
        x_train, y_train, CALIBRATION_SCENES, seed=seed + 1, distort=DISTORTION
    )
    calibration = Calibration(
        digit_inputs(calibration_crops),
        source=f"crops of {CALIBRATION_SCENES} training scenes (seed {seed + 1})",
    )
    held_crops, held_labels = eval_crops(*split.part("holdout"), seed=seed)
    log(f"crops: converting {keras_path.name} to int8 (calibration: {calibration.source})")
    report = convert(
        ConvertRequest(
            model=keras_path,
            calibration=calibration,
            out=keras_path.with_name(f"{STEM}.int8.tflite"),
            task="classify",
            labels=LABELS,
            mode="int8",
            max_drop=MAX_ACCURACY_DROP,  # the converter's gate: the zoo's bar
            eval=TaskEval(
                digit_inputs(held_crops),
                held_labels,
                source=f"{len(held_crops)} crops of {EVAL_SCENES} held-out scenes "
                f"(seed {seed + 2})",
            ),
            report=keras_path.with_name(f"{STEM}.report.json"),
            resize="stretch",
            # Every crop gets its top label and probability; [refine] min_confidence decides.
            threshold=0.0,
            progress=sys.stderr.isatty(),
            extra_versions={
                "training": f"models.train_crops seed={seed} epochs={epochs} digits={digits}"
            },
        )
    )
    sys.stdout.write(report.table())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = recipe_parser(
        "python -m models.train_crops",
        __doc__,
        epochs=EPOCHS,
        twin="the classifier [refine]'s defaults are chosen with",
    )
    args = parser.parse_args(argv)
    import_tensorflow()
    report = train(args.out, seed=args.seed, epochs=args.epochs, digits=args.digits)
    failures = check_bar(report)
    for failure in failures:
        print(f"models.train_crops: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
