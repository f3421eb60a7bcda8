from __future__ import annotations

from pathlib import Path

import pytest

from edge.config.load import load_config
from edge.config.sinks import JsonlSinkConfig
from edge.config.sources import CameraSourceConfig, ImagesSourceConfig, SyntheticSourceConfig
from edge.errors import EXIT_CONFIG, ConfigError
from edge.sinks import parse_sink_spec
from edge.sources import parse_source_spec


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    config = load_config(None)
    assert isinstance(config.source, SyntheticSourceConfig)
    assert config.sinks == [JsonlSinkConfig(path=Path("detections.jsonl"))]
    assert config.model.path is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[decoder]\ntreshold = 0.3\n",
            ["unknown key 'treshold' in [decoder] (line 2)", "did you mean 'threshold'"],
        ),
        (
            "[source]\nkind = 'synthetic'\nfsp = 3\n",
            ["unknown key 'fsp' in [source] (line 3)", "did you mean 'fps'"],
        ),
        (
            "[[sinks]]\nkind = 'jsonl'\npth = 'a.jsonl'\n",
            ["unknown key 'pth' in [sinks[0]] (line 3)", "did you mean 'path'"],
        ),
        ("colour = 'red'\n", ["unknown key 'colour' in [the top level] (line 1)"]),
        ("[model]\nthreads = 0\n", ["model.threads: Input should be greater than or equal to 1"]),
        ("[source]\nkind = 'kinect'\n", ["source"]),
    ],
)
def test_bad_config_names_key_and_place(tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.exit_code == EXIT_CONFIG
    for fragment in expected:
        assert fragment in str(info.value)


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[model\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_flags_override_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[model]\nthreads = 3\n[source]\nkind = 'synthetic'\nfps = 5\n")
    config = load_config(path, {"model": {"threads": 1}, "max_frames": 9})
    assert config.model.threads == 1
    assert config.max_frames == 9
    assert isinstance(config.source, SyntheticSourceConfig) and config.source.fps == 5


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("synthetic", SyntheticSourceConfig),
        ("0", CameraSourceConfig),
        ("/dev/video3", CameraSourceConfig),
    ],
)
def test_source_specs(spec: str, kind: type) -> None:
    assert isinstance(load_config(None, {"source": parse_source_spec(spec)}).source, kind)


def test_folder_spec_is_images(tmp_path: Path) -> None:
    config = load_config(None, {"source": parse_source_spec(str(tmp_path))})
    assert isinstance(config.source, ImagesSourceConfig)


def test_url_and_file_specs_are_video() -> None:
    assert parse_source_spec("rtsp://cam/stream") == {"kind": "video", "uri": "rtsp://cam/stream"}
    assert parse_source_spec("clip.mp4") == {"kind": "video", "uri": "clip.mp4"}


def test_sink_specs() -> None:
    assert parse_sink_spec("jsonl:/tmp/x.jsonl") == {"kind": "jsonl", "path": "/tmp/x.jsonl"}
    assert parse_sink_spec("stdout") == {"kind": "stdout"}
