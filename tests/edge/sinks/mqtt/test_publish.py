"""``publish`` and ``max_rate``: which results go to ``<prefix>/results`` (no broker; the
end-to-end check with a real mosquitto is in test_publish_broker.py)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from edge.sinks.mqtt.publish import PublishMode, PublishPolicy, result_state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rec(seq: int, *labels: str, anomalous: bool | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "seq": seq,
        "detections": [{"label": label, "score": 0.9} for label in labels],
    }
    if anomalous is not None:
        record["anomaly"] = {"score": 0.7 if anomalous else 0.1, "anomalous": anomalous}
    return record


def run(
    policy: PublishPolicy, clock: Clock, records: list[dict[str, Any]], step: float = 1 / 30
) -> list[int]:
    sent: list[int] = []
    for record in records:
        sent += [r["seq"] for r in policy.offer(record)]
        clock.now += step
    sent += [r["seq"] for r in policy.flush()]
    return sent


def policy(
    mode: PublishMode, clock: Clock, max_rate: float = 0, heartbeat: float = 60
) -> PublishPolicy:
    return PublishPolicy(mode, max_rate=max_rate, heartbeat=heartbeat, clock=clock)


def test_every_frame_sends_everything_and_nothing_more_at_close() -> None:
    clock = Clock()
    records = [rec(i, "3") for i in range(5)]
    assert run(policy("every_frame", clock), clock, records) == [0, 1, 2, 3, 4]


def test_detections_sends_frames_with_detections_and_the_last_frame() -> None:
    clock = Clock()
    records = [rec(0), rec(1, "3"), rec(2), rec(3), rec(4, "8"), rec(5)]
    # The first result goes (nothing was sent yet), and the last one at close marks the end.
    assert run(policy("detections", clock), clock, records) == [0, 1, 4, 5]


def test_detections_counts_an_anomalous_verdict() -> None:
    clock = Clock()
    records = [rec(0, anomalous=False), rec(1, anomalous=True), rec(2, anomalous=False)]
    assert run(policy("detections", clock), clock, records) == [0, 1, 2]


def test_changes_sends_when_labels_or_counts_change_not_when_boxes_move() -> None:
    clock = Clock()
    records = [
        rec(0, "3"),
        rec(1, "3"),  # the box moved: same state
        rec(2, "3", "3"),  # a second 3: the count changed
        rec(3, "3", "3"),
        rec(4, "3", "8"),
        rec(5, "8", "3"),  # the same multiset in another order
        rec(6),
    ]
    assert run(policy("changes", clock), clock, records) == [0, 2, 4, 6]


def test_changes_follows_the_anomaly_verdict_not_the_score() -> None:
    clock = Clock()
    records = [rec(0, anomalous=False), rec(1, anomalous=False), rec(2, anomalous=True)]
    records[1]["anomaly"]["score"] = 0.3
    assert run(policy("changes", clock), clock, records) == [0, 2]


def test_heartbeat_sends_the_current_result_when_nothing_went_out() -> None:
    clock = Clock()
    records = [rec(i, "3") for i in range(10)]
    # One second per frame, a heartbeat of 3 s: frames 0, 3, 6, 9 (9 is also the last).
    assert run(policy("changes", clock, heartbeat=3), clock, records, step=1.0) == [0, 3, 6, 9]


def test_the_rate_cap_holds_a_change_back_and_sends_it_when_allowed() -> None:
    clock = Clock()
    p = policy("changes", clock, max_rate=2)  # one result per 0.5 s
    assert [r["seq"] for r in p.offer(rec(0, "3"))] == [0]
    clock.now += 0.1
    assert p.offer(rec(1, "8")) == []  # held back
    clock.now += 0.1
    assert p.offer(rec(2, "8")) == []  # the same change: the held one stays (it began at 1)
    clock.now += 0.4
    assert [r["seq"] for r in p.offer(rec(3, "8"))] == [1]
    assert p.held_back == 2  # results 2 and 3 were not sent


def test_a_change_that_reverts_before_the_cap_allows_is_never_sent() -> None:
    clock = Clock()
    p = policy("changes", clock, max_rate=2)
    p.offer(rec(0, "3"))
    clock.now += 0.1
    assert p.offer(rec(1, "8")) == []
    clock.now += 0.1
    assert p.offer(rec(2, "3")) == []  # back to what the receiver has
    clock.now += 1.0
    assert p.offer(rec(3, "3")) == []
    assert [r["seq"] for r in p.flush()] == [3]  # the end of the run


def test_the_cap_applies_to_every_frame_too() -> None:
    clock = Clock()
    records = [rec(i) for i in range(30)]  # one second at 30 fps
    sent = run(policy("every_frame", clock, max_rate=5), clock, records)
    assert 5 <= len(sent) <= 7 and sent == sorted(sent)


@pytest.mark.parametrize("seed", range(20))
def test_every_frame_state_is_rebuilt_from_changes(seed: int) -> None:
    """The receiver's rule: frame ``seq`` has the state of the last result sent at or
    before it. Without a cap it gives every frame's state exactly."""
    rng = random.Random(seed)
    clock = Clock()
    records, labels = [], ["3"]
    for seq in range(400):
        if rng.random() < 0.1:
            labels = rng.choices(["1", "3", "8"], k=rng.randint(0, 3))
        records.append(rec(seq, *labels))
    p = policy("changes", clock, heartbeat=5)
    sent: dict[int, dict[str, Any]] = {}
    for record in records:
        sent |= {r["seq"]: r for r in p.offer(record)}
        clock.now += 1 / 30
    sent |= {r["seq"]: r for r in p.flush()}
    assert max(sent) == 399  # the receiver knows where the run ends
    latest: dict[str, Any] | None = None
    for record in records:
        latest = sent.get(record["seq"], latest)
        assert latest is not None and result_state(latest) == result_state(record)
    assert len(sent) < len(records) / 4
