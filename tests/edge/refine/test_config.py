"""``[refine]`` in a config: what ``edge check-config`` and ``edge run`` accept and refuse
(exit 78, naming the key and the fix), and that the classifier closes with its detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.model.zoo import zoo_file
from tests.conftest import RunEdge

DETECTOR = json.dumps(str(zoo_file("digits-detector.int8.tflite")))
CNN = json.dumps(str(zoo_file("digits-cnn.int8.tflite")))


def _write(folder: Path, model: str, refine: str) -> None:
    (folder / "edge.toml").write_text(
        f"max_frames = 2\n[model]\npath = {model}\n"
        '[source]\nkind = "synthetic"\ndigits = 3\non_demand = true\n'
        '[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n' + refine
    )


def test_check_config_names_the_second_stage(run_edge: RunEdge, tmp_path: Path) -> None:
    _write(tmp_path, DETECTOR, f"[refine]\npath = {CNN}\n")
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert "refine digits-cnn.int8.tflite" in done.stdout


@pytest.mark.parametrize(
    ("model", "refine", "message"),
    [
        (
            DETECTOR,
            f"[refine]\npath = {DETECTOR}\n",
            "[refine] path: digits-detector.int8.tflite is a detect model; the second "
            "stage needs a classifier",
        ),
        (
            CNN,
            f"[refine]\npath = {CNN}\n",
            "[refine] names detected boxes again, and digits-cnn.int8.tflite is a "
            "classify model with none",
        ),
        (
            DETECTOR,
            f"[refine]\npath = {CNN}\nlabels = 'animals.txt'\n",
            "share none with digits-detector.int8.tflite's (0, 1, 2, 3, 4, ...)",
        ),
        (DETECTOR, "[refine]\nmin_confidence = 1.5\n", "refine.min_confidence"),
        (DETECTOR, "[refine]\nbelow = 0.5\n", "unknown key 'below' in [refine]"),
    ],
    ids=["a detector as classifier", "no boxes", "no shared label", "range", "unknown key"],
)
def test_a_refine_that_cannot_work_is_refused(
    run_edge: RunEdge, tmp_path: Path, model: str, refine: str, message: str
) -> None:
    (tmp_path / "animals.txt").write_text("".join(f"animal{i}\n" for i in range(10)))
    _write(tmp_path, model, refine)
    for args in (["check-config", "edge.toml"], ["run", "--config", "edge.toml"]):
        done = run_edge(args)
        assert done.returncode == 78, (args, done.stderr)
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_missing_classifier_file_is_named(run_edge: RunEdge, tmp_path: Path) -> None:
    _write(tmp_path, DETECTOR, "[refine]\npath = 'digits-crops'\n")
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "digits-crops" in done.stderr
    assert str(zoo_file("digits-crops.int8.tflite")) in done.stderr  # the hint


def test_the_classifier_closes_with_its_detector(tmp_path: Path) -> None:
    from edge.config.load import load_config
    from edge.errors import BackendError
    from edge.pipeline.inference import open_inference
    from edge.types import Frame

    (tmp_path / "edge.toml").write_text(
        f"[model]\npath = {DETECTOR}\n[refine]\npath = {CNN}\nbelow_score = 1\n"
    )
    config = load_config(tmp_path / "edge.toml")
    model, inference = open_inference(config)
    (classifier,) = model.attached
    assert classifier.manifest.task == "classify"
    from edge.sources.synthetic import SyntheticCamera

    camera = SyntheticCamera(fps=None, digit_count=4, hold_frames=1)
    frame = Frame(camera.render(0), 0, 0.0, "synthetic")
    inference(frame)  # the refiner runs the classifier on each box
    model.close()
    with pytest.raises(BackendError, match="after the interpreter was closed"):
        classifier.backend.infer([classifier.backend.inputs[0]])  # type: ignore[list-item]
    with pytest.raises(BackendError, match="after the interpreter was closed"):
        inference(frame)


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_the_classifier_runs_on_the_models_runtime(tmp_path: Path) -> None:
    """``[model] runtime`` (and the probe settings) hold for the second stage too: a
    user who pins the runtime package gets it for both interpreters."""
    from edge.config.load import load_config
    from edge.pipeline.inference import open_inference

    for runtime in ("ai_edge_litert", "tensorflow"):  # both installed in the test venv
        (tmp_path / "edge.toml").write_text(
            f"[model]\npath = {DETECTOR}\nruntime = '{runtime}'\nprobe = false\n"
            f"[refine]\npath = {CNN}\n"
        )
        model, _ = open_inference(load_config(tmp_path / "edge.toml"))
        try:
            (classifier,) = model.attached
            assert classifier.backend.runtime == model.backend.runtime == runtime
        finally:
            model.close()
