"""convert -> interpret -> compare: the converter's output, read back the device's way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converter.calibration import load_calibration
from converter.manifest import embed_metadata
from edge.model.backends.base import dequantize
from edge.model.backends.litert import LiteRTBackend
from edge.model.file import parse_model_bytes, read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from edge.processing.preprocess import quantize

CONTRACT_KEYS = {
    "task", "mode", "size_bytes", "metrics", "agreement", "float_ops", "ladder", "latency_ms",
    "samples", "model", "out", "versions", "confusion",
}  # fmt: skip


def _keras_predict(path: Path, x: np.ndarray) -> np.ndarray:
    import keras

    model = keras.saving.load_model(path, compile=False)
    return np.asarray(model.predict(x, verbose=0))


def test_default_paths_sit_next_to_the_model(converted: Any) -> None:
    request, report = converted
    assert report.out == str(request.model.with_name("tiny.int8.tflite"))
    assert request.report_path == request.model.with_name("tiny.int8.report.json")
    assert Path(report.out).exists()
    assert request.report_path.exists()


def test_manifest_is_readable_by_the_device(converted: Any, tiny_model_dir: Path) -> None:
    request, _ = converted
    model_file = read_model_file(request.out_path)
    manifest = parse_manifest(model_file.metadata[METADATA_NAME], origin="test")
    assert manifest.name == "tiny"
    assert manifest.task == "classify"
    assert manifest.labels == [str(i) for i in range(10)]
    assert (manifest.input.width, manifest.input.height, manifest.input.channels) == (28, 28, 1)
    assert manifest.input.colour == "gray"
    assert (manifest.input.scale, manifest.input.offset) == (1.0, 0.0)
    assert manifest.decoder.name == "classify"
    assert manifest.decoder.params == {"top_k": 1, "threshold": 0.5, "activation": "none"}
    assert manifest.quantization is not None
    assert manifest.quantization.mode == "int8"
    assert manifest.quantization.calibration_samples == 64
    calibration = load_calibration(tiny_model_dir / "cal.npz", manifest.input)
    assert manifest.quantization.calibration_sha256 == calibration.sha256
    assert set(manifest.converter) == {"version", "tensorflow", "keras"}
    assert manifest.accuracy["samples"] == 200


def test_litert_output_agrees_with_keras(converted: Any, tiny_model_dir: Path) -> None:
    request, report = converted
    with np.load(tiny_model_dir / "eval.npz") as data:
        x = data["x"][..., None].astype(np.float32)
    expected = _keras_predict(request.model, x)
    backend = LiteRTBackend(read_model_file(request.out_path).content, threads=1)
    (spec_in,), (spec_out,) = backend.inputs, backend.outputs
    # Rescaling inside the model: int8 input scale 1, zero point -128 (pixel - 128 exactly).
    assert (spec_in.dtype, spec_in.scale, spec_in.zero_point) == ("int8", 1.0, -128)
    got = np.concatenate(
        [dequantize(backend.infer([quantize(x[i : i + 1], spec_in)])[0], spec_out) for i in
         range(len(x))]
    )  # fmt: skip
    agreement = float((got.argmax(1) == expected.argmax(1)).mean())
    assert agreement >= 0.97
    assert np.abs(got - expected).max() < 0.1
    assert agreement == pytest.approx(report.agreement)


def test_report_has_every_contract_field(converted: Any) -> None:
    request, report = converted
    written = json.loads(request.report_path.read_text())
    assert written == report.to_dict()
    assert set(written) >= CONTRACT_KEYS
    assert written["task"] == "classify" and written["mode"] == "int8"
    assert set(written["size_bytes"]) == {"float", "quantized"}
    assert written["size_bytes"]["quantized"] == Path(written["out"]).stat().st_size
    assert written["size_bytes"]["quantized"] < 0.4 * written["size_bytes"]["float"]
    for side in ("float", "quantized"):
        assert 0.0 <= written["metrics"][side]["accuracy"] <= 1.0
        assert written["latency_ms"][side] > 0
    assert 0.0 <= written["agreement"] <= 1.0
    assert written["float_ops"] == []  # full int8: nothing left in float
    assert [step["mode"] for step in written["ladder"]] == ["int8"]
    assert written["ladder"][0]["accepted"] is True
    assert written["samples"] == {"calibration": 64, "eval": 200}
    assert "ARM" in written["latency_ms"]["note"]
    matrix = np.asarray(written["confusion"]["matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 200


def test_table_renders(converted: Any) -> None:
    _, report = converted
    table = report.table()
    for needle in ("float32", "int8", "size", "accuracy", "latency", "agreement", "ARM"):
        assert needle in table


def test_reembedding_replaces_the_manifest(converted: Any) -> None:
    request, _ = converted
    content = read_model_file(request.out_path).content
    again = embed_metadata(content, METADATA_NAME, b'{"schema": "replaced"}')
    metadata = parse_model_bytes(again, Path("again.tflite")).metadata
    assert metadata[METADATA_NAME] == b'{"schema": "replaced"}'
    assert "min_runtime_version" in metadata  # the converter's own entries are kept
    LiteRTBackend(again, threads=1).close()  # still a loadable model


@pytest.mark.parametrize(
    ("mode", "io_dtype", "expected_input"),
    [("int8", "uint8", ("uint8", 0)), ("float32", "int8", ("float32", 0))],
)
def test_other_modes_and_io_types(
    tiny_model_dir: Path, tmp_path: Path, mode: str, io_dtype: Any, expected_input: tuple[str, int]
) -> None:
    from converter.convert import ConvertRequest, convert

    request = ConvertRequest(
        model=tiny_model_dir / "tiny.keras",
        calibration=tiny_model_dir / "cal.npz",
        eval=tiny_model_dir / "eval.npz",
        out=tmp_path / "out.tflite",
        mode=mode,
        io_dtype=io_dtype,
        latency_seconds=0.05,
        progress=False,
    )
    report = convert(request)
    backend = LiteRTBackend(read_model_file(request.out_path).content, threads=1)
    assert (backend.inputs[0].dtype, backend.inputs[0].zero_point) == expected_input
    assert report.agreement is not None  # an eval set was given
    assert report.agreement >= 0.97
    manifest = parse_manifest(read_model_file(request.out_path).metadata[METADATA_NAME], origin="t")
    assert manifest.quantization is not None and manifest.quantization.mode == mode
    if mode == "float32":
        assert report.float_ops  # every op computes in float
        assert manifest.quantization.calibration_sha256 is None
        assert report.agreement >= 0.995  # float vs float: only ties could differ
    else:
        assert report.float_ops == []
