"""The int8-mixed step grows its float set until the budget holds, before int16x8/float16.

The model (``sensitive_model.py``) has seven layers broken for int8 by their weights, so
the ladder's path is set by counting, not by training noise: a float set of 1, 2 or 4
layers leaves a broken one in int8 and fails; 8 holds them all and passes; the previous
ladder's one-shot rule (at most five layers) cannot pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import ConversionError

BUDGET = 0.03


@pytest.fixture(scope="module")
def sensitive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.converter.sensitive_model import build

    return build(tmp_path_factory.mktemp("sensitive"))


def _request(folder: Path, **fields: Any) -> Any:
    from converter.convert import ConvertRequest

    return ConvertRequest(
        model=folder / "sensitive.h5",
        calibration=folder / "cal.npz",
        eval=folder / "eval.npz",
        max_drop=BUDGET,
        progress=False,
        latency_seconds=0.02,
        **fields,
    )


def test_auto_ends_on_int8_mixed_with_the_smallest_passing_float_set(
    sensitive: Path, tmp_path: Path
) -> None:
    from converter.convert import convert

    report = convert(_request(sensitive, out=tmp_path / "s.tflite"))
    assert report.mode == "int8-mixed"
    steps = [(s.mode, s.accepted) for s in report.ladder]
    assert steps == [("int8", False), *[("int8-mixed", False)] * 3, ("int8-mixed", True)]
    sizes = [int(s.reason.split("kept in float: the ")[1].split(" ")[0]) for s in report.ladder[1:]]
    assert sizes == [1, 2, 4, 8]
    shares = [s.int8_share for s in report.ladder]
    assert all(share is not None for share in shares)
    assert shares[0] == {"ops": 1.0, "params": 1.0}
    ops = [share["ops"] for share in shares if share is not None]
    assert ops == sorted(ops, reverse=True) and 0.0 < ops[-1] < 1.0  # int8 kept where it can
    assert "int8-mixed" in report.table() and "% of parameters" in report.table()
    assert report.gate["drop"] <= BUDGET


def test_without_the_growing_set_the_ladder_would_reach_float16(sensitive: Path) -> None:
    """What the previous ladder did: int8-mixed with the layers above 0.7 steps (at most
    five) kept in float, then int16x8; both fail here (two of the seven broken layers stay
    int8; int16x8 keeps int8 weights), so it ended on float16."""
    from converter.calibration import load_calibration
    from converter.convert import convert
    from converter.evaluate import tflite_outputs
    from converter.layer_debug import LayerDebugger
    from converter.source_model import load_source_model

    with pytest.raises(ConversionError, match="int16x8"):
        convert(_request(sensitive, mode="int16x8"))
    source = load_source_model(sensitive / "sensitive.h5")
    calibration = load_calibration(sensitive / "cal.npz", None, input_shape=(14, 14, 1))
    with source.saved_model(source.keras_model) as saved:
        debugger = LayerDebugger(saved, calibration)
        previous = [layer for layer in debugger.ranking if layer.rmse_over_scale > 0.7][:5]
        content = debugger.selective_int8(previous).content
    assert [layer.op for layer in previous] == ["FULLY_CONNECTED"] * 5
    with np.load(sensitive / "eval.npz") as data:
        x, y = data["x"], data["y"]
    (out,) = tflite_outputs(content, x, None, source.tflite_names, source.output_shapes).values()
    # Far below the budget, not near it: the output no longer follows the input.
    assert (out.argmax(axis=1) == y).mean() <= 0.5


def test_a_step_litert_cannot_load_is_a_failed_step_not_a_failed_run(tmp_path: Path) -> None:
    """A channel offset by 3e4 gives a quantization XNNPACK refuses to prepare (measured:
    "failed to create XNNPACK runtime"); the ladder records that and moves on."""
    from converter.convert import ConvertRequest, convert
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    h = keras.layers.SeparableConv2D(8, 3, padding="same")(inputs)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    wide = keras.layers.Conv2D(9, 1)
    h = keras.layers.SeparableConv2D(8, 3, padding="same", name="sep2")(wide(h))
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(h))
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 12, 12, 1)).astype(np.float32)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, rng.integers(0, 4, 64), epochs=1, verbose=0)
    kernel = np.zeros((1, 1, 8, 9), np.float32)
    kernel[0, 0, :, :8] = np.eye(8)
    kernel[0, 0, :, 8] = 1.0
    wide.set_weights([kernel, np.r_[np.zeros(8), 3e4].astype(np.float32)])
    depthwise, pointwise, bias = model.get_layer("sep2").get_weights()
    pointwise[:, :, 8, :] = 0.0  # the huge channel does not reach the output
    model.get_layer("sep2").set_weights([depthwise, pointwise, bias])
    model.save(tmp_path / "wide.keras")
    np.save(tmp_path / "cal.npy", x[:32])
    report = convert(
        ConvertRequest(
            model=tmp_path / "wide.keras",
            calibration=tmp_path / "cal.npy",
            progress=False,
            latency_seconds=0.02,
            out=tmp_path / "wide.tflite",
        )
    )
    first = report.ladder[0]
    assert first.mode == "int8" and not first.accepted
    assert first.reason.startswith("conversion failed:") and "cannot load" in first.reason
    assert report.ladder[-1].accepted and Path(report.out).exists()
