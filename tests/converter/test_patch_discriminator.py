"""The seed article's GAN discriminator, built from its published layer list: a
PatchGAN-style critic (64x64x3 in, a [batch, 16, 16, 1] sigmoid map out). It converts
without --task (a patch discriminator is a binary classifier whose decision is the mean
realness over the patches), its fidelity is decision agreement with float, and ``edge
run`` reports a per-frame score through the anomaly fields (score = 1 - mean realness).

One conversion for the module (TensorFlow work dominates the time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import RunEdge, read_jsonl


def _discriminator() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(1)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            layers.Conv2D(128, 4, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(128, 4, strides=2, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(1, 4, strides=1, padding="same", activation="sigmoid"),
        ]
    )


def _images(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Half "real" (smooth gradients), half "fake" (noise), in -1..1 as a GAN takes them."""
    ramp = np.linspace(-1, 1, 64, dtype=np.float32)
    real = [
        np.clip(
            np.stack([np.add.outer(ramp * a, ramp * b) for a, b in rng.uniform(-1, 1, (3, 2))], -1),
            -1,
            1,
        )
        for _ in range(count // 2)
    ]
    fake = rng.uniform(-1, 1, (count - count // 2, 64, 64, 3)).astype(np.float32)
    x = np.concatenate([np.asarray(real, np.float32), fake])
    y = np.concatenate([np.ones(count // 2), np.zeros(count - count // 2)]).astype(np.float32)
    order = rng.permutation(count)
    return x[order], y[order]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from converter.convert import ConvertRequest, convert

    folder = tmp_path_factory.mktemp("patch")
    model = _discriminator()
    rng = np.random.default_rng(0)
    x, y = _images(rng, 96)
    import keras

    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy")
    # Four epochs part real from fake by a margin (mean realness about 0.62-0.87 against
    # 0.10-0.12), so the decision is not a coin toss that int8 could flip.
    model.fit(x, np.broadcast_to(y[:, None, None, None], (96, 16, 16, 1)), epochs=4, verbose=0)
    model.save(folder / "critic.keras")
    x_cal, _ = _images(rng, 48)
    np.save(folder / "cal.npy", x_cal)
    request = ConvertRequest(
        model=folder / "critic.keras",  # no task: classify, the default
        calibration=folder / "cal.npy",
        input_range="-1..1",
        out=folder / "critic.tflite",
        progress=False,
        latency_seconds=0.02,
    )
    return folder, convert(request)


def test_converts_without_task_judged_by_decision_agreement(converted: tuple[Path, Any]) -> None:
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    folder, report = converted
    assert report.mode == "int8"
    compare = report.comparison
    assert compare["agreement_is"] == (
        "decision agreement at 0.5 of the mean realness over 256 patches"
    )
    assert compare["agreement"] == 1.0, compare
    manifest = parse_manifest(
        read_model_file(folder / "critic.tflite").metadata[METADATA_NAME], origin="t"
    )
    assert manifest.task == "anomaly" and manifest.decoder.name == "patchgan"
    assert manifest.decoder.params == {"threshold": 0.5, "activation": "none"}
    assert manifest.labels == []


def test_edge_run_reports_a_score_per_frame(
    converted: tuple[Path, Any], run_edge: RunEdge, tmp_path: Path, result_validator: Any
) -> None:
    folder, _ = converted
    done = run_edge(
        ["run", "--model", str(folder / "critic.tflite"), "--max-frames", "3",
         "--sink", "jsonl:o.jsonl"]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert len(records) == 3
    for record in records:
        result_validator.validate(record)
        anomaly = record["anomaly"]
        assert 0.0 <= anomaly["score"] <= 1.0 and anomaly["threshold"] == 0.5
        assert anomaly["anomalous"] == (anomaly["score"] > 0.5)
        assert record["model"]["task"] == "anomaly"
