"""``edge run`` with the shipped anomaly model: real command, real LiteRT, schema-checked.

Camera digits are normal; frames that are not digits (uniform noise, a bright blank frame
such as a lamp or a white wall, a dark blank frame such as a covered lens, an empty
camera background) are flagged: noise and bright frames by the reconstruction error,
dark and empty ones by the emptiness term of the score (models/gan.py).
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import numpy as np

from tests.conftest import RunEdge, read_jsonl

MODEL = Path(__file__).resolve().parents[2] / "models" / "zoo" / "digits-anomaly.int8.tflite"


def test_synthetic_camera_digits_are_normal(
    run_edge: RunEdge, tmp_path: Path, result_validator: jsonschema.Draft202012Validator
) -> None:
    done = run_edge(["run", "--model", str(MODEL), "--max-frames", "90", "--sink", "jsonl:a.jsonl"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "a.jsonl")
    assert len(records) == 90
    for record in records:
        result_validator.validate(record)
        assert record["model"]["task"] == "anomaly" and record["detections"] == []
    flagged = sum(r["anomaly"]["anomalous"] for r in records)
    assert flagged <= 9, f"{flagged}/90 camera digit frames flagged as anomalous"


def test_noise_and_blank_frames_are_flagged(
    run_edge: RunEdge, tmp_path: Path, result_validator: jsonschema.Draft202012Validator
) -> None:
    import cv2

    rng = np.random.default_rng(7)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(10):
        noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / f"noise-{i}.png"), noise)
        level = int(rng.integers(190, 256))
        bright = np.clip(level + rng.normal(0, 3, (240, 320, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"bright-{i}.png"), bright)
        level = int(rng.integers(0, 41))  # a covered lens
        dark = np.clip(level + rng.normal(0, 3, (240, 320, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"dark-{i}.png"), dark)
        # An empty scene: the camera's faint gradient background with noise, no digit.
        gradient = np.linspace(0, rng.uniform(10, 40), 320)[None, :, None]
        empty = np.clip(gradient + rng.normal(0, 8, (240, 320, 3)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / f"empty-{i}.png"), empty)
    done = run_edge(
        ["run", "--model", str(MODEL), "--source", str(folder), "--sink", "jsonl:b.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "b.jsonl")
    assert len(records) == 40
    for record in records:
        result_validator.validate(record)
        verdict = record["anomaly"]
        assert verdict["anomalous"] and verdict["score"] > verdict["threshold"], record
