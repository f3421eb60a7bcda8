"""The README's table of the shipped models ("## The shipped models"), re-measured.

Each row's quantized figure is measured again from the shipped ``.tflite`` the device's
way (LiteRT through ``edge.model.backends.litert``, the device's input quantization) on the
model's held-out data, and compared with the number the README prints, within that
number's own rounding (half a unit of its last digit: 98.1 % means 98.05..98.15 %,
0.933 means 0.9325..0.9335). The int8 size column is checked against the files. So a
retrained zoo or an edited README that disagree fail here, not in a user's hands.

The generator's PSNR is measured against the float model's outputs that ship in
``digits-dcgan-eval.npz`` (``models.eval_sets``). The metrics are ``edge.eval.metrics``,
the ones ``edge eval`` prints; ``tests/edge/eval`` checks the same figures through that
command. Not re-measured here: the float column and the generator's SQNR (they need the
float Keras model, so TensorFlow: ``tests/models/test_gan.py`` and
``test_zoo_artifacts.py`` check them against the reports), and the speed column (a
machine-dependent figure, ``benchmarks/int8_vs_float.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from converter.tasks.base import TaskEval
from converter.tasks.detect import DetectTask
from edge.eval.metrics import psnr_db, roc_auc, truth_lists
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize
from models.recipe import ZOO
from tests.models.readme_table import first_number, readme_rows


def int8_outputs(stem: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs by tensor name, stacked, from the shipped int8 file the device's way."""
    backend = LiteRTBackend(read_model_file(ZOO / f"{stem}.int8.tflite").content, threads=2)
    (spec_in,) = backend.inputs
    out = {spec.name: np.empty((len(x), *spec.shape[1:]), np.float32) for spec in backend.outputs}
    for i in range(len(x)):
        raw = backend.infer([quantize(x[i : i + 1], spec_in)])
        for spec, value in zip(backend.outputs, raw, strict=True):
            out[spec.name][i] = dequantize(value, spec)[0]
    backend.close()
    return out


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    return readme_rows()


@pytest.fixture(scope="module")
def holdout() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ZOO / "digits-holdout.npz") as data:
        return data["x"][..., None].astype(np.float32), data["y"]


@pytest.mark.parametrize("stem", ["digits-cnn", "digits-vit", "digits-crops"])
def test_classifier_accuracy(
    stem: str, rows: dict[str, dict[str, str]], holdout: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = holdout
    if stem == "digits-crops":  # the second stage: held-out digits as crops of scenes
        with np.load(ZOO / "digits-crops-eval.npz") as data:
            x, y = data["x"][..., None].astype(np.float32), data["y"]
    (scores,) = int8_outputs(stem, x).values()
    accuracy = 100 * float(np.mean(scores.argmax(axis=1) == y))
    printed, tolerance = first_number(rows[stem]["quantized"])
    assert accuracy == pytest.approx(printed, abs=tolerance + 1e-9), (stem, accuracy)


def test_detector_map(rows: dict[str, dict[str, str]]) -> None:
    from models.train_detector import STEM, eval_scenes, inputs

    with np.load(ZOO / "digits-holdout.npz") as data:
        scenes = eval_scenes(data["x"], data["y"])
    truth = truth_lists(scenes.boxes, scenes.classes, scenes.image_index, len(scenes))
    data_set = TaskEval(inputs(scenes), truth, "held-out scenes")
    model = read_model_file(ZOO / f"{STEM}.int8.tflite")
    manifest = parse_manifest(model.metadata[METADATA_NAME], origin=STEM)
    measured = DetectTask(manifest.decoder.params).metrics(
        int8_outputs(STEM, data_set.x), data_set
    )["map50"]
    printed, tolerance = first_number(rows[STEM]["quantized"])
    assert measured == pytest.approx(printed, abs=tolerance + 1e-9), measured


def test_anomaly_roc_auc(rows: dict[str, dict[str, str]]) -> None:
    from models.train_gan import ANOMALY_EVAL_FILE, ANOMALY_STEM

    with np.load(ZOO / ANOMALY_EVAL_FILE) as data:
        x, y = data["x"][..., None].astype(np.float32), data["y"]
    (scores,) = int8_outputs(ANOMALY_STEM, x).values()
    measured = roc_auc(scores.reshape(-1), y)
    printed, tolerance = first_number(rows[ANOMALY_STEM]["quantized"])
    assert measured == pytest.approx(printed, abs=tolerance + 1e-9), measured


def test_generator_psnr(rows: dict[str, dict[str, str]]) -> None:
    from models.eval_sets import GENERATOR_EVAL_FILE
    from models.train_gan import GENERATOR_STEM

    with np.load(ZOO / GENERATOR_EVAL_FILE) as data:
        x, reference = data["x"], data["reference"]
    (images,) = int8_outputs(GENERATOR_STEM, x).values()
    measured = psnr_db(reference, images)
    printed, tolerance = first_number(rows[GENERATOR_STEM]["quantized"])
    assert measured == pytest.approx(printed, abs=tolerance + 1e-9), measured


def test_int8_sizes_and_ladder_steps(rows: dict[str, dict[str, str]]) -> None:
    """ "904 → 236 KB": the right-hand number is the shipped int8 file in kB (1,000 bytes);
    the ladder step is the manifest's quantization mode."""
    for stem, row in rows.items():
        path = ZOO / f"{stem}.int8.tflite"
        printed, tolerance = first_number(row["size"].split("→", 1)[1])
        assert path.stat().st_size / 1000 == pytest.approx(printed, abs=tolerance), stem
        manifest = parse_manifest(read_model_file(path).metadata[METADATA_NAME], origin=stem)
        assert manifest.quantization is not None, stem
        assert manifest.quantization.mode == row["step"], stem
        assert manifest.task == row["task"], stem
