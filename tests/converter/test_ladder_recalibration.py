"""The ``int8-recalibrated`` ladder step: int8 again on other calibration sets (stratified
by the float model's output, then more samples) before any layer is kept in float.

The model classifies an 8x8 picture as bright or dim (mean pixel above 128, one dense
layer on the pixels, Rescaling(1/255) inside). The calibration file holds 2,000 dim
pictures and 20 bright ones at positions the first step's even pick of 500 never
reaches, so int8 calibrated on that pick gets an input range of dim pixels only,
clips every bright picture and calls it dim: half the held-out pictures wrong. The
recalibrated step finds the bright ones and keeps full int8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converter.calibration import MAX_SAMPLES, Calibration, _strata, _stratified


def _pictures(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    return rng.integers(low, high, (n, 8, 8, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def bright_or_dim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    head = keras.layers.Dense(2, activation="softmax")
    model = keras.Model(inputs, head(h))
    kernel = np.zeros((64, 2), np.float32)
    kernel[:, 1] = 20.0 / 64  # logit of "bright": 20 * (mean - 0.5)
    head.set_weights([kernel, np.asarray([0.0, -10.0], np.float32)])
    folder = tmp_path_factory.mktemp("bright")
    model.save(folder / "bright.keras")
    rng = np.random.default_rng(0)
    pool = _pictures(rng, 2020, 0, 60)
    first_pick = np.linspace(0, 2019, MAX_SAMPLES).round().astype(np.int64)
    rare = np.setdiff1d(np.arange(2020), first_pick)[::75][:20]  # never on the first pick
    pool[rare] = _pictures(rng, len(rare), 200, 256)
    np.save(folder / "cal.npy", pool)
    x = np.concatenate([_pictures(rng, 40, 0, 60), _pictures(rng, 40, 200, 256)])
    np.savez(folder / "eval.npz", x=x, y=np.repeat([0, 1], 40))
    return folder


def test_recalibration_keeps_full_int8_where_the_first_calibration_clipped(
    bright_or_dim: Path, tmp_path: Path
) -> None:
    from converter.convert import ConvertRequest, convert

    report = convert(ConvertRequest(
        model=bright_or_dim / "bright.keras", calibration=bright_or_dim / "cal.npy",
        eval=bright_or_dim / "eval.npz", out=tmp_path / "bright.tflite", progress=False,
        latency_seconds=0.02))  # fmt: skip
    steps = [(s.mode, s.accepted) for s in report.ladder]
    assert steps == [("int8", False), ("int8-recalibrated", True)], report.table()
    first, chosen = report.ladder
    assert first.drop == pytest.approx(0.5)  # every bright picture called dim
    assert chosen.drop == pytest.approx(0.0)
    assert "calibration stratified by the float model's predicted class" in chosen.reason
    assert "500 samples, sha256" in chosen.reason
    assert chosen.int8_share == {"ops": 1.0, "params": 1.0}
    assert report.mode == "int8-recalibrated"
    assert report.metrics["quantized"]["accuracy"] == pytest.approx(1.0)
    assert "int8-recalibrated accepted" in report.table()
    # The manifest and the report name the set the chosen step was calibrated on, not
    # the first set (whose int8 failed).
    import re

    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    named = re.search(r"sha256 ([0-9a-f]{8,})", chosen.reason)
    assert named is not None, chosen.reason
    written = read_model_file(tmp_path / "bright.tflite")
    manifest = parse_manifest(written.metadata[METADATA_NAME], origin="bright.tflite")
    quantization = manifest.quantization
    assert quantization is not None and quantization.calibration_sha256 is not None
    assert quantization.calibration_sha256.startswith(named.group(1))
    assert quantization.calibration_samples == 500
    assert report.calibration_sha256 == quantization.calibration_sha256


def test_without_other_samples_the_step_tries_nothing(bright_or_dim: Path, tmp_path: Path) -> None:
    """Calibration data holding only the dim pictures: no set differs from the first,
    so the step adds no ladder line and the ladder goes on (here straight to float16)."""
    from converter.convert import ConvertRequest, convert

    dim = np.load(bright_or_dim / "cal.npy")
    dim = dim[dim.max(axis=(1, 2, 3)) < 100][:300]
    report = convert(ConvertRequest(
        model=bright_or_dim / "bright.keras", calibration=Calibration(dim, "dim only"),
        eval=bright_or_dim / "eval.npz", out=tmp_path / "b.tflite", progress=False,
        latency_seconds=0.02, ladder=("int8", "int8-recalibrated", "float16")))  # fmt: skip
    assert [(s.mode, s.accepted) for s in report.ladder] == [("int8", False), ("float16", True)]


def test_stratified_pick_gives_rare_groups_their_share() -> None:
    outputs = {"p": np.zeros((1000, 3), np.float32)}
    outputs["p"][:, 0] = 1
    outputs["p"][[5, 17, 900], 2] = 2  # three of class 2
    outputs["p"][100:150, 1] = 2  # fifty of class 1
    groups = _strata(outputs)
    assert groups.describe == "the float model's predicted class"
    picked = _stratified(groups, 90)
    assert len(picked) == 90 and len(set(picked)) == 90
    assert {5, 17, 900} <= set(picked.tolist())
    assert 30 <= int(np.sum((picked >= 100) & (picked < 150))) <= 50
    assert list(picked) == sorted(picked)


def test_strata_without_classes_use_output_norm_quantiles() -> None:
    outputs = {"a": np.arange(800, dtype=np.float32).reshape(100, 4, 2)}  # not classes
    groups = _strata(outputs)
    assert "quantiles of the float model's output norm" in groups.describe
    assert len(np.unique(groups.labels)) == 8
