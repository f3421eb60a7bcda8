"""``edge convert`` talks from its first second: its first progress line comes before
TensorFlow's import starts (read from one stderr with ``-X importtime``'s lines, in
order), every phase that takes a while has a line, and a calibration set that misses
classes the evaluation set has is warned about (the shipped CNN's case: calibration on
digits 0-1, evaluation on 2-5). One ``edge convert`` run for the module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def run(
    tiny_model_dir: Path, digits: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> subprocess.CompletedProcess[str]:
    here = tmp_path_factory.mktemp("progress")
    train, hold = digits["y_train"], digits["y_hold"]
    np.savez(here / "cal01.npz", x=digits["x_train"][np.isin(train, (0, 1))][::4][:60])
    pick = np.isin(hold, (2, 3, 4, 5))
    np.savez(here / "eval25.npz", x=digits["x_hold"][pick][::4], y=hold[pick][::4])
    command = [
        sys.executable, "-c", "from edge.cli import entry; entry()", "convert",
        str(tiny_model_dir / "tiny.keras"), "--calibration", str(here / "cal01.npz"),
        "--eval", str(here / "eval25.npz"), "--mode", "int8", "--out", str(here / "o.tflite"),
    ]  # fmt: skip
    # The importtime lines of both processes (the child inherits the variable) come out
    # on the same stderr as the progress lines, in the order they were written.
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    return subprocess.run(
        command, cwd=here, capture_output=True, text=True, timeout=300, env=env, check=False
    )


def test_first_line_comes_before_tensorflow_is_imported(
    run: subprocess.CompletedProcess[str],
) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stderr.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("edge convert: "))
    # The child process imports converter.worker first and TensorFlow only after it
    # (TensorFlow's own importtime lines are hidden with its native log), so a line before
    # the child's converter.worker import comes before TensorFlow's import starts.
    worker = next(
        i
        for i, line in enumerate(lines)
        if line.startswith("import time:") and line.endswith("| converter.worker")
    )
    assert first < worker
    assert not any(line.endswith("| tensorflow") for line in lines[:first])
    assert (
        lines[first].startswith("edge convert: [  0.") and "converting tiny.keras" in lines[first]
    )
    # Each phase has its line, timed from the command's start.
    for phase in (
        "importing TensorFlow, loading the model and the data",
        "float reference: the original model on",
        "checking the float model on 60 calibration inputs",
        "exporting a batch-1 SavedModel and converting it to float32",
        "int8: converting, then running it the device's way",
        "int8 chosen; measuring latency against float32",
        "drawing the report's picture and writing the outputs",
    ):
        assert any(line.startswith("edge convert: [") and phase in line for line in lines), phase


def test_calibration_missing_classes_is_warned(run: subprocess.CompletedProcess[str]) -> None:
    warned = [
        line
        for line in run.stderr.splitlines()
        if line.startswith("edge convert: warning: the calibration data seems to miss classes")
    ]
    assert len(warned) == 1, run.stderr[-3000:]
    # The classes the calibration data has are the float model's calls on it (it has no
    # labels): the tiny test model calls some 0s and 1s other digits, so it is the
    # missing ones that are checked, as a subset of 2-5.
    missing = warned[0].split("the evaluation data also holds ")[1].split(".")[0]
    assert missing and set(missing.split(", ")) <= {"2", "3", "4", "5"}, warned[0]
    assert "WARNING: the calibration data seems to miss classes" in run.stdout  # the table
