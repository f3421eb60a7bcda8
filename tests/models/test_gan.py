"""The shipped DCGAN generator and anomaly model, re-measured from the shipped files.

Float numbers come from the shipped ``.keras`` files, int8 numbers from the shipped
``.tflite`` files run the device's way (edge LiteRT backend, ``quantize`` on the way in,
``dequantize`` on the way out). The reports must say what the files do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.eval.metrics import psnr_db, roc_auc
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize
from models.train_gan import (
    ANOMALY_EVAL_FILE,
    ANOMALY_STEM,
    GENERATOR_STEM,
    LATENTS_FILE,
    MAX_ROC_AUC_DROP,
    MIN_GENERATOR_PSNR_DB,
    MIN_ROC_AUC,
    ZOO,
)


def _report(stem: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((ZOO / f"{stem}.report.json").read_text())
    return result


def _keras(stem: str) -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras.saving.load_model(ZOO / f"{stem}.keras", compile=False)


def _int8_outputs(stem: str, x: np.ndarray) -> np.ndarray:
    backend = LiteRTBackend(read_model_file(ZOO / f"{stem}.int8.tflite").content, threads=2)
    (spec_in,), (spec_out,) = backend.inputs, backend.outputs
    return np.stack(
        [dequantize(backend.infer([quantize(v[None], spec_in)])[0], spec_out)[0] for v in x]
    )


@pytest.fixture(scope="module")
def generated() -> dict[str, np.ndarray]:
    with np.load(ZOO / LATENTS_FILE) as data:
        latents = data["x"]
    images = np.asarray(_keras(GENERATOR_STEM).predict(latents, batch_size=64, verbose=0))
    return {"float": images, "int8": _int8_outputs(GENERATOR_STEM, latents)}


@pytest.fixture(scope="module")
def scored() -> dict[str, np.ndarray]:
    with np.load(ZOO / ANOMALY_EVAL_FILE) as data:
        x, y, kind = data["x"], data["y"], data["kind"]
    inputs = x[..., None].astype(np.float32)
    float_scores = np.asarray(_keras(ANOMALY_STEM).predict(inputs, batch_size=128, verbose=0))
    return {
        "float": float_scores.reshape(-1),
        "int8": _int8_outputs(ANOMALY_STEM, inputs).reshape(-1),
        "y": y,
        "kind": kind,
    }


def test_generator_int8_psnr_against_float(generated: dict[str, np.ndarray]) -> None:
    f, q = generated["float"], generated["int8"]
    assert f.shape == q.shape == (len(f), 28, 28, 1)
    assert f.min() >= -1 and f.max() <= 1
    psnr = psnr_db(f, q)
    assert psnr >= MIN_GENERATOR_PSNR_DB
    report = _report(GENERATOR_STEM)
    assert report["comparison"]["psnr_db"] == pytest.approx(psnr, abs=0.01)
    assert report["float_ops"] == [] and report["mode"] == "int8"


def test_generator_makes_digit_like_images(generated: dict[str, np.ndarray]) -> None:
    """Not a blank or constant output: dark background, some bright strokes per image."""
    images = generated["float"][..., 0]
    bright = (images > 0.5).mean(axis=(1, 2))
    dark = (images < -0.5).mean(axis=(1, 2))
    assert np.median(dark) > 0.5 and np.median(bright) > 0.05
    assert images.std(axis=0).mean() > 0.1  # different latents, different images


def test_anomaly_roc_auc_float_and_int8(scored: dict[str, np.ndarray]) -> None:
    y = scored["y"]
    float_auc, int8_auc = roc_auc(scored["float"], y), roc_auc(scored["int8"], y)
    assert float_auc >= MIN_ROC_AUC
    assert float_auc - int8_auc <= MAX_ROC_AUC_DROP
    report = _report(ANOMALY_STEM)
    assert report["metrics"]["float"]["roc_auc"] == pytest.approx(float_auc, abs=1e-4)
    assert report["metrics"]["quantized"]["roc_auc"] == pytest.approx(int8_auc, abs=1e-4)
    assert report["float_ops"] == [] and report["mode"] == "int8"


def test_verdicts_at_the_shipped_threshold(scored: dict[str, np.ndarray]) -> None:
    """What the device decides (int8 score > manifest threshold), per kind of frame.

    The reconstruction error alone missed every dark blank frame and empty background
    (G reconstructs "nothing" almost perfectly); the designed emptiness term of the
    score flags them. Letters stay a measured blind spot (reconstructed like digits).
    """
    manifest = parse_manifest(
        read_model_file(ZOO / f"{ANOMALY_STEM}.int8.tflite").metadata[METADATA_NAME],
        origin=ANOMALY_STEM,
    )
    threshold = manifest.decoder.params["threshold"]
    kind, q = scored["kind"], scored["int8"]
    with np.load(ZOO / ANOMALY_EVAL_FILE) as data:
        level = data["x"].mean(axis=(1, 2))
    flagged = q > threshold
    assert flagged[kind == "noise"].mean() == 1.0
    assert flagged[(kind == "blank") & (level > 150)].mean() == 1.0  # lamp / white wall
    assert flagged[(kind == "blank") & (level < 45)].mean() == 1.0  # covered lens, empty
    assert flagged[kind == "shapes"].mean() >= 0.5
    assert flagged[kind == "digit"].mean() <= 0.03  # about 1 % by construction


def test_blank_frames_rank_above_every_digit(scored: dict[str, np.ndarray]) -> None:
    """Per-kind ROC-AUC of blank frames vs digits, float and int8: the emptiness term."""
    kind, y = scored["kind"], scored["y"]
    pick = (kind == "digit") | (kind == "blank")
    for side in ("float", "int8"):
        assert roc_auc(scored[side][pick], y[pick]) == 1.0, side


def test_emptiness_term_is_zero_for_training_digits_and_flags_inkless_frames() -> None:
    """The designed part of the score, from the shipped ``.keras``: its two numbers come
    from the training digits (recipe step 3); a uniform frame gets the full term."""
    from models.data import DEFAULT_SEED, split_digits
    from models.gan import INK_CONTRAST, INK_STEEPNESS, build_parts_model
    from models.train_gan import (
        EMPTY_FRAME_FACTOR,
        ERROR_PERCENTILE,
        INK_FLOOR_PERCENTILE,
        normal_images,
    )

    model = _keras(ANOMALY_STEM)
    floor_layer = model.get_layer("missing_ink")
    weight = -float(floor_layer.scale)
    floor = float(floor_layer.offset) / weight
    images = normal_images(split_digits(DEFAULT_SEED), seed=DEFAULT_SEED)[::7]
    parts = build_parts_model(model.get_layer("encoder"), model.get_layer("generator"))
    error, ink = (
        np.asarray(v).reshape(-1)
        for v in parts.predict(images[..., None].astype(np.float32), batch_size=256, verbose=0)
    )
    # A subsample of the training digits: the percentiles land near the shipped numbers.
    assert np.mean(ink < floor) == pytest.approx(INK_FLOOR_PERCENTILE / 100, abs=0.01)
    assert weight * floor == pytest.approx(
        EMPTY_FRAME_FACTOR * np.percentile(error, ERROR_PERCENTILE), rel=0.15
    )
    uniform = np.stack([np.full((28, 28, 1), level, np.float32) for level in (0, 20, 230)])
    score = np.asarray(model.predict(uniform, verbose=0)).reshape(-1)
    # A uniform frame's ink is sigmoid(-steepness * contrast) per pixel, about 3e-4.
    no_ink = 1.0 / (1.0 + np.exp(INK_STEEPNESS * INK_CONTRAST))
    assert (score >= weight * (floor - no_ink)).all()  # the whole term, plus the error
    assert (score > _report(ANOMALY_STEM)["comparison"]["threshold"]).all()


def test_anomaly_manifest_describes_the_camera_path() -> None:
    path = ZOO / f"{ANOMALY_STEM}.int8.tflite"
    model_file = read_model_file(path)
    manifest = parse_manifest(model_file.metadata[METADATA_NAME], origin=str(path))
    assert (manifest.name, manifest.task, manifest.decoder.name) == (
        ANOMALY_STEM,
        "anomaly",
        "anomaly",
    )
    assert manifest.decoder.params["threshold"] == pytest.approx(
        _report(ANOMALY_STEM)["comparison"]["threshold"]
    )
    spec = manifest.input
    assert (spec.width, spec.height, spec.colour, spec.resize) == (28, 28, "gray", "crop")
    assert (spec.scale, spec.offset) == (1.0, 0.0)
    backend = LiteRTBackend(model_file.content, threads=1)
    tensor = backend.inputs[0]
    # Rescaling inside the model: a camera pixel p is exactly the int8 input p - 128.
    assert (tensor.dtype, tensor.scale, tensor.zero_point) == ("int8", 1.0, -128)


def test_shipped_eval_set_is_the_recipe_output() -> None:
    from models.data import DEFAULT_SEED, split_digits
    from models.train_gan import anomaly_eval_set

    x, y, kind = anomaly_eval_set(split_digits(DEFAULT_SEED), seed=DEFAULT_SEED)
    with np.load(ZOO / ANOMALY_EVAL_FILE) as data:
        np.testing.assert_array_equal(data["y"], y)
        np.testing.assert_array_equal(data["kind"], kind)
        # The frames go through OpenCV (warpAffine for the digits; putText with
        # antialiasing for the letters), whose rounding differs between releases: 5.1
        # against 5.0, which made the shipped file, moves digit pixels by one grey level
        # and antialiased letter edges by up to 76 (a frame's mean by at most 2.7). The
        # test does not pin OpenCV for that; anything beyond it is a different recipe (the
        # next seed moves every frame by tens of levels on average).
        assert data["x"].shape == x.shape and data["x"].dtype == x.dtype
        step = np.abs(data["x"].astype(np.int16) - x.astype(np.int16))
        assert step[kind == "digit"].max() <= 1, int(step[kind == "digit"].max())
        per_frame = step.reshape(len(step), -1).mean(axis=1)
        assert per_frame.max() <= 4, (float(per_frame.max()), kind[per_frame.argmax()])


def test_artifacts_are_small() -> None:
    for stem in (GENERATOR_STEM, ANOMALY_STEM):
        for suffix in (".keras", ".int8.tflite", ".report.json", ".report.png"):
            path = ZOO / f"{stem}{suffix}"
            assert path.exists() and path.stat().st_size < 3_500_000, path  # ~3 MB each


@pytest.mark.slow
@pytest.mark.timeout(1800)  # about 8 minutes measured: too close to the default 600 s
def test_training_reproduces_the_shipped_reports(tmp_path: Path) -> None:
    """The whole recipe (about 8 minutes on 2 shared cores) reaches the shipped quality.

    Not the shipped numbers to the last digit on every machine: TensorFlow's float
    training kernels differ between CPU families (see the CNN's slow test). So: the
    detector's ROC-AUC within 0.02, the generator's int8 PSNR within 3 dB, and int8
    agreement with float no worse than a point below the shipped."""
    from models.train_gan import main

    assert main(["--out", str(tmp_path)]) == 0
    fresh_auc = json.loads((tmp_path / f"{ANOMALY_STEM}.report.json").read_text())
    shipped_auc = _report(ANOMALY_STEM)
    for side in ("float", "quantized"):
        assert fresh_auc["metrics"][side]["roc_auc"] == pytest.approx(
            shipped_auc["metrics"][side]["roc_auc"], abs=0.02
        )
    fresh_gen = json.loads((tmp_path / f"{GENERATOR_STEM}.report.json").read_text())
    shipped_gen = _report(GENERATOR_STEM)
    assert fresh_gen["comparison"]["psnr_db"] >= shipped_gen["comparison"]["psnr_db"] - 3
    for fresh, shipped in ((fresh_auc, shipped_auc), (fresh_gen, shipped_gen)):
        assert fresh["comparison"]["agreement"] >= shipped["comparison"]["agreement"] - 0.01
