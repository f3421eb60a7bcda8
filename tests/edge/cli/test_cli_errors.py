"""Every user mistake gets its own exit code and a message that says how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RunEdge


def test_model_path_does_not_exist(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--model", "missing.tflite", "--max-frames", "1"])
    assert done.returncode == 78
    assert "model file 'missing.tflite' does not exist" in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"PK\x03\x04" + b"\x00" * 40, "zip archive, perhaps a .keras model"),
        (b"hello world, not a model", "not a TFLite model"),
    ],
)
def test_file_that_is_not_a_tflite_model(
    run_edge: RunEdge, tmp_path: Path, content: bytes, expected: str
) -> None:
    (tmp_path / "bad.tflite").write_bytes(content)
    done = run_edge(["run", "--model", "bad.tflite", "--max-frames", "1"])
    assert done.returncode == 78
    assert expected in done.stderr and "edge convert" in done.stderr


def test_truncated_tflite_model(run_edge: RunEdge, tmp_path: Path, shipped_model: Path) -> None:
    (tmp_path / "cut.tflite").write_bytes(shipped_model.read_bytes()[:3000])
    done = run_edge(["run", "--model", "cut.tflite", "--max-frames", "1"])
    assert done.returncode == 78, done.stderr
    assert "corrupt" in done.stderr or "cannot load" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_config_key(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("[model]\nthreads = 2\n\n[decoder]\ntop_kk = 3\n")
    for command in (["run", "--config", "edge.toml"], ["check-config", "edge.toml"]):
        done = run_edge(command)
        assert done.returncode == 78
        assert "unknown key 'top_kk' in [decoder] (line 5); did you mean 'top_k'?" in done.stderr


def test_check_config_ok(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("device = 'pi-kitchen'\n[decoder]\ntop_k = 3\n")
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert "ok (model digits-cnn.int8.tflite" in done.stdout


def test_webcam_index_with_no_camera(run_edge: RunEdge) -> None:
    done = run_edge(["run", "--source", "57", "--max-frames", "1"])
    assert done.returncode == 1
    assert "no camera could be opened at index 57" in done.stderr
    assert "fix:" in done.stderr


def test_usage_error_exit_code(run_edge: RunEdge) -> None:
    assert run_edge(["run", "--max-frames", "many"]).returncode == 2
    assert run_edge(["frobnicate"]).returncode == 2


def test_calibration_folder_with_no_images(run_edge: RunEdge, tmp_path: Path) -> None:
    from edge.model.zoo import zoo_file

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    keras_model = zoo_file("digits-cnn.keras")
    done = run_edge(
        ["convert", str(keras_model), "--calibration", "empty", "--out", "x.tflite"], timeout=300
    )
    assert done.returncode != 0
    assert "empty" in done.stderr and ".png" in done.stderr
    assert not (tmp_path / "x.tflite").exists()


def test_generator_is_refused_by_run(run_edge: RunEdge) -> None:
    from edge.model.zoo import zoo_file

    done = run_edge(
        ["run", "--model", str(zoo_file("digits-dcgan-generator.int8.tflite")), "--max-frames", "1"]
    )
    assert done.returncode == 78
    assert "is a generator" in done.stderr and "Traceback" not in done.stderr
