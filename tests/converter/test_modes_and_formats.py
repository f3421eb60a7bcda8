"""Every conversion mode round-trips through LiteRT; outputs by name; .h5 and SavedModel inputs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


@pytest.mark.parametrize(
    ("mode", "input_dtype"),
    [("int16x8", "float32"), ("float16", "float32"), ("dynamic", "float32"),
     ("int8-mixed", "float32")],
)  # fmt: skip
def test_mode_round_trip(tiny_model_dir: Path, tmp_path: Path, mode: str, input_dtype: str) -> None:
    from converter.convert import ConvertRequest, convert

    request = ConvertRequest(
        model=tiny_model_dir / "tiny.keras",
        calibration=tiny_model_dir / "cal.npz",
        eval=tiny_model_dir / "eval.npz",
        out=tmp_path / f"{mode}.tflite",
        mode=mode,
        latency_seconds=0.05,
        progress=False,
    )
    report = convert(request)
    model_file = read_model_file(tmp_path / f"{mode}.tflite")
    backend = LiteRTBackend(model_file.content, threads=1)
    assert backend.inputs[0].dtype == input_dtype
    manifest = parse_manifest(model_file.metadata[METADATA_NAME], origin="t")
    assert manifest.quantization is not None and manifest.quantization.mode == mode
    assert report.mode == mode and report.agreement is not None and report.agreement >= 0.97
    assert report.latency_ms["summary"].startswith(f"{mode} is ")
    assert "ARM differs" in report.latency_ms["summary"]
    if mode == "float16":
        assert report.size_bytes["quantized"] < 0.7 * report.size_bytes["float"]


def test_two_outputs_are_matched_by_name_not_order(tmp_path: Path) -> None:
    """The converter reorders a two-head model's outputs; names keep them apart."""
    from converter.calibration import Calibration
    from converter.evaluate import float_outputs, tflite_outputs
    from converter.quantize import convert_saved_model
    from converter.source_model import load_source_model

    keras = _keras()
    inputs = keras.Input((6, 6, 1), name="pixels")
    hidden = keras.layers.Dense(4, name="hidden")(keras.layers.Flatten()(inputs))
    zeta = keras.layers.Dense(3, name="zeta_head")(hidden)
    alpha = keras.layers.Dense(5, name="alpha_head")(hidden)
    keras.Model(inputs, [zeta, alpha]).save(tmp_path / "two.keras")
    source = load_source_model(tmp_path / "two.keras")
    assert source.output_shapes == {"zeta_head": (3,), "alpha_head": (5,)}
    x = np.random.default_rng(0).uniform(0, 1, (20, 6, 6, 1)).astype(np.float32)
    expected = float_outputs(source, x, None)
    with source.saved_model() as saved:
        for mode in ("float32", "int8"):
            content = convert_saved_model(saved, mode, calibration=Calibration(x, "test"))
            backend = LiteRTBackend(content, threads=1)
            # The premise: the interpreter lists the heads in another order than Keras.
            assert [s.shape[1] for s in backend.outputs] != [3, 5]
            got = tflite_outputs(content, x, None, source.tflite_names, source.output_shapes)
            assert set(got) == {"zeta_head", "alpha_head"}
            for name in got:
                tolerance = 1e-4 if mode == "float32" else 0.1
                np.testing.assert_allclose(got[name], expected[name], atol=tolerance)


def _classifier(keras: Any) -> Any:
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [keras.Input((8, 8, 1), name="pixels"), keras.layers.Rescaling(1 / 255),
         keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")]
    )  # fmt: skip


def _cal(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "cal.npz", x=rng.uniform(0, 255, (32, 8, 8, 1)).astype(np.float32))
    return tmp_path / "cal.npz"


def test_legacy_h5_converts(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert

    keras = _keras()
    model = _classifier(keras)
    with warnings.catch_warnings():
        # Keras 3 warns that HDF5 is legacy when writing it: the point of this test.
        warnings.filterwarnings(
            "ignore", message=".*HDF5 file via `model.save", category=UserWarning
        )
        model.save(tmp_path / "legacy.h5")
    report = convert(
        ConvertRequest(
            model=tmp_path / "legacy.h5",
            calibration=_cal(tmp_path),
            mode="int8",
            latency_seconds=0.05,
            progress=False,
        )
    )
    assert report.out == str(tmp_path / "legacy.int8.tflite")
    assert report.agreement is not None and report.agreement >= 0.9


def _write_keras2_h5(path: Path, kernel: np.ndarray, bias: np.ndarray) -> None:
    """An .h5 laid out as Keras 2.x wrote it (no Keras 2 is installed to write one):
    ``model_config`` JSON with ``batch_input_shape`` on the first layer, a Keras 2
    optimizer in ``training_config``, weights under ``model_weights/<layer>/<layer>/``."""
    import json

    import h5py

    dense = {
        "name": "dense", "trainable": True, "dtype": "float32", "units": 4,
        "activation": "softmax", "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None,
    }  # fmt: skip
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8, 8, 1],
         "dtype": "float32", "sparse": False, "ragged": False, "name": "flatten_input"}},
        {"class_name": "Flatten", "config": {"name": "flatten", "trainable": True,
         "batch_input_shape": [None, 8, 8, 1], "dtype": "float32",
         "data_format": "channels_last"}},
        {"class_name": "Dense", "config": dense},
    ]}}  # fmt: skip
    training = {
        "loss": "sparse_categorical_crossentropy",
        "optimizer_config": {
            "class_name": "Adam",
            "config": {
                "name": "Adam",
                "learning_rate": 0.001,
                "decay": 0.0,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "amsgrad": False,
            },
        },
    }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.11.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["training_config"] = json.dumps(training)
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = [b"flatten", b"dense"]
        weights.create_group("flatten").attrs["weight_names"] = np.array([], dtype="S")
        group = weights.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        group.create_dataset("dense/kernel:0", data=kernel)
        group.create_dataset("dense/bias:0", data=bias)


def test_keras2_h5_loads_with_its_weights(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert
    from converter.keras_model import load_keras_model

    rng = np.random.default_rng(0)
    kernel = rng.normal(0, 0.02, (64, 4)).astype(np.float32)
    bias = np.array([0.0, 0.1, 0.2, 0.3], np.float32)
    _write_keras2_h5(tmp_path / "old.h5", kernel, bias)
    model = load_keras_model(tmp_path / "old.h5")
    np.testing.assert_array_equal(model.layers[-1].get_weights()[0], kernel)
    report = convert(
        ConvertRequest(
            model=tmp_path / "old.h5",
            calibration=_cal(tmp_path),
            mode="float32",
            latency_seconds=0.05,
            progress=False,
        )
    )
    assert report.agreement == 1.0 and report.fidelity["max_abs_diff"] < 1e-5


def test_saved_model_folder_converts_without_keras(tmp_path: Path) -> None:
    from converter.convert import ConvertRequest, convert

    keras = _keras()
    model = _classifier(keras)
    model.export(str(tmp_path / "exported"), format="tf_saved_model", verbose=False)
    report = convert(
        ConvertRequest(
            model=tmp_path / "exported",
            calibration=_cal(tmp_path),
            out=tmp_path / "sm.tflite",
            mode="int8",
            latency_seconds=0.05,
            progress=False,
        )
    )
    assert report.agreement is not None and report.agreement >= 0.9
    assert report.fidelity["max_abs_diff"] < 0.05
    assert any("SavedModel" in note for note in report.rewrites)
    manifest = parse_manifest(
        read_model_file(tmp_path / "sm.tflite").metadata[METADATA_NAME], origin="t"
    )
    assert manifest.name == "exported" and manifest.task == "classify"


def test_rewrite_is_called_and_its_notes_reported(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """convert hands the model and real calibration inputs to the rewrite step, passes
    ``no_rewrite`` through as ``enabled``, and reports the notes."""
    import converter.convert as convert_module

    calls: list[tuple[tuple[int, ...], bool]] = []

    def fake_rewrite(model: Any, sample: np.ndarray, *, enabled: bool = True) -> Any:
        calls.append((sample.shape, enabled))
        return model, [f"fake rewrite, enabled={enabled}"]

    monkeypatch.setattr(convert_module, "rewrite_for_quantization", fake_rewrite)
    for no_rewrite in (False, True):
        report = convert_module.convert(convert_module.ConvertRequest(
            model=tiny_model_dir / "tiny.keras", calibration=tiny_model_dir / "cal.npz",
            out=tmp_path / "r.tflite", mode="float32", no_rewrite=no_rewrite,
            latency_seconds=0.05, progress=False,
        ))  # fmt: skip
        assert report.rewrites == [f"fake rewrite, enabled={not no_rewrite}"]
    assert calls == [((32, 28, 28, 1), True), ((32, 28, 28, 1), False)]


def test_dict_outputs_are_matched_by_their_keys(tmp_path: Path) -> None:
    """Keras keeps dict keys as signature keys; the heads still map by name."""
    from converter.calibration import Calibration
    from converter.evaluate import float_outputs, tflite_outputs
    from converter.quantize import convert_saved_model
    from converter.source_model import load_source_model

    keras = _keras()
    inputs = keras.Input((6, 6, 1), name="pixels")
    hidden = keras.layers.Dense(4, name="hidden")(keras.layers.Flatten()(inputs))
    heads = {
        "zboxes": keras.layers.Dense(4, name="box_head")(hidden),
        "ascores": keras.layers.Dense(3, activation="sigmoid", name="score_head")(hidden),
    }
    keras.Model(inputs, heads).save(tmp_path / "dict.keras")
    source = load_source_model(tmp_path / "dict.keras")
    x = np.random.default_rng(0).uniform(0, 1, (20, 6, 6, 1)).astype(np.float32)
    expected = float_outputs(source, x, None)
    with source.saved_model() as saved:
        content = convert_saved_model(saved, "float32", calibration=Calibration(x, "test"))
    got = tflite_outputs(content, x, None, source.tflite_names, source.output_shapes)
    assert set(got) == set(expected) == set(source.output_shapes)
    for name in got:
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4)
    assert {shape[0] for shape in source.output_shapes.values()} == {3, 4}
