from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.errors import ModelError
from edge.model.file import parse_model_bytes, read_model_file
from edge.model.manifest import METADATA_NAME, parse_manifest
from tests.conftest import RunEdge


def test_shipped_model_carries_its_manifest(shipped_model: Path) -> None:
    model = read_model_file(shipped_model)
    manifest = parse_manifest(model.metadata[METADATA_NAME], origin="shipped")
    assert manifest.task == "classify"
    assert manifest.labels == [str(i) for i in range(10)]
    assert (manifest.input.width, manifest.input.height, manifest.input.channels) == (28, 28, 1)
    assert manifest.quantization is not None and manifest.quantization.mode == "int8"


def test_model_without_manifest_has_none(plain_tflite: Path) -> None:
    assert METADATA_NAME not in read_model_file(plain_tflite).metadata


@pytest.mark.parametrize("cut", [8, 64, 1000])
def test_truncated_model_is_a_model_error(shipped_model: Path, cut: int) -> None:
    content = shipped_model.read_bytes()[:cut]
    with pytest.raises(ModelError, match="corrupt"):
        parse_model_bytes(content, Path("cut.tflite"))


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is a directory"):
        read_model_file(tmp_path)


def test_foreign_manifest_schema_is_refused() -> None:
    with pytest.raises(ModelError, match="not supported"):
        parse_manifest(json.dumps({"schema": "edge.manifest/9"}).encode(), origin="m")


def test_inspect_json(run_edge: RunEdge, shipped_model: Path, plain_tflite: Path) -> None:
    done = run_edge(["inspect", str(shipped_model), "--json"])
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["runtime"] == "ai_edge_litert"
    assert info["manifest"]["schema"] == "edge.manifest/1"
    (tensor,) = info["inputs"]
    assert tensor["shape"] == [1, 28, 28, 1] and tensor["dtype"] == "int8"
    assert tensor["scale"] == pytest.approx(1.0) and tensor["zero_point"] == -128
    plain = run_edge(["inspect", str(plain_tflite)])
    assert plain.returncode == 0 and "no edge manifest" in plain.stdout
    assert "XNNPACK" not in plain.stderr  # LiteRT's native INFO line is filtered


def test_a_shipped_models_bare_name_gets_its_path_as_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.model.zoo import zoo_file

    monkeypatch.chdir(tmp_path)  # no file of that name here
    with pytest.raises(ModelError) as caught:
        read_model_file(Path("digits-detector"))
    assert str(zoo_file("digits-detector.int8.tflite")) in str(caught.value)
    with pytest.raises(ModelError) as other:
        read_model_file(Path("no-such-model.tflite"))
    assert "check the path given to --model" in str(other.value)
