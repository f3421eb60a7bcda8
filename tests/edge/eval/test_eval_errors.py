"""Bad input to ``edge eval``: exit 78 and a message that names the file, the array and
what the model needs; never a traceback.

Every case writes its data file into ``tmp_path`` and runs ``edge.cli.main`` in process
(``test_console_exit_code`` checks the console script too).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.cli import main
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from models.recipe import ZOO
from tests.conftest import RunEdge

CNN = ZOO / "digits-cnn.int8.tflite"
DETECTOR = ZOO / "digits-detector.int8.tflite"
ANOMALY = ZOO / "digits-anomaly.int8.tflite"
GENERATOR = ZOO / "digits-dcgan-generator.int8.tflite"
RNG = np.random.default_rng(0)
DIGITS = RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8)
LABELS = np.arange(6, dtype=np.int64)
SCENES = RNG.integers(0, 256, (2, 96, 96), dtype=np.uint8)
BOX = np.asarray([[0.1, 0.1, 0.4, 0.5]], np.float32)
LATENTS = RNG.standard_normal((4, 64)).astype(np.float32)
IMAGES = np.zeros((4, 28, 28, 1), np.float32)


def edge_eval(
    capsys: pytest.CaptureFixture[str], model: Path, data: Path, *flags: str
) -> tuple[int, str]:
    code = main(["eval", str(model), str(data), *flags])
    _, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err


Writer = Callable[[Path], object]


def npz(**arrays: Any) -> Writer:
    return lambda path: np.savez(path, **arrays)


def raw_bytes(content: bytes) -> Writer:
    return lambda path: path.write_bytes(content)


def single_npy(path: Path) -> None:
    """One array, saved with numpy.save under the .npz name."""
    with path.open("wb") as handle:
        np.save(handle, DIGITS)


def broken_member(path: Path) -> None:
    """A zip whose x.npy is cut short."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY\x01\x00" + b"{'descr': '<f4', 'fortran")
        archive.writestr("y.npy", b"")


# (id, model, writes the data file, text the error must contain)
CASES: list[tuple[str, Path, Writer, list[str]]] = [
    ("text file", CNN, raw_bytes(b"7,1,2\n"), ["is not an .npz file", "arrays x, y"]),
    ("empty file", CNN, raw_bytes(b""), ["is not an .npz file"]),
    ("single npy", CNN, single_npy, ["is a single .npy array", "x, y"]),
    ("damaged member", CNN, broken_member, ["cannot read", "as an .npz of numeric arrays"]),
    (
        "object array",
        CNN,
        lambda p: np.savez(p, x=np.asarray([DIGITS, None], object), y=LABELS),
        ["cannot read", "no objects or strings"],
    ),
    (
        "classify without y",
        CNN,
        npz(x=DIGITS),
        ["has arrays ['x']", "measured on x, y", "missing: y", "integer class ids"],
    ),
    (
        "detect without boxes",
        DETECTOR,
        npz(x=SCENES, y=LABELS[:2]),
        ["missing: boxes, classes, image_index", "normalised 0..1 to the image"],
    ),
    (
        "generate without reference",
        GENERATOR,
        npz(x=LATENTS),
        ["missing: reference", "the float model's outputs for x"],
    ),
    (
        "uint8 rows",
        CNN,
        npz(x=DIGITS.reshape(6, -1), y=LABELS),
        ["x is uint8 [6, 784]", "the model takes [N, 28, 28, 1]"],
    ),
    (
        "four channels",
        CNN,
        npz(x=np.zeros((6, 28, 28, 4), np.uint8), y=LABELS),
        ["x is uint8 [6, 28, 28, 4]"],
    ),
    (
        "float wrong size",
        CNN,
        npz(x=np.zeros((6, 32, 32), np.float32), y=LABELS),
        ["x is float32 [6, 32, 32]", "[N, 28, 28, 1]", "not resized"],
    ),
    (
        "int64 pixels",
        CNN,
        npz(x=DIGITS.astype(np.int64), y=LABELS),
        ["x has dtype int64", "uint8 pixels or float model values"],
    ),
    (
        "no samples",
        CNN,
        npz(x=np.zeros((0, 28, 28), np.uint8), y=LABELS[:0]),
        ["x holds no samples"],
    ),
    (
        "nan values",
        CNN,
        npz(x=np.full((6, 28, 28), np.nan, np.float32), y=LABELS),
        ["NaN or infinite"],
    ),
    ("y too short", CNN, npz(x=DIGITS, y=LABELS[:5]), ["one integer per sample", "6 samples"]),
    ("float y", CNN, npz(x=DIGITS, y=LABELS.astype(np.float32)), ["y must hold one integer"]),
    (
        "class id 10",
        CNN,
        npz(x=DIGITS, y=LABELS + 5),
        ["class ids 5..10", "has 10 classes (ids 0..9)"],
    ),
    ("negative class", CNN, npz(x=DIGITS, y=LABELS - 1), ["class ids -1..4"]),
    (
        "anomaly label 2",
        ANOMALY,
        npz(x=DIGITS, y=LABELS % 3),
        ["0 (normal) or 1 (anomalous)", "[0, 1, 2]"],
    ),
    (
        "anomaly all normal",
        ANOMALY,
        npz(x=DIGITS, y=np.zeros(6, np.int64)),
        ["every sample is normal", "needs both"],
    ),
    (
        "boxes in pixels",
        DETECTOR,
        npz(x=SCENES, boxes=BOX * 96, classes=[3], image_index=[0]),
        ["boxes range 9.6..48", "normalised 0..1"],
    ),
    (
        "box corners swapped",
        DETECTOR,
        npz(x=SCENES, boxes=BOX[:, [2, 3, 0, 1]], classes=[3], image_index=[0]),
        ["x1 < x0"],
    ),
    (
        "box of image 2",
        DETECTOR,
        npz(x=SCENES, boxes=BOX, classes=[3], image_index=[2]),
        ["image_index ranges 2..2", "x has 2 images"],
    ),
    (
        "detector class 10",
        DETECTOR,
        npz(x=SCENES, boxes=BOX, classes=[10], image_index=[0]),
        ["classes holds ids 10..10", "the model has 10 classes"],
    ),
    (
        "classes per box",
        DETECTOR,
        npz(x=SCENES, boxes=BOX, classes=[1, 2], image_index=[0]),
        ["classes is int64 [2]", "one integer per box (1 boxes)"],
    ),
    (
        "uint8 latents",
        GENERATOR,
        npz(x=np.zeros((4, 64), np.uint8), reference=IMAGES),
        ["x has dtype uint8", "float model values [N, 64]"],
    ),
    (
        "reference shape",
        GENERATOR,
        npz(x=LATENTS, reference=IMAGES[:, :14]),
        ["reference is float32 [4, 14, 28, 1]", "float [4, 28, 28, 1]"],
    ),
]


@pytest.mark.parametrize(
    ("model", "write", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_data_file(
    model: Path,
    write: Writer,
    expected: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "data.npz"
    write(path)
    code, err = edge_eval(capsys, model, path)
    assert code == 78, err
    assert err.startswith("edge eval: error: ") and str(path) in err
    for text in expected:
        assert text in err, (text, err)


def test_missing_data_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = edge_eval(capsys, CNN, tmp_path / "nowhere.npz")
    assert code == 78 and "data file" in err and "does not exist" in err and "fix:" in err


def test_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = edge_eval(capsys, CNN, tmp_path)
    assert code == 78 and "is not a file" in err


def test_missing_model_names_the_shipped_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``edge run --model`` takes paths only, so does ``edge eval``; a bare zoo name gets
    the path of the shipped file as its fix."""
    code, err = edge_eval(capsys, Path("digits-cnn"), ZOO / "digits-holdout.npz")
    assert code == 78, err
    assert "model file 'digits-cnn' does not exist" in err
    assert f"fix: the shipped model of that name is {CNN}" in err
    code, err = edge_eval(capsys, tmp_path / "mine.tflite", ZOO / "digits-holdout.npz")
    assert code == 78 and "give the path of a .tflite file" in err


def test_not_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "model.tflite").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    code, err = edge_eval(capsys, tmp_path / "model.tflite", ZOO / "digits-holdout.npz")
    assert code == 78 and "not a TFLite model" in err


def test_raw_model_has_no_task_metric(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from converter.manifest import embed_manifest

    model_file = read_model_file(CNN)
    manifest = parse_manifest(model_file.metadata[METADATA_NAME], origin="cnn")
    raw = manifest.model_copy(
        update={"task": "raw", "decoder": manifest.decoder.model_copy(update={"name": "raw"})}
    )
    path = tmp_path / "raw.tflite"
    path.write_bytes(embed_manifest(model_file.content, raw))
    code, err = edge_eval(capsys, path, ZOO / "digits-holdout.npz", "--no-model-probe")
    assert code == 78, err
    assert "is a 'raw' model, which has no task metric" in err
    assert "classify (accuracy), detect (mAP@0.5), anomaly (ROC-AUC), generate (PSNR)" in err


def test_model_without_manifest_needs_task(
    plain_tflite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((3, 16, 16, 3), np.uint8), y=np.arange(3))
    code, err = edge_eval(capsys, plain_tflite, path)
    assert code == 78 and "has no edge manifest" in err and "--task" in err
    code, err = edge_eval(capsys, plain_tflite, path, "--task", "classify")
    assert code == 0, err


def test_threads_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = edge_eval(capsys, CNN, ZOO / "digits-holdout.npz", "--threads", "0")
    assert code == 2 and "--threads must be 1..64" in err


def test_console_exit_code(run_edge: RunEdge, tmp_path: Path) -> None:
    np.savez(tmp_path / "data.npz", x=DIGITS)
    done = run_edge(["eval", str(CNN), "data.npz"])
    assert done.returncode == 78
    assert "missing: y" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_help_documents_the_layout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--help"]) == 0
    out = capsys.readouterr().out
    for text in ("image_index", "reference", "uint8 is pixels", "BGR", "digits-detector-eval.npz"):
        assert text in out, text
