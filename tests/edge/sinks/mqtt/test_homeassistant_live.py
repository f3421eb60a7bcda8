"""Home Assistant's live label state and discovery, without a broker (the broker-backed
and payload-key checks are in test_homeassistant.py)."""

from __future__ import annotations

import json
from typing import Any

from edge.sinks.mqtt.homeassistant import HomeAssistant, discovery_payload
from tests.edge.sinks.mqtt.conftest import FakeConnection


def make(connection: FakeConnection, expire_after: int = 3600) -> HomeAssistant:
    return HomeAssistant(
        connection,
        device="pi1",
        prefix="edge/pi1",
        labels=["cat", "dog"],
        model_name=lambda: "m",
        discovery_prefix="homeassistant",
        expire_after=expire_after,
    )


def record(*detections: tuple[str, float], id: str = "r-1") -> dict[str, Any]:
    return {
        "id": id,
        "ts": "2026-01-01T00:00:00.000Z",
        "detections": [{"label": label, "score": score} for label, score in detections],
    }


def live(*present: str, **counts: int) -> dict[str, Any]:
    return {
        "present": list(present),
        "counts": counts,
        "all": sum(counts.values()),
        "paused": False,
    }


def test_live_state_on_change_with_an_event_per_new_label() -> None:
    connection = FakeConnection()
    ha = make(connection)
    ha.publish_live(record(("cat", 0.5), ("cat", 0.9)))
    ha.publish_live(record(("cat", 0.8), ("cat", 0.7)))  # no change, not due: nothing
    ha.publish_live(record(("cat", 0.8)))  # one cat fewer: the count changed
    ha.publish_live(record(("cat", 0.7), ("dog", 0.6), id="r-4"))
    ha.publish_live(record())
    assert connection.on("edge/pi1/labels") == [
        live("cat", cat=2),
        live("cat", cat=1),
        live("cat", "dog", cat=1, dog=1),
        live(),
    ]
    assert connection.on("edge/pi1/event") == [
        {"event_type": "cat", "score": 0.9, "id": "r-1", "ts": "2026-01-01T00:00:00.000Z"},
        {"event_type": "dog", "score": 0.6, "id": "r-4", "ts": "2026-01-01T00:00:00.000Z"},
    ]
    assert {(p.qos, p.retain) for p in connection.published} == {(0, False)}


def test_discovery_asks_for_the_label_state_again() -> None:
    connection = FakeConnection(connected=False)
    ha = make(connection)
    ha.publish_live(record(("cat", 0.9)))  # not connected: nothing sent
    assert connection.published == []
    connection.connected = True
    ha.on_connect()  # paho's thread: subscribe, discovery
    assert connection.subscribed == ["homeassistant/status"]
    [discovery] = connection.published
    assert discovery.topic == "homeassistant/device/pi1/config"
    assert (discovery.qos, discovery.retain) == (1, True)
    assert json.loads(discovery.payload)["device"]["model"] == "m"
    ha.publish_live(record(("cat", 0.9)))  # unchanged, but discovery asked: sent once
    ha.publish_live(record(("cat", 0.9)))
    assert connection.on("edge/pi1/labels") == [live("cat", cat=1)]
    assert ha.on_status(b"offline") is False
    assert ha.on_status(b"online") is True  # HA restarted: discovery, then the state
    ha.publish_live(record(("cat", 0.9)))
    assert len(connection.on("homeassistant/device/pi1/config")) == 2
    assert connection.on("edge/pi1/labels") == [live("cat", cat=1)] * 2


def test_label_state_is_repeated_within_expire_after() -> None:
    connection = FakeConnection()
    ha = make(connection, expire_after=0)  # every record is past expire_after / 3
    for _ in range(3):
        ha.publish_live(record(("cat", 0.9)))
    assert len(connection.on("edge/pi1/labels")) == 3
    assert len(connection.on("edge/pi1/event")) == 1  # the label appeared once


def test_paused_keeps_every_entity_available() -> None:
    """While paused no result is written; the loop's tick sends the paused state at
    least every expire_after / 3 s, so nothing turns unavailable."""
    connection, paused = FakeConnection(), [False]
    ha = HomeAssistant(
        connection,
        device="pi1",
        prefix="edge/pi1",
        labels=["cat"],
        model_name=lambda: "m",
        discovery_prefix="homeassistant",
        expire_after=0,  # every tick is due
        paused=lambda: paused[0],
    )
    ha.publish_live(record(("cat", 0.9)))
    ha.tick()  # running: the writer thread sends the state, not the tick
    assert len(connection.on("edge/pi1/labels")) == 1
    paused[0] = True
    ha.tick()
    ha.tick()
    paused_state = {"present": [], "counts": {}, "all": 0, "paused": True}
    assert connection.on("edge/pi1/labels")[1:] == [paused_state, paused_state]
    paused[0] = False
    ha.publish_live(record(("cat", 0.9), id="r-9"))  # resumed: the cat is new again
    assert connection.on("edge/pi1/labels")[-1] == live("cat", cat=1)
    assert [e["id"] for e in connection.on("edge/pi1/event")] == ["r-1", "r-9"]


def test_anomaly_state_and_event() -> None:
    connection = FakeConnection()
    ha = HomeAssistant(
        connection,
        device="pi1",
        prefix="edge/pi1",
        labels=[],
        model_name=lambda: "m",
        discovery_prefix="homeassistant",
        expire_after=3600,
        task="anomaly",
    )
    normal = {"id": "a-1", "detections": [], "anomaly": {"score": 0.1, "anomalous": False}}
    odd = {"id": "a-2", "detections": [], "anomaly": {"score": 0.8, "anomalous": True}}
    ha.publish_live(normal)
    ha.publish_live({**normal, "anomaly": {"score": 0.2, "anomalous": False}})  # same verdict
    ha.publish_live(odd)
    states = connection.on("edge/pi1/labels")
    assert [(s["anomaly_score"], s["anomalous"]) for s in states] == [(0.1, False), (0.8, True)]
    [event] = connection.on("edge/pi1/event")
    assert (event["event_type"], event["score"], event["id"]) == ("anomaly", 0.8, "a-2")


def components(task: str, *, snapshot: bool = False, threshold: bool = True) -> dict[str, Any]:
    payload = discovery_payload(
        device="pi1",
        prefix="edge/pi1",
        labels=["cat", "dog"],
        model_name="m",
        expire_after=60,
        task=task,
        snapshot=snapshot,
        threshold=threshold,
    )
    found: dict[str, Any] = payload["components"]
    return found


def test_entities_follow_the_task() -> None:
    detect = components("detect", snapshot=True)
    assert {"label_0", "label_1", "count_0", "count_1", "count_all", "snapshot"} <= set(detect)
    assert detect["count_1"]["value_template"] == '{{ value_json.counts.get("dog", 0) }}'
    assert detect["snapshot"]["image_topic"] == "edge/pi1/snapshot"
    classify = components("classify")
    assert {"label_0", "label_1"} <= set(classify) and "count_all" not in classify
    assert "snapshot" not in classify
    anomaly = components("anomaly", threshold=False)
    assert {"anomaly_score", "anomalous"} <= set(anomaly)
    assert not any(key.startswith(("label_", "count_")) for key in anomaly)
    assert anomaly["detection"]["event_types"] == ["anomaly"]
    assert anomaly["anomalous"]["device_class"] == "problem"
    assert "threshold" not in anomaly and "threshold" in detect
    for entities in (detect, classify, anomaly):  # live entities expire, stats ones do not
        for key, entity in entities.items():
            reads_live = entity.get("state_topic") == "edge/pi1/labels"
            assert ("expire_after" in entity) == reads_live, key
