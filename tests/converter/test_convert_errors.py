"""Models the converter must refuse, and how it says so."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.errors import ConversionError, DataError


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def test_lambda_layer_needs_trust(tmp_path: Path) -> None:
    from converter.keras_model import load_keras_model

    keras = _keras()
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Flatten()]
    )
    model.save(tmp_path / "lambda.keras")
    with pytest.raises(ConversionError) as info:
        load_keras_model(tmp_path / "lambda.keras")
    assert "contains Python code" in str(info.value)
    assert "--trust-model" in str(info.value)
    assert load_keras_model(tmp_path / "lambda.keras", trust=True) is not None


# Two layer modules with the same registered name, so each test imports a fresh one
# (a module imported once stays registered for the rest of the session).
LAYER_MODULE = textwrap.dedent(
    """
    import keras

    @keras.saving.register_keras_serializable(package="{package}")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return x * 2.0
    """
)


def test_unregistered_custom_layer_points_at_custom_objects(tmp_path: Path) -> None:
    from converter.keras_model import import_custom_objects, load_keras_model

    keras = _keras()
    namespace: dict[str, Any] = {}
    exec(LAYER_MODULE.format(package="edgetest_unregistered"), namespace)
    model = keras.Sequential([keras.Input((4, 4, 1)), namespace["Twice"]()])
    model.save(tmp_path / "custom.keras")
    # Forget the class, as a fresh process would.
    del keras.saving.get_custom_objects()["edgetest_unregistered>Twice"]
    with pytest.raises(ConversionError) as info:
        load_keras_model(tmp_path / "custom.keras")
    assert "'Twice'" in str(info.value) and "--custom-objects" in str(info.value)

    module = tmp_path / "edgetest_layers.py"
    module.write_text(LAYER_MODULE.format(package="edgetest_unregistered"))
    assert load_keras_model(tmp_path / "custom.keras", custom_objects=str(module)) is not None
    with pytest.raises(ConversionError, match="importing --custom-objects 'no_such_mod' failed"):
        import_custom_objects("no_such_mod")


@pytest.mark.parametrize(
    ("name", "suffix", "content", "message"),
    [
        ("model", ".h5x", b"", "is not a Keras model file"),
        ("broken", ".keras", b"not a zip", "cannot load"),
    ],
)
def test_unreadable_model_files(
    tmp_path: Path, name: str, suffix: str, content: bytes, message: str
) -> None:
    from converter.keras_model import load_keras_model

    path = tmp_path / f"{name}{suffix}"
    path.write_bytes(content)
    with pytest.raises(ConversionError, match=message):
        load_keras_model(path)


def test_non_classifier_and_label_mismatch(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert

    keras = _keras()
    np.save(tmp_path / "cal.npy", np.zeros((2, 8, 8, 1), np.float32))
    image_out = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    image_out.save(tmp_path / "seg.keras")
    with pytest.raises(ConversionError, match="does not look like a classifier") as refused:
        convert(ConvertRequest(model=tmp_path / "seg.keras", calibration=tmp_path / "cal.npy"))
    # The hint lists every task that fits an [8, 8, 2] output: raw only.
    assert refused.value.hint is not None
    assert refused.value.hint.startswith("choose a --task that fits this model: raw (raw takes")

    classifier = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    classifier.save(tmp_path / "cls.keras")
    with pytest.raises(DataError, match="2 labels were given, but the model has 3 outputs"):
        convert(
            ConvertRequest(
                model=tmp_path / "cls.keras", calibration=tmp_path / "cal.npy", labels=["a", "b"]
            )
        )
    with pytest.raises(ConversionError, match="colour 'gray' does not fit"):
        rgb = keras.Sequential(
            [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)]
        )
        rgb.save(tmp_path / "rgb.keras")
        convert(
            ConvertRequest(
                model=tmp_path / "rgb.keras", calibration=tmp_path / "cal.npy", colour="gray"
            )
        )


def test_data_errors_come_before_any_model_work(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert

    with pytest.raises(DataError, match=r"calibration data .* does not exist"):
        convert(ConvertRequest(model=tmp_path / "m.keras", calibration=tmp_path / "none"))
    with pytest.raises(ConversionError, match="task 'segment' is not supported"):
        convert(ConvertRequest(model=tmp_path / "m.keras", calibration=tmp_path, task="segment"))


def _unary_model(tmp_path: Path, op: str) -> Path:
    """A small classifier whose first layer applies ``keras.ops.<op>`` (registered, safe)."""
    _keras()  # TensorFlow first, quietly; then keras as a module, so it can be a base
    import keras

    @keras.saving.register_keras_serializable(package="edgetest_ops")
    class Unary(keras.layers.Layer):  # type: ignore[misc]  # Keras ships no types
        def __init__(self, op: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.op = op

        def call(self, x: Any) -> Any:
            return getattr(keras.ops, self.op)(x)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "op": self.op}

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            Unary(op),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(tmp_path / f"{op}.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "cal.npy", rng.uniform(0, 1, (16, 8, 8, 1)).astype(np.float32))
    return tmp_path / f"{op}.keras"


def test_op_without_tflite_kernel_is_named(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert

    model = _unary_model(tmp_path, "erf")
    with pytest.raises(ConversionError) as info:
        convert(
            ConvertRequest(
                model=model,
                calibration=tmp_path / "cal.npy",
                progress=False,
                custom_objects=__name__,
            )
        )  # its layer class is defined here
    message = str(info.value)
    assert "TensorFlow op(s) Erf" in message and "no TFLite builtin kernel" in message
    assert len(message) < 600  # the MLIR dump stays out of the user's terminal


def test_ops_left_in_float_are_reported(tmp_path: Path) -> None:
    """TFLITE_BUILTINS_INT8 does not reject an op without an int8 kernel: it stays float."""
    from converter.convert import ConvertRequest, convert

    model = _unary_model(tmp_path, "sin")
    report = convert(
        ConvertRequest(
            model=model,
            calibration=tmp_path / "cal.npy",
            progress=False,
            latency_seconds=0.05,
            custom_objects=__name__,  # its layer class is defined here
        )
    )
    assert report.float_ops == ["SIN"]
    assert "SIN" in report.table()
