"""Task ``raw``: any model the other tasks do not describe (segmentation, pose,
embeddings, several heads); no decoder, fidelity against float per output.

There is no ground truth to score, so the quantized model is judged by how faithfully
each output reproduces the float model on the same inputs:

- ``sqnr_db`` per output: signal-to-quantization-noise ratio,
  ``10 log10(sum(f^2) / sum((f - q)^2))`` (independent of any assumed range);
- ``cosine`` per output: the mean over samples of the cosine similarity of the
  flattened float and quantized outputs (1 = same direction: what embeddings need);
- ``min_sqnr_db``: the worst output's SQNR, which the gate judges.

The gate: ``min_sqnr_db`` must reach ``MIN_SQNR_DB`` (20 dB: noise at 1 % of the signal
power), an absolute bar like ``generate``'s PSNR; ``--max-drop X`` (in dB) lowers it to
``20 - X``. Calibration and eval data: image folders for image models, or arrays of
model inputs (``.npy``, or ``.npz`` with ``x``). The manifest's decoder is ``raw``: the
device has no decoder for such outputs, so ``edge run`` refuses the model unless
``--decoder`` names one that fits its outputs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from converter.data import fit_shape, image_files, load_arrays, read_images, require_exists
from converter.tasks.base import DecibelBar, Gate, Outputs, TaskEval
from edge.errors import ConversionError, DataError
from edge.eval.metrics import sqnr_db
from edge.model.manifest import DecoderSpec, InputSpec

MIN_SQNR_DB = 20.0
DECODER = "raw"


def cosine(reference: np.ndarray, test: np.ndarray) -> float:
    """Mean over samples of the cosine similarity of the flattened outputs."""
    f = reference.reshape(len(reference), -1).astype(np.float64)
    q = test.reshape(len(test), -1).astype(np.float64)
    norms = np.linalg.norm(f, axis=1) * np.linalg.norm(q, axis=1)
    same = np.all(f == q, axis=1)
    values = np.where(norms > 0, np.sum(f * q, axis=1) / np.maximum(norms, 1e-300), 0.0)
    return float(np.mean(np.where(same, 1.0, values)))


class RawTask(DecibelBar):
    name = "raw"
    gate = Gate("min_sqnr_db", higher_is_better=True, unit="dB")
    default_max_drop = 0.0  # dB below MIN_SQNR_DB
    minimum = MIN_SQNR_DB

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        if not output_shapes:
            raise ConversionError(f"{source!r} has no outputs")

    def input_spec(
        self, input_shape: tuple[int, ...], default: InputSpec | None
    ) -> InputSpec | None:
        if default is not None:
            return default
        # Not an image: a nominal one-row description (the device does not feed it).
        size = int(np.prod(input_shape))
        return InputSpec(width=size, height=1, channels=1, colour="gray")

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
        del labels
        require_exists(path, "evaluation data")
        if path.is_dir():
            files = image_files(path)
            if not files:
                raise DataError(f"evaluation folder {str(path)!r} contains no images")
            return TaskEval(read_images(files, spec), None, str(path))
        x = load_arrays(path, ["x"])["x"]
        shape = (spec.height, spec.width, spec.channels) if spec.height > 1 else (spec.width,)
        return TaskEval(fit_shape(x, shape, f"evaluation data {str(path)!r}"), None, str(path))

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        del outputs, data
        return {}

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        del data
        result: dict[str, Any] = {}
        worst = math.inf
        for name, f in float_outputs.items():
            q = quant_outputs[name]
            sqnr = sqnr_db(f, q)
            result[f"{name}_sqnr_db"] = sqnr
            result[f"{name}_cosine"] = cosine(f, q)
            result[f"{name}_max_abs_diff"] = float(np.abs(f - q).max())
            if sqnr < worst:
                worst, result["worst_output"] = sqnr, name
        result["min_sqnr_db"] = worst
        result["min_cosine"] = min(result[f"{n}_cosine"] for n in float_outputs)
        return result

    def explain(
        self,
        drop: float | None,
        *,
        labelled: bool,
        max_drop: float | None,
        within: bool,
        compare: Mapping[str, Any],
    ) -> str:
        del drop, labelled
        worst = compare.get("min_sqnr_db")
        if worst is None:
            return "SQNR against float could not be measured"
        measured = (
            f"the lowest SQNR against float is {worst:.1f} dB (output "
            f"{compare.get('worst_output')!r}, cosine similarity "
            f"{compare.get('min_cosine', math.nan):.4f} at worst)"
        )
        return self.against_bar(measured, max_drop, within)

    def decoder(self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]) -> DecoderSpec:
        del data, labels
        return DecoderSpec(name=DECODER, params={"outputs": sorted(float_outputs)})

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None:
        """Per output: quantized against float values (a sample of points), with SQNR."""
        del data, labels
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4 * len(float_outputs), 4))
        axes = figure.subplots(1, len(float_outputs), squeeze=False)[0]
        rng = np.random.default_rng(0)
        for axis, (name, f) in zip(axes, float_outputs.items(), strict=True):
            q = quant_outputs[name]
            flat_f, flat_q = f.reshape(-1), q.reshape(-1)
            pick = rng.choice(len(flat_f), min(len(flat_f), 5000), replace=False)
            axis.scatter(flat_f[pick], flat_q[pick], s=2)
            axis.set_xlabel("float")
            axis.set_ylabel("quantized")
            axis.set_title(f"{name}: SQNR {sqnr_db(f, q):.1f} dB", fontsize=9)
        figure.tight_layout()
        figure.savefig(path, dpi=80)


RAW = RawTask()
