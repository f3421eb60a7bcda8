"""Ultralytics' ``metadata.json``, appended to a ``.tflite`` as a zip the way its exporter
does it, read back within bounds: every hostile archive is a ``ModelError`` naming what
is wrong (``tests/converter/test_foreign_yolo.py`` runs a real export-shaped model)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from edge.errors import ModelError
from edge.model.ultralytics import MAX_JSON_BYTES, read_ultralytics_metadata

MODEL = (
    Path(__file__).resolve().parents[3] / "models" / "zoo" / "digits-cnn.int8.tflite"
).read_bytes()
WHERE = Path("yolo.tflite")
EXPORTED = {  # the keys Ultralytics' exporter writes (values shortened)
    "description": "Ultralytics YOLOv8n model trained on coco.yaml",
    "author": "Ultralytics",
    "date": "2026-01-01T00:00:00",
    "version": "8.3.0",
    "license": "AGPL-3.0 License (https://ultralytics.com/license)",
    "docs": "https://docs.ultralytics.com",
    "stride": 32,
    "task": "detect",
    "batch": 1,
    "imgsz": [640, 640],
    "names": {0: "person", 1: "bicycle", 2: "car"},
    "args": {"batch": 1, "half": False, "int8": True, "nms": False},
    "channels": 3,
}


def appended(members: dict[str, bytes], content: bytes = MODEL) -> bytes:
    """``content`` with a zip appended as ``zipfile.ZipFile(file, "a", ZIP_DEFLATED)``
    appends it to a file that is not a zip (Ultralytics' ``_add_tflite_metadata``)."""
    buffer = io.BytesIO(content)
    buffer.seek(0, io.SEEK_END)
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def metadata(value: Any) -> bytes:
    return appended({"metadata.json": json.dumps(value, indent=2).encode()})


def test_reads_what_the_exporter_writes() -> None:
    found = read_ultralytics_metadata(metadata(EXPORTED), WHERE)
    assert found is not None
    assert found.names == ["person", "bicycle", "car"]
    assert found.task == "detect" and found.decoder == "yolov8"
    assert found.imgsz == (640, 640) and found.stride == 32 and found.version == "8.3.0"
    assert found.summary() == (
        "task detect, 3 names (person, bicycle, car), imgsz 640x640, stride 32, Ultralytics 8.3.0"
    )


def test_no_archive_or_another_archive_is_no_metadata() -> None:
    assert read_ultralytics_metadata(MODEL, WHERE) is None
    assert read_ultralytics_metadata(appended({"notes.txt": b"hello"}), WHERE) is None


def _bomb() -> bytes:
    return appended({"metadata.json": b'{"names": "' + b"a" * (MAX_JSON_BYTES * 20) + b'"}'})


def _truncated() -> bytes:
    whole = metadata(EXPORTED)
    end = whole.rfind(b"PK\x05\x06")
    return whole[: end - 30] + whole[end:]  # the central directory cut short


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (_bomb, "larger than 1024 KiB once inflated"),
        (lambda: appended({f"m{i}": b"" for i in range(40)}), "holds 40 members"),
        (lambda: appended({"metadata.json": b"{names: [}"}), "is not valid JSON"),
        (lambda: appended({"metadata.json": b"[" * 100_000}), "is not valid JSON"),
        (lambda: appended({"metadata.json": b"\xff\xfe"}), "is not valid JSON"),
        (lambda: metadata([1, 2]), "holds a list, not an object"),
        (lambda: metadata({"names": {"0": "a", "2": "b"}}), "not 0, 1, 2, ... without gaps"),
        (lambda: metadata({"names": {"x": "a"}}), "keys that are not class ids"),
        (lambda: metadata({"names": {"0": {"nested": 1}}}), "a name is not a text"),
        (lambda: metadata({"names": ["a" * 1000]}), "a name is not a text"),
        (lambda: metadata({"names": 7}), "not a mapping or list"),
        (lambda: metadata({"imgsz": [0, -3]}), "imgsz is not [height, width]"),
        (lambda: metadata({"imgsz": "640"}), "imgsz is not [height, width]"),
        (lambda: metadata({"stride": 1e9}), "stride is not a whole number"),
        (_truncated, "cannot be read"),
    ],
)
def test_hostile_archives_are_clear_errors(content: Any, message: str) -> None:
    with pytest.raises(ModelError, match="carries Ultralytics metadata") as refused:
        read_ultralytics_metadata(content(), WHERE)
    assert message in str(refused.value)
    assert refused.value.hint is not None
