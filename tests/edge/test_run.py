"""``edge run`` end to end: the real command, the shipped int8 model, real LiteRT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema

from edge.sources.synthetic import SyntheticCamera
from tests.conftest import RunEdge, digit_truth, read_jsonl


def test_synthetic_run_agrees_with_ground_truth(
    run_edge: RunEdge, tmp_path: Path, result_validator: jsonschema.Draft202012Validator
) -> None:
    done = run_edge(["run", "--max-frames", "200"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "detections.jsonl")  # the default sink
    assert len(records) == 200
    for record in records:
        result_validator.validate(record)
    truth = SyntheticCamera(fps=None)  # the same defaults as `edge run`
    agree = sum(
        bool(r["detections"])
        and int(r["detections"][0]["label"]) == digit_truth(truth, r["source"]["frame"]).label
        for r in records
    )
    assert agree / len(records) >= 0.95, f"{agree}/200 frames agree with the drawn digit"
    assert [r["seq"] for r in records] == list(range(200))
    assert len({r["id"] for r in records}) == 200
    assert "done: 200 frames" in done.stderr


def test_status_lines_and_stdout_sink(run_edge: RunEdge, tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text("status_interval = 0.2\n[source]\nkind = 'synthetic'\nfps = 60\n")
    done = run_edge(["run", "--config", str(config), "--max-frames", "40", "--sink", "stdout"])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["schema"] == "edge.result/1"
    assert " fps | infer " in done.stderr and "dropped" in done.stderr
    assert not (tmp_path / "detections.jsonl").exists()  # --sink replaces the default


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from edge.cli import entry; entry()", "run"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "detections.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size == 0):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "stopping on SIGINT" in stderr and "done:" in stderr
    records = read_jsonl(log)  # every line complete: the sinks were flushed and closed
    assert records and records[-1]["seq"] == len(records) - 1


def test_image_folder_run_loses_no_frame(
    run_edge: RunEdge, tmp_path: Path, result_validator: jsonschema.Draft202012Validator
) -> None:
    import cv2

    camera = SyntheticCamera(fps=None)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(30):
        cv2.imwrite(str(folder / f"{i:04d}.png"), camera.render(i))
    done = run_edge(["run", "--source", str(folder), "--sink", "jsonl:out.jsonl"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert [r["source"]["name"] for r in records] == [f"{i:04d}.png" for i in range(30)]
    for record in records:
        result_validator.validate(record)
    hits = sum(
        int(r["detections"][0]["label"]) == digit_truth(camera, i).label
        for i, r in enumerate(records)
    )
    assert hits >= 27


def test_video_file_run(run_edge: RunEdge, tmp_path: Path) -> None:
    import cv2

    camera = SyntheticCamera(fps=None)
    writer = cv2.VideoWriter(
        str(tmp_path / "clip.avi"), cv2.VideoWriter.fourcc(*"MJPG"), 15, (320, 240)
    )
    for i in range(45):
        writer.write(camera.render(i))
    writer.release()
    done = run_edge(["run", "--source", "clip.avi", "--sink", "jsonl:v.jsonl"])
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "v.jsonl")
    assert [r["source"]["frame"] for r in records] == list(range(45))  # no drops from a file
    hits = sum(
        int(r["detections"][0]["label"]) == digit_truth(camera, i).label
        for i, r in enumerate(records)
    )
    assert hits >= 40


def test_model_without_manifest_runs_with_flags(
    run_edge: RunEdge, tmp_path: Path, plain_tflite: Path
) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\n")
    done = run_edge(
        [
            "run",
            "--model",
            str(plain_tflite),
            "--task",
            "classify",
            "--labels",
            str(labels),
            "--max-frames",
            "5",
            "--sink",
            "jsonl:p.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "p.jsonl")
    assert len(records) == 5
    assert all(r["detections"][0]["label"] in {"cat", "dog", "bird"} for r in records)
    assert records[0]["model"]["name"] == "plain"


def test_model_without_manifest_and_no_task(run_edge: RunEdge, plain_tflite: Path) -> None:
    done = run_edge(["run", "--model", str(plain_tflite), "--max-frames", "1"])
    assert done.returncode == 78
    assert "has no edge manifest" in done.stderr and "--task classify" in done.stderr


def test_wrong_label_count(run_edge: RunEdge, tmp_path: Path, plain_tflite: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    done = run_edge(
        [
            "run",
            "--model",
            str(plain_tflite),
            "--task",
            "classify",
            "--labels",
            str(labels),
            "--max-frames",
            "1",
        ]
    )
    assert done.returncode == 78
    assert "3 classes but 2 labels" in done.stderr
