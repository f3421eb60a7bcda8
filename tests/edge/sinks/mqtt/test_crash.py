"""SIGKILL during a broker outage loses at most the results still in memory.

``edge run`` at 30 fps writes to a JSONL ledger and to the MQTT sink, whose broker is
away (a closed port), and is SIGKILLed; again and again. Then the broker comes up, a
last run drains the outbox, and every result id of the killed runs' ledgers must reach
an independent ``mosquitto_sub`` except at most ``MAX_LOST_PER_KILL`` per kill (the
results between ``write`` and the outbox's commit, a few milliseconds).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.edge.sinks.mqtt.conftest import (
    Broker,
    Device,
    Subscriber,
    mqtt_config,
    needs_mosquitto,
)
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto

MAX_LOST_PER_KILL = 2


def _ledger_ids(path: Path) -> list[str]:
    """Result ids in the JSONL ledger; a line cut short by the SIGKILL is skipped."""
    ids = []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        try:
            ids.append(str(json.loads(line)["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def _run_of(result_id: str) -> str:
    return result_id.rsplit("-", 1)[0]


def _kill_during_outage_then_drain(tmp_path: Path, cleanup: list[Any], kills: int) -> Counter[str]:
    """``kills`` SIGKILLed runs while the broker is away, then a drain; the results of
    each killed run that never reached the subscriber."""
    broker = Broker(tmp_path / "broker")  # not started yet: its port is closed
    config = mqtt_config(broker, tmp_path, fps=30, sink_extra="commit_interval = 1.0")
    ledger = tmp_path / "dev" / "ledger.jsonl"
    rng = random.Random(12)
    for _ in range(kills):
        wanted = (len(_ledger_ids(ledger)) if ledger.exists() else 0) + 15
        device = Device(tmp_path / "dev", config, "--device", "pi1")
        cleanup.append(device)

        def running(wanted: int = wanted) -> bool:
            return ledger.exists() and len(_ledger_ids(ledger)) >= wanted

        wait_for(running, 30, "results in the ledger")
        time.sleep(rng.uniform(0.3, 1.7))  # anywhere within the 1 s fsync window
        device.kill()  # SIGKILL: no clean-up code runs
    killed = _ledger_ids(ledger)
    runs = {_run_of(i) for i in killed}
    assert len(runs) == kills

    broker.start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    again = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(again)
    # The outbox is sent in id order before the new run's results: once one of those
    # arrives, everything the killed runs committed has arrived.
    wait_for(
        lambda: any(_run_of(str(r["id"])) not in runs for r in subscriber.results()),
        60,
        "the new run's results after the backlog",
    )
    assert again.stop() == 0, again.stderr
    received = {str(r["id"]) for r in subscriber.results()}
    lost = Counter(_run_of(i) for i in killed if i not in received)
    print(f"kills={kills} results={len(killed)} lost per kill={[lost[r] for r in sorted(runs)]}")
    return lost


def test_sigkill_during_outage_loses_at_most_two_per_kill(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    lost = _kill_during_outage_then_drain(tmp_path, cleanup, kills=3)
    assert max(lost.values(), default=0) <= MAX_LOST_PER_KILL, lost


@pytest.mark.slow
def test_ten_sigkills_during_outage(tmp_path: Path, cleanup: list[Any]) -> None:
    lost = _kill_during_outage_then_drain(tmp_path, cleanup, kills=10)
    assert max(lost.values(), default=0) <= MAX_LOST_PER_KILL, lost
