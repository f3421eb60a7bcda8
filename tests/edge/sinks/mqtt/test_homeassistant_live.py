"""Home Assistant's live label state and discovery, without a broker (the broker-backed
and payload-key checks are in test_homeassistant.py)."""

from __future__ import annotations

import json
from typing import Any

from edge.sinks.mqtt.homeassistant import HomeAssistant
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


def test_label_state_on_change_with_an_event_per_new_label() -> None:
    connection = FakeConnection()
    ha = make(connection)
    ha.publish_live(record(("cat", 0.5), ("cat", 0.9)))
    ha.publish_live(record(("cat", 0.8)))  # no change, not due: nothing
    ha.publish_live(record(("cat", 0.7), ("dog", 0.6), id="r-3"))
    ha.publish_live(record())
    assert connection.on("edge/pi1/labels") == [
        {"present": ["cat"]},
        {"present": ["cat", "dog"]},
        {"present": []},
    ]
    assert connection.on("edge/pi1/event") == [
        {"event_type": "cat", "score": 0.9, "id": "r-1", "ts": "2026-01-01T00:00:00.000Z"},
        {"event_type": "dog", "score": 0.6, "id": "r-3", "ts": "2026-01-01T00:00:00.000Z"},
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
    assert connection.on("edge/pi1/labels") == [{"present": ["cat"]}]
    assert ha.on_status(b"offline") is False
    assert ha.on_status(b"online") is True  # HA restarted: discovery, then the state
    ha.publish_live(record(("cat", 0.9)))
    assert len(connection.on("homeassistant/device/pi1/config")) == 2
    assert connection.on("edge/pi1/labels") == [{"present": ["cat"]}] * 2


def test_label_state_is_repeated_within_expire_after() -> None:
    connection = FakeConnection()
    ha = make(connection, expire_after=0)  # every record is past expire_after / 3
    for _ in range(3):
        ha.publish_live(record(("cat", 0.9)))
    assert len(connection.on("edge/pi1/labels")) == 3
    assert len(connection.on("edge/pi1/event")) == 1  # the label appeared once
