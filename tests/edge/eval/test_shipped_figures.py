"""``edge eval`` on the shipped zoo prints the README table's quantized column.

Each shipped model is measured through the real command line (``edge.cli.main``, in
process; one case through the console script in a subprocess) on its shipped data file,
and its figure is compared with the README's ``## The shipped models`` table twice: the
JSON value within the printed number's rounding, and the printed line showing the very
digits the README prints. The tests that must be able to fail do: shuffled labels give
chance accuracy, flipped anomaly labels give 1 - ROC-AUC.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.cli import main
from models.recipe import ZOO
from tests.conftest import RunEdge
from tests.models.readme_table import first_number, first_number_text, readme_rows

# Model stem -> (data file, metric key, the figure's name in the printed line).
SHIPPED = {
    "digits-cnn": ("digits-holdout.npz", "accuracy", "accuracy"),
    "digits-vit": ("digits-holdout.npz", "accuracy", "accuracy"),
    "digits-detector": ("digits-detector-eval.npz", "map50", "mAP@0.5"),
    "digits-anomaly": ("digits-anomaly-eval.npz", "roc_auc", "ROC-AUC"),
    "digits-dcgan-generator": ("digits-dcgan-eval.npz", "psnr", "PSNR"),
    "digits-crops": ("digits-crops-eval.npz", "accuracy", "accuracy"),
}


def model_path(stem: str) -> Path:
    return ZOO / f"{stem}.int8.tflite"


def edge_eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def eval_json(capsys: pytest.CaptureFixture[str], model: Path, data: Path) -> dict[str, Any]:
    code, out, err = edge_eval(capsys, str(model), str(data), "--json")
    assert code == 0, err
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, str]]:
    return readme_rows()


@pytest.mark.parametrize("stem", sorted(SHIPPED))
def test_shipped_figure_is_the_readme_figure(
    stem: str, rows: dict[str, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, metric, name = SHIPPED[stem]
    result = eval_json(capsys, model_path(stem), ZOO / data)
    row = rows[stem]
    assert set(result) == {"model", "task", "metric", "value", "samples", "data"}
    assert (result["model"], result["task"], result["metric"]) == (stem, row["task"], metric)
    assert result["data"] == str(ZOO / data)
    printed, tolerance = first_number(row["quantized"])
    assert result["value"] == pytest.approx(printed, abs=tolerance + 1e-9), result

    code, line, _ = edge_eval(capsys, str(model_path(stem)), str(ZOO / data))
    assert code == 0
    assert line.startswith(f"{stem} ({row['task']}): {name} {first_number_text(row['quantized'])}")
    assert f"on {result['samples']:,} " in line and line.rstrip().endswith(f"from {ZOO / data}")


def test_printed_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """The wording of each task's line (units, the counts it gives)."""
    expected = {
        "digits-cnn": "accuracy 98.1 % on 1,000 samples from",
        "digits-detector": "mAP@0.5 0.995 on 300 images (718 boxes) from",
        "digits-anomaly": "ROC-AUC 0.876 on 1,400 samples (400 anomalous) from",
        "digits-dcgan-generator": "PSNR 42.8 dB against the reference outputs on 256 latent "
        "vectors from",
    }
    for stem, text in expected.items():
        code, line, _ = edge_eval(capsys, str(model_path(stem)), str(ZOO / SHIPPED[stem][0]))
        assert code == 0 and text in line, line


def test_console_command_json(run_edge: RunEdge) -> None:
    """The installed console script, as scripts/test-pi.sh calls it on the arm64 root."""
    done = run_edge(
        [
            "eval",
            str(model_path("digits-cnn")),
            str(ZOO / "digits-holdout.npz"),
            "--json",
            "--threads",
            "1",
        ]
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["samples"] == 1000 and result["value"] == pytest.approx(98.1, abs=0.05)
    assert "1000 samples in" in done.stderr  # the timing goes to stderr, not into the JSON


def test_shuffled_labels_give_chance_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with np.load(ZOO / "digits-holdout.npz") as data:
        x, y = data["x"], data["y"]
    path = tmp_path / "shuffled.npz"
    np.savez(path, x=x, y=np.random.default_rng(0).permutation(y))
    result = eval_json(capsys, model_path("digits-cnn"), path)
    assert 5 < result["value"] < 15, result  # ten classes, 100 of each


def test_flipped_anomaly_labels_give_one_minus_roc_auc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with np.load(ZOO / "digits-anomaly-eval.npz") as data:
        x, y = data["x"], data["y"]
    right = eval_json(capsys, model_path("digits-anomaly"), ZOO / "digits-anomaly-eval.npz")
    path = tmp_path / "flipped.npz"
    np.savez(path, x=x, y=1 - y)
    flipped = eval_json(capsys, model_path("digits-anomaly"), path)
    assert flipped["value"] == pytest.approx(1 - right["value"], abs=1e-9)


def test_detector_without_its_boxes_scores_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same scenes with every box moved to another scene: no detection matches."""
    with np.load(ZOO / "digits-detector-eval.npz") as data:
        arrays = {key: data[key] for key in data.files}
    arrays["image_index"] = (arrays["image_index"] + 1) % len(arrays["x"])
    path = tmp_path / "moved.npz"
    np.savez(path, **arrays)
    result = eval_json(capsys, model_path("digits-detector"), path)
    assert result["value"] < 0.05, result


@pytest.mark.parametrize(
    ("stem", "data"),
    [("digits-cnn", "digits-holdout.npz"), ("digits-detector", "digits-detector-eval.npz")],
)
def test_pixels_and_model_values_give_the_same_figure(
    stem: str, data: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uint8 x goes through the manifest's input recipe (edge run's path), float x is
    quantized as it is (edge convert --eval's path, the one test_readme_figures takes);
    with the shipped recipe (scale 1, offset 0, input at the model's size) they agree."""
    with np.load(ZOO / data) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["x"] = arrays["x"].astype(np.float32)
    path = tmp_path / "values.npz"
    np.savez(path, **arrays)
    as_pixels = eval_json(capsys, model_path(stem), ZOO / data)
    as_values = eval_json(capsys, model_path(stem), path)
    assert as_values["value"] == as_pixels["value"]


def test_generator_against_its_own_outputs_is_infinite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PSNR is against ``reference``: the int8 model's own outputs give infinity (null in
    strict JSON, "inf" in the line), a reference that is off by 0.1 everywhere gives
    20 log10(2 / 0.1) = 26.0 dB."""
    from edge.model.backends.base import dequantize
    from edge.model.backends.litert import LiteRTBackend
    from edge.model.file import read_model_file
    from edge.processing.preprocess import quantize

    with np.load(ZOO / "digits-dcgan-eval.npz") as data:
        x = data["x"]
    backend = LiteRTBackend(read_model_file(model_path("digits-dcgan-generator")).content)
    (tensor,), (output,) = backend.inputs, backend.outputs
    own = np.concatenate(
        [
            dequantize(backend.infer([quantize(x[i : i + 1], tensor)])[0], output)
            for i in range(len(x))
        ]
    )
    backend.close()
    np.savez(tmp_path / "own.npz", x=x, reference=own)
    np.savez(tmp_path / "off.npz", x=x, reference=own + np.float32(0.1))
    model = model_path("digits-dcgan-generator")
    assert eval_json(capsys, model, tmp_path / "own.npz")["value"] is None
    code, line, _ = edge_eval(capsys, str(model), str(tmp_path / "own.npz"))
    assert code == 0 and "PSNR inf dB" in line
    assert eval_json(capsys, model, tmp_path / "off.npz")["value"] == pytest.approx(26.02, abs=0.01)
