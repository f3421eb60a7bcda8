"""Which results go to ``<prefix>/results``: ``publish`` and ``max_rate`` of the MQTT sink.

A 30 fps camera makes 30 results a second. Sent as they are, a Home Assistant broker and
its recorder take 2.6 million QoS 1 messages a day per device, almost all saying "nothing
changed". The policy keeps what a receiver needs:

- ``every_frame``: every result (the JSONL log's stream).
- ``detections``: results with at least one detection (or an anomalous verdict).
- ``changes`` (the default): a result whose *state* differs from the last one sent. The
  state is the multiset of labels (each label and how many times it was detected) and,
  for an anomaly model, the verdict; boxes and scores moving is not a change. Every
  frame's state can be rebuilt from these: frame ``seq`` has the state of the last result
  sent with a ``seq`` at or before it.

In the last two modes the current result is also sent when nothing went out for
``heartbeat`` seconds, and the run's last result is sent at close, so a receiver knows up
to which ``seq`` the state held. ``max_rate`` caps results per second in every mode; a
result the cap holds back waits and is sent when the cap allows, unless a newer result
replaced it first (in ``changes`` mode a change that reverts before it could be sent is
never sent: the receiver's state is already right). With the cap on, ``changes`` is exact
only for changes slower than the cap.

Event mode's ``edge.event/1`` records do not pass through here: they have their own topic
and are always sent.

Threads: the sink's writer thread alone calls ``offer`` and ``flush``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

Record = dict[str, Any]
PublishMode = Literal["every_frame", "detections", "changes"]
State = tuple[tuple[tuple[str, int], ...], bool | None]


def result_state(record: Record) -> State:
    """What ``changes`` compares: each label with its count, and the anomaly verdict."""
    counts = Counter(str(item.get("label")) for item in record.get("detections", ()))
    anomaly = record.get("anomaly")
    verdict = bool(anomaly.get("anomalous")) if isinstance(anomaly, dict) else None
    return tuple(sorted(counts.items())), verdict


def has_detection(record: Record) -> bool:
    anomaly = record.get("anomaly")
    return bool(record.get("detections")) or (
        isinstance(anomaly, dict) and bool(anomaly.get("anomalous"))
    )


class PublishPolicy:
    """Decides, result by result, what is sent now (``offer``) and at the end (``flush``)."""

    def __init__(
        self,
        mode: PublishMode,
        *,
        max_rate: float,
        heartbeat: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mode = mode
        self._gap = 1.0 / max_rate if max_rate > 0 else 0.0
        self._heartbeat = heartbeat
        self._clock = clock
        self._sent_at: float | None = None
        self._sent_state: State | None = None
        self._sent_last = False  # the latest offered result was sent
        self._pending: Record | None = None
        self._latest: Record | None = None
        self.held_back = 0  # results not sent because of the mode or the cap (a count)

    def offer(self, record: Record) -> list[Record]:
        """The results to send now: none, this one, or one held back earlier."""
        now = self._clock()
        self._latest = record
        wanted = self._wanted(record, now)
        if not wanted and self._pending is not None and self.mode == "changes":
            # The state went back to what the receiver already has: nothing to say.
            self._pending = None
        candidate = record if wanted and not self._same_change(record) else self._pending
        self._sent_last = False
        if candidate is None:
            self.held_back += 1
            return []
        if self._sent_at is not None and now - self._sent_at < self._gap:
            if wanted and not self._same_change(record):
                if self._pending is not None:
                    self.held_back += 1  # replaced before the cap let it out
                self._pending = record
            else:
                self.held_back += 1
            return []
        self._pending = None
        self._mark_sent(candidate, now)
        if candidate is not record:
            self.held_back += 1
        self._sent_last = candidate is record
        return [candidate]

    def flush(self) -> list[Record]:
        """At close: the result held back, else the run's last result if it was not sent,
        so a receiver knows where the run's state ends (not in ``every_frame`` mode, where
        only the cap holds results back)."""
        record = self._pending
        if record is None and self.mode != "every_frame" and not self._sent_last:
            record = self._latest
        self._pending = None
        if record is None:
            return []
        self._mark_sent(record, self._clock())
        self._sent_last = True
        return [record]

    def _wanted(self, record: Record, now: float) -> bool:
        if self.mode == "every_frame":
            return True
        if self._sent_at is None or now - self._sent_at >= self._heartbeat:
            return True
        if self.mode == "detections":
            return has_detection(record)
        return result_state(record) != self._sent_state

    def _same_change(self, record: Record) -> bool:
        """In ``changes`` mode, a result with the state of the one already held back: the
        held one stays, since it marks where the change began."""
        pending = self._pending
        return (
            self.mode == "changes"
            and pending is not None
            and result_state(pending) == result_state(record)
        )

    def _mark_sent(self, record: Record, now: float) -> None:
        self._sent_at = now
        self._sent_state = result_state(record)
