"""Task ``generate``: PSNR/SQNR against hand-computed values, the absolute 30 dB bar mapped
onto the gate, latent data checks, and one int8 conversion of a tiny untrained generator
through ``convert``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from converter.tasks.base import TaskEval
from converter.tasks.generate import GENERATE, MIN_PSNR_DB, load_latents
from converter.tasks.registry import TASKS
from edge.errors import ConversionError, DataError
from edge.eval.metrics import psnr_db, sqnr_db


def test_psnr_and_sqnr_hand_computed() -> None:
    reference = np.array([1.0, -1.0, 0.5, -0.5])
    noisy = reference + np.array([0.02, -0.02, 0.02, -0.02])  # MSE 4e-4
    assert psnr_db(reference, noisy) == pytest.approx(10 * math.log10(4 / 4e-4))  # 40 dB
    assert psnr_db(reference, noisy, data_range=1.0) == pytest.approx(10 * math.log10(1 / 4e-4))
    # signal 1+1+0.25+0.25 = 2.5, noise 4 * 4e-4 = 1.6e-3
    assert sqnr_db(reference, noisy) == pytest.approx(10 * math.log10(2.5 / 1.6e-3))
    assert psnr_db(reference, reference) == math.inf
    assert sqnr_db(np.zeros(3), np.ones(3)) == -math.inf


def test_gate_is_the_shortfall_below_30_db() -> None:
    assert TASKS["generate"] is GENERATE
    assert GENERATE.gate.metric == "psnr_db" and GENERATE.default_max_drop == 0.0
    assert GENERATE.drop_without_labels({"psnr_db": 44.0}) == pytest.approx(MIN_PSNR_DB - 44.0)
    assert GENERATE.drop_without_labels({"psnr_db": 29.0}) == pytest.approx(1.0)
    assert GENERATE.drop_without_labels({}) is None


def test_compare_metrics_and_plot(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    f = np.tanh(rng.normal(size=(6, 28, 28, 1))).astype(np.float32)
    q = (np.round(f * 127) / 127).astype(np.float32)  # int8-like rounding, error <= 1/254
    data = TaskEval(rng.normal(size=(6, 64)).astype(np.float32), None, "latents")
    compared = GENERATE.compare({"image": f}, {"image": q}, data)
    assert compared["psnr_db"] == pytest.approx(psnr_db(f, q))
    assert compared["psnr_db"] > 45 and compared["agreement"] == 1.0
    assert compared["max_abs_diff"] <= 1 / 254 + 1e-6
    assert set(GENERATE.metrics({"image": f}, data)) == {"pixel_mean", "pixel_std"}
    GENERATE.plot({"image": f}, {"image": q}, data, [], tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_check_outputs_and_input_spec() -> None:
    GENERATE.check_outputs({"image": (28, 28, 1)}, "g.keras")
    with pytest.raises(ConversionError, match="does not look like a generator"):
        GENERATE.check_outputs({"probs": (10,)}, "g.keras")
    spec = GENERATE.input_spec((64,), None)
    assert (spec.width, spec.height, spec.channels) == (64, 1, 1)
    with pytest.raises(ConversionError, match="latent vector"):
        GENERATE.input_spec((28, 28, 1), None)


def test_load_latents(tmp_path: Path) -> None:
    np.save(tmp_path / "z.npy", np.zeros((5, 64)))
    assert load_latents(tmp_path / "z.npy", 64).dtype == np.float32
    np.save(tmp_path / "bad.npy", np.zeros((5, 32)))
    with pytest.raises(DataError, match=r"\(N, 64\)"):
        load_latents(tmp_path / "bad.npy", 64)


def test_tiny_generator_converts_with_psnr_gate(tmp_path: Path) -> None:
    """An untrained latent -> 28x28 tanh generator, int8 through ``convert``."""
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from converter.convert import ConvertRequest, convert
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    keras.utils.set_random_seed(0)
    keras.Sequential(
        [
            keras.Input((16,), name="latent"),
            keras.layers.Dense(7 * 7 * 8),
            keras.layers.Reshape((7, 7, 8)),
            keras.layers.Conv2DTranspose(4, 4, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),
        ]
    ).save(tmp_path / "gen.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "cal.npy", rng.standard_normal((50, 16)).astype(np.float32))
    np.save(tmp_path / "eval.npy", rng.standard_normal((20, 16)).astype(np.float32))
    report = convert(
        ConvertRequest(
            model=tmp_path / "gen.keras",
            calibration=tmp_path / "cal.npy",
            eval=tmp_path / "eval.npy",
            task="generate",
            latency_seconds=0.05,
            progress=False,
            max_drop=GENERATE.default_max_drop,
        )
    )
    assert report.task == "generate" and report.mode == "int8" and report.float_ops == []
    assert report.comparison["psnr_db"] >= MIN_PSNR_DB
    assert report.gate["drop"] == pytest.approx(MIN_PSNR_DB - report.comparison["psnr_db"])
    out = Path(report.out)
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin=str(out))
    assert manifest.task == "generate" and manifest.input.width == 16
    # The report, table and manifest speak PSNR in dB, with no classification lines.
    psnr = report.comparison["psnr_db"]
    assert report.metrics["quantized"]["psnr_db"] == pytest.approx(psnr)
    assert report.metrics["quantized"]["sqnr_db"] == pytest.approx(report.comparison["sqnr_db"])
    table = report.table()
    (row,) = [line.split() for line in table.splitlines() if line.split()[:1] == ["psnr_db"]]
    assert row == ["psnr_db", "reference", f"{psnr:.1f}", "dB", "vs", "float"]
    assert f"gate: PSNR against float is {psnr:.1f} dB" in table
    assert "reaching the bar of 30 dB (30 dB minus the --max-drop budget of 0 dB)" in table
    assert "top-1" not in table and "accuracy" not in table
    assert "samples with PSNR >= 30 dB against float" in table
    assert manifest.accuracy["metric"] == "psnr_db"
    assert manifest.accuracy["quantized"] == pytest.approx(psnr)
    assert report.ladder[0].reason.startswith("PSNR against float is")
