"""The image entity's JPEG (``edge.sinks.mqtt.snapshot``), without a broker: what is sent,
how often, how large, and that the frame loop never waits for the encoder."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from edge.sinks.mqtt.snapshot import SnapshotPublisher
from edge.types import Frame
from tests.edge.sinks.mqtt.conftest import FakeConnection
from tests.edge.waiting import wait_for


def frame(width: int = 1280, height: int = 720) -> Frame:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    return Frame(image=image, index=0, timestamp=time.time(), source="test")


DETECTED: dict[str, Any] = {
    "detections": [{"label": "7", "class_id": 7, "score": 0.9, "box": [0.1, 0.1, 0.5, 0.6]}],
}


def test_a_detection_sends_a_scaled_annotated_jpeg_once_per_interval() -> None:
    connection = FakeConnection()
    publisher = SnapshotPublisher(connection, topic="edge/pi1/snapshot", interval=3600, width=320)
    try:
        publisher.observe(frame(), {"detections": []})  # nothing detected: no picture
        publisher.observe(frame(), DETECTED)
        publisher.observe(frame(), DETECTED)  # within the interval: none
        wait_for(lambda: connection.published, 10, "the snapshot")
    finally:
        publisher.close()
    [message] = connection.published
    assert (message.topic, message.qos, message.retain) == ("edge/pi1/snapshot", 0, True)
    assert isinstance(message.payload, bytes)
    assert message.payload[:2] == b"\xff\xd8" and message.payload[-2:] == b"\xff\xd9"
    picture = cv2.imdecode(np.frombuffer(message.payload, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (
        180,
        320,
        3,
    )  # scaled to the width, aspect kept
    assert publisher.sent == 1 and publisher.last_bytes == len(message.payload)


def test_an_anomaly_triggers_it_and_a_disconnected_broker_does_not() -> None:
    connection = FakeConnection(connected=False)
    publisher = SnapshotPublisher(connection, topic="t", interval=0, width=640)
    anomalous = {"detections": [], "anomaly": {"score": 0.9, "threshold": 0.5}}
    try:
        publisher.observe(frame(64, 64), anomalous)
        time.sleep(0.2)
        assert connection.published == []  # live state: not queued while away
        connection.connected = True
        publisher.observe(frame(64, 64), anomalous)
        wait_for(lambda: connection.published, 10, "the snapshot")
    finally:
        publisher.close()
    payload = connection.published[0].payload
    assert isinstance(payload, bytes)
    picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape == (64, 64, 3)  # never scaled up


def test_observe_does_not_wait_for_the_encoder() -> None:
    connection = FakeConnection()
    publisher = SnapshotPublisher(connection, topic="t", interval=0, width=4096)
    big = frame(3840, 2160)
    try:
        started = time.perf_counter()
        publisher.encode(big.image, DETECTED)
        one_encode = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(20):
            publisher.observe(big, DETECTED)
        spent = time.perf_counter() - started
        wait_for(lambda: connection.published, 20, "a snapshot")
    finally:
        publisher.close()
    # Encoding on the loop's thread would cost 20 encodes; handing over a reference costs
    # next to nothing, and a newer picture replaces one not yet encoded.
    assert spent < 5 * one_encode
    assert publisher.sent < 20
