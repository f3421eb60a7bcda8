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


def test_first_message_waits_for_a_full_window_and_a_reconnect_repeats_the_last() -> None:
    """A rate over the first few frames said 112-177 fps on a 30 fps camera, and Home
    Assistant recorded it: nothing goes out before one full interval."""
    connection = FakeConnection()
    stats = make_stats(connection, interval=0.3)
    run = RunStats()
    stats.refresh()  # the first connect asks for stats: there are none yet
    stats.tick(run)
    assert connection.published == []
    time.sleep(0.35)
    run.frames = 9
    stats.tick(run)
    stats.tick(run)  # within the next interval: nothing
    [message] = connection.published
    assert (message.topic, message.qos, message.retain) == ("edge/pi1/stats", 0, True)
    assert isinstance(message.payload, str) and ", " not in message.payload  # compact JSON
    first = json.loads(message.payload)
    assert first["version"] and first["frames"] == 9
    assert 0 < first["fps"] <= 9 / 0.3  # over a whole window: no start-up spike
    connection.connected = False
    stats.tick(run)
    connection.connected = True
    stats.refresh()  # a reconnect, or Home Assistant came online: the last one again
    stats.tick(run)
    assert [m.payload for m in connection.published] == [message.payload] * 2


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
