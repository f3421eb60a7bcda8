"""Hostile messages on ``<prefix>/set`` against a running ``edge run`` and a real mosquitto.

Decisions under test (docs/mqtt.md, "Limits" and "Commands"): a message is size-checked
(``MAX_MESSAGE_BYTES``) and its nesting bounded before it is parsed, no exception ends
paho's network thread, a command's fields are strictly typed and a rejection names the
field. Afterwards results still reach an independent ``mosquitto_sub`` and a valid
command is still applied. With MQTT 5 the broker is told the largest packet the device
takes and never delivers a larger one. If paho's network thread ends anyway, the sink
says ``failed`` and why.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edge.config.sinks import MqttSinkConfig
from edge.pipeline.control import RunControl
from edge.sinks.base import BackgroundSink
from edge.sinks.mqtt.client import MqttSink
from edge.sinks.mqtt.connection import MAX_MESSAGE_BYTES, MAX_PACKET_BYTES
from tests.edge.sinks.mqtt.conftest import Broker, Device, Subscriber, mqtt_config, needs_mosquitto
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto

NESTED = b"[" * 5000 + b"]" * 5000  # 10 KB: json.loads raised RecursionError on it
OVERSIZED = b'{"threshold": 0.5, "pad": "' + b"x" * (MAX_MESSAGE_BYTES + 1000) + b'"}'


def publish(broker: Broker, topic: str, payload: bytes, tmp: Path) -> None:
    path = tmp / "payload.bin"
    path.write_bytes(payload)
    subprocess.run(
        ["mosquitto_pub", *broker.sub_args(), "-q", "1", "-t", topic, "-f", str(path)],
        check=True,
        timeout=30,
    )


def states(subscriber: Subscriber) -> list[dict[str, Any]]:
    return [json.loads(p) for p in subscriber.payloads("/state")]


def start(tmp_path: Path, cleanup: list[Any], sink_extra: str = "") -> tuple[Broker, Subscriber]:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(
        broker, ["edge/pi1/results", "edge/pi1/state"], tmp_path / "sub.txt", persistent=False
    )
    cleanup.append(subscriber)
    subscriber.wait_ready()
    return broker, subscriber


def test_hostile_commands_leave_delivery_and_commands_working(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    broker, subscriber = start(tmp_path, cleanup)
    device = Device(tmp_path / "dev", mqtt_config(broker, tmp_path), "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: len(subscriber.results()) >= 10 and states(subscriber), 30, "results")
    for payload in (NESTED, OVERSIZED, b'{"threshold": true}', b'{"threshold": "0.5"}'):
        publish(broker, "edge/pi1/set", payload, tmp_path)

    def rejected() -> list[Any]:
        return [s["rejected"] for s in states(subscriber) if "rejected" in s]

    wait_for(lambda: len(rejected()) >= 3, 20, "three rejections on edge/pi1/state")
    assert rejected() == [
        {"field": None, "error": "nested deeper than 4 levels; a command is one flat JSON object"},
        {"field": "threshold", "error": "must be a number from 0 to 1, or null (got true)"},
        {"field": "threshold", "error": 'must be a number from 0 to 1, or null (got "0.5")'},
    ]
    # Results keep coming, and a valid command is still applied.
    after = len(subscriber.results())
    wait_for(lambda: len(subscriber.results()) >= after + 20, 30, "results after the attack")
    publish(broker, "edge/pi1/set", b'{"threshold": 0.25}', tmp_path)
    applied = {"paused": False, "threshold": 0.25, "effective_threshold": 0.5}  # the model's 0.5
    wait_for(lambda: applied in states(subscriber), 20, "the command")
    assert device.stop() == 0, device.stderr
    log = device.stderr
    assert f"ignored a message of {len(OVERSIZED)} bytes on edge/pi1/set" in log
    assert f"the limit is {MAX_MESSAGE_BYTES} bytes" in log
    assert "threshold: must be a number from 0 to 1, or null (got true)" in log
    assert 'threshold: must be a number from 0 to 1, or null (got "0.5")' in log
    assert "nested deeper than 4 levels" in log
    assert "command: score threshold 0.25" in log
    assert "Traceback" not in log and "RecursionError" not in log
    assert "failed" not in log


def test_mqtt5_broker_never_delivers_an_oversized_message(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    broker, subscriber = start(tmp_path, cleanup)
    config = mqtt_config(broker, tmp_path, sink_extra="protocol = '5'")
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: len(subscriber.results()) >= 10 and states(subscriber), 30, "results")
    # Over the packet size announced in CONNECT (a payload between MAX_MESSAGE_BYTES and
    # that is delivered and refused by the device, as with 3.1.1, test above).
    too_big = b'{"threshold": 0.5, "pad": "' + b"x" * MAX_PACKET_BYTES + b'"}'
    publish(broker, "edge/pi1/set", too_big, tmp_path)
    publish(broker, "edge/pi1/set", b'{"threshold": 0.75}', tmp_path)
    applied = {"paused": False, "threshold": 0.75, "effective_threshold": 0.75}
    wait_for(lambda: applied in states(subscriber), 20, "command")
    after = len(subscriber.results())
    wait_for(lambda: len(subscriber.results()) >= after + 10, 30, "results afterwards")
    assert device.stop() == 0, device.stderr
    # The broker dropped it for this client: the device never saw the message.
    assert "ignored a message of" not in device.stderr
    assert "threshold 0.5" not in device.stderr
    assert "Dropping too large outgoing PUBLISH for edge-pi1" in broker.log.read_text()


class _Killed(BaseException):
    """Not an ``Exception``: the one kind the callback guard lets end paho's thread, as a
    fault inside paho itself would."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_network_thread_fails_the_sink(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    config = MqttSinkConfig(host="127.0.0.1", port=broker.port, outbox=tmp_path / "o.sqlite3")
    sink = MqttSink(
        config,
        device="pi1",
        password=None,
        model_name="m",
        model_sha256="0" * 64,
        control=RunControl(),
    )
    background = BackgroundSink(sink)
    try:
        wait_for(lambda: sink.state == "connected", 20, "a connection")
        assert background.failure is None

        def kill(topic: str, payload: bytes, retain: bool) -> None:
            raise _Killed("injected")

        sink._commands.on_message = kill  # type: ignore[method-assign]
        publish(broker, "edge/pi1/set", b'{"paused": true}', tmp_path)
        wait_for(lambda: background.failure is not None, 20, "the failure")
        reason = "the MQTT network thread ended (_Killed('injected') in the message callback)"
        assert sink.failure == reason
        assert background.state == sink.state == f"failed ({reason})"
    finally:
        background.close()
