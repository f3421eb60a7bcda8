"""Hostile models that would open a network connection: refused, and none is opened.

A TCP listener on loopback (port 0) stands in for the attacker's server; every sample
here targets it. Without ``--trust-model``, ``edge convert`` (the real command, in a
subprocess) and ``inspect_model`` refuse each sample naming what they found, and the
listener sees no connection. With ``--trust-model`` the ``Lambda`` sample does connect:
the control that shows the listener would have noticed.

The ``Lambda``'s code reads the port from ``$EDGE_TEST_PORT`` (set for every run here,
refused or not), so building the file in this process connects nowhere.
"""

from __future__ import annotations

import json
import socket
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter.inspect_model import inspect_model
from edge.errors import ConversionError
from tests.conftest import RunEdge
from tests.converter.test_untrusted_models import keras_file

CONNECT = (
    "lambda x: (__import__('socket').create_connection(('127.0.0.1', "
    "int(__import__('os').environ['EDGE_TEST_PORT'])), timeout=5) "
    "if 'EDGE_TEST_PORT' in __import__('os').environ else None, x)[1]"
)


class Listener:
    """Accepts and counts connections on 127.0.0.1 until closed."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)  # so the thread notices close() promptly
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self._open = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while self._open:
            try:
                peer, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            peer.close()

    def close(self) -> None:
        self._open = False
        self._thread.join(timeout=5)
        self.socket.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def samples(listener: Listener, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """name -> (model path, what the refusal must name)."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras
    import tensorflow as tf

    root = tmp_path_factory.mktemp("network")
    url = f"http://127.0.0.1:{listener.port}/payload"
    found: dict[str, Any] = {}
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Lambda(eval(CONNECT), name="phones_home")(inputs)
    keras.Model(inputs, keras.layers.Dense(3)(hidden)).save(root / "lambda_socket.keras")
    found["lambda_socket"] = (root / "lambda_socket.keras", "Lambda (Python code stored")
    address = {"address": ["127.0.0.1", listener.port]}
    for name, layer, expected in (
        (
            "socket_class",
            {"module": "socket", "class_name": "create_connection", "config": address},
            "create_connection from module 'socket'",
        ),
        (
            "urlopen_class",
            {"module": "urllib.request", "class_name": "urlopen", "config": {"url": url}},
            "urlopen from module 'urllib.request'",
        ),
        (
            "http_client_class",
            {
                "module": "http.client",
                "class_name": "HTTPConnection",
                "config": {"host": "127.0.0.1", "port": listener.port},
            },
            "HTTPConnection from module 'http.client'",
        ),
        (
            "socket_activation",
            {
                "module": "keras.layers",
                "class_name": "Dense",
                "config": {
                    "units": 2,
                    "activation": {
                        "class_name": "__function__",
                        "module": "socket",
                        "config": "create_connection",
                    },
                },
            },
            "__function__",
        ),
    ):
        found[name] = (keras_file(root / f"{name}.keras", [layer]), expected)
    found["legacy_h5_lambda"] = (_h5_with_lambda(root / "legacy.h5"), "Lambda")

    spec = tf.TensorSpec([None, 4], tf.float32)
    # tf.function typed for mypy (TensorFlow ships no stubs): the same decorator.
    serving: Callable[[Callable[..., Any]], Any] = tf.function(input_signature=[spec])

    class FetchesAUrl(tf.Module):  # type: ignore[misc]
        @serving
        def serve(self, x: Any) -> Any:
            payload = tf.io.read_file(url)
            return {"y": x + tf.cast(tf.strings.length(payload), tf.float32)}

    class CallsSocket(tf.Module):  # type: ignore[misc]
        @serving
        def serve(self, x: Any) -> Any:
            def phone_home(t: Any) -> Any:
                socket.create_connection(("127.0.0.1", listener.port), timeout=5).close()
                return t

            return {"y": tf.py_function(phone_home, [x], tf.float32)}

    for name, cls, op in (
        ("read_file_url", FetchesAUrl, "op ReadFile in function"),
        ("py_function_socket", CallsSocket, "op EagerPyFunc in function"),
    ):
        module = cls()
        tf.saved_model.save(module, str(root / name), signatures={"serving_default": module.serve})
        found[name] = (root / name, op)
    np.savez(root / "cal.npz", x=np.zeros((8, 4), np.float32))
    found["calibration"] = root / "cal.npz"
    assert listener.connections == 0  # building and saving them connected nowhere
    return found


def _h5_with_lambda(path: Path) -> Path:
    import base64
    import marshal

    import h5py

    code = base64.b64encode(marshal.dumps(eval(CONNECT).__code__)).decode()
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4]}},
                {"class_name": "Lambda", "config": {"function": [code, None, None]}},
            ]
        },
    }
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
    return path


NAMES = [
    "lambda_socket",
    "socket_class",
    "urlopen_class",
    "http_client_class",
    "socket_activation",
    "legacy_h5_lambda",
    "read_file_url",
    "py_function_socket",
]


@pytest.mark.parametrize("name", NAMES)
def test_network_samples_are_refused_and_open_no_connection(
    samples: dict[str, Any], listener: Listener, tmp_path: Path, run_edge: RunEdge, name: str
) -> None:
    path, expected = samples[name]
    before = listener.connections
    with pytest.raises(ConversionError, match="holds more than layers and math") as caught:
        inspect_model(path, trust=False)
    assert expected in caught.value.message
    done = run_edge(
        [
            "convert",
            str(path),
            "--calibration",
            str(samples["calibration"]),
            "--task",
            "raw",
            "--out",
            "m.tflite",
        ],
        timeout=300,
        env={"EDGE_TEST_PORT": str(listener.port)},
    )
    assert done.returncode == 1, done.stderr
    assert expected in done.stderr and "--trust-model" in done.stderr
    assert listener.connections == before, "the sample opened a connection"
    assert list(tmp_path.iterdir()) == []


def test_the_listener_sees_a_trusted_lambda_connect(
    samples: dict[str, Any], listener: Listener, run_edge: RunEdge
) -> None:
    """The control: with --trust-model the Lambda runs (in the conversion's child
    process) and its connection arrives, so the refusals above are not vacuous."""
    before = listener.connections
    done = run_edge(
        [
            "convert",
            str(samples["lambda_socket"][0]),
            "--calibration",
            str(samples["calibration"]),
            "--task",
            "raw",
            "--mode",
            "float32",
            "--out",
            "m.tflite",
            "--trust-model",
        ],
        timeout=300,
        env={"EDGE_TEST_PORT": str(listener.port)},
    )
    assert done.returncode == 0, done.stderr
    assert listener.connections > before


def test_keras_zip_samples_hold_the_listeners_address(
    samples: dict[str, Any], listener: Listener
) -> None:
    """The hand-written samples really point at the listener (not a dead address)."""
    with zipfile.ZipFile(samples["socket_class"][0]) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["config"]["layers"][1]["config"]["address"] == ["127.0.0.1", listener.port]
