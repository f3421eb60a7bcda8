"""Task ``generate``: a generator (latent vector -> image); the float model is the reference.

There is no ground truth for a generated image, so the quantized model is judged by how
faithfully it reproduces the float model on the SAME latent vectors:

- ``psnr_db``: peak signal-to-noise ratio of the quantized output against the float one,
  ``10 log10(range^2 / MSE)`` with ``range`` = ``edge.eval.metrics.DATA_RANGE`` = 2 (a
  tanh output spans [-1, 1]); computed over all outputs together (the metric functions
  live in ``edge.eval.metrics``, shared with ``edge eval``).
- ``sqnr_db``: signal-to-quantization-noise ratio, ``10 log10(sum(f^2) / sum((f-q)^2))``,
  which does not depend on an assumed range.
- ``max_abs_diff`` / ``mean_abs_diff`` and the share of samples whose own PSNR reaches the
  bar (``agreement``).

Evaluation data (``--eval``) and calibration: latent vectors, an ``.npy`` ``(N, D)`` or an
``.npz`` with ``x``; ``TaskEval.y`` is None.

The gate: ``psnr_db`` of quantized vs float must reach ``MIN_PSNR_DB`` (30 dB), an
absolute bar, because the float model's own "PSNR against itself" is infinite and a
"drop" from it means nothing. Mapped onto ``tasks.base.Gate``: ``metrics`` of ONE model
cannot measure ``psnr_db`` (it reports statistics of its outputs), so the converter asks
``drop_without_labels(compare)``, which returns the SHORTFALL below the bar,
``MIN_PSNR_DB - psnr_db`` (negative when the bar is met), and ``default_max_drop`` is 0:
"drop <= budget" is exactly "PSNR >= 30 dB". A ``--max-drop X`` lowers the bar to
``30 - X`` dB.

The manifest input: a generator takes a vector, not a frame; ``input_spec`` describes it
as a one-row gray "image" ``width = latent length, height = 1`` (layout nominal), which
no device pipeline feeds: generators are converted and measured, not run by ``edge run``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from converter.data import load_arrays, require_exists
from converter.tasks.base import DecibelBar, FloatArray, Gate, Outputs, TaskEval
from edge.errors import ConversionError, DataError
from edge.eval.metrics import psnr_db, sqnr_db
from edge.model.manifest import DecoderSpec, InputSpec

MIN_PSNR_DB = 30.0


def single_output(outputs: Outputs) -> FloatArray:
    if len(outputs) != 1:
        raise ConversionError(
            f"a generator has one output (the image); got {len(outputs)}: {', '.join(outputs)}"
        )
    return np.asarray(next(iter(outputs.values())), np.float32)


def load_latents(path: Path, dim: int) -> FloatArray:
    """Latent vectors ``(N, dim)`` float32 from an ``.npy`` or an ``.npz`` with ``x``."""
    require_exists(path, "latent vectors")
    if path.suffix.lower() not in (".npy", ".npz"):
        raise DataError(
            f"latent vectors {str(path)!r} must be an .npy array (N, {dim}) or an .npz with x",
        )
    x = np.asarray(load_arrays(path, ["x"])["x"])
    if x.ndim != 2 or x.shape[1] != dim or len(x) == 0 or not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            f"latent vectors {str(path)!r} have {x.dtype} {list(x.shape)}; the generator "
            f"takes float (N, {dim})",
            hint=f"save standard-normal vectors, e.g. numpy.random.default_rng(0)"
            f".standard_normal((256, {dim}))",
        )
    return x.astype(np.float32)


class GenerateTask(DecibelBar):
    name = "generate"
    gate = Gate("psnr_db", higher_is_better=True, unit="dB")
    default_max_drop = 0.0  # dB below MIN_PSNR_DB
    minimum = MIN_PSNR_DB

    def check_outputs(self, output_shapes: Mapping[str, tuple[int, ...]], source: str) -> None:
        shapes = list(output_shapes.values())
        if len(shapes) != 1 or len(shapes[0]) != 3 or shapes[0][2] not in (1, 3):
            raise ConversionError(
                f"{source!r} does not look like a generator: its outputs are "
                + ", ".join(f"{k} {list(v)}" for k, v in output_shapes.items())
                + "; expected one image output [batch, height, width, 1 or 3]",
            )

    def load_eval(self, path: Path, spec: InputSpec, labels: Sequence[str]) -> TaskEval:
        # A generator's nominal InputSpec records the latent length as its width.
        del labels
        return TaskEval(
            load_latents(path, spec.width * spec.height * spec.channels), None, source=str(path)
        )

    def metrics(self, outputs: Outputs, data: TaskEval) -> dict[str, float]:
        del data
        images = single_output(outputs)
        return {"pixel_mean": float(images.mean()), "pixel_std": float(images.std())}

    def compare(
        self, float_outputs: Outputs, quant_outputs: Outputs, data: TaskEval
    ) -> dict[str, Any]:
        del data
        f, q = single_output(float_outputs), single_output(quant_outputs)
        per_sample = [psnr_db(a, b) for a, b in zip(f, q, strict=True)]
        diff = np.abs(f - q)
        return {
            "psnr_db": psnr_db(f, q),
            "sqnr_db": sqnr_db(f, q),
            "min_sample_psnr_db": float(min(per_sample)),
            "agreement_is": f"samples with PSNR >= {MIN_PSNR_DB:g} dB against float",
            "agreement": float(np.mean([p >= MIN_PSNR_DB for p in per_sample])),
            "mean_abs_diff": float(diff.mean()),
            "max_abs_diff": float(diff.max()),
        }

    def explain(
        self,
        drop: float | None,
        *,
        labelled: bool,
        max_drop: float | None,
        within: bool,
        compare: Mapping[str, Any],
    ) -> str:
        """E.g. "PSNR against float is 45.2 dB (SQNR 33.7 dB), above the bar of 30 dB"."""
        del drop, labelled
        psnr, sqnr = compare.get("psnr_db"), compare.get("sqnr_db")
        if psnr is None:
            return "PSNR against float could not be measured"
        measured = f"PSNR against float is {psnr:.1f} dB" + (
            "" if sqnr is None else f" (SQNR {sqnr:.1f} dB)"
        )
        return self.against_bar(measured, max_drop, within)

    def input_spec(self, input_shape: tuple[int, ...], default: InputSpec | None) -> InputSpec:
        del default
        if len(input_shape) != 1:
            raise ConversionError(
                f"a generator takes a latent vector [batch, D]; this model takes "
                f"[batch, {', '.join(map(str, input_shape))}]"
            )
        return InputSpec(width=input_shape[0], height=1, channels=1, colour="gray")

    def decoder(self, float_outputs: Outputs, data: TaskEval, labels: Sequence[str]) -> DecoderSpec:
        del float_outputs, labels
        # The device does not decode images into records; the spec names the output range.
        return DecoderSpec(name="image", params={"range": [-1.0, 1.0]})

    def plot(
        self,
        float_outputs: Outputs,
        quant_outputs: Outputs,
        data: TaskEval,
        labels: Sequence[str],
        path: Path,
    ) -> None:
        """Up to 8 samples: float on the top row, quantized below, |difference| at the bottom."""
        del data, labels
        # A bare Figure renders to a file without pyplot: no global backend is chosen,
        # so a caller of the library (a notebook, a GUI) keeps its own.
        from matplotlib.figure import Figure

        f, q = single_output(float_outputs), single_output(quant_outputs)
        count = min(8, len(f))
        figure = Figure(figsize=(1.3 * count, 4.2))
        axes = figure.subplots(3, count, squeeze=False)
        for i in range(count):
            rows = (
                (f[i], "float", (-1, 1)),
                (q[i], "int8", (-1, 1)),
                (np.abs(f[i] - q[i]), "|diff|", (0, 0.25)),
            )
            for row, (image, name, (low, high)) in enumerate(rows):
                axis = axes[row][i]
                axis.imshow(
                    image[..., 0] if image.shape[-1] == 1 else (image + 1) / 2,
                    cmap="gray",
                    vmin=low,
                    vmax=high,
                )
                axis.set_xticks([])
                axis.set_yticks([])
                if i == 0:
                    axis.set_ylabel(name)
        figure.suptitle(
            f"generator: float vs quantized, PSNR {psnr_db(f, q):.1f} dB (|diff| shown on 0..0.25)"
        )
        figure.tight_layout()
        figure.savefig(path, dpi=90)


GENERATE = GenerateTask()
