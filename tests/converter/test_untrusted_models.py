"""A hostile corpus built here: nothing in it executes, and ``edge convert`` refuses it
naming what it found (``converter.inspect_model``); ``--out``/``--report`` never overwrite
an input (``converter.outputs``); unreadable data files are ``DataError``s.

The Keras files are written by hand (a ``.keras`` is a zip with ``config.json``; a legacy
``.h5`` keeps its config in the ``model_config`` attribute), so they hold exactly the
attack and need no TensorFlow; the SavedModels are saved by TensorFlow with real
``WriteFile``, ``ReadFile`` and ``EagerPyFunc`` ops in their serving functions.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter.data import load_arrays
from converter.inspect_model import inspect_model
from edge.errors import ConversionError, DataError
from tests.conftest import RunEdge

ZOO = Path(__file__).resolve().parents[2] / "models" / "zoo"


def keras_file(path: Path, layers: list[dict[str, Any]]) -> Path:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "m",
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {"batch_shape": [None, 4]},
                },
                *layers,
            ],
        },
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", b"")
    return path


HOSTILE_KERAS = {
    "lambda": (
        {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA..."}}},
        },
        "Lambda",
    ),
    "os_system": (
        {"module": "os", "class_name": "system", "config": {"command": "touch x"}},
        "system from module 'os'",
    ),
    "subprocess": (
        {"module": "subprocess", "class_name": "Popen", "config": {}},
        "from module 'subprocess'",
    ),
    "builtins_eval": (
        {"module": "builtins", "class_name": "eval", "config": {}},
        "from module 'builtins'",
    ),
    "custom_class": (
        {"module": "attacker.layers", "class_name": "Backdoor", "config": {}},
        "custom class Backdoor from module 'attacker.layers'",
    ),
    "nested_function": (
        {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "units": 2,
                "activation": {
                    "class_name": "__function__",
                    "module": "builtins",
                    "config": "exec",
                },
            },
        },
        "__function__",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_KERAS))
def test_hostile_keras_configs_are_refused_naming_what_was_found(tmp_path: Path, name: str) -> None:
    layer, expected = HOSTILE_KERAS[name]
    path = keras_file(tmp_path / f"{name}.keras", [layer])
    with pytest.raises(ConversionError, match="holds more than layers and math") as caught:
        inspect_model(path, trust=False)
    assert expected in caught.value.message
    assert caught.value.hint and "--trust-model" in caught.value.hint
    inspect_model(path, trust=True)  # the user's explicit word


def test_a_custom_class_is_allowed_with_custom_objects_but_os_never(tmp_path: Path) -> None:
    custom = keras_file(tmp_path / "c.keras", [HOSTILE_KERAS["custom_class"][0]])
    inspect_model(custom, trust=False, custom_objects="attacker.layers")
    hostile = keras_file(tmp_path / "o.keras", [HOSTILE_KERAS["os_system"][0]])
    with pytest.raises(ConversionError, match="module 'os'"):
        inspect_model(hostile, trust=False, custom_objects="attacker.layers")


def test_the_shipped_keras_models_pass() -> None:
    for path in sorted(ZOO.glob("*.keras")):
        # the ViT's own layers live in models.vit, named as the converter is told to
        custom = "models.vit" if "vit" in path.name else None
        inspect_model(path, trust=False, custom_objects=custom)


def test_a_legacy_h5_with_a_lambda_is_refused(tmp_path: Path) -> None:
    import h5py

    path = tmp_path / "legacy.h5"
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [{"class_name": "Lambda", "config": {"function": ["4wEAAAAA", None, None]}}]
        },
    }
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(ConversionError, match="Lambda"):
        inspect_model(path, trust=False)


def test_a_keras_file_that_is_not_a_zip_says_so(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ConversionError, match=r"is not a \.keras file: a \.keras model is a zip"):
        inspect_model(path, trust=False)


@pytest.fixture(scope="module")
def hostile_saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    root = tmp_path_factory.mktemp("saved")
    target = root / "pwned.txt"
    spec = tf.TensorSpec([None, 4], tf.float32)
    # tf.function typed for mypy (TensorFlow ships no stubs): the same decorator.
    serving: Callable[[Callable[..., Any]], Any] = tf.function(input_signature=[spec])

    class WritesAFile(tf.Module):  # type: ignore[misc]
        @serving
        def serve(self, x: Any) -> Any:
            tf.io.write_file(str(target), "owned")
            return {"y": x * 2.0}

    class ReadsAFile(tf.Module):  # type: ignore[misc]
        @serving
        def serve(self, x: Any) -> Any:
            secret = tf.io.read_file("/etc/hostname")
            return {"y": x + tf.cast(tf.strings.length(secret), tf.float32)}

    class RunsPython(tf.Module):  # type: ignore[misc]
        @serving
        def serve(self, x: Any) -> Any:
            return {"y": tf.py_function(lambda t: t, [x], tf.float32)}

    class PureMath(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            self.w = tf.Variable(tf.ones([4, 2]))

        @serving
        def serve(self, x: Any) -> Any:
            return {"y": tf.nn.relu(tf.matmul(x, self.w))}

    models = {}
    for name, cls in (
        ("write_file", WritesAFile),
        ("read_file", ReadsAFile),
        ("py_function", RunsPython),
        ("pure", PureMath),
    ):
        module = cls()
        tf.saved_model.save(module, str(root / name), signatures={"serving_default": module.serve})
        models[name] = root / name
    import keras

    cnn = keras.saving.load_model(ZOO / "digits-cnn.keras", compile=False)
    cnn.export(str(root / "keras_export"), verbose=False)
    models["keras_export"] = root / "keras_export"
    assert not target.exists()  # tracing does not run the op; nothing is written yet
    models["target"] = target
    return models


@pytest.mark.parametrize(
    ("name", "op"),
    [("write_file", "WriteFile"), ("read_file", "ReadFile"), ("py_function", "EagerPyFunc")],
)
def test_hostile_saved_models_are_refused(
    hostile_saved_models: dict[str, Path], name: str, op: str
) -> None:
    with pytest.raises(ConversionError, match=f"op {op} in function"):
        inspect_model(hostile_saved_models[name], trust=False)


def test_a_saved_model_of_pure_math_with_variables_passes(
    hostile_saved_models: dict[str, Path],
) -> None:
    inspect_model(hostile_saved_models["pure"], trust=False)  # its saver ops are allowed
    inspect_model(hostile_saved_models["keras_export"], trust=False)  # what model.export makes


def test_edge_convert_refuses_the_write_file_model_and_writes_nothing(
    hostile_saved_models: dict[str, Path], tmp_path: Path, run_edge: RunEdge
) -> None:
    np.savez(tmp_path / "cal.npz", x=np.zeros((8, 4), np.float32))
    done = run_edge(
        [
            "convert",
            str(hostile_saved_models["write_file"]),
            "--calibration",
            "cal.npz",
            "--out",
            "m.tflite",
        ],
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "op WriteFile" in done.stderr and "--trust-model" in done.stderr
    assert not hostile_saved_models["target"].exists()
    assert not (tmp_path / "m.tflite").exists()


def test_the_library_entry_point_inspects_too(
    hostile_saved_models: dict[str, Path], tmp_path: Path
) -> None:
    """``convert(ConvertRequest(...))``, what the recipes and library users call, reads the
    model as data first, as ``edge convert`` does: the WriteFile op never runs."""
    from converter.convert import ConvertRequest, convert

    np.savez(tmp_path / "cal.npz", x=np.zeros((8, 4), np.float32))
    request = ConvertRequest(
        model=hostile_saved_models["write_file"],
        calibration=tmp_path / "cal.npz",
        out=tmp_path / "m.tflite",
        progress=False,
    )
    with pytest.raises(ConversionError, match="op WriteFile"):
        convert(request)
    assert not hostile_saved_models["target"].exists()
    assert not (tmp_path / "m.tflite").exists()


def test_out_or_report_equal_to_an_input_is_refused(tmp_path: Path, run_edge: RunEdge) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes((ZOO / "digits-cnn.keras").read_bytes())
    np.savez(tmp_path / "cal.npz", x=np.zeros((8, 28, 28, 1), np.float32))
    before = {p.name: p.read_bytes() for p in (model, tmp_path / "cal.npz")}
    for extra in (
        ["--out", "m.keras"],
        ["--out", "./sub/../m.keras"],
        ["--report", "cal.npz"],
        ["--out", "x.tflite", "--report", "x.tflite"],
    ):
        (tmp_path / "sub").mkdir(exist_ok=True)
        done = run_edge(["convert", "m.keras", "--calibration", "cal.npz", *extra])
        assert done.returncode == 2, (extra, done.stderr)
        assert "inputs" in done.stderr or "same file" in done.stderr
    assert {p.name: p.read_bytes() for p in (model, tmp_path / "cal.npz")} == before


@pytest.mark.parametrize(
    ("suffix", "content", "message"),
    [
        (".npy", b"", "is empty .0 bytes."),
        (".npz", b"", "is empty .0 bytes."),
        (
            ".npy",
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (9,), }",
            "cannot read",
        ),
        (".npz", b"PK\x03\x04" + bytes(40), "cannot read"),
    ],
)
def test_unreadable_data_files_are_data_errors(
    tmp_path: Path, suffix: str, content: bytes, message: str
) -> None:
    path = tmp_path / f"cal{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        load_arrays(path, ["x"])
    assert caught.value.hint


def test_a_pickled_object_array_is_refused_not_run(tmp_path: Path) -> None:
    path = tmp_path / "cal.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read"):
        load_arrays(path, ["x"])
