"""Checks of the float model and the data before quantization is judged.

int8 is judged against the float model, so a float model that is itself wrong on the
calibration data passes any gate: converted without ``--input-range 0..1``, a YOLOv8
model (which takes pixels / 255) sees 0..255, calls every anchor one class at 0.996,
and int8 agrees with it. ``degenerate`` looks at the float model's own outputs on
calibration inputs for the signs of inputs it was not trained on:

- an output that is one value everywhere, or the same for every input;
- a classifier that gives every input the same class (with a score of 0.9 or more,
  when the outputs are probabilities);
- a YOLO head (``[N, 4 + C, A]`` or its transpose; YOLOv5's objectness counted) whose
  best class is the same at every anchor of every input, scoring 0.9 or more;
- an output within 0..1 whose values are 0.99 or more almost everywhere (saturated).

``range_advice`` says how the inputs were fed and the usual ranges of known families
(checked in Keras 3.15's ``keras.applications`` sources and Ultralytics' exporter, which
calibrates on ``img / 255``).

``missing_classes`` compares the classes the float model finds in the calibration data
with the labels of the evaluation data (classify): calibration sets int8's ranges from
what it sees, so a class it never sees can be clipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Outputs = Mapping[str, npt.NDArray[np.float32]]

ONE_CLASS_SCORE = 0.9
SATURATED = 0.99

USUAL_RANGES = (
    "YOLO (Ultralytics) 0..1; Keras applications MobileNet, MobileNetV2, ResNetV2, "
    "InceptionV3 and Xception -1..1 (their preprocess_input); MobileNetV3 and "
    "EfficientNetV2 0..255 with their built-in preprocessing (the default), -1..1 "
    "without it (include_preprocessing=False); EfficientNet and ConvNeXt 0..255 "
    "(preprocessing built in); ResNet50 and VGG BGR 0..255 minus the ImageNet mean and "
    "DenseNet 0..1 normalised by the ImageNet mean and std (neither is a named range: "
    "use --colour, --input-scale and --input-offset, or put the preprocessing in the model)"
)


def degenerate(outputs: Outputs) -> str | None:
    """What looks degenerate in the float model's outputs, as a phrase; None if nothing."""
    for name, value in outputs.items():
        out = np.asarray(value, np.float64)
        count = len(out)
        if count < 2 or out.size == 0:
            continue
        scale = max(1.0, float(np.abs(out).max()))
        if float(out.max() - out.min()) <= 1e-6 * scale:
            return f"output {name!r} is {float(out.flat[0]):.4g} everywhere, for all {count} inputs"
        if float(np.abs(out - out[:1]).max()) <= 1e-5 * scale:
            return f"output {name!r} is the same for all {count} inputs"
        found = _one_class(name, out)
        if found:
            return found
        if out.min() >= 0 and out.max() <= 1 and out.size >= 8:
            share = float((out >= SATURATED).mean())
            if share >= 0.9:
                return (
                    f"{100 * share:.0f} % of the values of output {name!r} are "
                    f"{SATURATED} or more (saturated) over all {count} inputs"
                )
    return None


def _one_class(name: str, out: npt.NDArray[np.float64]) -> str | None:
    count = len(out)
    if out.ndim == 2 and out.shape[1] >= 2 and count >= 4:
        top = out.argmax(axis=1)
        if not (top == top[0]).all():
            return None
        probabilities = out.min() >= 0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
        score = float(out[:, top[0]].mean()) if probabilities else None
        if score is not None and score < ONE_CLASS_SCORE:
            return None
        scored = f" (mean probability {score:.3f})" if score is not None else ""
        return (
            f"the float model gives class {int(top[0])} to every one of the {count} inputs{scored}"
        )
    if out.ndim == 3:
        from converter.tasks.detect import head_of

        head = head_of({name: tuple(out.shape[1:])})
        if head not in ("yolov8", "yolov5"):
            return None
        channels_first = out.shape[1] <= out.shape[2]
        rows = np.swapaxes(out, 1, 2) if channels_first else out  # (N, anchors, K)
        # YOLOv5 rows hold objectness before the classes: a class's score is their product.
        scores = rows[..., 4:] if head == "yolov8" else rows[..., 5:] * rows[..., 4:5]
        if scores.shape[-1] < 2:
            return None
        best = scores.argmax(axis=-1)
        top = scores.max(axis=-1)
        if (best == best.flat[0]).all() and float((top >= ONE_CLASS_SCORE).mean()) >= 0.9:
            return (
                f"class {int(best.flat[0])} scores {float(top.mean()):.3f} on average and wins "
                f"at every one of the {rows.shape[1]} anchors of all {count} inputs"
            )
    return None


def range_advice(from_images: bool, scale: float, offset: float, named: str | None) -> str:
    """How the calibration inputs were fed, and what to try."""
    if not from_images:
        return (
            "the calibration arrays were fed as they are (arrays are model inputs, never "
            "rescaled): check that they hold what model.predict takes. Usual input ranges: "
            + USUAL_RANGES
        )
    low, high = offset, 255 * scale + offset
    fed = named or f"{low:g}..{high:g}"
    hint = "--input-range 0..1 or --input-range=-1..1" if named in (None, "0..255") else ""
    return (
        f"the calibration images were fed as {fed} (--input-range; default 0..255, raw "
        f"pixels). Usual input ranges: {USUAL_RANGES}." + (f" Try {hint}." if hint else "")
    )


def missing_classes(
    calibration_classes: npt.NDArray[np.int64], eval_classes: Any, labels: Sequence[str]
) -> str | None:
    """Eval classes the float model never finds in the calibration data, as a sentence."""
    if eval_classes is None:
        return None
    seen = {int(c) for c in np.asarray(calibration_classes).reshape(-1)}
    wanted = {int(c) for c in np.asarray(eval_classes).reshape(-1)}
    missing = sorted(wanted - seen)
    if not missing:
        return None

    def named(ids: Sequence[int]) -> str:
        shown = [labels[i] if 0 <= i < len(labels) else str(i) for i in ids[:12]]
        return ", ".join(shown) + (", ..." if len(ids) > 12 else "")

    return (
        f"the calibration data seems to miss classes the evaluation data has: the float "
        f"model puts the {len(calibration_classes)} calibration inputs it was shown in "
        f"class(es) {named(sorted(seen))} only, and the evaluation data also holds "
        f"{named(missing)}. Calibration sets int8's ranges from what it sees, so inputs of "
        "the missing classes can be clipped: calibrate on data that covers every class"
    )
