"""Conversion modes: Keras model -> SavedModel (batch 1) -> TFLite bytes.

The path is ``model.export(dir, format="tf_saved_model", input_signature=[batch-1
spec])`` then ``TFLiteConverter.from_saved_model``, measured as the best one on TF 2.21
(docs/notes int8-toolchain, pitfall 7): a fixed batch of one removes the dynamic-shape
ops (SHAPE/PACK/GATHER...) that ``from_keras_model`` leaves in, prints nothing to stdout,
and avoids ``from_concrete_functions``, which fails on Keras 3 variables at calibration.

Each mode is a ``Mode``: a name, whether it needs calibration data, and a function that
sets the converter's attributes. Adding a mode (int16x8, float16, dynamic range) is one
function and one ``MODES`` entry; the fallback ladder (``--mode auto``) will walk a list
of these names, which is why conversion takes the exported SavedModel directory and can
be called once per mode without exporting again.

Modes (``MODES``; the fallback ladder of ``--mode auto`` lives in ``converter.ladder``):
- ``int8``: full integer. Weights and activations int8 (``TFLITE_BUILTINS_INT8`` only, so
  an op without an int8 kernel fails the conversion instead of silently staying float),
  input and output int8 or uint8 (``io_dtype``). The fast path on CPUs (XNNPACK).
- ``int16x8``: 16-bit activations, 8-bit weights
  (``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``), float input/output.
  Much more accurate than int8, but there are NO fast kernels for it: measured 10-50x
  slower than float32 on this machine (toolchain notes, pitfall 3). An accuracy
  reference, a last resort for deployment.
- ``float16``: float16 weights, float32 compute; half the size, float accuracy.
- ``dynamic``: dynamic-range quantization (int8 weights, float activations, no
  calibration). Slow for Conv2DTranspose and unloadable by tflite-runtime 2.14 (pitfall
  4), so it is offered but never picked by the ladder.
- ``float32``: plain conversion; the reference for size and latency.

The ladder's "int8 with the worst layers kept in float" step is not a ``Mode``: it needs
TensorFlow's QuantizationDebugger to choose the layers (``converter.layer_debug``).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from converter.calibration import Calibration
from converter.quiet import import_tensorflow, native_output_captured
from edge.errors import ConversionError
from edge.model.convert_choices import IoDtype

# How TF 2.21's MLIR converter names an op it cannot lower to a TFLite builtin.
_NO_KERNEL = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


@dataclass(frozen=True)
class Settings:
    """What a mode may need besides the converter object."""

    calibration: Calibration | None
    io_dtype: IoDtype
    progress: TextIO | None


@dataclass(frozen=True)
class Mode:
    name: str
    calibrated: bool
    description: str
    configure: Callable[[Any, Any, Settings], None]  # (tf, converter, settings)


def _float32(tf: Any, converter: Any, settings: Settings) -> None:
    del tf, converter, settings  # the converter's defaults are plain float32


def _int8(tf: Any, converter: Any, settings: Settings) -> None:
    calibration = settings.calibration
    if calibration is None:
        raise ConversionError("int8 conversion needs calibration data")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: calibration.representative_dataset(settings.progress)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    io_type = tf.int8 if settings.io_dtype == "int8" else tf.uint8
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type


def _int16x8(tf: Any, converter: Any, settings: Settings) -> None:
    calibration = settings.calibration
    if calibration is None:
        raise ConversionError("int16x8 conversion needs calibration data")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: calibration.representative_dataset(settings.progress)
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]


def _float16(tf: Any, converter: Any, settings: Settings) -> None:
    del settings
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _dynamic(tf: Any, converter: Any, settings: Settings) -> None:
    del settings
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


MODES: dict[str, Mode] = {
    "int8": Mode("int8", True, "full integer: int8 weights and activations", _int8),
    "int16x8": Mode("int16x8", True, "int16 activations, int8 weights (no fast kernels)", _int16x8),
    "float16": Mode("float16", False, "float16 weights, float32 compute", _float16),
    "dynamic": Mode("dynamic", False, "dynamic range: int8 weights, float activations", _dynamic),
    "float32": Mode("float32", False, "float32 weights and activations", _float32),
}
# Modes whose kernels are known to be slow on CPUs: the report says so when one is chosen.
SLOW_MODES = {
    "int16x8": "int16x8 has no fast (XNNPACK) kernels: measured 10-50x slower than float32 "
    "on x86; use it when accuracy matters more than speed, and benchmark it on the device",
}


@contextlib.contextmanager
def exported_saved_model(
    model: Any, input_shape: tuple[int, ...], input_name: str
) -> Iterator[Path]:
    """Export ``model`` with a fixed batch-1 signature into a temporary directory."""
    tf = import_tensorflow()
    spec = tf.TensorSpec([1, *input_shape], tf.float32, name=input_name)
    with tempfile.TemporaryDirectory(prefix="edge-convert-") as tmp:
        directory = Path(tmp) / "saved_model"
        with native_output_captured() as log:
            try:
                model.export(
                    str(directory), format="tf_saved_model", input_signature=[spec], verbose=False
                )
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is not None:
            raise ConversionError(
                f"exporting the Keras model to a SavedModel failed: {failure}"
                + log_excerpt(log.tail()),
                hint="the model must run on a single batch-1 float32 input; "
                "check custom layers for Python-side shape logic",
            ) from failure
        yield directory


def convert_saved_model(
    directory: Path,
    mode: str,
    *,
    calibration: Calibration | None = None,
    io_dtype: IoDtype = "int8",
) -> bytes:
    """Convert an exported SavedModel with ``mode``; returns the flatbuffer bytes."""
    if mode not in MODES:
        raise ConversionError(
            f"conversion mode {mode!r} is not available",
            hint=f"choose one of: {', '.join(MODES)}",
        )
    tf = import_tensorflow()
    with native_output_captured() as log:
        settings = Settings(calibration=calibration, io_dtype=io_dtype, progress=log.terminal)
        try:
            converter = new_converter(directory)
            MODES[mode].configure(tf, converter, settings)
            content = converter.convert()
        except ConversionError:
            raise
        except Exception as exc:
            failure: Exception | None = exc
        else:
            failure = None
    if failure is not None:
        raise explain(failure, mode, log.tail()) from failure
    return bytes(content)


def new_converter(directory: Path) -> Any:
    """A ``TFLiteConverter`` for the exported SavedModel (or a user's SavedModel folder)."""
    tf = import_tensorflow()
    return tf.lite.TFLiteConverter.from_saved_model(str(directory))


def explain(failure: Exception, mode: str, log_tail: str) -> ConversionError:
    """Turn the MLIR converter's error into what the user must change."""
    text = str(failure)
    missing = sorted(set(_NO_KERNEL.findall(text)))
    if missing:
        return ConversionError(
            f"{mode} conversion failed: the model uses TensorFlow op(s) {', '.join(missing)} "
            "that have no TFLite builtin kernel, and the device runtime cannot run "
            "TensorFlow ops",
            hint="rewrite the layer that uses them with ops TFLite supports (for example "
            "GELU(approximate=True) avoids Erf)",
        )
    return ConversionError(
        f"{mode} conversion failed: {_first_line(failure)}" + log_excerpt(log_tail),
        hint="an op without an int8 kernel stops full-integer conversion; "
        "`--mode float32` converts without quantizing",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def log_excerpt(tail: str) -> str:
    tail = "\n".join(line[:200] for line in tail.splitlines())
    return "\n  converter log (last lines):\n    " + tail.replace("\n", "\n    ") if tail else ""
