"""``[http]`` is validated like every table: bounds, NaN, unknown keys with the nearest
one, and a token required beyond loopback; ``--http`` is the same as the table."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge.cli.run import _overrides
from edge.config.http import is_loopback, split_listen
from edge.config.load import build_config, load_config
from edge.errors import ConfigError
from tests.conftest import RunEdge


def test_off_by_default_and_on_loopback() -> None:
    config = build_config({})
    assert not config.http.enabled and config.http.listen == "127.0.0.1:8080"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"stream_fps": float("nan")}, "stream_fps"),
        ({"stream_fps": 0}, "stream_fps"),
        ({"stream_fps": 1000}, "stream_fps"),
        ({"health_window": float("nan")}, "health_window"),
        ({"health_window": float("inf")}, "health_window"),
        ({"max_viewers": 0}, "max_viewers"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"stream_width": 10}, "stream_width"),
        ({"listen": "8080"}, "not HOST:PORT"),
        ({"listen": "127.0.0.1:70000"}, "not 0-65535"),
        ({"username": "a:b"}, "cannot hold ':'"),
        ({"strem_fps": 5}, "did you mean 'stream_fps'"),
        ({"token_file": "a", "token_env": "B"}, "one way only"),
    ],
)
def test_bad_values_are_refused_by_name(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config({"http": table})


def test_beyond_loopback_a_token_is_required() -> None:
    with pytest.raises(ConfigError, match="needs a token"):
        build_config({"http": {"enabled": True, "listen": "0.0.0.0:8080"}})
    config = build_config(
        {"http": {"enabled": True, "listen": "0.0.0.0:8080", "token_env": "EDGE_HTTP_TOKEN"}}
    )
    assert config.http.has_token


def test_listen_addresses() -> None:
    assert split_listen("[::1]:9000") == ("::1", 9000)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("camera.local")  # a name may resolve anywhere


def test_the_flag_is_the_table(tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("[http]\nlisten = '127.0.0.1:9999'\nstream_fps = 2\n")
    parser = argparse.ArgumentParser()
    from edge.cli.run import add_parser

    add_parser(parser.add_subparsers())
    bare = parser.parse_args(["run", "--http"])
    config = load_config(tmp_path / "edge.toml", _overrides(bare))
    assert config.http.enabled and config.http.listen == "127.0.0.1:9999"
    given = parser.parse_args(["run", "--http", "127.0.0.1:7000"])
    config = load_config(tmp_path / "edge.toml", _overrides(given))
    assert config.http.listen == "127.0.0.1:7000" and config.http.stream_fps == 2
    assert not load_config(
        tmp_path / "edge.toml", _overrides(parser.parse_args(["run"]))
    ).http.enabled


def test_check_config_reads_the_token_source(tmp_path: Path, run_edge: RunEdge) -> None:
    (tmp_path / "edge.toml").write_text(
        "[http]\nenabled = true\nlisten = '0.0.0.0:8080'\ntoken_file = 'missing-token'\n"
    )
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 78, done.stderr
    assert "HTTP token file" in done.stderr and "missing-token" in done.stderr
    (tmp_path / "missing-token").write_text("s3cret-token\n")
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert "s3cret-token" not in done.stdout + done.stderr
    (tmp_path / "edge.toml").write_text(
        "[http]\nenabled = true\nlisten = '0.0.0.0:8080'\ntoken_credential = 'http-token'\n"
    )
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0 and "HTTP token credential 'http-token'" in done.stderr
