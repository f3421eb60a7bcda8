"""The shipped crop classifier (``[refine]``'s second stage), re-measured from the shipped
files, not from the report's word: the held-out crops rebuilt with the recipe's seed, the
float model from the shipped ``.keras``, the int8 one through LiteRT the device's way."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize
from models.recipe import ZOO, check_bar, digit_inputs
from models.train_crops import STEM, eval_crops

MODEL = ZOO / f"{STEM}.int8.tflite"
REPORT = ZOO / f"{STEM}.report.json"


@pytest.fixture(scope="module")
def crops() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ZOO / "digits-holdout.npz") as holdout:
        x, y = eval_crops(holdout["x"], holdout["y"])
    return digit_inputs(x), y


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(REPORT.read_text())
    return result


def _int8_top(x: np.ndarray) -> np.ndarray:
    backend = LiteRTBackend(read_model_file(MODEL).content, threads=2)
    (spec_in,), (spec_out,) = backend.inputs, backend.outputs
    top = np.empty(len(x), np.int64)
    for i in range(len(x)):
        (raw,) = backend.infer([quantize(x[i : i + 1], spec_in)])
        top[i] = int(np.argmax(dequantize(raw, spec_out)))
    backend.close()
    return top


def test_the_report_is_what_the_files_do(
    crops: tuple[np.ndarray, np.ndarray], report: dict[str, Any]
) -> None:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    x, y = crops
    model = keras.saving.load_model(ZOO / f"{STEM}.keras", compile=False)
    float_top = np.asarray(model.predict(x, batch_size=256, verbose=0)).argmax(axis=1)
    int8_top = _int8_top(x)
    # Within one crop of the report: float kernels differ between CPU families and the
    # crops pass OpenCV's resizes, so a crop on a decision edge may go the other way.
    one = 1 / len(y) + 1e-9
    assert report["metrics"]["float"]["accuracy"] == pytest.approx(np.mean(float_top == y), abs=one)
    assert report["metrics"]["quantized"]["accuracy"] == pytest.approx(
        np.mean(int8_top == y), abs=one
    )
    assert np.mean(int8_top == float_top) >= 0.99
    assert np.mean(int8_top == y) >= 0.99  # what the second stage is for (docs/refine.md)
    assert report["samples"]["eval"] == len(y)


def test_report_meets_the_bar_and_the_manifest_fits_the_crops(report: dict[str, Any]) -> None:
    from converter.report import LadderStep, Report

    fields = dict(report)
    fields["ladder"] = [LadderStep(**step) for step in report["ladder"]]
    assert check_bar(Report(**fields)) == []
    assert report["task"] == "classify" and report["mode"] == "int8" and report["float_ops"] == []
    manifest = parse_manifest(read_model_file(MODEL).metadata[METADATA_NAME], origin=str(MODEL))
    assert manifest.task == "classify" and manifest.labels == [str(i) for i in range(10)]
    assert (manifest.input.width, manifest.input.height, manifest.input.colour) == (28, 28, "gray")
    # Every crop gets its top label: [refine] min_confidence decides, not the manifest.
    assert manifest.decoder.params["threshold"] == 0.0
