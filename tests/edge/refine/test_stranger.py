"""A second-stage classifier nobody here trained, through real LiteRT in ``edge run``.

Built in the test: a colour model with a wide input (32 x 24, RGB) and labels of its own
(``3``, ``7``, ``owl``), whose answer is always ``7`` (zero weights, a bias that makes
``7`` certain). With ``below_score = 1`` every box the shipped detector names ``3`` must
come out named ``7``, through the crop at a non-square size, the classifier's own input
recipe and the match of labels by name; boxes of the other digits, which the classifier
cannot name, keep the detector's label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.model.zoo import zoo_file
from tests.conftest import RunEdge, read_jsonl

DETECTOR = zoo_file("digits-detector.int8.tflite")


@pytest.fixture(scope="module")
def always_seven(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from converter.calibration import Calibration
    from converter.convert import ConvertRequest, convert
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    folder = tmp_path_factory.mktemp("stranger")
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((24, 32, 3), name="pixels"),
            keras.layers.Rescaling(1 / 255),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax", name="probabilities"),
        ]
    )
    dense = model.get_layer("probabilities")
    dense.set_weights([np.zeros((3, 3), np.float32), np.asarray([0.0, 12.0, 0.0], np.float32)])
    model.save(folder / "seven.keras")
    rng = np.random.default_rng(0)
    convert(
        ConvertRequest(
            model=folder / "seven.keras",
            calibration=Calibration(
                rng.uniform(0, 255, (16, 24, 32, 3)).astype(np.float32), source="noise"
            ),
            out=folder / "seven.tflite",
            task="classify",
            labels=["3", "7", "owl"],
            mode="int8",
            colour="rgb",
            threshold=0.0,
            progress=False,
        )
    )
    return folder / "seven.tflite"


def _run(run_edge: RunEdge, folder: Path, refine: str) -> list[str]:
    (folder / "edge.toml").write_text(
        f"max_frames = 12\n[model]\npath = {json.dumps(str(DETECTOR))}\n"
        '[source]\nkind = "synthetic"\ndigits = 4\non_demand = true\nhold_frames = 1\n'
        '[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n' + refine
    )
    (folder / "out.jsonl").unlink(missing_ok=True)
    done = run_edge(["run", "--config", "edge.toml"], cwd=folder)
    assert done.returncode == 0, done.stderr
    return [d["label"] for r in read_jsonl(folder / "out.jsonl") for d in r["detections"]]


def test_a_strangers_classifier_names_every_box(
    run_edge: RunEdge, tmp_path: Path, always_seven: Path
) -> None:
    alone = _run(run_edge, tmp_path, "")
    assert len(alone) >= 40 and "3" in alone and len(set(alone)) >= 5  # 12 frames of 4
    refined = _run(
        run_edge,
        tmp_path,
        f"[refine]\npath = {json.dumps(str(always_seven))}\nbelow_score = 1\n"
        "min_confidence = 0.99\n",
    )
    assert refined == ["7" if label == "3" else label for label in alone]


def test_a_sure_detector_is_left_alone(
    run_edge: RunEdge, tmp_path: Path, always_seven: Path
) -> None:
    alone = _run(run_edge, tmp_path, "")
    unchanged = _run(
        run_edge,
        tmp_path,
        f"[refine]\npath = {json.dumps(str(always_seven))}\nbelow_score = 0\n",
    )
    assert unchanged == alone
