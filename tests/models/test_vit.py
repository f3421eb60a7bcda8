"""The shipped ViT, re-measured from the shipped files (not from the report's word).

The quantized model runs the device's way (edge LiteRT backend, int8 input codes made
by the device's ``quantize``); the float numbers come from the shipped ``.keras``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize
from edge.sources.synthetic import SyntheticCamera
from models.recipe import ZOO
from models.train_vit import MAX_ACCURACY_DROP, VIT_STEM
from tests.conftest import RunEdge, digit_truth, read_jsonl

KERAS = ZOO / f"{VIT_STEM}.keras"
REPORT = ZOO / f"{VIT_STEM}.report.json"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(REPORT.read_text())
    return result


@pytest.fixture(scope="module")
def model_path(report: dict[str, Any]) -> Path:
    """The one shipped ``digits-vit.<mode>.tflite``; its mode is the ladder's choice."""
    (path,) = ZOO.glob(f"{VIT_STEM}.*.tflite")
    assert path.name == f"{VIT_STEM}.{report['mode']}.tflite"
    return path


@pytest.fixture(scope="module")
def holdout() -> tuple[np.ndarray, np.ndarray]:
    with np.load(ZOO / "digits-holdout.npz") as data:
        return data["x"], data["y"]


@pytest.fixture(scope="module")
def measured(holdout: tuple[np.ndarray, np.ndarray], model_path: Path) -> dict[str, np.ndarray]:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    import models.vit  # noqa: F401  (registers PatchEmbedding and Gelu)

    x, _ = holdout
    inputs = x[..., None].astype(np.float32)
    model = keras.saving.load_model(KERAS, compile=False)
    float_top = np.asarray(model.predict(inputs, batch_size=250, verbose=0)).argmax(axis=1)
    backend = LiteRTBackend(read_model_file(model_path).content, threads=2)
    (spec_in,), (spec_out,) = backend.inputs, backend.outputs
    quant_top = np.array(
        [
            dequantize(backend.infer([quantize(v[None], spec_in)])[0], spec_out).argmax()
            for v in inputs
        ]
    )
    return {"float": float_top, "quantized": quant_top}


def test_quantized_within_two_points_of_float(
    measured: dict[str, np.ndarray], holdout: tuple[np.ndarray, np.ndarray], report: dict[str, Any]
) -> None:
    _, y = holdout
    float_acc = float((measured["float"] == y).mean())
    quant_acc = float((measured["quantized"] == y).mean())
    assert float_acc >= 0.9
    assert float_acc - quant_acc <= MAX_ACCURACY_DROP
    # The report says what the files do, to one held-out digit: Keras's float kernels
    # differ between CPU families, so a digit on the edge may fall the other way here.
    one = 1 / len(y) + 1e-9
    assert report["metrics"]["float"]["accuracy"] == pytest.approx(float_acc, abs=one)
    assert report["metrics"]["quantized"]["accuracy"] == pytest.approx(quant_acc, abs=one)
    agreement = float((measured["float"] == measured["quantized"]).mean())
    assert report["agreement"] == pytest.approx(agreement, abs=one)


def test_no_op_stays_float(model_path: Path, report: dict[str, Any]) -> None:
    from converter.measure import float_ops

    assert report["mode"] == "int8"
    assert float_ops(read_model_file(model_path).content) == []
    assert report["float_ops"] == []
    assert any(note.startswith("rewrote 9 LayerNormalization") for note in report["rewrites"])


def test_manifest_names_the_vit(model_path: Path) -> None:
    model_file = read_model_file(model_path)
    manifest = parse_manifest(model_file.metadata[METADATA_NAME], origin=str(model_path))
    assert manifest.name == VIT_STEM
    assert manifest.task == "classify"
    assert manifest.input.resize == "crop"


def test_edge_run_reads_the_synthetic_camera(
    run_edge: RunEdge, tmp_path: Path, model_path: Path
) -> None:
    done = run_edge(["run", "--model", str(model_path.resolve()), "--max-frames", "100"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "detections.jsonl")
    assert len(records) == 100
    truth = SyntheticCamera(fps=None)  # the same defaults as `edge run`
    agree = sum(
        bool(r["detections"])
        and int(r["detections"][0]["label"]) == digit_truth(truth, r["source"]["frame"]).label
        for r in records
    )
    assert agree / len(records) >= 0.9, f"{agree}/100 frames agree with the drawn digit"


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 17 min measured on 2 shared cores: over the default 600 s
def test_training_reproduces_the_shipped_vit(
    tmp_path: Path, report: dict[str, Any], model_path: Path
) -> None:
    """The whole recipe (10-20 minutes on 2 shared cores) reaches the shipped quality.

    Not the shipped bytes on every machine: TensorFlow's float training kernels differ
    between CPU families (see the CNN's slow test), so the check is the quality, within
    a point, and the int8 agreement; identical bytes are reported when they happen."""
    from models.train_vit import main

    assert main(["--out", str(tmp_path)]) == 0
    fresh = json.loads((tmp_path / REPORT.name).read_text())
    for side in ("float", "quantized"):
        assert fresh["metrics"][side]["accuracy"] == pytest.approx(
            report["metrics"][side]["accuracy"], abs=0.01
        )
    assert fresh["agreement"] >= report["agreement"] - 0.01
    same_bytes = (tmp_path / model_path.name).read_bytes() == model_path.read_bytes()
    print(
        f"retrained ViT: accuracy {fresh['metrics']['quantized']['accuracy']} (shipped "
        f"{report['metrics']['quantized']['accuracy']}); identical bytes: {same_bytes}"
    )
