"""Zones on MQTT: the retained count topics read back by a real ``mosquitto_sub`` after
the run, and the Home Assistant sensors per zone, label and line direction."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from edge.model.zoo import zoo_file
from edge.sinks.mqtt.homeassistant import discovery_payload
from tests.conftest import read_jsonl
from tests.edge.sinks.mqtt.conftest import Broker, Device, cleanup, needs_mosquitto
from tests.edge.sinks.mqtt.test_homeassistant import check_discovery

LABELS = [str(d) for d in range(10)]
__all__ = ["cleanup"]  # the fixture, shared with the MQTT tests


def test_discovery_has_a_sensor_per_zone_label_and_line_direction() -> None:
    payload = discovery_payload(
        device="pi1",
        prefix="edge/pi1",
        labels=LABELS,
        model_name="m",
        expire_after=60,
        zones=[("drive", ["3", "7"]), ("door", LABELS)],
        lines=["gate"],
    )
    check_discovery(payload, LABELS)  # every key is one of HA's documented keys
    components = payload["components"]
    zone_keys = {k for k in components if k.startswith(("zone_", "line_"))}
    assert zone_keys == (
        {"zone_drive_0", "zone_drive_1", "zone_drive_total", "zone_door_total"}
        | {f"zone_door_{i}" for i in range(10)}
        | {"line_gate_in", "line_gate_out"}
    )
    assert components["zone_drive_1"]["state_topic"] == "edge/pi1/zones/drive/count/7"
    assert components["zone_drive_1"]["name"] == "drive 7"
    assert components["line_gate_in"]["state_class"] == "total_increasing"
    assert components["line_gate_out"]["state_topic"] == "edge/pi1/lines/gate/out"


@needs_mosquitto
def test_retained_counts_read_by_mosquitto_sub(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    model = json.dumps(str(zoo_file("digits-detector.int8.tflite")))
    config = (
        f"max_frames = 40\n[model]\npath = {model}\n"
        "[source]\nkind = 'synthetic'\ndigits = 4\non_demand = true\n"
        "[[sinks]]\nkind = 'jsonl'\npath = 'ledger.jsonl'\n"
        f"[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {broker.port}\n"
        f"outbox = '{tmp_path}/outbox.sqlite3'\n"
        "[[zones]]\nname = 'left'\nanchor = 'center'\n"
        "points = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n"
        "[[zones]]\nname = 'odd'\nanchor = 'center'\nlabels = ['1', '3', '5', '7', '9']\n"
        "points = [[0, 0], [1, 0], [1, 1], [0, 1]]\n"
        "[[lines]]\nname = 'middle'\npoints = [[0.5, 0], [0.5, 1]]\n"
    )
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    assert device.wait(120) == 0, device.stderr
    last = [r for r in read_jsonl(tmp_path / "dev" / "ledger.jsonl")][-1]
    assert last["schema"] == "edge.result/2"
    late = subprocess.run(  # a subscriber that comes after the run: retained values only
        [
            "mosquitto_sub",
            *broker.sub_args(),
            "-t",
            "edge/pi1/zones/#",
            "-t",
            "edge/pi1/lines/#",
            "-v",
            "-W",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    retained = dict(line.split(" ", 1) for line in late.stdout.splitlines())
    expected = {}
    for label in LABELS:
        expected[f"edge/pi1/zones/left/count/{label}"] = last["zones"]["left"]["counts"].get(
            label, 0
        )
    for label in ("1", "3", "5", "7", "9"):
        expected[f"edge/pi1/zones/odd/count/{label}"] = last["zones"]["odd"]["counts"].get(label, 0)
    for zone in ("left", "odd"):
        expected[f"edge/pi1/zones/{zone}/total"] = last["zones"][zone]["total"]
    for side in ("in", "out"):
        expected[f"edge/pi1/lines/middle/{side}"] = sum(last["lines"]["middle"][side].values())
    assert {t: int(v) for t, v in retained.items() if t in expected} == expected
    assert sum(expected.values()) > 0  # the detector saw digits in the zones
