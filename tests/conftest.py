"""Fixtures shared by every test package.

Models used here are real: the shipped int8 CNN from models/zoo, and small models
converted with TensorFlow inside the test session (``plain_tflite``) for the cases the
zoo does not cover, such as a .tflite without a manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import numpy as np
import pytest

if TYPE_CHECKING:
    from edge.sources.synthetic import DigitTruth, SyntheticCamera

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    _load_hypothesis_profile(str(config.getoption("markexpr", "") or ""))


def _load_hypothesis_profile(markexpr: str) -> None:
    """Property tests run derandomized in the gate: the same examples on every machine
    and every run, so the gate's outcome never depends on the draw. The randomized run
    belongs to the fuzz marker (``bash scripts/test.sh -m 'fuzz or hypothesis'``, which
    selects the property tests too), and ``HYPOTHESIS_PROFILE=long`` runs 20x more."""
    from hypothesis import HealthCheck, settings

    common: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.function_scoped_fixture],
    }
    settings.register_profile("gate", max_examples=60, derandomize=True, database=None, **common)
    settings.register_profile("fuzz", max_examples=300, **common)
    settings.register_profile("long", max_examples=1200, **common)
    fuzz_run = "fuzz" in markexpr and "not fuzz" not in markexpr
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("fuzz" if fuzz_run else "gate"))


SCHEMA_PATH = REPO / "edge" / "schemas" / "result-1.schema.json"


@pytest.fixture(scope="session")
def result_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    from edge.model.zoo import DEFAULT_MODEL, zoo_file

    return zoo_file(DEFAULT_MODEL)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def digit_truth(camera: SyntheticCamera, frame: int) -> DigitTruth:
    """``camera.truth(frame)`` of a one-digit camera: a ``DigitTruth`` (a ``SceneTruth``
    only with ``digit_count`` > 1)."""
    from edge.sources.synthetic import DigitTruth

    truth = camera.truth(frame)
    assert isinstance(truth, DigitTruth), truth
    return truth


RunEdge = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def _private_probe_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each test starts with an empty record of verified models (``edge.model.verify.cache``), in
    its own folder: no test depends on what another one probed, and none writes into the
    real ``~/.cache`` of whoever runs the suite."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)


@pytest.fixture
def run_edge(tmp_path: Path) -> RunEdge:
    """Run the real ``edge`` console command in a subprocess, in ``tmp_path``."""

    def run(
        args: Sequence[str],
        *,
        timeout: float = 120,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from edge.cli import entry; entry()", *args]
        return subprocess.run(
            command,
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def plain_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-class int8 classifier converted by TensorFlow directly: no edge manifest."""
    import tensorflow as tf

    keras = tf.keras
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    rng = np.random.default_rng(0)
    samples = rng.integers(0, 256, (20, 16, 16, 3)).astype(np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([samples[i : i + 1]] for i in range(20))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path = tmp_path_factory.mktemp("plain") / "plain.tflite"
    with warnings.catch_warnings():
        # TF warns that the input has no statistics: expected, the input is quantized.
        warnings.simplefilter("ignore", UserWarning)
        path.write_bytes(converter.convert())
    return path
