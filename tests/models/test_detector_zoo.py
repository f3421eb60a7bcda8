"""The shipped detector, re-measured from the shipped files (not from the report's word).

The evaluation scenes are rebuilt from the shipped held-out digits with the recipe's
seed; the int8 model runs the device's way (LiteRT backend, device quantization, the
device's decoder with the manifest's parameters), the float model is the shipped
``.keras``. Both are scored with the converter's ``detect`` task (mAP@0.5).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from converter.tasks.base import TaskEval
from converter.tasks.detect import DetectTask
from edge.eval.metrics import truth_lists
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, Manifest, parse_manifest
from edge.processing.preprocess import quantize
from models.recipe import ZOO
from models.train_detector import (
    EVAL_SCENES,
    MIN_MAP_RATIO,
    STEM,
    check_bar,
    eval_scenes,
    inputs,
)

MODEL = ZOO / f"{STEM}.int8.tflite"
REPORT = ZOO / f"{STEM}.report.json"
MIN_FLOAT_MAP = 0.85


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return parse_manifest(read_model_file(MODEL).metadata[METADATA_NAME], origin=str(MODEL))


@pytest.fixture(scope="module")
def data() -> TaskEval:
    with np.load(ZOO / "digits-holdout.npz") as holdout:
        scenes = eval_scenes(holdout["x"], holdout["y"])
    truth = truth_lists(scenes.boxes, scenes.classes, scenes.image_index, len(scenes))
    return TaskEval(inputs(scenes), truth, "held-out scenes")


@pytest.fixture(scope="module")
def measured(data: TaskEval, manifest: Manifest) -> dict[str, dict[str, float]]:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    model = keras.saving.load_model(ZOO / f"{STEM}.keras", compile=False)
    heads = model.predict(data.x, batch_size=100, verbose=0)
    float_out = {
        name: np.asarray(v, np.float32) for name, v in zip(model.output_names, heads, strict=True)
    }
    backend = LiteRTBackend(read_model_file(MODEL).content, threads=2)
    (spec_in,) = backend.inputs
    # Keyed by the TFLite tensor names: the decoder must find the heads by shape.
    quant_out = {
        spec.name: np.empty((len(data), *spec.shape[1:]), np.float32) for spec in backend.outputs
    }
    for i in range(len(data)):
        raw = backend.infer([quantize(data.x[i : i + 1], spec_in)])
        for spec, value in zip(backend.outputs, raw, strict=True):
            quant_out[spec.name][i] = dequantize(value, spec)[0]
    backend.close()
    task = DetectTask(manifest.decoder.params)
    return {"float": task.metrics(float_out, data), "int8": task.metrics(quant_out, data)}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(REPORT.read_text())
    return result


def test_int8_keeps_the_float_map(
    measured: dict[str, dict[str, float]], report: dict[str, Any]
) -> None:
    float_map, int8_map = measured["float"]["map50"], measured["int8"]["map50"]
    assert float_map >= MIN_FLOAT_MAP
    assert int8_map / float_map >= MIN_MAP_RATIO
    # The report says what the files do, within half a point: float kernels (Keras here)
    # differ between CPU families and the scenes pass OpenCV's resize, whose rounding
    # differs between releases, so a box on the IoU edge may count the other way.
    assert report["metrics"]["float"]["map50"] == pytest.approx(float_map, abs=0.005)
    assert report["metrics"]["quantized"]["map50"] == pytest.approx(int8_map, abs=0.005)
    assert report["samples"]["eval"] == EVAL_SCENES


def test_report_meets_the_bar(report: dict[str, Any]) -> None:
    from converter.report import LadderStep, Report

    fields = dict(report)
    fields["ladder"] = [LadderStep(**step) for step in report["ladder"]]
    assert check_bar(Report(**fields)) == []
    assert report["task"] == "detect" and report["mode"] == "int8"
    assert report["float_ops"] == []
    assert report["size_bytes"]["quantized"] == MODEL.stat().st_size < 3_000_000


def test_manifest_and_separate_heads(manifest: Manifest) -> None:
    assert manifest.task == "detect" and manifest.name == STEM
    assert manifest.labels == [str(i) for i in range(10)]
    assert manifest.input.resize == "letterbox" and manifest.input.colour == "gray"
    assert manifest.decoder.name == "centernet"
    assert manifest.decoder.params["heads"] == "by-shape"
    assert manifest.decoder.params["num_classes"] == 10
    backend = LiteRTBackend(read_model_file(MODEL).content, threads=1)
    shapes = sorted(tuple(spec.shape) for spec in backend.outputs)
    assert shapes == [(1, 24, 24, 4), (1, 24, 24, 10)]
    # Scores and boxes have their own int8 scales: a sigmoid's is 1/256.
    heat = next(spec for spec in backend.outputs if spec.shape[-1] == 10)
    assert (heat.dtype, heat.zero_point) == ("int8", -128)
    assert heat.scale == pytest.approx(1 / 256)
    backend.close()
