"""MQTT delivery that loses nothing: a real mosquitto, the real ``edge run``, mosquitto_sub.

The device writes every record to a JSONL ledger and to MQTT; the ledger is the truth
of what was produced. The subscriber keeps a persistent session at QoS 1, so what the
broker accepted while the subscriber itself was reconnecting is queued for it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from tests.conftest import read_jsonl
from tests.edge.sinks.mqtt.conftest import (
    Broker,
    Device,
    LinkCutter,
    Subscriber,
    mqtt_config,
    needs_mosquitto,
)
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto


def outbox_rows(path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(path) as db:
        return [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox ORDER BY id")]


def in_seq_order(received: list[dict[str, Any]]) -> bool:
    """First arrivals, duplicates removed by id, are in ``seq`` order per device/run."""
    seen: set[str] = set()
    last: dict[str, int] = {}
    for record in received:
        if record["id"] in seen:
            continue
        seen.add(record["id"])
        run = record["id"].rsplit("-", 1)[0]
        if record["seq"] <= last.get(run, -1):
            return False
        last[run] = record["seq"]
    return True


def test_broker_outage_of_30_s_loses_nothing(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    device = Device(tmp_path / "dev", mqtt_config(broker, tmp_path, fps=20), "--device", "pi1")
    cleanup.append(device)
    wait_for(lambda: len(subscriber.results()) >= 40, 30, "results before the outage")

    broker.stop()
    outage_started = time.monotonic()
    ledger = tmp_path / "dev" / "ledger.jsonl"
    produced_at_stop = len(read_jsonl(ledger))
    time.sleep(30)
    # The run goes on producing while the broker is away: 300 results in the outage
    # (10/s at 20 fps on an idle machine), waited for so that a loaded machine makes the
    # outage longer instead of failing; a run blocked by its sink never gets there.
    wait_for(
        lambda: len(read_jsonl(ledger)) - produced_at_stop >= 300,
        60,
        "300 results during the outage",
        interval=0.5,
    )
    produced_in_outage = len(read_jsonl(ledger)) - produced_at_stop
    assert device.process.poll() is None, device.stderr  # ran on through the outage
    said = device.stderr.count("connection to mqtt://") + device.stderr.count("not reachable")
    assert said == 1, device.stderr  # the outage is announced once, not per retry
    assert "disconnected" in device.stderr  # the status line shows the broker state

    broker.start()
    restarted = time.monotonic()
    backlog = {r["id"] for r in read_jsonl(ledger)}
    wait_for(
        lambda: backlog <= {r["id"] for r in subscriber.results()}, 60, "the backlog to arrive"
    )
    drain_s = time.monotonic() - restarted
    assert device.stop() == 0, device.stderr

    produced = read_jsonl(ledger)
    received = subscriber.results()
    ids = [r["id"] for r in received]
    assert {r["id"] for r in produced} <= set(ids), "every produced result arrived"
    assert in_seq_order(received)
    assert outbox_rows(tmp_path / "outbox.sqlite3") == []  # drained
    assert "sink drops 0" in device.stderr
    print(
        f"\nFIGURES outage=30s produced={len(produced)} in_outage={produced_in_outage} "
        f"received={len(ids)} duplicates={len(ids) - len(set(ids))} "
        f"drain_after_restart_s={drain_s:.1f} outage_total_s={restarted - outage_started:.1f}"
    )


def test_sigkill_while_broker_away_then_restart(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    broker.stop()  # the subscriber's session and subscription persist in the broker

    config = mqtt_config(broker, tmp_path, fps=20, sink_extra="commit_interval = 0.5")
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    ledger = tmp_path / "dev" / "ledger.jsonl"
    wait_for(lambda: ledger.exists() and len(read_jsonl(ledger)) >= 60, 30, "results")
    wait_for(
        lambda: "mqtt://127.0.0.1" in device.stderr and "connecting" in device.stderr,
        10,
        "a status line showing the broker state",
    )
    assert device.stderr.count("is not reachable") == 1  # once, not per retry
    device.kill()  # SIGKILL: no clean-up code runs

    committed = outbox_rows(tmp_path / "outbox.sqlite3")
    produced = read_jsonl(ledger)
    assert len(committed) >= 40
    # Only results younger than the commit window (0.5 s = 10 results) can be missing
    # from the outbox; 20 more allow for a loaded machine delaying the commit.
    assert len(produced) - len(committed) <= 30

    broker.start()
    again = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(again)
    wanted = {r["id"] for r in committed}
    wait_for(
        lambda: wanted <= {r["id"] for r in subscriber.results()},
        30,
        "every committed result after the restart",
    )
    assert again.stop() == 0, again.stderr
    received = subscriber.results()
    assert in_seq_order(received)
    # The old run's results were sent before the new run's.
    first_new = next(i for i, r in enumerate(received) if r["id"] not in wanted)
    assert {r["id"] for r in received[:first_new]} == wanted
    assert re.search(r"\d+ results left in the outbox .* are sent first", again.stderr)


def test_outbox_full_drops_oldest_exactly(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker")  # never started: the broker is away all along
    config = mqtt_config(
        broker,
        tmp_path,
        fps=400,
        jsonl=False,
        sink_extra="outbox_max_rows = 100\ncommit_interval = 0.2",
    )
    device = Device(tmp_path / "dev", config, "--device", "pi1", "--max-frames", "3000")
    cleanup.append(device)
    rss: list[int] = []
    while device.process.poll() is None:
        status = Path(f"/proc/{device.process.pid}/status")
        try:
            rss += [
                int(line.split()[1])
                for line in status.read_text().splitlines()
                if line.startswith("VmRSS:")
            ]
        except OSError:
            break
        time.sleep(0.2)
    assert device.wait() == 0, device.stderr
    kept = outbox_rows(tmp_path / "outbox.sqlite3")
    assert [r["seq"] for r in kept] == list(range(2900, 3000))  # the newest 100
    assert "sink drops 2900" in device.stderr  # exact: 3000 produced - 100 kept
    assert len(rss) >= 5
    steady = rss[len(rss) // 4 :]
    assert max(steady) - min(steady) < 15_000, f"RSS grew from {min(steady)} to {max(steady)} kB"
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
        assert db.execute("SELECT value FROM counters WHERE name='dropped'").fetchone() == (2900,)


def test_mqtt5_delivers_too(tmp_path: Path, cleanup: list[Any]) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    config = mqtt_config(broker, tmp_path, sink_extra="protocol = '5'")
    device = Device(tmp_path / "dev", config, "--device", "pi5")
    cleanup.append(device)
    wait_for(lambda: len(subscriber.results()) >= 20, 30, "results over MQTT 5")
    assert device.stop() == 0, device.stderr
    produced = {r["id"] for r in read_jsonl(tmp_path / "dev" / "ledger.jsonl")}
    wait_for(lambda: produced <= {r["id"] for r in subscriber.results()}, 10, "all results")
    assert "as edge-pi5 (p5," in broker.log.read_text()  # the broker saw protocol level 5


def test_link_drops_with_results_in_flight(tmp_path: Path, cleanup: list[Any]) -> None:
    """The link (not the broker) drops three times at 100 results/s: paho resends what was
    in flight (DUP), new rows wait for those, and the deduplicated stream is complete and
    in order."""
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    link = LinkCutter(broker.port)
    cleanup.append(link)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    config = mqtt_config(
        broker, tmp_path, fps=100, sink_extra="commit_interval = 0.2\nmax_inflight = 20"
    )
    config = config.replace(f"port = {broker.port}", f"port = {link.port}")
    device = Device(tmp_path / "dev", config, "--device", "pi1")
    cleanup.append(device)
    for drop in range(3):
        wait_for(
            lambda: device.stderr.count("MQTT connected") > drop,  # noqa: B023
            20,
            "a connection",
        )
        time.sleep(1.5)
        link.cut(ack_loss=0.5)
        time.sleep(1.0)
        link.restore()
    wait_for(lambda: device.stderr.count("MQTT connected") > 3, 20, "the last reconnect")
    time.sleep(1.0)
    assert device.stop() == 0, device.stderr
    produced = {r["id"] for r in read_jsonl(tmp_path / "dev" / "ledger.jsonl")}
    wait_for(lambda: produced <= {r["id"] for r in subscriber.results()}, 30, "every result")
    received = subscriber.results()
    assert in_seq_order(received)
    assert device.stderr.count("connection to mqtt://") == 3  # "... lost", once per drop
    duplicates = len(received) - len({r["id"] for r in received})
    assert duplicates > 0, "in-flight results were resent (DUP) after each drop"
    print(
        f"\nFIGURES link-drops=3 produced={len(produced)} received={len(received)} "
        f"duplicates={len(received) - len({r['id'] for r in received})}"
    )


def test_event_records_go_to_their_own_topic(tmp_path: Path, cleanup: list[Any]) -> None:
    """Event mode through MQTT: edge.event/1 records on <prefix>/events, per-frame
    records on <prefix>/results, both through the outbox, none lost."""
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results", "edge/+/events"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    from edge.model.zoo import zoo_file

    detector = zoo_file("digits-detector.int8.tflite")
    extra = f"[model]\npath = '{detector}'\n\n[events]\nenabled = true\nupdate_interval = 0.5\n"
    config = mqtt_config(broker, tmp_path, fps=30, extra=extra).replace(
        "kind = 'synthetic'\n", "kind = 'synthetic'\ndigits = 3\n", 1
    )
    device = Device(tmp_path / "dev", config, "--device", "pi1", "--max-frames", "60")
    cleanup.append(device)
    assert device.wait(60) == 0, device.stderr
    ledger = read_jsonl(tmp_path / "dev" / "ledger.jsonl")
    events = [r for r in ledger if r["schema"] == "edge.event/1"]
    results = [r for r in ledger if r["schema"] == "edge.result/1"]
    assert events and len(results) == 60
    wait_for(lambda: len(subscriber.payloads("/events")) >= len(events), 20, "events")
    wait_for(lambda: len(subscriber.results()) >= 60, 20, "results")
    got_events = [json.loads(p) for p in subscriber.payloads("/events")]
    assert {e["id"] for e in got_events} == {e["id"] for e in events}
    assert all(r["schema"] == "edge.result/1" for r in subscriber.results())
    assert {e["event"] for e in got_events} >= {"new", "end"}
