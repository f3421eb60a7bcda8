"""Task ``anomaly``: a model that gives one score per image, higher = more anomalous.

Evaluation data (``--eval``): an ``.npz`` with ``x`` (model inputs, as for calibration)
and ``y`` (one integer per sample: 0 normal, 1 anomalous). Both classes must be present,
because the metric ranks one against the other.

Metrics of one model: ``roc_auc`` (``edge.eval.metrics``, shared with ``edge eval``),
the probability that a random anomalous sample scores higher than a random normal one
(ties count one half), which needs no threshold, so float and int8 are compared on
ranking alone. The gate judges ``roc_auc`` (default budget: a drop of at most ``MAX_DROP``).

The threshold the device uses is chosen on the FLOAT model's scores of the normal
samples: their ``NORMAL_QUANTILE`` quantile (the 99th percentile: about 1 % of normal
frames flagged, by construction, whatever the anomalies look like). It goes into the
manifest as decoder ``anomaly`` with ``{"threshold": t}``; ``compare`` reports what both
models do at that threshold (true and false positive rates, verdict agreement).
Without labelled eval data (the converter then evaluates on the calibration inputs) every
sample is taken as normal: the threshold is the same quantile of all scores, and the gate
falls back to the share of samples whose verdict int8 changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from converter.data import fit_shape, load_arrays, require_exists
from converter.tasks.base import FloatArray, Gate, Outputs, TaskDefaults, TaskEval
from edge.errors import ConversionError, DataError
from edge.eval.metrics import rates, roc_auc
from edge.model.manifest import DecoderSpec, InputSpec

MAX_DROP = 0.02
NORMAL_QUANTILE = 0.99


def normal_threshold(
    scores: npt.ArrayLike, labels: npt.ArrayLike | None, quantile: float = NORMAL_QUANTILE
) -> float:
    """The ``quantile`` of the normal samples' scores (no labels: all samples are normal)."""
    s = np.asarray(scores, np.float64).reshape(-1)
    normal = s if labels is None else s[np.asarray(labels).reshape(-1) == 0]
    if len(normal) == 0:
        raise ValueError("no normal sample to choose a threshold from")
    return float(np.quantile(normal, quantile))


def single_score(outputs: Outputs) -> FloatArray:
    """The one output, as a vector of one score per sample."""
    if len(outputs) != 1:
        raise ConversionError(
            f"an anomaly model has one output (the score); got {len(outputs)}: {', '.join(outputs)}"
        )
    scores = next(iter(outputs.values()))
    return np.asarray(scores, np.float32).reshape(len(scores), -1)[:, 0]


class AnomalyTask(TaskDefaults):
    without_labels = "the share of samples whose anomaly verdict changed"
    name = "anomaly"
    gate = Gate("roc_auc", higher_is_better=True)
    default_max_drop = MAX_DROP

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        shapes = dict(output_shapes)
        if len(shapes) != 1 or int(np.prod(next(iter(shapes.values())))) != 1:
            raise ConversionError(
                f"{source!r} does not look like an anomaly model: its outputs are "
                + ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
                + "; expected exactly one output holding one score per image, [batch, 1]",
                hint="compute the score inside the model (e.g. the mean squared "
                "reconstruction error) so the device reads a single number",
            )

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
        del labels  # an anomaly model has no class labels
        require_exists(path, "evaluation data")
        if path.suffix.lower() != ".npz":
            raise DataError(
                f"evaluation data {str(path)!r} for an anomaly model must be an .npz with "
                "arrays 'x' (inputs) and 'y' (0 normal, 1 anomalous)",
            )
        arrays = load_arrays(path, ["x", "y"])
        shape = (spec.height, spec.width, spec.channels)
        x = fit_shape(arrays["x"], shape, f"evaluation data {str(path)!r}")
        y = np.asarray(arrays["y"])
        if y.ndim != 1 or len(y) != len(x) or not np.isin(y, (0, 1)).all():
            raise DataError(
                f"{str(path)!r}: 'y' must hold one 0 (normal) or 1 (anomalous) per sample; "
                f"got {y.dtype} {list(y.shape)} for {len(x)} samples",
            )
        if y.min() == y.max():
            raise DataError(
                f"{str(path)!r}: every sample is {'anomalous' if y[0] else 'normal'}; "
                "ROC-AUC needs both kinds",
                hint="add normal (y=0) and anomalous (y=1) samples",
            )
        return TaskEval(x, y.astype(np.int64), source=str(path))

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        if data.y is None:
            return {}
        return {"roc_auc": roc_auc(single_score(outputs), data.y)}

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        f, q = single_score(float_outputs), single_score(quant_outputs)
        diff = np.abs(f - q)
        result: dict[str, Any] = {
            "score_correlation": float(np.corrcoef(f, q)[0, 1]) if f.std() and q.std() else 0.0,
            "mean_abs_diff": float(diff.mean()),
            "max_abs_diff": float(diff.max()),
        }
        threshold = normal_threshold(f, data.y)
        result["threshold"] = threshold
        result["agreement"] = float(((f > threshold) == (q > threshold)).mean())
        if data.y is not None:
            # Flat keys: the report keeps only scalar cross metrics.
            for side, scores in (("float", f), ("quantized", q)):
                for key, value in rates(scores, data.y, threshold).items():
                    result[f"{side}_{key}"] = value
        return result

    def decoder(self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]) -> DecoderSpec:
        del labels
        threshold = normal_threshold(single_score(float_outputs), data.y)
        return DecoderSpec(name="anomaly", params={"threshold": threshold})

    def drop_without_labels(self, compared: Mapping[str, Any]) -> float | None:
        """Without labels: the share of samples whose verdict int8 changed."""
        agreement = compared.get("agreement")
        return None if agreement is None else 1.0 - float(agreement)

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None:
        """Score histograms, normal vs anomalous, float (left) and quantized (right)."""
        del labels
        # A bare Figure renders to a file without pyplot: no global backend is chosen,
        # so a caller of the library (a notebook, a GUI) keeps its own.
        from matplotlib.figure import Figure

        y = np.zeros(len(data), np.int64) if data.y is None else np.asarray(data.y)
        f, q = single_score(float_outputs), single_score(quant_outputs)
        threshold = normal_threshold(f, y) if (y == 0).any() else None
        top = float(max(f.max(), q.max()))
        bins = np.linspace(0.0, top * 1.02 if top > 0 else 1.0, 60)
        figure = Figure(figsize=(10, 3.6))
        axes = figure.subplots(1, 2, sharey=True)
        for axis, scores, name in ((axes[0], f, "float (Keras)"), (axes[1], q, "quantized")):
            title = name
            axis.hist(scores[y == 0], bins=bins, alpha=0.6, label="normal")
            if (y == 1).any():
                axis.hist(scores[y == 1], bins=bins, alpha=0.6, label="anomalous")
                title += f", ROC-AUC {roc_auc(scores, y):.4f}"
            if threshold is not None:
                axis.axvline(threshold, color="k", linestyle="--", linewidth=1, label="threshold")
            axis.set_title(title)
            axis.set_xlabel("anomaly score")
            axis.set_yscale("log")
        axes[0].set_ylabel("samples")
        axes[1].legend()
        figure.tight_layout()
        figure.savefig(path, dpi=90)


ANOMALY = AnomalyTask()
