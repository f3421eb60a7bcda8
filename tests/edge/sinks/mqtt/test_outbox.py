"""The outbox on its own (real SQLite files), the --sink mqtt:// spec, secrets and config."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.config.load import load_config
from edge.config.secrets import read_secret
from edge.config.sinks import MqttSinkConfig, MqttTlsConfig
from edge.errors import EXIT_CONFIG, EXIT_USAGE, ConfigError, EdgeError, UsageError
from edge.sinks import parse_sink_spec
from edge.sinks.mqtt.client import default_outbox_path
from edge.sinks.mqtt.outbox import Outbox
from edge.sinks.mqtt.stats import cpu_temperature
from tests.conftest import RunEdge


def rows(n: int, start: int = 0) -> list[tuple[str, bytes]]:
    return [("t", f"payload-{i:05d}".encode()) for i in range(start, start + n)]


def test_rows_survive_reopen_in_order_and_acked_rows_go(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3")
    box.commit(rows(5), acked=[])
    first = box.after(0, 10)
    assert [p for _, _, p in first] == [p for _, p in rows(5)]
    box.commit(rows(2, 5), acked=[first[0][0], first[1][0]])
    box.close()
    again = Outbox(tmp_path / "o.sqlite3")
    assert again.rows == 5 and [p for _, _, p in again.after(0, 10)] == [p for _, p in rows(5, 2)]
    assert again.after(first[3][0], 10)[0][2] == b"payload-00004"
    again.close()


def test_overflow_drops_oldest_exactly_and_spares_inflight(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_rows=10)
    box.commit(rows(10), acked=[])
    ids = [i for i, _, _ in box.after(0, 10)]
    box.commit(rows(5, 10), acked=[], inflight=ids[:2])  # the two oldest are in flight
    kept = [p for _, _, p in box.after(0, 100)]
    assert box.dropped == 5 and box.rows == 10 and len(kept) == 10
    assert kept[:2] == [b"payload-00000", b"payload-00001"]  # in flight: kept
    assert kept[2:] == [f"payload-{i:05d}".encode() for i in range(7, 15)]
    box.close()
    assert Outbox(tmp_path / "o.sqlite3").dropped_total == 5  # persisted across runs


def test_byte_and_age_bounds(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite3", max_bytes=4096 * 2)
    box.commit([("t", b"x" * 4096)] * 5, acked=[])
    assert box.rows == 2 and box.bytes == 8192 and box.dropped == 3
    old = Outbox(tmp_path / "age.sqlite3", max_age=0.05)
    old.commit(rows(3), acked=[])
    import time

    time.sleep(0.1)
    old.commit(rows(1, 3), acked=[])
    assert old.rows == 1 and old.dropped == 3


def test_a_corrupt_outbox_is_kept_aside_and_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    box = Outbox(path)
    box.commit(rows(1), acked=[])
    assert box.rows == 1
    assert list(tmp_path.glob("o.sqlite3.corrupt-*")), "the evidence is kept"
    assert "was corrupt" in caplog.text


def test_unwritable_outbox_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(EdgeError, match="cannot open the MQTT outbox"):
        Outbox(tmp_path / "file" / "o.sqlite3")


def test_wal_mode_and_full_sync(tmp_path: Path) -> None:
    Outbox(tmp_path / "o.sqlite3").close()
    with sqlite3.connect(tmp_path / "o.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mqtt://broker", {"kind": "mqtt", "host": "broker"}),
        (
            "mqtt://pi@broker.lan:1884/site/pi1",
            {
                "kind": "mqtt",
                "host": "broker.lan",
                "port": 1884,
                "username": "pi",
                "prefix": "site/pi1",
            },
        ),
        ("mqtts://broker", {"kind": "mqtt", "host": "broker", "tls": {}}),
        (
            "mqtts://pi@broker?password_file=/etc/edge/pw&ca_file=/etc/edge/ca.crt",
            {
                "kind": "mqtt",
                "host": "broker",
                "username": "pi",
                "password_file": "/etc/edge/pw",
                "tls": {"ca_file": "/etc/edge/ca.crt"},
            },
        ),
        ("mqtt://[::1]:1883", {"kind": "mqtt", "host": "::1", "port": 1883}),
    ],
)
def test_mqtt_sink_spec(spec: str, expected: dict[str, object]) -> None:
    assert parse_sink_spec(spec) == expected
    MqttSinkConfig.model_validate(expected)  # and it is a valid [[sinks]] table


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mqtt://pi:secret@broker", "password in the --sink URL"),
        ("mqtt://broker:99999", "bad port"),
        ("mqtt://", "no broker host"),
        ("mqtt://broker?password=x", "unknown option 'password'"),
    ],
)
def test_bad_mqtt_sink_spec(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        parse_sink_spec(spec)
    assert error.value.exit_code == EXIT_USAGE
    assert "secret" not in str(error.value)


def test_mqtt_config_checks(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(
        "[[sinks]]\nkind = 'mqtt'\nhost = 'b'\nusername = 'pi'\n"
        "password_file = 'a'\npassword_env = 'B'\n"
    )
    with pytest.raises(ConfigError, match="password in one way only") as error:
        load_config(path)
    assert error.value.exit_code == EXIT_CONFIG
    path.write_text("[[sinks]]\nkind = 'mqtt'\nhots = 'b'\n")
    with pytest.raises(ConfigError, match="did you mean 'host'"):
        load_config(path)
    path.write_text("[[sinks]]\nkind = 'mqtt'\npassword_env = 'B'\n")
    with pytest.raises(ConfigError, match="a password needs a username"):
        load_config(path)
    path.write_text("[[sinks]]\nkind = 'mqtt'\n[sinks.tls]\nca_file = 'ca.crt'\n")
    expected = MqttSinkConfig(tls=MqttTlsConfig(ca_file=tmp_path / "ca.crt"))  # next to the config
    assert load_config(path).sinks[0] == expected


def test_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    assert read_secret(file=tmp_path / "pw") == "s3cret"
    monkeypatch.setenv("EDGE_PW", "from-env")
    assert read_secret(env="EDGE_PW") == "from-env"
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert read_secret(credential="pw") == "s3cret"
    assert read_secret() is None
    with pytest.raises(ConfigError, match="does not exist"):
        read_secret(file=tmp_path / "nope")
    with pytest.raises(ConfigError, match="is not set"):
        read_secret(env="EDGE_NOPE")
    (tmp_path / "empty").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        read_secret(file=tmp_path / "empty")
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ConfigError, match="LoadCredential=pw:"):
        read_secret(credential="pw")


def test_default_outbox_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    assert default_outbox_path("pi/1") == Path("edge-outbox-pi_1.sqlite3")
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/edge:/var/lib/other")
    assert default_outbox_path("pi1") == Path("/var/lib/edge/edge-outbox-pi1.sqlite3")


def test_cpu_temperature_from_sysfs(tmp_path: Path) -> None:
    zone = tmp_path / "thermal_zone0"
    zone.mkdir()
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text("48312\n")
    assert cpu_temperature(tmp_path) == 48.3
    assert cpu_temperature(tmp_path / "none") is None


def test_the_documented_config_is_valid(tmp_path: Path) -> None:
    import re

    text = (Path(__file__).resolve().parents[4] / "docs" / "mqtt.md").read_text()
    block = re.findall(r"```toml\n(.*?)```", text, re.S)[0]
    path = tmp_path / "edge.toml"
    path.write_text(block)
    sink = load_config(path).sinks[0]
    assert isinstance(sink, MqttSinkConfig) and sink.tls is not None
    assert sink.password_credential == "mqtt-password"


def test_check_config_finds_a_missing_password_file(run_edge: RunEdge, tmp_path: Path) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f"[[sinks]]\nkind = 'mqtt'\nusername = 'pi'\npassword_file = '{tmp_path}/missing'\n"
    )
    done = run_edge(["check-config", str(config)])
    assert done.returncode == 78
    assert "the MQTT password file" in done.stderr
    (tmp_path / "missing").write_text("pw\n")
    assert run_edge(["check-config", str(config)]).returncode == 0
