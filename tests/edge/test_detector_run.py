"""``edge run`` with the shipped int8 detector on multi-digit frames of the synthetic camera."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from edge.config.sources import SyntheticSourceConfig
from edge.processing.geometry import iou
from edge.sources.synthetic import DigitTruth, SceneTruth, SyntheticCamera
from models.recipe import ZOO
from models.train_detector import STEM
from tests.conftest import RunEdge, read_jsonl

MODEL = ZOO / f"{STEM}.int8.tflite"


def _cameras() -> list[SyntheticCamera]:
    return [
        SyntheticCamera(fps=None, seed=seed, hold_frames=1, digit_count=count)
        for seed, count in ((11, 2), (12, 3), (13, 4))
    ]


def _matches(records: list[dict[str, Any]], truths: list[Any]) -> tuple[int, int]:
    """(drawn digits found with IoU >= 0.5 and the right label, drawn digits)."""
    found = drawn = 0
    for record, truth in zip(records, truths, strict=True):
        assert isinstance(truth, SceneTruth)
        boxes = np.asarray([d["box"] for d in record["detections"]], np.float32).reshape(-1, 4)
        labels = [d["label"] for d in record["detections"]]
        for digit in truth.digits:
            drawn += 1
            overlaps = iou(np.asarray(digit.box, np.float32), boxes)
            found += any(
                o >= 0.5 and label == str(digit.label)
                for o, label in zip(overlaps, labels, strict=True)
            )
    return found, drawn


def test_run_finds_the_drawn_digits(
    run_edge: RunEdge, tmp_path: Path, result_validator: jsonschema.Draft202012Validator
) -> None:
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    truths: list[SceneTruth] = []
    for c, camera in enumerate(_cameras()):
        for i in range(20):
            cv2.imwrite(str(folder / f"{c}-{i:02d}.png"), camera.render(i))
            truth = camera.truth(i)
            assert isinstance(truth, SceneTruth)
            truths.append(truth)
    done = run_edge(
        ["run", "--model", str(MODEL), "--source", str(folder), "--sink", "jsonl:out.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 60
    for record in records:
        result_validator.validate(record)
    found, drawn = _matches(records, truths)
    # The shipped detector found 178 of these 180 (2026-12-07).
    assert found / drawn >= 0.95, f"{found}/{drawn} drawn digits found (IoU >= 0.5, right label)"


def test_scene_mode_draws_non_overlapping_digits() -> None:
    for camera in _cameras():
        for i in range(10):
            truth = camera.truth(i)
            assert isinstance(truth, SceneTruth)
            assert len(truth.digits) == camera.digit_count
            boxes = np.asarray(truth.boxes, np.float32)
            for k in range(len(boxes)):
                others = np.delete(boxes, k, axis=0)
                assert iou(boxes[k], others).max() == 0.0
            image = camera.render(i)
            for x0, y0, x1, y1 in boxes:  # ink inside every box
                patch = image[int(y0 * 240) : int(y1 * 240), int(x0 * 320) : int(x1 * 320)]
                assert patch.max() > 200
    assert camera.truth(0) == camera.truth(0)  # a pure function of the frame index


def test_single_digit_mode_is_unchanged() -> None:
    camera = SyntheticCamera(fps=None)
    assert camera.digit_count == 1 and isinstance(camera.truth(0), DigitTruth)
    assert SyntheticSourceConfig().digits == 1 and SyntheticSourceConfig(digits=3).digits == 3


def test_synthetic_scene_mode_from_config(run_edge: RunEdge, tmp_path: Path) -> None:
    """The live synthetic camera in scene mode, configured in TOML, read by the detector."""
    (tmp_path / "edge.toml").write_text(
        "[source]\nkind = 'synthetic'\nfps = 200\ndigits = 3\nhold_frames = 1\n"
    )
    done = run_edge(
        [
            "run",
            "--model",
            str(MODEL),
            "--config",
            "edge.toml",
            "--max-frames",
            "60",
            "--sink",
            "jsonl:o.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    camera = SyntheticCamera(fps=None, hold_frames=1, digit_count=3)
    records = read_jsonl(tmp_path / "o.jsonl")
    truths = [camera.truth(record["source"]["frame"]) for record in records]
    found, drawn = _matches(records, truths)
    assert drawn >= 150  # frames may be dropped by the live camera, not many at 200 fps
    # Which 60 frames a live camera delivers depends on timing. Over 1,000 frames in
    # order the detector finds 98.7 % of the digits, and windows of 60 range 0.96-1.00,
    # so the bar sits below that spread; a record paired with the wrong frame finds ~0.
    assert found / drawn >= 0.93, f"{found}/{drawn} drawn digits found (IoU >= 0.5, right label)"
