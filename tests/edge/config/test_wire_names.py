"""Names that go on the wire: device ids, topic prefixes and the discovery prefix are
refused by validation (so by ``edge check-config`` and ``edge run`` alike, exit 78) when
MQTT cannot carry them, MQTT sinks of one config may not collide on one broker, and a
device id Home Assistant would rename is warned about."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from edge.config.load import build_config
from edge.config.preflight import warn_names
from edge.config.sinks import ha_object_id
from edge.errors import EXIT_CONFIG, ConfigError
from tests.conftest import RunEdge


def mqtt(**keys: Any) -> dict[str, Any]:
    return {"kind": "mqtt", "host": "broker.lan", **keys}


BAD_DEVICES = [
    ("kitchen #2", "holds '#', an MQTT wildcard", "'kitchen_2'"),
    ("a+b", "holds '+', an MQTT wildcard", "'a_b'"),
    ("/x", "holds '/': it is one topic level", "'x'"),
    ("x/", "holds '/': it is one topic level", "'x'"),
    ("a/b", "holds '/': it is one topic level", "'a-b'"),
    ("pi\x00", "holds a NUL character", "'pi'"),
    ("pi\n", "holds a control character", "'pi'"),
    ("", "is empty", "'edge'"),
]


@pytest.mark.parametrize(("device", "problem", "example"), BAD_DEVICES)
def test_a_device_id_that_mqtt_cannot_carry_is_refused(
    device: str, problem: str, example: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"device": device})
    message = str(caught.value)
    assert f"config: device: Value error, device {device!r} {problem}" in message
    assert f"use letters, digits, '-' and '_' (e.g. {example})" in message  # the fix


BAD_PREFIXES = [
    ("kitchen #2", "holds '#'"),
    ("edge/a+b", "holds '+'"),
    ("/x", "starts or ends with '/'"),
    ("x/", "starts or ends with '/'"),
    ("a//b", "holds '//'"),
    ("a\x00b", "holds a NUL character"),
    ("$SYS/edge", "starts with '$'"),
    ("", "is empty"),
]


@pytest.mark.parametrize("key", ["prefix", "discovery_prefix"])
@pytest.mark.parametrize(("name", "problem"), BAD_PREFIXES)
def test_a_topic_prefix_that_mqtt_cannot_carry_is_refused(
    key: str, name: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"device": "pi", "sinks": [mqtt(**{key: name})]})
    message = str(caught.value)
    assert f"sinks[0].{key}: " in message and f"{key} {name!r} {problem}" in message
    assert "use letters, digits, '-' and '_', levels joined by '/'" in message


@pytest.mark.parametrize(
    "good", ["pi-kitchen", "Pi_2", "kitchen 2", "café", "edge.lan", "$pi", "raspberrypi-3f9a1c"]
)
def test_names_mqtt_can_carry_are_kept(good: str) -> None:
    config = build_config({"device": good, "sinks": [mqtt(prefix=f"site/{good}")]})
    assert config.device == good


def test_a_bad_device_from_the_command_line_stops_run_and_check_config(
    run_edge: RunEdge, tmp_path: Path
) -> None:
    (tmp_path / "edge.toml").write_text("device = 'kitchen #2'\n")
    runs = [
        ["check-config", "edge.toml"],
        ["run", "--config", "edge.toml", "--max-frames", "1"],
        ["run", "--device", "kitchen #2", "--sink", "mqtt://127.0.0.1:1/", "--max-frames", "1"],
    ]
    for command in runs:
        done = run_edge(command)
        assert done.returncode == EXIT_CONFIG, (command, done.stderr)
        assert "device 'kitchen #2' holds '#', an MQTT wildcard" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("second", "collides_on"),
    [
        (mqtt(prefix="other"), "client id 'edge-pi'"),
        (mqtt(client_id="other"), "topic prefix 'edge/pi'"),
        (mqtt(client_id="o", prefix="o"), "Home Assistant discovery topic 'homeassistant/"),
        (mqtt(host="BROKER.lan", port=1883, client_id="o", prefix="o"), "discovery topic"),
    ],
)
def test_two_mqtt_sinks_on_one_broker_may_not_share_a_name(
    second: dict[str, Any], collides_on: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"device": "pi", "sinks": [{"kind": "jsonl"}, mqtt(), second]})
    message = str(caught.value)
    assert "sinks[1] and sinks[2] both use the" in message and collides_on in message
    assert "on the broker broker.lan:1883; give sinks[2] its own" in message


def test_mqtt_sinks_apart_are_accepted() -> None:
    sinks = [
        mqtt(),
        mqtt(host="other.lan"),  # another broker
        mqtt(port=1884),  # another broker on the same host
        mqtt(client_id="b", prefix="b", discovery_prefix="ha2"),
        mqtt(client_id="c", prefix="c", homeassistant=False),
    ]
    assert len(build_config({"device": "pi", "sinks": sinks}).sinks) == 5


def test_home_assistant_would_merge_two_devices_that_differ_only_outside_its_ids() -> None:
    # The rule the collision check and the warning use, and the discovery topic follows.
    assert ha_object_id("kitchen.2") == ha_object_id("kitchen_2") == "kitchen_2"
    assert ha_object_id("kitchen #2") == "kitchen__2"
    assert ha_object_id("Pi-3_a") == "Pi-3_a"


@pytest.mark.parametrize(
    ("device", "sinks", "warned"),
    [
        ("kitchen 2", [mqtt()], "Home Assistant will call it 'kitchen_2'"),
        ("café", [mqtt()], "Home Assistant will call it 'caf_'"),
        ("pi-kitchen", [mqtt()], None),
        ("kitchen 2", [mqtt(homeassistant=False)], None),  # no HA discovery: no HA name
        ("kitchen 2", [{"kind": "jsonl"}], None),
    ],
)
def test_a_device_id_home_assistant_renames_is_warned_about(
    device: str, sinks: list[dict[str, Any]], warned: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        warn_names(build_config({"device": device, "sinks": sinks}))
    said = [r.getMessage() for r in caplog.records]
    if warned is None:
        assert said == []
    else:
        [line] = said
        assert f"device id {device!r} is not a Home Assistant id" in line and warned in line


def test_check_config_warns_about_a_renamed_device_id(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(
        "device = 'kitchen 2'\n[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\n"
    )
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr
    assert "Home Assistant will call it 'kitchen_2'" in done.stderr
