"""A one-output sigmoid model (the seed article's DCGAN discriminator shape) converts as
a binary classifier, and ``edge run`` gives a binary label and score with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import RunEdge, read_jsonl


def _discriminator(tmp_path: Path, digits: dict[str, np.ndarray]) -> Path:
    """DCGAN-style: strided convs, LeakyReLU, Dense(1, sigmoid); inputs in -1..1.

    Trained for a few seconds to tell digits (1) from noise (0), so its decisions are
    not all near the threshold."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(8, 4, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Conv2D(16, 4, strides=2, padding="same"), keras.layers.LeakyReLU(0.2),
        keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip
    real = digits["x_train"][::10, ..., None].astype(np.float32) / 127.5 - 1
    rng = np.random.default_rng(0)
    fake = rng.uniform(-1, 1, real.shape).astype(np.float32)
    model.compile(keras.optimizers.Adam(2e-3), "binary_crossentropy")
    model.fit(
        np.concatenate([real, fake]),
        np.r_[np.ones(len(real)), np.zeros(len(fake))],
        epochs=2,
        batch_size=32,
        verbose=0,
    )
    model.save(tmp_path / "disc.keras")
    mixed = np.concatenate([real[:24], fake[:24]])
    np.save(tmp_path / "cal.npy", mixed)
    np.savez(tmp_path / "eval.npz", x=mixed, y=np.r_[np.ones(24), np.zeros(24)].astype(np.int64))
    return tmp_path / "disc.keras"


def test_sigmoid_discriminator_converts_and_runs_as_binary(
    tmp_path: Path, digits: dict[str, np.ndarray], run_edge: RunEdge
) -> None:
    from converter.convert import ConvertRequest, convert
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    model = _discriminator(tmp_path, digits)
    out = tmp_path / "disc.tflite"
    report = convert(ConvertRequest(
        model=model, calibration=tmp_path / "cal.npy", eval=tmp_path / "eval.npz", out=out,
        input_range="-1..1", progress=False, latency_seconds=0.02))  # fmt: skip
    assert report.mode == "int8"
    assert report.comparison["agreement_is"] == "decision agreement at 0.5"
    assert report.agreement is not None and report.agreement >= 0.95
    assert report.metrics["float"]["accuracy"] is not None
    assert report.confusion is not None and len(report.confusion["matrix"]) == 2
    assert "decision agreement at 0.5:" in report.table()
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.labels == ["0", "1"]
    assert manifest.decoder.params["decision_threshold"] == 0.5
    assert (manifest.input.scale, manifest.input.offset) == (1 / 127.5, -1.0)

    done = run_edge(["run", "--model", str(out), "--max-frames", "5", "--sink", "jsonl:out.jsonl"])
    assert done.returncode == 0, done.stderr
    records: list[dict[str, Any]] = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 5
    for record in records:
        (detection,) = record["detections"]
        assert detection["label"] in ("0", "1") and 0.5 <= detection["score"] <= 1.0
