"""Which layers int8 hurts most, and int8 with those layers kept in float.

Both come from TensorFlow's ``tf.lite.experimental.QuantizationDebugger`` (TF 2.21,
``tensorflow/lite/tools/optimize/debugging/python/debugger.py``, read for this module):

- Built with ``converter=`` it calibrates once (``_experimental_calibrate_only``), then
  quantizes the calibrated model with ``mlir_quantize(enable_numeric_verify=True)``: a
  NumericVerify op after every quantized op compares it with the float op on the same
  inputs. ``run()`` feeds ``debug_dataset`` and fills ``layer_statistics``
  (``{"NumericVerify/<tensor>:<index>": {"mean_squared_error": ...}}``);
  ``layer_statistics_dump`` writes them as CSV with the op name, the tensor name and the
  output tensor's quantization ``scale``.
- The ranking is TF's own recipe: RMSE divided by the scale, i.e. the error in units of
  one quantization step. A layer well above ~0.7 steps is hurt by int8 beyond rounding;
  the ladder keeps the top of this ranking in float, in growing sets
  (``converter.ladder.mixed_sizes``).
- ``QuantizationDebugOptions(denylisted_nodes=[tensor names])`` keeps the ops producing
  those tensors in float. Setting ``debugger.options`` re-quantizes the SAME calibrated
  model (no second calibration); ``get_nondebug_quantized_model()`` returns the
  deployable bytes. That model has float input and output (``fully_quantize=False``) and
  needs ``supported_ops = [TFLITE_BUILTINS, TFLITE_BUILTINS_INT8]`` so float ops are
  allowed.

The debugger runs ``tf.lite.Interpreter``, which warns that it is deprecated; that one
warning is silenced here (the device path never uses it).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.calibration import Calibration
from converter.quantize import explain, new_converter
from converter.quiet import import_tensorflow, native_output_captured
from edge.errors import ConversionError

# Enough samples to rank layers; the full calibration set still sets the ranges.
DEBUG_SAMPLES = 64


@dataclass(frozen=True)
class LayerError:
    """One quantized op's error against float, in quantization steps (RMSE / scale)."""

    tensor: str
    op: str
    rmse_over_scale: float

    def describe(self) -> str:
        return f"{self.op} producing {self.tensor!r} ({self.rmse_over_scale:.2f} steps RMSE)"


@dataclass(frozen=True)
class SelectiveInt8:
    content: bytes
    denylisted: list[LayerError]
    ranking: list[LayerError]


class LayerDebugger:
    """One calibration, then the ranking and any number of denylisted conversions."""

    def __init__(self, directory: Path, calibration: Calibration) -> None:
        tf = import_tensorflow()
        self._tf = tf
        x = calibration.x
        picks = np.linspace(0, len(x) - 1, min(len(x), DEBUG_SAMPLES)).round().astype(int)
        debug_x = x[picks]

        def debug_dataset() -> Iterator[list[Any]]:
            for sample in debug_x:
                yield [sample[np.newaxis]]

        self._dataset = debug_dataset
        converter = new_converter(directory)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: calibration.representative_dataset(None)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        ]
        with _tf_quiet() as log:
            try:
                self._debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter, debug_dataset=debug_dataset
                )
                self._debugger.run()
                dump = io.StringIO()
                self._debugger.layer_statistics_dump(dump)
            except ConversionError:
                raise
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is not None:
            raise explain(failure, "int8 layer debugging", log.tail()) from failure
        self.ranking = _ranking(dump.getvalue())

    def selective_int8(self, layers: list[LayerError]) -> SelectiveInt8:
        """int8 with the ops producing ``layers``' tensors kept in float."""
        tf = self._tf
        with _tf_quiet() as log:
            try:
                self._debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=[layer.tensor for layer in layers]
                )
                content = bytes(self._debugger.get_nondebug_quantized_model())
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is not None:
            raise explain(failure, "int8 with float layers", log.tail()) from failure
        return SelectiveInt8(content, layers, self.ranking)


def _ranking(dump: str) -> list[LayerError]:
    rows = []
    for row in csv.DictReader(io.StringIO(dump)):
        scale = float(row["scale"])
        mse = float(row["mean_squared_error"])
        if scale <= 0 or math.isnan(mse):
            continue
        rows.append(LayerError(row["tensor_name"], row["op_name"], math.sqrt(mse) / scale))
    return sorted(rows, key=lambda layer: layer.rmse_over_scale, reverse=True)


@contextlib.contextmanager
def _tf_quiet() -> Iterator[Any]:
    with native_output_captured() as log, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated")
        yield log
