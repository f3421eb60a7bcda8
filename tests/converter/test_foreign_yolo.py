"""A model from elsewhere that just works: a YOLOv8-format detector taking 0..1 pixels,
as Ultralytics exports it.

- Exported the Ultralytics way (an int8 ``.tflite`` without an edge manifest, then
  ``metadata.json`` appended as a zip member exactly as its exporter's
  ``_add_tflite_metadata`` does), ``edge run --model M`` alone decodes it with yolov8 and
  reports the names it carries; ``edge inspect`` says what it read; flags override it.
- Converted by ``edge convert`` at the wrong input range (the default 0..255 for a model
  that takes 0..1), the converter warns that the float model's own outputs look
  degenerate and names the usual ranges; at the right range it does not.

One Keras model and one Ultralytics-style export for the module."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import RunEdge, read_jsonl

NAMES = {0: "cat", 1: "dog", 2: "bird"}
SIZE = 32


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def _yolov8_taking_unit_pixels(keras: Any) -> Any:
    """32x32 RGB in 0..1 (no Rescaling: YOLOv8 takes pixels / 255) -> [1, 4 + 3, 64]:
    centre/size boxes in input pixels, sigmoid class scores (bias 1: mostly above the
    decoder's 0.25 threshold, so frames have boxes); untrained, weights seeded."""
    keras.utils.set_random_seed(5)
    layers = keras.layers
    inputs = keras.Input((SIZE, SIZE, 3), name="images")
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)  # 8x8 cells
    boxes = layers.Rescaling(float(SIZE))(layers.Conv2D(4, 1, activation="sigmoid")(h))
    scores = layers.Conv2D(
        len(NAMES), 1, activation="sigmoid", bias_initializer=keras.initializers.Constant(1.0)
    )(h)
    head = layers.Reshape((64, 4 + len(NAMES)))(layers.Concatenate()([boxes, scores]))
    return keras.Model(inputs, layers.Permute((2, 1))(head))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``yolo.keras``, a folder of calibration images, and ``yolo_int8.tflite``: the model
    converted to int8 (no edge manifest) with Ultralytics' metadata appended."""
    from converter.calibration import Calibration
    from converter.quantize import convert_saved_model, exported_saved_model

    keras = _keras()
    here = tmp_path_factory.mktemp("foreign")
    model = _yolov8_taking_unit_pixels(keras)
    model.save(here / "yolo.keras")
    rng = np.random.default_rng(0)
    images = here / "images"
    images.mkdir()
    for i in range(12):  # smooth colour blobs: camera-like pixels
        small = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
        cv2.imwrite(str(images / f"{i:02d}.png"), cv2.resize(small, (SIZE, SIZE)))
    x = rng.uniform(0, 1, (16, SIZE, SIZE, 3)).astype(np.float32)
    with exported_saved_model(model, (SIZE, SIZE, 3), "images") as saved:
        content = convert_saved_model(saved, "int8", calibration=Calibration(x, "unit pixels"))
    (here / "yolo_plain.tflite").write_bytes(content)
    out = here / "yolo_int8.tflite"
    out.write_bytes(content)
    metadata = {
        "description": "Ultralytics YOLOv8n model trained on pets.yaml",
        "author": "Ultralytics",
        "version": "8.3.0",
        "stride": 32,
        "task": "detect",
        "batch": 1,
        "imgsz": [SIZE, SIZE],
        "names": NAMES,
        "args": {"batch": 1, "int8": True, "nms": False},
        "channels": 3,
    }
    # Ultralytics' exporter, _add_tflite_metadata, verbatim in effect:
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata, indent=2))
    return here


def test_edge_run_needs_only_the_model(folder: Path, run_edge: RunEdge, tmp_path: Path) -> None:
    model = folder / "yolo_int8.tflite"
    done = run_edge(["run", "--model", str(model), "--max-frames", "3", "--sink", "jsonl:o.jsonl"])
    assert done.returncode == 0, done.stderr
    assert (
        "yolo_int8.tflite has no edge manifest; read its Ultralytics metadata: task detect, "
        "3 names (cat, dog, bird), imgsz 32x32, stride 32, Ultralytics 8.3.0 -> decoder yolov8"
    ) in done.stderr
    records = read_jsonl(tmp_path / "o.jsonl")
    assert len(records) == 3 and records[0]["model"]["task"] == "detect"
    labels = {d["label"] for r in records for d in r["detections"]}
    assert labels and labels <= set(NAMES.values()), labels

    # Flags override what the metadata says.
    (tmp_path / "labels.txt").write_text("A\nB\nC\n")
    done = run_edge(
        ["run", "--model", str(model), "--max-frames", "2", "--labels", "labels.txt",
         "--sink", "jsonl:p.jsonl"]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    labels = {d["label"] for r in read_jsonl(tmp_path / "p.jsonl") for d in r["detections"]}
    assert labels and labels <= {"A", "B", "C"}, labels

    shown = run_edge(["inspect", str(model), "--json"])
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)["ultralytics"]
    assert found["names"] == ["cat", "dog", "bird"] and found["decoder"] == "yolov8"
    text = run_edge(["inspect", str(model)])
    assert "Ultralytics metadata: task detect, 3 names ['cat', 'dog', 'bird']" in text.stdout


def test_hostile_metadata_is_a_clear_refusal(
    folder: Path, run_edge: RunEdge, tmp_path: Path
) -> None:
    model = tmp_path / "bomb.tflite"
    buffer = io.BytesIO((folder / "yolo_plain.tflite").read_bytes())
    buffer.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", b"[" * 5_000_000)  # deflates to a few KiB
    model.write_bytes(buffer.getvalue())
    done = run_edge(["run", "--model", str(model), "--max-frames", "1"])
    assert done.returncode == 78, done.stderr
    assert "carries Ultralytics metadata" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("input_range", "warned"), [(None, True), ("0..1", False)])
def test_wrong_input_range_warns_and_names_the_usual_ranges(
    folder: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], input_range: Any, warned: bool
) -> None:
    """The default 0..255 on a model that takes 0..1: the float model scores one class at
    nearly 1.0 on every anchor, and the converter says so while it runs (stderr) and in
    the report; at the right range it does not."""
    from converter.convert import ConvertRequest, convert

    report = convert(
        ConvertRequest(
            model=folder / "yolo.keras",
            calibration=folder / "images",
            task="detect",
            input_range=input_range,
            out=tmp_path / "yolo.tflite",
            mode="int8",
            progress=False,
            phases=True,
            latency_seconds=0.02,
        )
    )
    stderr = capfd.readouterr().err
    warning = [w for w in report.warnings if "look degenerate" in w]
    assert bool(warning) is warned, report.warnings
    assert ("edge convert: warning: the float model's own outputs look degenerate" in stderr) is (
        warned
    )
    if warned:
        (text,) = warning
        assert "wins at every one of the 64 anchors of all 12 inputs" in text
        assert "the calibration images were fed as 0..255" in text
        assert "YOLO (Ultralytics) 0..1" in text and "MobileNetV2" in text
        assert text.endswith("Try --input-range 0..1 or --input-range=-1..1.")
    # Phase lines, each with the time since the conversion began.
    assert "edge convert: [  0.0 s] reading yolo.keras as data" in stderr
    assert "] int8: converting, then running it the device's way" in stderr
