"""Config hardening: a non-UTF-8 file, relative paths resolved against the config file's
folder, every problem ``edge run`` finds before its first frame exits 78 and is found by
``edge check-config`` too, and ``--task`` that does not fit the decoder."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import BaseModel

from edge.config.load import load_config
from edge.config.paths import _mentions_path, _model_for
from edge.config.run import RunConfig
from edge.config.sinks import JsonlSinkConfig, MqttSinkConfig
from edge.config.sources import VideoSourceConfig
from edge.errors import ConfigError
from tests.conftest import RunEdge, read_jsonl


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path, run_edge: RunEdge) -> None:
    config = tmp_path / "edge.toml"
    config.write_bytes(b'device = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 13, line 1\)") as caught:
        load_config(config)
    assert caught.value.hint and "UTF-8" in caught.value.hint
    for command in (["check-config", "edge.toml"], ["run", "--config", "edge.toml"]):
        done = run_edge(command)
        assert done.returncode == 78 and "not UTF-8" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_config_that_is_a_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


EVERY_PATH = """
[model]
path = "m.tflite"
labels = "labels.txt"
[refine]
path = "second/c.tflite"
labels = "second/labels.txt"
[source]
kind = "video"
uri = "clips/a.mp4"
[output]
record = "out/rec.mp4"
snapshot_dir = "shots"
[[sinks]]
kind = "jsonl"
path = "logs/d.jsonl"
[[sinks]]
kind = "mqtt"
username = "pi"
password_file = "secret"
outbox = "state/outbox.sqlite3"
tls = {ca_file = "ca.pem", cert_file = "c.pem", key_file = "k.pem"}
[http]
token_file = "http-token"
"""


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "edge.toml").write_text(EVERY_PATH)
    config = load_config(folder / "edge.toml")
    assert config.model.path == folder / "m.tflite"
    assert config.model.labels == folder / "labels.txt"
    assert config.refine.path == folder / "second/c.tflite"
    assert config.refine.labels == folder / "second/labels.txt"
    assert isinstance(config.source, VideoSourceConfig)
    assert config.source.uri == str(folder / "clips/a.mp4")
    assert config.output.record == folder / "out/rec.mp4"
    assert config.output.snapshot_dir == folder / "shots"
    jsonl, mqtt = config.sinks
    assert isinstance(jsonl, JsonlSinkConfig) and isinstance(mqtt, MqttSinkConfig)
    assert jsonl.path == folder / "logs/d.jsonl"
    assert mqtt.password_file == folder / "secret"
    assert mqtt.outbox == folder / "state/outbox.sqlite3"
    assert config.http.token_file == folder / "http-token"
    tls = mqtt.tls
    assert tls is not None
    assert (tls.ca_file, tls.cert_file, tls.key_file) == (
        folder / "ca.pem",
        folder / "c.pem",
        folder / "k.pem",
    )


def _path_fields(model: type[BaseModel], place: str = "") -> set[str]:
    found = set()
    for name, field in model.model_fields.items():
        if _mentions_path(field.annotation):
            found.add(f"{place}{model.__name__}.{name}")
        from edge.config.paths import models_in

        for child in models_in(field.annotation):
            found |= _path_fields(child)
    return found


def test_the_example_covers_every_path_field_of_the_config_tree() -> None:
    """A new Path field is resolved by type automatically; this keeps the example honest."""
    assert _path_fields(RunConfig) == {
        "ModelConfig.path",
        "ModelConfig.labels",
        "RefineConfig.path",
        "RefineConfig.labels",
        "ImagesSourceConfig.path",
        "JsonlSinkConfig.path",
        "MqttTlsConfig.ca_file",
        "MqttTlsConfig.cert_file",
        "MqttTlsConfig.key_file",
        "MqttSinkConfig.password_file",
        "MqttSinkConfig.outbox",
        "HttpConfig.token_file",
        "OutputConfig.record",
        "OutputConfig.snapshot_dir",
    }
    assert _model_for(RunConfig.model_fields["source"].annotation, {"kind": "images"})


def test_absolute_paths_urls_and_flags_are_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "edge.toml").write_text(
        '[source]\nkind = "video"\nuri = "rtsp://cam/stream"\n[model]\nlabels = "/abs/l.txt"\n'
        '[[sinks]]\nkind = "jsonl"\npath = "d.jsonl"\n'
    )
    config = load_config(folder / "edge.toml", {"model": {"path": "flag.tflite"}})
    assert isinstance(config.source, VideoSourceConfig)
    assert config.source.uri == "rtsp://cam/stream"
    assert config.model.labels == Path("/abs/l.txt")
    assert config.model.path == Path("flag.tflite")  # a flag: relative to the cwd


def test_edge_run_from_another_folder_uses_the_config_folder(
    tmp_path: Path, run_edge: RunEdge
) -> None:
    folder = tmp_path / "etc"
    (folder / "photos").mkdir(parents=True)
    cv2.imwrite(str(folder / "photos" / "a.png"), np.zeros((28, 28), np.uint8))
    (folder / "edge.toml").write_text(
        '[source]\nkind = "images"\npath = "photos"\n[[sinks]]\nkind = "jsonl"\npath = "d.jsonl"\n'
    )
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    done = run_edge(["run", "--config", str(folder / "edge.toml")], cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert read_jsonl(folder / "d.jsonl") and not list(elsewhere.iterdir())


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[source]\nkind = "images"\npath = "nope"\n', "image folder .* does not exist"),
        ('[source]\nkind = "images"\npath = "empty"\n', "holds no images"),
        ('[source]\nkind = "video"\nuri = "nope.mp4"\n', "video file .* does not exist"),
        ('[output]\nrecord = "nope/out.mp4"\n', "folder of the recording .* does not exist"),
        (
            '[[sinks]]\nkind = "jsonl"\npath = "nope/d.jsonl"\n',
            "folder of the log .* does not exist",
        ),
        ('[model]\nlabels = "nope.txt"\n', "labels file .* does not exist"),
        (
            '[[sinks]]\nkind = "mqtt"\n[sinks.tls]\ncert_file = "c.pem"\n',
            "cert_file and tls.key_file go together",
        ),
    ],
)
def test_problems_before_the_first_frame_exit_78_in_run_and_check_config(
    tmp_path: Path, run_edge: RunEdge, table: str, message: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "edge.toml").write_text(table)
    checked = run_edge(["check-config", "edge.toml"])
    ran = run_edge(["run", "--config", "edge.toml", "--max-frames", "1"])
    for done in (checked, ran):
        assert done.returncode == 78, done.stderr
        assert re.search(message, done.stderr), done.stderr
        assert "Traceback" not in done.stderr


def test_task_that_does_not_fit_the_manifest_decoder_is_refused(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    done = run_edge(["run", "--task", "detect", "--max-frames", "1"])
    assert done.returncode == 78
    assert "task 'detect' does not fit decoder 'classify'" in done.stderr
    assert not (tmp_path / "detections.jsonl").exists()
    same = run_edge(["run", "--task", "classify", "--max-frames", "1", "--sink", "jsonl:o.jsonl"])
    assert same.returncode == 0, same.stderr
    assert read_jsonl(tmp_path / "o.jsonl")[0]["model"]["task"] == "classify"
