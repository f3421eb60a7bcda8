"""Home Assistant discovery, availability and commands, against a real mosquitto.

The key lists below are copied from Home Assistant's documentation
(home-assistant/home-assistant.io, ``source/_integrations/mqtt.markdown``: "Device
discovery payload", the "Supported abbreviations" tables for components, device registry
and origin; ``event``, ``binary_sensor``, ``sensor``, ``image``, ``switch`` and ``number``
``.mqtt.markdown`` configuration).
HA ignores unknown keys silently, so a misspelt key would be a silent bug: every key we
send must be a documented one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.model.zoo import zoo_file
from edge.sinks.mqtt.homeassistant import discovery_payload, discovery_topic
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

# Full names of HA's documented abbreviation table (mqtt.markdown), the keys a component
# or the root of a discovery payload may use, plus the keys every MQTT entity documents.
DOCUMENTED_KEYS = {
    "action_topic",
    "availability",
    "availability_mode",
    "availability_topic",
    "availability_template",
    "command_off_template",
    "command_on_template",
    "command_topic",
    "command_template",
    "components",
    "content_type",
    "device",
    "device_class",
    "display_precision",
    "encoding",
    "enabled_by_default",
    "entity_category",
    "entity_picture",
    "event_types",
    "expire_after",
    "force_update",
    "icon",
    "image_encoding",
    "image_topic",
    "json_attributes",
    "json_attributes_topic",
    "json_attributes_template",
    "max",
    "min",
    "mode",
    "modes",
    "name",
    "origin",
    "object_id",
    "off_delay",
    "optimistic",
    "options",
    "payload_available",
    "payload_not_available",
    "payload_off",
    "payload_on",
    "payload_press",
    "platform",
    "retain",
    "state_class",
    "state_off",
    "state_on",
    "state_topic",
    "state_template",
    "state_value_template",
    "step",
    "suggested_display_precision",
    "unique_id",
    "unit_of_measurement",
    "url_template",
    "url_topic",
    "value_template",
    "qos",
}
DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "identifiers",
    "name",
    "manufacturer",
    "model",
    "model_id",
    "hw_version",
    "sw_version",
    "suggested_area",
    "serial_number",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"payload_available", "payload_not_available", "topic", "value_template"}
REQUIRED = {
    "event": {"state_topic", "event_types"},
    "binary_sensor": {"state_topic"},
    "sensor": {"state_topic"},
    "switch": {"command_topic"},
    "number": {"command_topic"},
    "image": {"image_topic", "content_type"},
}
DIAGNOSTIC = {"fps", "infer_p50", "infer_p95", "outbox", "cpu_temp"}


def zoo_detector() -> Path:
    return zoo_file("digits-detector.int8.tflite")


def check_discovery(payload: dict[str, Any], labels: list[str], task: str = "detect") -> None:
    assert set(payload) <= DOCUMENTED_KEYS
    assert {"device", "origin", "components"} <= set(payload)  # required for device discovery
    assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"]
    assert set(payload["origin"]) <= ORIGIN_KEYS and payload["origin"]["name"]
    for item in payload["availability"]:
        assert set(item) <= AVAILABILITY_KEYS and "topic" in item
    unique_ids = set()
    for component_id, component in payload["components"].items():
        assert set(component) <= DOCUMENTED_KEYS, component_id
        platform = component["platform"]
        assert REQUIRED[platform] <= set(component), component_id
        unique_ids.add(component["unique_id"])
    assert len(unique_ids) == len(payload["components"])
    components = payload["components"]
    platforms = [c["platform"] for c in components.values()]
    assert platforms.count("event") == 1 and platforms.count("binary_sensor") == len(labels)
    counts = {key for key in components if key.startswith("count_")}
    if task == "detect":
        assert counts == {f"count_{i}" for i in range(len(labels))} | {"count_all"}
    else:
        assert not counts
    for key, component in components.items():
        category = "diagnostic" if key in DIAGNOSTIC else None
        category = "config" if key == "threshold" else category
        assert component.get("entity_category") == category, key
    assert components["threshold"]["value_template"] == "{{ value_json.effective_threshold }}"
    assert components["status"]["options"] == ["running", "paused"]
    sensors = {
        c["value_template"] for c in payload["components"].values() if c["platform"] == "sensor"
    }
    assert {"{{ value_json.fps }}", "{{ value_json.infer_ms_p50 }}"} <= sensors
    event = next(c for c in payload["components"].values() if c["platform"] == "event")
    assert event["event_types"] == labels
    for component in payload["components"].values():
        if component["platform"] == "binary_sensor":
            assert isinstance(component["expire_after"], int) and component["expire_after"] > 0


def test_discovery_payload_uses_documented_keys_only() -> None:
    labels = ["person", 'say "hi"', "7"]
    payload = discovery_payload(
        device="pi kitchen",
        prefix="edge/pi kitchen",
        labels=labels,
        model_name="m",
        expire_after=60,
    )
    check_discovery(payload, labels)
    assert (
        discovery_topic("homeassistant", "pi kitchen") == "homeassistant/device/pi_kitchen/config"
    )
    template = payload["components"]["label_1"]["value_template"]
    assert '"say \\"hi\\"" in value_json.present' in template


def pub(broker: Broker, topic: str, message: str, *, retain: bool = False) -> None:
    subprocess.run(
        [
            "mosquitto_pub",
            *broker.sub_args(),
            "-q",
            "1",
            "-t",
            topic,
            "-m",
            message,
            *(["-r"] if retain else []),
        ],
        check=True,
        timeout=10,
    )


def test_discovery_availability_and_last_will(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    sub = Subscriber(
        broker,
        ["homeassistant/device/+/config", "edge/pi1/#"],
        tmp_path / "sub.txt",
        persistent=False,
    )
    cleanup.append(sub)
    sub.wait_ready()
    config = mqtt_config(broker, tmp_path, sink_extra="expire_after = 9")
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: sub.payloads("/config"), 20, "the discovery message")
    labels = [str(i) for i in range(10)]  # the shipped digits model
    discovery = [m for m in sub.messages() if m.topic == "homeassistant/device/pi1/config"]
    check_discovery(json.loads(discovery[0].payload), labels, task="classify")
    wait_for(lambda: "online" in sub.payloads("/availability"), 10, "online")
    wait_for(lambda: sub.payloads("/stats") and sub.payloads("/labels"), 10, "stats")
    stats = json.loads(sub.payloads("/stats")[-1])
    assert stats["model"]["name"] == "digits-cnn" and len(stats["model"]["sha256"]) == 64
    assert {
        "fps",
        "infer_ms_p50",
        "infer_ms_p95",
        "dropped_frames",
        "sink_drops",
        "outbox",
        "uptime_s",
        "cpu_temp_c",
    } <= set(stats)
    labels_state = json.loads(sub.payloads("/labels")[-1])
    assert set(labels_state["present"]) <= set(labels)

    pub(broker, "homeassistant/status", "online")  # HA restarted: republish discovery
    wait_for(lambda: len(sub.payloads("/config")) >= 2, 10, "discovery republished")

    device.kill()  # SIGKILL: the broker publishes the last will
    wait_for(lambda: sub.payloads("/availability")[-1:] == ["offline"], 10, "the last will")

    again = Device(tmp_path / "dev2", config, "--device", "pi1")
    cleanup.append(again)
    wait_for(lambda: sub.payloads("/availability")[-1:] == ["online"], 20, "online again")
    assert again.stop() == 0, again.stderr
    wait_for(lambda: sub.payloads("/availability")[-1:] == ["stopped"], 10, "stopped")
    # All retained, so a late subscriber (HA starting later) sees them too.
    late = subprocess.run(
        [
            "mosquitto_sub",
            *broker.sub_args(),
            "-t",
            "edge/pi1/availability",
            "-t",
            "homeassistant/device/pi1/config",
            "-t",
            "edge/pi1/stats",
            "-C",
            "3",
            "-W",
            "5",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert "edge/pi1/availability stopped" in late.stdout
    assert "homeassistant/device/pi1/config {" in late.stdout
    assert "edge/pi1/stats {" in late.stdout


def test_commands_pause_resume_threshold(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    pub(broker, "edge/pi1/set", '{"paused": true}', retain=True)  # stale: must be ignored
    sub = Subscriber(
        broker,
        ["edge/pi1/results", "edge/pi1/state", "edge/pi1/stats"],
        tmp_path / "sub.txt",
        persistent=False,
    )
    cleanup.append(sub)
    sub.wait_ready()
    device = Device(tmp_path / "dev", mqtt_config(broker, tmp_path), "--device", "pi1")
    cleanup.append(device)
    ledger = tmp_path / "dev" / "ledger.jsonl"
    wait_for(lambda: "ignored a retained command" in device.stderr, 20, "retained ignored")
    wait_for(lambda: len(sub.results()) >= 10, 20, "results while not paused")

    pub(broker, "edge/pi1/set", '{"paused": true}')
    wait_for(lambda: json.loads(sub.payloads("/state")[-1])["paused"], 10, "paused state")
    # Frames already past the pause check still reach the ledger. The stages keep the
    # order, so once the loop has counted a paused frame (in /stats, sent from the loop),
    # every earlier frame is written: waited for, not assumed after a fixed time.
    wait_for(
        lambda: any(json.loads(p)["paused_frames"] > 0 for p in sub.payloads("/stats")),
        20,
        "a paused frame counted in /stats",
    )
    paused_at = len(read_jsonl(ledger))
    time.sleep(1.5)
    assert len(read_jsonl(ledger)) == paused_at, "no records while paused"

    pub(broker, "edge/pi1/set", '{"paused": false, "threshold": 1.0}')
    wait_for(
        lambda: (
            json.loads(sub.payloads("/state")[-1])
            == {"paused": False, "threshold": 1.0, "effective_threshold": 1.0}
        ),
        10,
        "resumed state",
    )
    # The state is sent once both settings are in place, so every frame captured after
    # it arrived is recorded with the threshold; the few recorded between the two
    # settings (resumed, threshold not yet set) are left out, however many there are.
    applied = time.time()
    wait_for(lambda: len(read_jsonl(ledger)) >= paused_at + 10, 10, "records after resume")

    def captured_after() -> list[dict[str, Any]]:
        found = [r for r in read_jsonl(ledger) if _ts(r["ts"]) > applied]
        return found if len(found) >= 5 else []

    after = wait_for(captured_after, 10, "records captured after the threshold was set")
    assert all(r["detections"] == [] for r in after)  # nothing scores >= 1.0

    pub(broker, "edge/pi1/set", '{"threshold": null}')
    pub(broker, "edge/pi1/set", '{"paused": "yes"}')  # invalid: logged, ignored
    pub(broker, "edge/pi1/set", "not json")
    wait_for(lambda: device.stderr.count("ignored an invalid command") >= 2, 10, "invalid")
    count = len(read_jsonl(ledger))
    wait_for(lambda: len(read_jsonl(ledger)) >= count + 10, 10, "still running")
    assert read_jsonl(ledger)[-1]["detections"], "threshold restored"
    assert device.stop() == 0, device.stderr
    assert "command: detection paused" in device.stderr
    assert "command: detection resumed" in device.stderr
    states = [json.loads(p) for p in sub.payloads("/state")]
    # Rejections go out on /state too, not retained, with the state unchanged.
    assert [s.pop("rejected")["field"] for s in states if "rejected" in s] == ["paused", None]
    # The digits classifier's own threshold is 0.5: the number entity shows it again.
    assert states[-1] == {"paused": False, "threshold": None, "effective_threshold": 0.5}


def test_many_labels_keep_only_the_event_entity() -> None:
    labels = [f"class{i}" for i in range(1000)]
    payload = discovery_payload(
        device="d", prefix="edge/d", labels=labels, model_name="m", expire_after=60
    )
    platforms = [c["platform"] for c in payload["components"].values()]
    assert "binary_sensor" not in platforms and platforms.count("event") == 1


def test_stats_and_state_follow_the_model_after_a_reload(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    """SIGHUP swaps the model: the retained stats follow it (name and sha256), and so
    does the retained state's threshold (the number entity), with no command sent."""
    import signal

    from edge.model.zoo import zoo_file

    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    sub = Subscriber(
        broker, ["edge/pi1/stats", "edge/pi1/state"], tmp_path / "sub.txt", persistent=False
    )
    cleanup.append(sub)
    sub.wait_ready()
    config = mqtt_config(broker, tmp_path)
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: sub.payloads("/stats") and sub.payloads("/state"), 20, "stats and state")
    assert json.loads(sub.payloads("/stats")[-1])["model"]["name"] == "digits-cnn"
    assert json.loads(sub.payloads("/state")[-1])["effective_threshold"] == 0.5
    vit = zoo_file("digits-vit.int8.tflite")
    (tmp_path / "dev" / "edge.toml").write_text(
        config + f"\n[model]\npath = '{vit}'\n\n[decoder]\nthreshold = 0.8\n"
    )
    device.process.send_signal(signal.SIGHUP)
    wait_for(
        lambda: json.loads(sub.payloads("/stats")[-1])["model"]["name"] == "digits-vit",
        20,
        "stats naming the reloaded model",
    )
    wait_for(
        lambda: (
            json.loads(sub.payloads("/state")[-1])
            == {"paused": False, "threshold": None, "effective_threshold": 0.8}
        ),
        20,
        "state with the reloaded model's threshold",
    )
    assert device.stop() == 0, device.stderr


def _ts(stamp: str) -> float:
    """A record's ``ts`` (capture time, UTC) as ``time.time()`` seconds."""
    return (
        dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=dt.timezone.utc)
        .timestamp()
    )


def test_paused_keeps_the_live_state_flowing_and_the_snapshot_is_a_jpeg(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    """The shipped detector on the multi-digit synthetic camera: every entity that reads
    ``<prefix>/labels`` expires after ``expire_after`` (3 s here) without news; while
    paused, the state must keep coming. The image entity's JPEG is read raw by an
    independent ``mosquitto_sub``."""
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    sub = Subscriber(
        broker, ["edge/pi1/labels", "edge/pi1/state"], tmp_path / "sub.txt", persistent=False
    )
    cleanup.append(sub)
    sub.wait_ready()
    snapshot = subprocess.Popen(
        ["mosquitto_sub", *broker.sub_args(), "-t", "edge/pi1/snapshot", "-C", "1", "-N"],
        stdout=subprocess.PIPE,
    )
    config = mqtt_config(
        broker,
        tmp_path,
        sink_extra="expire_after = 3\nsnapshot_interval = 1\nsnapshot_width = 160",
    ).replace("[source]\n", "[source]\ndigits = 3\n")
    device = Device(tmp_path / "dev", config, "--device", "pi1", "--model", str(zoo_detector()))
    cleanup.append(device)
    picture, _ = snapshot.communicate(timeout=30)
    assert picture[:2] == b"\xff\xd8" and picture[-2:] == b"\xff\xd9"
    decoded = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape[1] == 160
    wait_for(lambda: any(json.loads(p)["all"] > 0 for p in sub.payloads("/labels")), 20, "counts")

    pub(broker, "edge/pi1/set", '{"paused": true}')
    wait_for(lambda: json.loads(sub.payloads("/state")[-1])["paused"], 10, "paused state")
    paused_from = time.time()
    time.sleep(9.5)  # 3 x expire_after
    pub(broker, "edge/pi1/set", '{"paused": false}')
    wait_for(lambda: not json.loads(sub.payloads("/state")[-1])["paused"], 10, "resumed")
    assert device.stop() == 0, device.stderr
    live = [m for m in sub.messages() if m.topic == "edge/pi1/labels"]
    during = [m for m in live if paused_from <= m.arrived <= paused_from + 9.5]
    assert any(json.loads(m.payload)["paused"] for m in during)
    times = [paused_from, *(m.arrived for m in during), paused_from + 9.5]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) < 3.0, gaps  # never long enough for expire_after to strike
