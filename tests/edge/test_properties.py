"""Property-based tests (hypothesis): every generated bad input gives the project's own
error (an ``EdgeError`` with a message), never a library traceback; every record written
is valid JSON and valid against the JSON Schema, NaN and infinity included.

The profile (tests/conftest.py) keeps examples modest and derandomized in the gate; the
fuzz run (``-m 'fuzz or hypothesis'``) draws at random, ``HYPOTHESIS_PROFILE=long`` 20x more.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from edge.config.load import build_config, load_config  # noqa: E402
from edge.decoders.registry import DECODERS, get_decoder  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.model.manifest import parse_manifest  # noqa: E402
from edge.processing.preprocess import Placement  # noqa: E402
from edge.record import RecordContext, to_record  # noqa: E402
from edge.sinks.jsonl import encode_line  # noqa: E402
from edge.types import Detections, Frame, Latency, Result  # noqa: E402

KEYS = [
    "model",
    "path",
    "task",
    "labels",
    "source",
    "kind",
    "sinks",
    "decoder",
    "name",
    "threads",
    "fps",
    "uri",
    "max_frames",
    "device",
    "filters",
    "motion",
    "events",
    "output",
    "record",
    "max_bytes",
    "keep",
    "host",
    "port",
    "tls",
    "input",
    "scale",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(
        ["jsonl", "mqtt", "images", "video", "synthetic", "classify", "detect", "ssd"]
    )
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
tables = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)


@given(tables)
def test_config_dicts_validate_or_give_a_config_error(data: dict[str, Any]) -> None:
    try:
        build_config(data)
    except EdgeError as exc:
        assert exc.message and exc.exit_code == 78


@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_config_files_of_any_bytes_give_a_config_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "edge.toml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except EdgeError as exc:
        assert exc.message and exc.exit_code == 78


manifest_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
manifests = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.sampled_from(["edge.manifest/1", "x"]) | manifest_values,
        "name": manifest_values,
        "task": st.sampled_from(["classify", "detect"]) | manifest_values,
        "labels": manifest_values,
        "input": manifest_values,
        "decoder": manifest_values,
    },
)


@given(manifests.map(lambda m: json.dumps(m).encode()) | st.binary(max_size=200))
def test_manifests_parse_or_give_a_model_error(raw: bytes) -> None:
    try:
        parse_manifest(raw, origin="m.tflite")
    except EdgeError as exc:
        assert exc.message and exc.exit_code == 78


floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
arrays = hnp.arrays(
    np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7), elements=floats
)


@given(
    st.sampled_from(sorted(DECODERS)),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), arrays, min_size=1, max_size=4),
)
def test_decoders_decode_or_give_an_edge_error(name: str, outputs: dict[str, np.ndarray]) -> None:
    try:
        # numpy's RuntimeWarnings on inf - inf are warnings, not failures, in a run (the
        # suite turns warnings into errors); what counts is the result or the error.
        with np.errstate(all="ignore"):
            detections, _ = get_decoder(name)(outputs, Placement(), {})
    except EdgeError as exc:
        assert exc.message
        return
    _check_record(_record(detections))


RESULT_SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "edge" / "schemas" / "result-1.schema.json").read_text()
)


def _record(detections: Detections) -> dict[str, Any]:
    frame = Frame(image=np.zeros((4, 4, 3), np.uint8), timestamp=1.7e9, index=0, source="t")
    result = Result(0, frame, detections, ("a", "b"), Latency(0.1, 0.2, 0.3), {})
    return to_record(result, RecordContext("dev", "m", "0" * 64, "detect"))


def _check_record(record: dict[str, Any]) -> None:
    import jsonschema

    line = encode_line(record)
    parsed = json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in {line!r}"))
    jsonschema.validate(parsed, RESULT_SCHEMA)


@given(
    st.lists(
        st.tuples(st.integers(0, 5), floats, st.tuples(floats, floats, floats, floats)), max_size=6
    )
)
def test_records_are_valid_json_and_schema_with_nan_and_inf(
    rows: list[tuple[int, float, tuple[float, float, float, float]]],
) -> None:
    detections = Detections(
        np.array([r[0] for r in rows], np.int64).reshape(-1),
        np.array([r[1] for r in rows], np.float32).reshape(-1),
        np.array([r[2] for r in rows], np.float32).reshape(-1, 4),
    )
    record = _record(detections)
    _check_record(record)
    for item in record["detections"]:
        assert math.isfinite(item["score"]) and all(math.isfinite(v) for v in item["box"])


@given(values)
def test_any_record_encodes_to_one_line_of_strict_json(value: Any) -> None:
    line = encode_line({"x": value})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in {line!r}"))
