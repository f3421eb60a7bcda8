"""SSD-, YOLOv8- and YOLOv5-format models (see ``head_models``) through ``edge run``:
letterboxed 320x180 frames, boxes back in frame coordinates, the right labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from edge.processing.geometry import iou
from tests.conftest import RunEdge, read_jsonl
from tests.edge.head_models import (
    SSD_TRUTH,
    YOLOV5_TRUTH,
    YOLOV8_CLASS_AWARE_TRUTH,
    YOLOV8_TRUTH,
    Truth,
    build_ssd,
    build_yolo,
    write_frame,
)


@pytest.fixture(scope="session")
def heads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("heads")
    return {
        "ssd": build_ssd(folder),
        "yolov8": build_yolo(folder, 8),
        "yolov5": build_yolo(folder, 5),
    }


LETTERBOX = "[model.input]\nresize = 'letterbox'\n"


def _run(
    run_edge: RunEdge, tmp_path: Path, model: Path, truths: list[Truth], *extra: str
) -> tuple[list[dict[str, Any]], str]:
    (tmp_path / "edge.toml").write_text(LETTERBOX)
    frames = write_frame(tmp_path / "frames", truths)
    done = run_edge(
        [
            "run",
            "--config",
            "edge.toml",
            "--model",
            str(model),
            "--source",
            str(frames),
            "--sink",
            "jsonl:out.jsonl",
            *extra,
        ]
    )
    assert done.returncode == 0, done.stderr
    return read_jsonl(tmp_path / "out.jsonl"), done.stderr


def _assert_found(record: dict[str, Any], truths: list[Truth]) -> None:
    detections = record["detections"]
    assert len(detections) == len(truths), detections
    for truth in truths:
        same = [d["box"] for d in detections if d["label"] == truth.label]
        overlaps = iou(np.asarray(truth.box, np.float32), np.asarray(same, np.float32))
        assert overlaps.max(initial=0.0) >= 0.9, (truth, detections)


def test_ssd_format_with_coco_labelmap(
    run_edge: RunEdge,
    tmp_path: Path,
    heads: dict[str, Path],
    result_validator: jsonschema.Draft202012Validator,
) -> None:
    labels = heads["ssd"].parent / "labelmap.txt"
    records, _ = _run(
        run_edge,
        tmp_path,
        heads["ssd"],
        SSD_TRUTH,
        "--decoder",
        "ssd",
        "--labels",
        str(labels),
        "--decoder-opt",
        "label_offset=1",
    )
    assert len(records) == 1
    result_validator.validate(records[0])
    _assert_found(records[0], SSD_TRUTH)


def test_ssd_picked_from_the_outputs_without_a_manifest(
    run_edge: RunEdge, tmp_path: Path, heads: dict[str, Path]
) -> None:
    """No --task, no --decoder: the four outputs say SSD, and the log says so. Without
    label_offset the labels are off by one, which is why the setting exists."""
    labels = heads["ssd"].parent / "labelmap.txt"
    records, stderr = _run(run_edge, tmp_path, heads["ssd"], SSD_TRUTH, "--labels", str(labels))
    assert "decoder ssd picked from its outputs" in stderr
    assert records[0]["model"]["task"] == "detect"
    assert sorted(d["label"] for d in records[0]["detections"]) == ["???", "bicycle"]


@pytest.mark.parametrize(
    ("version", "truths", "options"),
    [
        (8, YOLOV8_TRUTH, ()),
        (5, YOLOV5_TRUTH, ()),
        (8, YOLOV8_CLASS_AWARE_TRUTH, ("--decoder-opt", "agnostic_nms=false")),
    ],
)
def test_yolo_format(
    run_edge: RunEdge,
    tmp_path: Path,
    heads: dict[str, Path],
    *,
    result_validator: jsonschema.Draft202012Validator,
    version: int,
    truths: list[Truth],
    options: tuple[str, ...],
) -> None:
    model = heads[f"yolov{version}"]
    records, _ = _run(
        run_edge,
        tmp_path,
        model,
        truths,
        "--decoder",
        f"yolov{version}",
        "--labels",
        str(model.parent / "labels.txt"),
        *options,
    )
    result_validator.validate(records[0])
    _assert_found(records[0], truths)


@pytest.mark.parametrize("version", [8, 5])
def test_yolo_family_picked_from_the_candidate_count(
    run_edge: RunEdge, tmp_path: Path, heads: dict[str, Path], version: int
) -> None:
    model = heads[f"yolov{version}"]
    records, stderr = _run(
        run_edge, tmp_path, model, [], "--labels", str(model.parent / "labels.txt")
    )
    assert f"decoder yolov{version} picked from its outputs" in stderr
    _assert_found(records[0], YOLOV8_TRUTH if version == 8 else YOLOV5_TRUTH)


def test_yolo11_is_the_yolov8_decoder(
    run_edge: RunEdge, tmp_path: Path, heads: dict[str, Path]
) -> None:
    model = heads["yolov8"]
    records, _ = _run(
        run_edge,
        tmp_path,
        model,
        [],
        "--decoder",
        "yolo11",
        "--labels",
        str(model.parent / "labels.txt"),
    )
    _assert_found(records[0], YOLOV8_TRUTH)


def test_settings_and_filters_change_what_is_reported(
    run_edge: RunEdge, tmp_path: Path, heads: dict[str, Path]
) -> None:
    """A decoder setting (score_threshold) and the filters, from flags and the file."""
    model = heads["yolov8"]
    labels = str(model.parent / "labels.txt")
    records, _ = _run(
        run_edge,
        tmp_path,
        model,
        [],
        "--decoder",
        "yolov8",
        "--labels",
        labels,
        "--decoder-opt",
        "score_threshold=0.75",
    )
    assert sorted(d["label"] for d in records[0]["detections"]) == ["bird", "cat"]
    (tmp_path / "out.jsonl").unlink()
    (tmp_path / "filters.toml").write_text(
        LETTERBOX + "[filters]\ndeny = ['bird']\nthresholds = {dog = 0.8}\n"
    )
    done = run_edge(
        [
            "run",
            "--config",
            "filters.toml",
            "--model",
            str(model),
            "--labels",
            labels,
            "--source",
            str(tmp_path / "frames"),
            "--sink",
            "jsonl:out.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    found = read_jsonl(tmp_path / "out.jsonl")[0]["detections"]
    # The filters apply after NMS: the dog suppressed the second cat on its spot before
    # its own threshold (0.8) removed it, so one cat remains.
    assert sorted(d["label"] for d in found) == ["cat"]


def test_inspect_says_which_decoder_the_outputs_fit(
    run_edge: RunEdge, heads: dict[str, Path]
) -> None:
    import json

    done = run_edge(["inspect", str(heads["yolov8"])])
    assert done.returncode == 0, done.stderr
    assert (
        "its outputs fit decoder yolov8: one head [1, 7, 525] with one candidate per grid "
        "cell (525)" in done.stdout
    )
    as_json = json.loads(run_edge(["inspect", "--json", str(heads["ssd"])]).stdout)
    assert as_json["decoder_guess"]["name"] == "ssd"
    assert [t["name"] for t in as_json["outputs"]] == [
        "TFLite_Detection_PostProcess",
        *(f"TFLite_Detection_PostProcess:{i}" for i in (1, 2, 3)),
    ]
    # The TF-Lite examples' format: uint8 image in, four float32 tensors out.
    assert as_json["inputs"][0]["dtype"] == "uint8"
    assert [(t["shape"], t["dtype"]) for t in as_json["outputs"]] == [
        ([1, 10, 4], "float32"),
        ([1, 10], "float32"),
        ([1, 10], "float32"),
        ([1], "float32"),
    ]
