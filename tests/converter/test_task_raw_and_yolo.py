"""Models nobody here trained: a YOLOv8-format detector under ``detect`` (decoded by the
device's ``yolov8`` decoder, mAP against float and box agreement) and a segmentation-like
model under the generic ``raw`` task (SQNR and cosine similarity per output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import RunEdge, read_jsonl

CLASSES = 3


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _yolov8(tmp_path: Path) -> Path:
    """32x32 gray -> [1, 4 + 3, 64]: the Ultralytics YOLOv8 layout (channels first), boxes
    as centre/size in input pixels, sigmoid class scores; untrained, weights seeded."""
    keras = _keras()
    keras.utils.set_random_seed(3)
    inputs = keras.Input((32, 32, 1))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(h)  # 8x8
    boxes = keras.layers.Conv2D(4, 1, activation="sigmoid")(h)
    boxes = keras.layers.Rescaling(32.0)(boxes)  # pixels of the 32x32 input
    scores = keras.layers.Conv2D(CLASSES, 1, activation="sigmoid")(h)
    head = keras.layers.Reshape((64, 4 + CLASSES))(keras.layers.Concatenate()([boxes, scores]))
    outputs = keras.layers.Permute((2, 1))(head)  # [batch, 7, 64]
    keras.Model(inputs, outputs).save(tmp_path / "yolo.keras")
    return tmp_path / "yolo.keras"


def test_yolov8_head_converts_under_detect_and_runs(tmp_path: Path, run_edge: RunEdge) -> None:
    from converter.convert import ConvertRequest, convert
    from converter.tasks.detect import decode_all, head_of
    from converter.tasks.registry import TASKS
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    model_path = _yolov8(tmp_path)
    keras = _keras()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (24, 32, 32, 1)).astype(np.float32)
    np.save(tmp_path / "cal.npy", x[:16])
    # Eval truth: the float model's own detections (what "mAP against float" means).
    float_out = keras.saving.load_model(model_path).predict(x[16:], verbose=0)
    assert head_of({"out": float_out.shape[1:]}) == "yolov8"
    params = {
        **TASKS["detect"].head_params("yolov8", {"out": float_out}),  # type: ignore[attr-defined]
        "input_width": 32,
        "input_height": 32,
        "agnostic_nms": False,  # mAP's protocol (edge.eval.metrics.MAP_PROTOCOL)
    }
    truth = decode_all({"out": float_out}, params, "yolov8")
    boxes = np.concatenate([b for b, _, _ in truth])
    np.savez(
        tmp_path / "eval.npz",
        x=x[16:],
        boxes=boxes,
        classes=np.concatenate([c for _, _, c in truth]),
        image_index=np.concatenate([[i] * len(b) for i, (b, _, _) in enumerate(truth)]),
    )
    assert len(boxes) > 0
    out = tmp_path / "yolo.tflite"
    report = convert(ConvertRequest(
        model=model_path, calibration=tmp_path / "cal.npy", eval=tmp_path / "eval.npz",
        task="detect", out=out, mode="int8", progress=False, latency_seconds=0.02))  # fmt: skip
    assert report.metrics["float"]["map50"] == pytest.approx(1.0)
    ratio = report.comparison["map50_ratio"]
    assert 0.5 < ratio <= 1.0 and report.metrics["quantized"]["map50"] == pytest.approx(ratio)
    assert "map50 fell by" in report.gate["reason"]
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.decoder.name == "yolov8" and manifest.labels == ["0", "1", "2"]
    assert manifest.decoder.params["coordinates"] == "pixels"

    done = run_edge(["run", "--model", str(out), "--max-frames", "3", "--sink", "jsonl:o.jsonl"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert len(records) == 3 and all("detections" in r for r in records)


def test_segmentation_like_model_converts_under_raw(tmp_path: Path, run_edge: RunEdge) -> None:
    from converter.convert import ConvertRequest, convert
    from edge.model.file import read_model_file
    from edge.model.manifest import METADATA_NAME, parse_manifest

    keras = _keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    mask = keras.layers.Conv2D(4, 1, activation="softmax", name="mask")(h)  # per-pixel classes
    embedding = keras.layers.Dense(8, name="embedding")(keras.layers.GlobalAveragePooling2D()(h))
    keras.Model(inputs, [mask, embedding]).save(tmp_path / "seg.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "cal.npy", rng.uniform(0, 255, (16, 16, 16, 3)).astype(np.float32))
    report = convert(
        ConvertRequest(
            model=tmp_path / "seg.keras",
            calibration=tmp_path / "cal.npy",
            task="raw",
            progress=False,
            latency_seconds=0.02,
            out=tmp_path / "seg.tflite",
        )
    )
    assert report.mode == "int8"
    compare = report.comparison
    assert {"mask_sqnr_db", "embedding_sqnr_db", "mask_cosine", "embedding_cosine"} <= set(compare)
    assert compare["min_sqnr_db"] == min(compare["mask_sqnr_db"], compare["embedding_sqnr_db"])
    assert compare["min_sqnr_db"] >= 20 and compare["min_cosine"] > 0.99
    assert report.metrics["quantized"]["min_sqnr_db"] == pytest.approx(compare["min_sqnr_db"])
    assert report.gate["reason"].startswith("the lowest SQNR against float is")
    assert "accuracy" not in report.table() and "top-1" not in report.table()
    manifest = parse_manifest(
        read_model_file(tmp_path / "seg.tflite").metadata[METADATA_NAME], origin="t"
    )
    assert manifest.task == "raw" and manifest.decoder.name == "raw"
    # No device decoder fits: edge run refuses it with exit 78 and the decoders it knows.
    done = run_edge(["run", "--model", str(tmp_path / "seg.tflite"), "--max-frames", "1"])
    assert done.returncode == 78 and "unknown decoder 'raw'" in done.stderr
