"""The fleet page's bridge example, run for real: device -> local mosquitto -> central.

Two mosquittos on loopback; the local one carries the bridge section of docs/mqtt.md
(without TLS and credentials, which the security tests cover). A device publishes to the
local broker; a subscriber on the central broker must receive its results, availability
and discovery, and a command published centrally must reach the device.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import read_jsonl
from tests.edge.sinks.mqtt.conftest import (
    Broker,
    Device,
    Subscriber,
    mqtt_config,
    needs_mosquitto,
)
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto


def test_bridge_forwards_results_and_commands(tmp_path: Path, cleanup: list[Any]) -> None:
    central = Broker(tmp_path / "central").start()
    cleanup.append(central)
    bridge = (
        "connection central\n"
        f"address 127.0.0.1:{central.port}\n"
        "remote_clientid bridge-pi1\n"
        "cleansession false\n"
        "bridge_protocol_version mqttv311\n"
        "topic edge/# out 1\n"
        "topic homeassistant/# out 1\n"
        "topic edge/+/set in 1\n"
        "notifications true\n"
    )
    local = Broker(tmp_path / "local", extra=bridge).start()
    cleanup.append(local)
    sub = Subscriber(central, ["edge/pi1/#", "homeassistant/device/+/config"], tmp_path / "sub.txt")
    cleanup.append(sub)
    sub.wait_ready()
    device = Device(tmp_path / "dev", mqtt_config(local, tmp_path), "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: len(sub.results()) >= 20, 30, "results at the central broker")
    assert "online" in sub.payloads("/availability")
    assert sub.payloads("/config"), "discovery crossed the bridge"

    subprocess.run(
        [
            "mosquitto_pub",
            *central.sub_args(),
            "-q",
            "1",
            "-t",
            "edge/pi1/set",
            "-m",
            '{"threshold": 1.0}',
        ],
        check=True,
        timeout=10,
    )
    wait_for(
        lambda: "command: score threshold 1.0" in device.stderr,
        10,
        "the central command at the device",
    )
    assert device.stop() == 0, device.stderr
    ledger = {r["id"] for r in read_jsonl(tmp_path / "dev" / "ledger.jsonl")}
    wait_for(lambda: ledger <= {r["id"] for r in sub.results()}, 20, "every result")
    assert json.loads(sub.payloads("/state")[-1])["threshold"] == 1.0
    assert sub.payloads("/availability")[-1] == "stopped"
