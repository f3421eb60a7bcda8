"""``<prefix>/stats`` without a broker: the payload's figures and when it is sent."""

from __future__ import annotations

import json
import time

import pytest

from edge.pipeline.control import RunControl
from edge.pipeline.stats import RunStats
from edge.sinks.mqtt.pump import OutboxCounts
from edge.sinks.mqtt.stats import Stats
from tests.edge.sinks.mqtt.conftest import FakeConnection


def make_stats(connection: FakeConnection, *, interval: float = 30.0) -> Stats:
    return Stats(
        connection,
        topic="edge/pi1/stats",
        interval=interval,
        device="pi1",
        control=RunControl(),
        outbox=lambda: OutboxCounts(depth=4, bytes=400, dropped=1, dropped_total=7),
        model=lambda: {"name": "digits-cnn", "sha256": "ab" * 32},
    )


def test_payload_figures() -> None:
    stats = make_stats(FakeConnection())
    run = RunStats(started=time.monotonic() - 10.0, frames=40)
    run.infer_ms.extend([1.0, 2.0, 3.0, 4.0])
    run.sink_dropped["mqtt://b:1883"] = 2
    started = time.monotonic()
    payload = stats.payload(run, started + 0.1)
    # numpy's linear interpolation (edge.pipeline.stats.percentile), rounded to 3 places:
    # nearest rank would have said 3.0 and 4.0.
    assert payload["infer_ms_p50"] == 2.5 and payload["infer_ms_p95"] == 3.85
    assert payload["fps"] == pytest.approx(4.0, abs=0.1)  # no window yet: the run's average
    assert payload["outbox"] == {"depth": 4, "bytes": 400, "dropped": 1, "dropped_total": 7}
    assert payload["model"] == {"name": "digits-cnn", "sha256": "ab" * 32}
    assert payload["sink_drops"] == {"mqtt://b:1883": 2} and payload["device"] == "pi1"
    assert payload["paused"] is False and payload["frames"] == 40
    run.frames = 100
    assert stats.payload(run, started + 2.1)["fps"] == 30.0  # 60 frames over the 2 s since


def test_no_latency_yet_is_null() -> None:
    payload = make_stats(FakeConnection()).payload(RunStats(), time.monotonic())
    assert payload["infer_ms_p50"] is None and payload["infer_ms_p95"] is None


def test_sent_every_interval_while_connected_and_at_once_when_asked() -> None:
    connection = FakeConnection(connected=False)
    stats = make_stats(connection, interval=3600)
    run = RunStats()
    stats.tick(run)  # due, but not connected: skipped until the next interval
    assert connection.published == []
    connection.connected = True
    stats.tick(run)
    assert connection.published == []
    stats.refresh()  # a (re)connect, or Home Assistant came online
    stats.tick(run)
    stats.tick(run)
    [message] = connection.published
    assert (message.topic, message.qos, message.retain) == ("edge/pi1/stats", 0, True)
    assert isinstance(message.payload, str) and ", " not in message.payload  # compact JSON
    assert json.loads(message.payload)["version"]


@pytest.mark.parametrize("paused", [True, False])
def test_paused_follows_the_run_control(paused: bool) -> None:
    control = RunControl()
    control.set_paused(paused)
    stats = Stats(
        FakeConnection(),
        topic="t",
        interval=1,
        device="d",
        control=control,
        outbox=lambda: OutboxCounts(0, 0, 0, 0),
        model=dict,
    )
    assert stats.payload(RunStats(), time.monotonic())["paused"] is paused
