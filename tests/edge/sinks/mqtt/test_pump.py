"""The in-flight window and the outbox thread, without a broker: a fake link and a real
SQLite outbox in a temp dir."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import SinkError
from edge.sinks.mqtt.outbox import Outbox
from edge.sinks.mqtt.pump import BATCH_CAP, InflightWindow, OutboxPump
from tests.edge.waiting import wait_for


def test_the_window_caps_rows_in_flight_and_follows_the_rate() -> None:
    window = InflightWindow(size=3, stuck_after=60)
    assert window.free(session=1, now=0.0, tokens=10) == 3
    assert window.free(session=1, now=0.0, tokens=1.7) == 1  # whole tokens only
    for mid, row in ((11, 1), (12, 2), (13, 3)):
        window.sent(mid, row, now=0.0)
    assert len(window) == 3 and window.last_sent == 3 and sorted(window.rows()) == [1, 2, 3]
    assert window.free(session=1, now=1.0, tokens=10) == 0
    assert window.ack([12, 99]) == [2]  # an unknown mid (stats, availability) is ignored
    assert window.free(session=1, now=1.0, tokens=10) == 1


def test_after_a_reconnect_new_rows_wait_for_the_resends() -> None:
    window = InflightWindow(size=10, stuck_after=60)
    window.free(session=1, now=0.0, tokens=10)
    window.sent(1, 1, now=0.0)
    window.sent(2, 2, now=0.0)
    # Reconnected (session 2) with rows in flight: paho resends them; nothing new goes
    # out before they are acknowledged, so new rows cannot overtake them.
    assert window.free(session=2, now=5.0, tokens=10) == 0
    window.ack([1])
    assert window.free(session=2, now=5.1, tokens=10) == 0
    window.ack([2])
    assert window.free(session=2, now=5.2, tokens=10) == 10
    # A reconnect with nothing in flight holds nothing.
    assert window.free(session=3, now=6.0, tokens=10) == 10


def test_a_window_stuck_while_connected_is_sent_again(caplog: pytest.LogCaptureFixture) -> None:
    window = InflightWindow(size=10, stuck_after=60)
    window.free(session=1, now=0.0, tokens=10)
    window.sent(1, 5, now=0.0)
    window.sent(2, 6, now=0.0)
    assert window.free(session=1, now=50.0, tokens=10) == 8
    # The outage does not count: a reconnect restarts the clock of what is in flight.
    window.free(session=2, now=100.0, tokens=10)
    assert len(window) == 2
    with caplog.at_level(logging.WARNING):
        assert window.free(session=2, now=161.0, tokens=10) == 10
    assert "2 results unacknowledged for 60 s; sending them again" in caplog.text
    assert len(window) == 0 and window.last_sent == 4  # resumes from the oldest again


class FakeLink:
    """The connection as the pump sees it; ``send`` runs on the outbox thread."""

    def __init__(self) -> None:
        self.up: int | None = None
        self.sent: list[tuple[int, str, bytes]] = []
        self._lock = threading.Lock()

    def session(self) -> int | None:
        return self.up

    def send(self, topic: str, payload: bytes) -> int | None:
        with self._lock:
            mid = len(self.sent) + 1
            self.sent.append((mid, topic, payload))
        return mid


@pytest.fixture
def pump(tmp_path: Path) -> Iterator[tuple[OutboxPump, FakeLink]]:
    link = FakeLink()
    pump = OutboxPump(
        Outbox(tmp_path / "o.sqlite3"),
        link,
        commit_interval=0.05,
        max_inflight=3,
        drain_rate=1000,
        stuck_after=60,
        close_timeout=2,
    )
    pump.start()
    yield pump, link
    pump.drain()
    pump.close()


def test_rows_are_committed_while_away_then_sent_in_order_within_the_window(
    pump: tuple[OutboxPump, FakeLink],
) -> None:
    box, link = pump
    for i in range(10):
        box.add("t", f"r{i}".encode())
    wait_for(lambda: box.counts.depth == 10, 5, "the commit")
    assert link.sent == []  # not connected: nothing handed to paho
    link.up = 1
    box.wake()
    wait_for(lambda: len(link.sent) == 3, 5, "a full window")
    assert [p for _, _, p in link.sent] == [b"r0", b"r1", b"r2"]
    acked: set[int] = set()

    def acknowledge() -> bool:
        """Acknowledge whatever is in flight; True once all ten arrived."""
        assert len(link.sent) - len(acked) <= 3  # the window
        for mid, _, _ in list(link.sent):
            if mid not in acked:
                acked.add(mid)
                box.acked(mid)
        return len(acked) == 10

    wait_for(acknowledge, 5, "every row sent and acknowledged")
    assert [p for _, _, p in link.sent] == [f"r{i}".encode() for i in range(10)]
    wait_for(lambda: box.counts.depth == 0, 5, "acknowledged rows deleted")
    assert box.dropped == 0 and box.error is None


def test_drain_commits_the_batch_and_keeps_the_unacknowledged(
    pump: tuple[OutboxPump, FakeLink],
) -> None:
    box, link = pump
    link.up = 1
    box.add("t", b"kept")
    box.drain()  # commits at once; sends; nothing is acknowledged within close_timeout
    assert [p for _, _, p in link.sent] == [b"kept"]
    assert box.outbox.rows == 1  # stays for the next run


def test_a_full_batch_drops_and_counts(tmp_path: Path) -> None:
    box = OutboxPump(
        Outbox(tmp_path / "o.sqlite3"),
        FakeLink(),
        commit_interval=60,
        max_inflight=3,
        drain_rate=1000,
        stuck_after=60,
        close_timeout=0.1,
    )  # never started: the batch is only filled
    for _ in range(BATCH_CAP + 2):
        box.add("t", b"x")
    assert box.dropped == 2
    box.close()


def test_a_failing_outbox_stops_the_run_with_its_error(
    pump: tuple[OutboxPump, FakeLink],
) -> None:
    box, _ = pump
    box.outbox._db.close()  # every later statement fails
    box.add("t", b"x")
    error = wait_for(lambda: box.error, 5, "the outbox thread's error")
    assert isinstance(error, SinkError) and "MQTT outbox" in str(error)
