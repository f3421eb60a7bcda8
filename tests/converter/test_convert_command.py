"""``converter.command.run``: what ``edge convert`` prints and returns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge.cli.convert_request import ConvertCommand
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest


def _command(**values: Any) -> ConvertCommand:
    """The flags' defaults, but one mode (auto would walk the whole ladder)."""
    defaults: dict[str, Any] = {"model": Path("model.keras"), "calibration": Path("cal.npz")}
    return ConvertCommand(**{**defaults, "mode": "int8", **values})


def test_missing_model_is_exit_1_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    missing = tmp_path / "nope.keras"
    code = run(_command(model=missing, calibration=tmp_path))
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.startswith("edge convert: error: model file ")
    assert str(missing) in err and "does not exist" in err


def test_bad_mode_is_refused_before_loading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    code = run(_command(model=tmp_path / "x.keras", mode="int4"))  # not a ConvertMode
    assert code == 1
    assert "mode 'int4' is not available" in capsys.readouterr().err


def _write_digit_images(folder: Path, x: np.ndarray, y: np.ndarray) -> None:
    """Camera-like files: 3-channel BGR at twice the model size, in label subfolders."""
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        big = cv2.resize(image, (56, 56), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / str(label) / f"{i:04d}.png"), cv2.merge([big, big, big]))


def test_image_folders_labels_and_json_output(
    tiny_model_dir: Path,
    tmp_path: Path,
    digits: dict[str, np.ndarray],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from converter.command import run

    _write_digit_images(tmp_path / "cal", digits["x_train"][::88], digits["y_train"][::88])
    _write_digit_images(tmp_path / "eval", digits["x_hold"][::10], digits["y_hold"][::10])
    labels = [f"digit {i}" for i in range(10)]
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n\n")
    for i, label in enumerate(labels):  # eval subfolders are named after the labels
        (tmp_path / "eval" / str(i)).rename(tmp_path / "eval" / label)
    out = tmp_path / "models" / "digits.tflite"
    code = run(
        _command(
            model=tiny_model_dir / "tiny.keras",
            calibration=tmp_path / "cal",
            eval=tmp_path / "eval",
            labels=tmp_path / "labels.txt",
            out=out,
            resize="crop",
            json=True,
        )
    )
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    report = json.loads(stdout)  # --json: stdout is exactly the report
    assert report["out"] == str(out)
    assert report["samples"] == {"calibration": 40, "eval": 100}
    assert report["metrics"]["float"]["accuracy"] > 0.8
    assert report["confusion"]["labels"] == labels
    assert report["metrics"]["quantized"]["accuracy"] > 0.8
    assert json.loads((tmp_path / "models" / "digits.report.json").read_text()) == report
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.labels == labels
    assert manifest.input.resize == "crop"
    assert "Created TensorFlow Lite" not in stderr  # native log noise stays captured


def test_table_goes_to_stdout(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    code = run(
        _command(
            model=tiny_model_dir / "tiny.keras",
            calibration=tiny_model_dir / "cal.npz",
            out=tmp_path / "t.tflite",
            mode="float32",
        )
    )
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    assert "edge convert:" in stdout and "agreement" in stdout
    assert "calibration samples" in stdout or "calibration" in stdout
    assert f"wrote {tmp_path / 't.tflite'}" in stdout
