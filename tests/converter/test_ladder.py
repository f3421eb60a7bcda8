"""The quality gate and the fallback ladder on a model that full int8 really breaks.

The model (no training, weights set by hand): a 4x4 gray "image" whose pixels span
0..255, and a classifier that decides on ONE pixel lying in 0..1 (class 1 when it is
above 0.3). Full int8 quantizes the input with one scale for the whole tensor (about 1.0
per step), so that pixel becomes 0 or 1 and every sample between 0.3 and 0.5 flips:
about a fifth of the decisions. Keeping the worst layer (the Dense) in float does not
help, because the input itself is still quantized; int16x8 (256x finer steps) repairs
it. Samples within 0.03 of the boundary are left out so int16x8 is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.cli.convert_request import ConvertCommand
from edge.errors import ConversionError
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize

THRESHOLD = 0.3


def _data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.uniform(0, 255, (n, 4, 4, 1)).astype(np.float32)
    tiny = rng.uniform(0, 1, n)
    tiny = np.where(np.abs(tiny - THRESHOLD) < 0.03, tiny + 0.1, tiny)
    x[:, 0, 0, 0] = tiny
    return x, (tiny > THRESHOLD).astype(np.int64)


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras

    inputs = keras.Input((4, 4, 1), name="pixels")
    decide = keras.layers.Dense(2, activation="softmax", name="decide")
    model = keras.Model(inputs, decide(keras.layers.Flatten()(inputs)))
    weights = np.zeros((16, 2), np.float32)
    weights[0, 1] = 50.0  # logit of class 1 = 50 * (tiny - 0.3)
    decide.set_weights([weights, np.array([0.0, -50.0 * THRESHOLD], np.float32)])
    folder = tmp_path_factory.mktemp("fragile")
    model.save(folder / "fragile.keras")
    rng = np.random.default_rng(0)
    x_cal, _ = _data(rng, 100)
    x_eval, y_eval = _data(rng, 300)
    np.savez(folder / "cal.npz", x=x_cal)
    np.savez(folder / "eval.npz", x=x_eval, y=y_eval)
    return folder


def _request(folder: Path, **fields: object) -> object:
    from converter.convert import ConvertRequest

    return ConvertRequest(
        model=folder / "fragile.keras",
        calibration=folder / "cal.npz",
        eval=folder / "eval.npz",
        latency_seconds=0.05,
        progress=False,
        **fields,  # type: ignore[arg-type]
    )


def _accuracy(path: Path, folder: Path) -> float:
    """Re-measure the written file the device's way (not trusting the report)."""
    with np.load(folder / "eval.npz") as data:
        x, y = data["x"], data["y"]
    backend = LiteRTBackend(read_model_file(path).content, threads=1)
    (spec_in,), (spec_out,) = backend.inputs, backend.outputs
    top = [
        dequantize(backend.infer([quantize(x[i : i + 1], spec_in)])[0], spec_out).argmax()
        for i in range(len(x))
    ]
    return float((np.asarray(top) == y).mean())


def test_ladder_repairs_what_int8_breaks(fragile: Path, tmp_path: Path) -> None:
    from converter.convert import convert

    out = tmp_path / "fragile.tflite"
    report = convert(_request(fragile, mode="auto", out=out))  # type: ignore[arg-type]
    steps = [(s.mode, s.accepted) for s in report.ladder]
    # int8-mixed tries growing float sets (1, 2, ...): none helps, the input is the problem.
    assert steps[0] == ("int8", False) and steps[-1] == ("int16x8", True)
    assert len(steps) > 2 and set(steps[1:-1]) == {("int8-mixed", False)}
    int8 = report.ladder[0]
    assert int8.drop is not None and int8.drop > 0.1  # int8 really loses
    assert "accuracy fell by" in int8.reason
    assert "over the budget of 0.01 (1 point of accuracy)" in int8.reason
    assert "decide" in report.ladder[1].reason  # the debugger named the Dense it kept float
    assert report.mode == "int16x8" and report.gate["drop"] <= 0.01
    assert report.metrics["quantized"]["accuracy"] == pytest.approx(_accuracy(out, fragile))
    assert _accuracy(out, fragile) >= 0.99
    # Nobody ships the slow mode unawares.
    assert any("10-50x slower" in w for w in report.warnings)
    assert "WARNING" in report.table() and "SPEED: int16x8 is" in report.table()
    manifest = parse_manifest(read_model_file(out).metadata[METADATA_NAME], origin="t")
    assert manifest.quantization is not None and manifest.quantization.mode == "int16x8"
    assert Path(report.plot or "").stat().st_size > 1000


def test_explicit_int8_over_budget_is_refused_and_leaves_nothing(
    fragile: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from converter.command import run

    out = tmp_path / "refused.tflite"
    stale = [out, tmp_path / "refused.report.json", tmp_path / "refused.report.png"]
    for path in stale:  # an earlier run's files must not pass for this run's result
        path.write_bytes(b"old")
    code = run(ConvertCommand(
        model=fragile / "fragile.keras", calibration=fragile / "cal.npz",
        eval=fragile / "eval.npz", out=out, mode="int8", max_drop=0.01,
    ))  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 1
    assert "keeps the accuracy drop within --max-drop 0.01" in err
    assert "nothing was written" in err
    assert "FULLY_CONNECTED" in err and "decide" in err  # the layer that hurts most
    assert "--mode int16x8" in err  # what to try
    assert [p for p in stale if p.exists()] == []


def test_restricted_ladder_refuses_with_every_step_listed(fragile: Path, tmp_path: Path) -> None:
    from converter.convert import convert

    out = tmp_path / "r.tflite"
    with pytest.raises(ConversionError) as info:
        convert(_request(fragile, mode="auto", ladder=("int8", "int8-mixed"), out=out))  # type: ignore[arg-type]
    message = str(info.value)
    assert "tried int8 (drop 0." in message and "int8-mixed (drop 0." in message
    assert info.value.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_explicit_mode_without_budget_is_reported_not_judged(fragile: Path, tmp_path: Path) -> None:
    from converter.convert import convert

    report = convert(_request(fragile, mode="int8", out=tmp_path / "i.tflite"))  # type: ignore[arg-type]
    (step,) = report.ladder
    assert step.accepted and step.drop is not None and step.drop > 0.1
    assert "requested with --mode int8: accuracy fell by" in step.reason
    assert "not gated (an explicit --mode without --max-drop)" in step.reason
    assert report.gate["max_drop"] is None
