"""``converter.rewrite``: LayerNormalization -> subtract-mean form, on a tiny ViT-like model.

The model is untrained (random weights, random LayerNorm gamma/beta so the rewrite has
something to get wrong) and small, so conversion takes seconds. The int8 checks convert
with and without the rewrite: without it the NEG ops must be there (the test would
notice if TensorFlow stopped emitting them), with it no op may stay float.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter.calibration import Calibration
from converter.rewrite import rewrite_for_quantization
from edge.errors import ConversionError

SHAPE = (8, 8, 1)


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _vit_like(keras: Any, *, nested: bool = False) -> Any:
    """Patches -> 2 pre-norm attention/MLP blocks -> norm -> pool -> softmax (3 classes)."""
    layers = keras.layers
    keras.utils.set_random_seed(7)
    inputs = keras.Input(SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255)(inputs)
    x = layers.Conv2D(16, 4, strides=4)(x)
    x = layers.Reshape((4, 16))(x)
    for _ in range(2):
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadAttention(2, 8)(h, h)
        x = layers.Add()([x, h])
        if nested:
            mlp = keras.Sequential(
                [
                    keras.Input((4, 16)),
                    layers.LayerNormalization(epsilon=1e-6),
                    layers.Dense(32, activation="relu"),
                    layers.Dense(16),
                ]
            )
            h = mlp(x)
        else:
            h = layers.LayerNormalization(epsilon=1e-6)(x)
            h = layers.Dense(32, activation="relu")(h)
            h = layers.Dense(16)(h)
        x = layers.Add()([x, h])
    x = layers.LayerNormalization()(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(x))
    rng = np.random.default_rng(1)
    for layer in _norms(keras, model):
        gamma, beta = layer.get_weights()
        layer.set_weights([rng.normal(1, 0.3, gamma.shape), rng.normal(0, 0.3, beta.shape)])
    return model


def _norms(keras: Any, model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.LayerNormalization):
            found.append(layer)
        found.extend(_norms(keras, layer) if hasattr(layer, "layers") else [])
    return found


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (64, *SHAPE)).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> Any:
    return _vit_like(_keras())


def test_rewrite_computes_the_same_function(model: Any, sample: np.ndarray) -> None:
    keras = _keras()
    rewritten, notes = rewrite_for_quantization(model, sample)
    assert rewritten is not model
    assert _norms(keras, rewritten) == []
    kinds = [type(layer).__name__ for layer in rewritten.layers]
    assert kinds.count("LayerNormSubtractMean") == 5
    assert len(notes) == 1 and notes[0].startswith("rewrote 5 LayerNormalization layers")
    assert "on 64 inputs" in notes[0]
    before = model.predict(sample, verbose=0)
    after = rewritten.predict(sample, verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-5)
    # Other layers are shared, not re-initialised.
    attention = [layer for layer in rewritten.layers if "multi_head" in layer.name]
    assert attention and all(layer in model.layers for layer in attention)


def test_rewrite_reaches_nested_models(sample: np.ndarray) -> None:
    keras = _keras()
    nested = _vit_like(keras, nested=True)
    rewritten, notes = rewrite_for_quantization(nested, sample)
    assert _norms(keras, rewritten) == []
    assert notes[0].startswith("rewrote 5 LayerNormalization layers")
    np.testing.assert_allclose(
        rewritten.predict(sample, verbose=0), nested.predict(sample, verbose=0), atol=1e-5
    )


def test_model_without_layer_norm_comes_back_unchanged(sample: np.ndarray) -> None:
    keras = _keras()
    plain = keras.Sequential(
        [keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    assert rewrite_for_quantization(plain, sample) == (plain, [])


def test_disabled_rewrite_keeps_the_model_and_says_so(model: Any, sample: np.ndarray) -> None:
    same, notes = rewrite_for_quantization(model, sample, enabled=False)
    assert same is model
    assert notes == [
        "kept 5 LayerNormalization layers (rewrite disabled): their NEG op stays float in "
        "int8 and blocks int16x8"
    ]


def test_a_rewrite_that_changes_the_outputs_is_refused(
    model: Any, sample: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    from converter import rewrite

    correct = rewrite.layer_norm_subtract_mean_class()

    class OffByALittle(correct):  # type: ignore[misc,valid-type]
        def call(self, x: Any) -> Any:
            return super().call(x) + 0.01

    monkeypatch.setattr(rewrite, "layer_norm_subtract_mean_class", lambda: OffByALittle)
    with pytest.raises(ConversionError, match="differs from the original by up to"):
        rewrite_for_quantization(model, sample)


def _convert(model: Any, sample: np.ndarray, mode: str) -> bytes:
    from converter.quantize import convert_saved_model, exported_saved_model

    with exported_saved_model(model, SHAPE, "pixels") as saved:
        return convert_saved_model(saved, mode, calibration=Calibration(sample, "random"))


def test_int8_has_float_neg_without_the_rewrite_and_no_float_op_with_it(
    model: Any, sample: np.ndarray
) -> None:
    from converter.measure import float_ops

    assert float_ops(_convert(model, sample, "int8")) == ["NEG"] * 5
    rewritten, _ = rewrite_for_quantization(model, sample)
    assert float_ops(_convert(rewritten, sample, "int8")) == []


def test_int16x8_converts_and_runs_after_the_rewrite(
    model: Any, sample: np.ndarray, tmp_path: Path
) -> None:
    """Strict 16x8 (no float fallback) fails on NEG; the rewritten model converts."""
    from converter.quantize import exported_saved_model
    from converter.quiet import import_tensorflow, native_output_captured
    from edge.model.backends.litert import load_interpreter_class

    tf = import_tensorflow()

    def convert_16x8(keras_model: Any) -> bytes:
        with exported_saved_model(keras_model, SHAPE, "pixels") as saved:
            converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([v[None]] for v in sample)
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            ]
            with native_output_captured():
                return bytes(converter.convert())

    with pytest.raises(Exception, match="NEG"):
        convert_16x8(model)
    rewritten, _ = rewrite_for_quantization(model, sample)
    content = convert_16x8(rewritten)
    _, interpreter_class = load_interpreter_class("ai_edge_litert")
    with native_output_captured():
        interpreter = interpreter_class(model_content=content)
        interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    expected = model.predict(sample[:16], verbose=0)
    got = []
    for v in sample[:16]:
        interpreter.set_tensor(inp["index"], v[None])
        interpreter.invoke()
        got.append(interpreter.get_tensor(out["index"])[0])
    np.testing.assert_allclose(np.array(got), expected, atol=0.02)
