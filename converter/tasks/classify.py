"""Image classification: one output ``(N, classes)``, probabilities or logits.

Evaluation data: an ``.npz`` with ``x`` and integer ``y``, or a folder with one subfolder
of images per label (``converter.evaluate.load_eval``).

Metrics (``edge.eval.metrics``, shared with ``edge eval``): ``accuracy`` per model (only
with labelled eval data). Cross metrics (``compare``): top-1 ``agreement`` (the fraction
of samples where both models pick the same class: "did quantization change the model's
behaviour", measurable without labels), ``mean_abs_diff``/``max_abs_diff`` of the
outputs, and the confusion matrices (rows = true class, columns = predicted) of both
models.

Gate: accuracy, higher is better, default budget 0.01 (one point). Without labels the
gate falls back to disagreement (``1 - agreement``), the accuracy a model would lose if
the float model were always right.

Plot: the float and the quantized confusion matrices side by side (without labels:
quantized top-1 against float top-1).

Binary classifiers: one output ``(N, 1)`` (a Keras ``Dense(1, activation="sigmoid")``
head, e.g. a DCGAN discriminator) is a two-class model: labels "0"/"1" unless given,
class 1 when the probability (the sigmoid of a logit output) reaches
``DECISION_THRESHOLD``. Accuracy, agreement ("decision agreement") and the confusion
matrices are measured at that threshold, which the manifest carries as the classify
decoder's ``decision_threshold`` so the device decides the same way.

Patch discriminators: one output ``(N, H, W, 1)`` (a PatchGAN-style critic, e.g. the
seed article's GAN discriminator with its ``[batch, 16, 16, 1]`` sigmoid map) is a
binary classifier whose probability of "real" is the mean realness over its patches
(the map's values, or their sigmoid for logits). Everything above (agreement, accuracy,
confusion) is measured on that decision. On the device it is the ``patchgan`` decoder
(``edge.decoders.patch``), whose records carry the anomaly fields: score ``1 - mean
realness`` against the threshold 0.5, so the manifest's task is ``anomaly``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from converter.evaluate import load_eval, looks_like_probabilities
from converter.tasks.base import Gate, Outputs, TaskDefaults, TaskEval
from edge.errors import ConversionError
from edge.eval.metrics import accuracy, confusion_matrix
from edge.model.manifest import DecoderSpec, InputSpec

DEFAULT_THRESHOLD = 0.5
DECISION_THRESHOLD = 0.5  # binary (one-output) models: class 1 from this probability


class ClassifyTask(TaskDefaults):
    without_labels = "the share of samples whose class changed"
    name = "classify"
    gate = Gate("accuracy", higher_is_better=True)
    default_max_drop = 0.01

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        shapes = list(output_shapes.values())
        if len(shapes) != 1 or not (len(shapes[0]) == 1 or _is_patch_shape(shapes[0])):
            described = ", ".join(
                f"{n} [batch, {', '.join(map(str, s))}]" for n, s in output_shapes.items()
            )
            raise ConversionError(
                f"{source!r} does not look like a classifier: its output(s) are {described}; "
                "expected one output [batch, classes] (or [batch, 1]: a binary "
                "classifier, or [batch, height, width, 1]: a patch discriminator)"
            )  # no hint of its own: converter.prepare lists every task that fits

    def default_labels(self, output_shapes: Mapping[str, tuple[int, ...]]) -> list[str] | None:
        (shape,) = output_shapes.values()
        if _is_patch_shape(shape):
            return None  # its records carry an anomaly score, not a class
        return [str(i) for i in range(max(2, shape[0]))]

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
        return load_eval(path, spec, labels)

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        if data.y is None:
            return {}
        return {"accuracy": accuracy(_top1(_reduced(outputs)), data.y)}

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        patches = _patches(float_outputs)
        float_outputs, quant_outputs = _reduced(float_outputs), _reduced(quant_outputs)
        (float_out,) = float_outputs.values()
        (quant_out,) = quant_outputs.values()
        binary = _is_binary(float_out)
        float_top, quant_top = _top1(float_outputs), _top1(quant_outputs)
        if binary:  # compare probabilities, not logits
            float_out, quant_out = _probability(float_out), _probability(quant_out)
        diff = np.abs(float_out.astype(np.float64) - quant_out)
        classes = _classes(float_out)
        agreement_is = "top-1 agreement"
        if binary:
            agreement_is = f"decision agreement at {DECISION_THRESHOLD:g}"
        if patches:
            agreement_is += f" of the mean realness over {patches} patches"
        result: dict[str, Any] = {
            "agreement_is": agreement_is,
            "agreement": float((float_top == quant_top).mean()),
            "mean_abs_diff": float(diff.mean()),
            "max_abs_diff": float(diff.max()),
            "samples": len(float_out),
        }
        if data.y is not None:
            y = np.asarray(data.y, np.int64)
            result["confusion_float"] = confusion_matrix(y, float_top, classes)
            result["confusion"] = confusion_matrix(y, quant_top, classes)
        return result

    def drop_without_labels(self, compare: Mapping[str, Any]) -> float | None:
        agreement = compare.get("agreement")
        return None if agreement is None else 1.0 - float(agreement)

    def decoder(self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]) -> DecoderSpec:
        del data, labels
        (float_out,) = float_outputs.values()
        if _is_patch(float_out):
            return DecoderSpec(
                name="patchgan",
                params={
                    "threshold": DECISION_THRESHOLD,
                    "activation": "none" if _in_unit_range(float_out) else "sigmoid",
                },
            )
        if _is_binary(float_out):
            activation = "none" if _in_unit_range(float_out) else "sigmoid"
            return DecoderSpec(
                name="classify",
                params={
                    "top_k": 1,
                    "threshold": DEFAULT_THRESHOLD,
                    "activation": activation,
                    "decision_threshold": DECISION_THRESHOLD,
                },
            )
        activation = "none" if looks_like_probabilities(float_out) else "softmax"
        return DecoderSpec(
            name="classify",
            params={"top_k": 1, "threshold": DEFAULT_THRESHOLD, "activation": activation},
        )

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None:
        # A bare Figure renders to a file without pyplot: no global backend is chosen,
        # so a caller of the library (a notebook, a GUI) keeps its own.
        from matplotlib.figure import Figure

        if _patches(float_outputs):
            labels = ["fake", "real"]
        float_outputs, quant_outputs = _reduced(float_outputs), _reduced(quant_outputs)
        (float_out,) = float_outputs.values()
        classes = _classes(float_out)
        float_top, quant_top = _top1(float_outputs), _top1(quant_outputs)
        if data.y is not None:
            y = np.asarray(data.y, np.int64)
            panels = [
                ("float32", confusion_matrix(y, float_top, classes)),
                ("quantized", confusion_matrix(y, quant_top, classes)),
            ]
            ylabel = "true class"
        else:
            panels = [("quantized vs float top-1", confusion_matrix(float_top, quant_top, classes))]
            ylabel = "float model's class"
        figure = Figure(figsize=(5 * len(panels), 4.4))
        axes = figure.subplots(1, len(panels), squeeze=False)
        names = [str(label) for label in labels] or [str(i) for i in range(classes)]
        for axis, (title, matrix) in zip(axes[0], panels, strict=True):
            grid = np.asarray(matrix)
            axis.imshow(grid, cmap="Blues")
            correct = int(np.trace(grid))
            axis.set_title(f"{title}: {correct}/{int(grid.sum())} on the diagonal")
            axis.set_xlabel("predicted class")
            axis.set_ylabel(ylabel)
            ticks = range(classes)
            axis.set_xticks(ticks, names, fontsize=7)
            axis.set_yticks(ticks, names, fontsize=7)
            if classes <= 20:
                for (row, col), count in np.ndenumerate(grid):
                    if count:
                        axis.text(
                            col,
                            row,
                            str(count),
                            ha="center",
                            va="center",
                            fontsize=6,
                            color="white" if count > grid.max() / 2 else "black",
                        )
        figure.tight_layout()
        figure.savefig(path, dpi=80)


def classify_decisions(outputs: Outputs) -> npt.NDArray[np.int64]:
    """The class each sample is given (a patch map: its mean-realness decision)."""
    return _top1(_reduced(outputs))


def _top1(outputs: Outputs) -> npt.NDArray[np.int64]:
    """The class each sample is given: argmax, or the decision of a binary model."""
    (out,) = outputs.values()
    if _is_binary(out):
        return np.asarray(_probability(out)[:, 0] >= DECISION_THRESHOLD, np.int64)
    return np.asarray(out.argmax(axis=1), np.int64)


def _is_patch_shape(shape: tuple[int, ...]) -> bool:
    """``(H, W, 1)`` with more than one patch: a patch discriminator's realness map."""
    return len(shape) == 3 and shape[2] == 1 and shape[0] * shape[1] > 1


def _is_patch(out: npt.NDArray[np.float32]) -> bool:
    return _is_patch_shape(tuple(out.shape[1:]))


def _patches(outputs: Outputs) -> int:
    """Patches per sample of a patch discriminator's map; 0 for any other model."""
    (out,) = outputs.values()
    return int(out.shape[1] * out.shape[2]) if _is_patch(out) else 0


def _reduced(outputs: Outputs) -> Outputs:
    """A patch map as a binary model's ``(N, 1)`` probability: its mean realness."""
    ((name, out),) = outputs.items()
    if not _is_patch(out):
        return outputs
    flat = out.reshape(len(out), -1)
    probability = _probability(flat)
    return {name: np.asarray(probability.mean(axis=1, keepdims=True), np.float32)}


def _is_binary(out: npt.NDArray[np.float32]) -> bool:
    return out.ndim == 2 and out.shape[1] == 1


def _classes(out: npt.NDArray[np.float32]) -> int:
    return 2 if _is_binary(out) else int(out.shape[1])


def _in_unit_range(out: npt.NDArray[np.float32]) -> bool:
    return bool(out.min() >= -1e-4 and out.max() <= 1 + 1e-4)


def _probability(out: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A binary head's probability of class 1: its output, or the sigmoid of a logit."""
    if _in_unit_range(out):
        return out
    return np.asarray(1.0 / (1.0 + np.exp(-out.astype(np.float64))), np.float32)


CLASSIFY = ClassifyTask()
