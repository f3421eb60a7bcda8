"""Model rewrites applied before conversion: make every layer quantize cleanly.

``rewrite_for_quantization(model, sample)`` returns the model to convert and
human-readable notes on what was changed; it raises ``ConversionError`` when the
rewritten model does not compute what the original computes on the real inputs.

The one rewrite so far: Keras ``LayerNormalization`` -> ``LayerNormSubtractMean``.
Keras computes ``x * inv + (beta - mean * inv)``; TF 2.21's converter lowers the
``-mean`` to a ``NEG`` op that (measured, docs/notes int8-toolchain pitfall 1):
- stays float32 inside an "int8-only" model (DEQUANTIZE -> NEG -> QUANTIZE in every
  LayerNorm: 9 float islands in a 4-block ViT),
- stops strict int16x8 conversion (``Quantization to 16x8-bit not yet supported for op:
  'NEG'``), and its variance (SQUARED_DIFFERENCE) fails at invoke in 16x8 with fallback.
The replacement ``xc = x - mean(x); xc * rsqrt(mean(xc*xc) + eps) * gamma + beta`` is
the same function (same weights, copied with ``set_weights``), lowered to MEAN, SUB,
MUL, RSQRT and ADD, which all have int8 and int16 kernels.

How: ``keras.models.clone_model(recursive=True)`` rebuilds the functional graph (nested
Functional and Sequential models included) with a ``clone_function`` that returns a new
layer for each LayerNormalization and the ORIGINAL object for every other layer, so
their weights are shared, not re-initialised (Keras's default clone creates fresh
weights). Subclassed models have no graph to rebuild: they come back unchanged, with a
note saying their LayerNorms could not be rewritten.

Keras is imported lazily (inside functions): ``converter.rewrite`` is importable without
TensorFlow, and ``edge`` never imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.errors import ConversionError

# The rewritten model must match the original this closely on the sample (float32
# reordering of the same arithmetic measures ~1e-6 on softmax outputs).
MAX_ABS_DIFF = 1e-4
# Enough inputs to exercise the model; more only costs time.
CHECK_SAMPLES = 200
PACKAGE = "edge_converter"


def layer_norm_subtract_mean_class() -> Any:
    """The registered Keras layer (defined on first use, so importing this module
    does not import Keras)."""
    return _define_layer()


@functools.cache
def _define_layer() -> Any:
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package=PACKAGE)
    class LayerNormSubtractMean(keras.layers.Layer):  # type: ignore[misc]
        """LayerNormalization computed as ``(x - mean) * rsqrt(var + eps) * gamma + beta``.

        Same constructor arguments and weights (gamma then beta) as Keras's layer.
        """

        def __init__(
            self,
            axis: int | list[int] = -1,
            epsilon: float = 1e-3,
            center: bool = True,
            scale: bool = True,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
            self.epsilon = float(epsilon)
            self.center = center
            self.scale = scale

        def _axes(self, rank: int) -> list[int]:
            axes = self.axis if isinstance(self.axis, list) else [self.axis]
            return sorted(a % rank for a in axes)

        def build(self, input_shape: tuple[int | None, ...]) -> None:
            axes = self._axes(len(input_shape))
            shape = tuple(int(input_shape[a] or 1) for a in axes)
            self.gamma = (
                self.add_weight(name="gamma", shape=shape, initializer="ones")
                if self.scale
                else None
            )
            self.beta = (
                self.add_weight(name="beta", shape=shape, initializer="zeros")
                if self.center
                else None
            )

        def call(self, x: Any) -> Any:
            rank = len(x.shape)
            axes = self._axes(rank)
            # gamma/beta have the normalised axes' shape: put 1s on the other axes.
            broadcast = [1] * rank
            for a in axes:
                broadcast[a] = x.shape[a]
            centred = x - ops.mean(x, axis=axes, keepdims=True)
            variance = ops.mean(centred * centred, axis=axes, keepdims=True)
            y = centred * ops.rsqrt(variance + self.epsilon)
            if self.gamma is not None:
                y = y * ops.reshape(self.gamma, broadcast)
            if self.beta is not None:
                y = y + ops.reshape(self.beta, broadcast)
            return y

        def compute_output_shape(
            self, input_shape: tuple[int | None, ...]
        ) -> tuple[int | None, ...]:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            config: dict[str, Any] = super().get_config()
            config.update(
                axis=self.axis, epsilon=self.epsilon, center=self.center, scale=self.scale
            )
            return config

    return LayerNormSubtractMean


def rewrite_for_quantization(
    model: Any, sample: npt.NDArray[np.float32], *, enabled: bool = True
) -> tuple[Any, list[str]]:
    """The model to convert and what was changed (empty when nothing was).

    ``sample`` holds real model inputs (the calibration data): the rewritten model is
    checked against the original on up to ``CHECK_SAMPLES`` of them.
    """
    norms = [layer for layer in _all_layers(model) if _rewritable(layer)]
    if not norms:
        return model, []
    if not enabled:
        return model, [
            f"kept {len(norms)} LayerNormalization layers (rewrite disabled): their NEG "
            "op stays float in int8 and blocks int16x8"
        ]
    import keras

    if not isinstance(model, (keras.Sequential, keras.Model)) or not _has_graph(model):
        return model, [
            f"could not rewrite {len(norms)} LayerNormalization layers: a subclassed model "
            "has no layer graph to rebuild (build it with the functional API)"
        ]
    layer_class = layer_norm_subtract_mean_class()

    def replace(layer: Any) -> Any:
        if not _rewritable(layer):
            return layer  # shared, weights and all
        new = layer_class(
            axis=layer.axis,
            epsilon=layer.epsilon,
            center=layer.center,
            scale=layer.scale,
            name=layer.name,
            dtype=layer.dtype_policy,
        )
        new.build(layer.input.shape)
        new.set_weights(layer.get_weights())
        return new

    try:
        rewritten = keras.models.clone_model(model, clone_function=replace, recursive=True)
    except Exception as exc:
        raise ConversionError(
            f"rewriting {len(norms)} LayerNormalization layers for quantization failed: "
            f"{type(exc).__name__}: {exc}",
            hint="convert with the rewrite disabled (the int8 model then keeps float NEG "
            "ops) or rebuild the model with the functional API",
        ) from exc
    left = sum(_rewritable(layer) for layer in _all_layers(rewritten))
    if left:
        raise ConversionError(
            f"{left} of {len(norms)} LayerNormalization layers were not rewritten",
            hint="convert with the rewrite disabled",
        )
    x = sample[: min(len(sample), CHECK_SAMPLES)]
    diff = _max_abs_diff(model, rewritten, x)
    if not diff <= MAX_ABS_DIFF:  # also catches NaN
        raise ConversionError(
            f"the model with {len(norms)} LayerNormalization layers rewritten to the "
            f"subtract-mean form differs from the original by up to {diff:.3g} on "
            f"{len(x)} inputs (allowed {MAX_ABS_DIFF:g})",
            hint="convert with the rewrite disabled; please report the model",
        )
    return rewritten, [
        f"rewrote {len(norms)} LayerNormalization layers to the subtract-mean form "
        f"(max |diff| {diff:.1g} on {len(x)} inputs)"
    ]


def _rewritable(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.layers.LayerNormalization) and not getattr(
        layer, "rms_scaling", False
    )


def _has_graph(model: Any) -> bool:
    import keras

    if isinstance(model, keras.Sequential):
        return True
    from keras.src.models.functional import Functional

    return isinstance(model, Functional)


def _all_layers(model: Any) -> Iterator[Any]:
    """Every layer, nested models' layers included (each once)."""
    seen: set[int] = set()
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        stack.extend(getattr(layer, "layers", []) or [])


def _max_abs_diff(original: Any, rewritten: Any, x: npt.NDArray[np.float32]) -> float:
    before = original.predict(x, batch_size=64, verbose=0)
    after = rewritten.predict(x, batch_size=64, verbose=0)
    pairs = zip(_as_list(before), _as_list(after), strict=True)
    return max(
        float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
        for a, b in pairs
    )


def _as_list(outputs: Any) -> list[Any]:
    if isinstance(outputs, dict):
        return [outputs[key] for key in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


# ---------------------------------------------------------------------------------------
# After conversion: int8 BATCH_MATMUL with a symmetric right-hand side.
#
# Measured (docs/int8-speed.md): ai_edge_litert 2.3.0's XNNPACK delegate takes an int8
# BATCH_MATMUL only when its second input has zero point 0; every other one runs on the
# builtin kernel, about 8x slower than float32 at the ViT's attention shapes, and splits
# the delegated graph. Calibration gives activations asymmetric ranges, so in a ViT
# (Q.K^T and A.V per block) almost none qualify. The fix re-expresses that input's range
# symmetrically: zero point 0 and the scale that still covers the calibrated range,
# ``max(-low / 128, high / 127)`` (less than one bit coarser). It is applied to the whole
# chain from the op that computes the tensor (which requantizes to whatever its output
# tensor says) through RESHAPE/TRANSPOSE (which require equal input and output
# parameters) to the BATCH_MATMUL, and only when nothing else reads those tensors.
# ---------------------------------------------------------------------------------------

_SAME_PARAMETER_OPS = ("RESHAPE", "TRANSPOSE")


def symmetric_batch_matmul_rhs(content: bytes) -> tuple[bytes, list[str]]:
    """``content`` with each int8 BATCH_MATMUL's right-hand input made symmetric.

    Returns the new flatbuffer and notes (none, and the same bytes, when nothing
    changed). Needs no TensorFlow: the flatbuffer tools ship with ai_edge_litert.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    builtin = schema.BuiltinOperator
    pass_through = {getattr(builtin, name) for name in _SAME_PARAMETER_OPS}
    changed = 0
    for graph in model.subgraphs:

        def code(op: Any) -> int:
            return int(
                flatbuffer_utils.get_builtin_code_from_operator_code(
                    model.operatorCodes[op.opcodeIndex]
                )
            )

        producer = {int(t): op for op in graph.operators for t in op.outputs}
        readers: dict[int, int] = {}
        for op in graph.operators:
            for t in op.inputs:
                readers[int(t)] = readers.get(int(t), 0) + 1
        outputs = {int(t) for t in graph.outputs}
        for op in graph.operators:
            if code(op) != builtin.BATCH_MATMUL:
                continue
            chain = [int(op.inputs[1])]
            while (up := producer.get(chain[-1])) is not None and code(up) in pass_through:
                chain.append(int(up.inputs[0]))
            if producer.get(chain[-1]) is None:
                continue  # a constant or graph input: its values are fixed
            if any(readers.get(t, 0) != 1 or t in outputs for t in chain):
                continue
            tensor = graph.tensors[chain[0]]
            quant = tensor.quantization
            if tensor.type != schema.TensorType.INT8 or quant is None or len(quant.scale) != 1:
                continue
            scale, zero_point = float(quant.scale[0]), int(quant.zeroPoint[0])
            if zero_point == 0:
                continue
            low, high = scale * (-128 - zero_point), scale * (127 - zero_point)
            symmetric = max(-low / 128.0, high / 127.0)
            for t in chain:
                graph.tensors[t].quantization.scale = [symmetric]
                graph.tensors[t].quantization.zeroPoint = [0]
            changed += 1
    if not changed:
        return content, []
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), [
        f"made the right-hand input of {changed} int8 BATCH_MATMUL ops symmetric "
        "(zero point 0) so XNNPACK runs them"
    ]
