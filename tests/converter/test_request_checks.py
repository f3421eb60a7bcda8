"""What ``edge convert`` refuses or fills in before any conversion: budgets, input
ranges, missing labels; and that the device feeds the values calibration fed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from converter.input_range import NAMED_RANGES, resolve_input_range
from converter.tasks.registry import TASKS
from edge.cli.convert_request import ConvertCommand
from edge.errors import EXIT_CONFIG, ConfigError
from edge.model.convert_choices import ConvertTask


def test_max_drop_above_one_on_a_fraction_metric_exits_78_with_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    code = run(ConvertCommand(model=tmp_path / "m.keras", calibration=tmp_path, max_drop=2.0))
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG == 78
    assert "--max-drop 2 is above 1, but accuracy lies in 0..1" in err
    assert "--max-drop 0.02 means 2 points of accuracy" in err
    tasks: tuple[ConvertTask, ...] = ("detect", "anomaly")
    for task in tasks:
        assert (
            run(
                ConvertCommand(
                    model=tmp_path / "m.keras",
                    calibration=tmp_path,
                    task=task,
                    max_drop=1.5,
                )
            )
            == 78
        )
    capsys.readouterr()


def test_psnr_budget_is_in_db() -> None:
    from converter.calibration import Calibration
    from converter.convert import ConvertRequest, check_request

    gate = TASKS["generate"].gate
    assert gate.unit == "dB" and gate.budget_text(3) == "3 dB"
    assert TASKS["classify"].gate.budget_text(0.02) == "0.02 (2 points of accuracy)"
    # 3 dB below the 30 dB bar is a budget, not a typo: accepted.
    check_request(
        ConvertRequest(
            model=Path("g.keras"),
            calibration=Calibration(np.zeros((1, 2), np.float32), "test"),
            task="generate",
            max_drop=3.0,
        )
    )


def test_input_ranges() -> None:
    assert resolve_input_range("-1..1", None, None) == (1 / 127.5, -1.0)
    assert resolve_input_range("0..1", None, None) == (1 / 255, 0.0)
    assert resolve_input_range(None, None, None) == (1.0, 0.0)
    assert resolve_input_range(None, 0.5, 3.0) == (0.5, 3.0)
    for name, (scale, offset) in NAMED_RANGES.items():
        low, high = (float(v) for v in name.replace("..", " ").split())
        assert (0 * scale + offset, 255 * scale + offset) == pytest.approx((low, high))
    with pytest.raises(ConfigError, match="both describe the input values"):
        resolve_input_range("0..1", 0.5, None)
    with pytest.raises(ConfigError, match="scale must be a positive number"):
        resolve_input_range(None, 0.0, None)
    with pytest.raises(ConfigError, match=r"'0\.\.2' is not known"):
        resolve_input_range("0..2", None, None)


def _keras() -> Any:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def test_minus_one_to_one_folder_device_feeds_what_calibration_fed(tmp_path: Path) -> None:
    """A -1..1 model calibrated from an image folder: the device's input tensor for an
    image (edge's Preprocessor on the manifest) equals the converter's calibration input
    for the same image, quantized with the model's input tensor."""
    from converter.calibration import load_calibration
    from converter.convert import ConvertRequest, convert
    from edge.config.model import ModelConfig
    from edge.model.load import load_model
    from edge.processing.preprocess import Preprocessor, quantize

    keras = _keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax"),
    ])  # fmt: skip
    model.save(tmp_path / "pm1.keras")
    folder = tmp_path / "cal"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        cv2.imwrite(str(folder / f"{i:02d}.png"), rng.integers(0, 256, (24, 20, 3), np.uint8))
    out = tmp_path / "pm1.tflite"
    report = convert(
        ConvertRequest(
            model=tmp_path / "pm1.keras",
            calibration=folder,
            out=out,
            mode="int8",
            input_range="-1..1",
            progress=False,
            latency_seconds=0.02,
        )
    )
    assert any("numbered labels 0..2" in w for w in report.warnings)
    loaded = load_model(ModelConfig(path=out))
    try:
        spec = loaded.manifest.input
        assert (spec.scale, spec.offset) == pytest.approx((1 / 127.5, -1.0))
        assert loaded.manifest.labels == ["0", "1", "2"]
        tensor = loaded.backend.inputs[0]
        calibration = load_calibration(folder, spec)
        assert calibration.x.min() >= -1.0 and calibration.x.max() <= 1.0
        assert calibration.x.min() < -0.5 and calibration.x.max() > 0.5  # not 0..255 or 0..1
        image = cv2.imread(str(folder / "00.png"))
        assert image is not None
        device, _ = Preprocessor(spec, tensor)(np.asarray(image, np.uint8))  # as ImageFolder
        converter_side = quantize(calibration.x[:1], tensor)
        assert device.dtype == converter_side.dtype
        np.testing.assert_array_equal(device, converter_side)
    finally:
        loaded.close()


def test_detect_without_labels_writes_numbered_labels_and_a_working_model(
    tmp_path: Path,
) -> None:
    """No --labels: numbered labels from the heatmap, num_classes set, the model decodes
    frames on the device, and the report picture was drawn before anything was written."""
    from converter.convert import ConvertRequest, convert
    from edge.config.model import ModelConfig
    from edge.model.load import load_model
    from models.detector import build_detector

    _keras().utils.set_random_seed(0)
    build_detector(size=32, num_classes=3).save(tmp_path / "det.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "cal.npy", rng.uniform(0, 255, (8, 32, 32, 1)).astype(np.float32))
    out = tmp_path / "det.tflite"
    report = convert(
        ConvertRequest(
            model=tmp_path / "det.keras",
            calibration=tmp_path / "cal.npy",
            task="detect",
            out=out,
            mode="int8",
            progress=False,
            latency_seconds=0.02,
        )
    )
    assert any("numbered labels 0..2" in w for w in report.warnings)
    assert report.plot is not None and Path(report.plot).stat().st_size > 0
    loaded = load_model(ModelConfig(path=out))
    try:
        assert loaded.manifest.labels == ["0", "1", "2"]
        assert loaded.manifest.decoder.params["num_classes"] == 3
    finally:
        loaded.close()


def test_cli_flags_reach_the_request() -> None:
    from edge.cli import build_parser

    args = build_parser().parse_args(
        ["convert", "m.keras", "--calibration", "c", "--input-range=-1..1", "--max-drop", "2"]
    )
    assert (args.input_range, args.max_drop) == ("-1..1", 2.0)
    args = build_parser().parse_args(
        ["convert", "m.keras", "--calibration", "c", "--input-scale", "0.5", "--input-offset", "-3"]
    )
    assert (args.input_scale, args.input_offset, args.input_range) == (0.5, -3.0, None)


def test_the_library_leaves_the_callers_signals_alone() -> None:
    """Importing the converter as a library imports no ``edge.cli``, whose first act is
    to defer SIGHUP, SIGTERM and SIGINT (``edge.cli.early``): a program that converts
    models keeps its own signal handling."""
    import subprocess
    import sys

    script = (
        "import signal, sys; import converter.request, converter.quantize, converter.command; "
        "print(sorted(m for m in sys.modules if m.startswith('edge.cli')), "
        "signal.getsignal(signal.SIGHUP) is signal.SIG_DFL)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["[]", "True"], done.stdout + done.stderr
