"""``publish = "changes"`` end to end: the real ``edge run`` with the shipped detector on the
synthetic camera (1-4 digits per scene), a real mosquitto and an independent
``mosquitto_sub``. The JSONL ledger keeps every frame; the subscriber must be able to
rebuild every frame's state from the results it received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.model.zoo import zoo_file
from edge.sinks.mqtt.publish import result_state
from tests.conftest import read_jsonl
from tests.edge.sinks.mqtt.conftest import Broker, Device, Subscriber, mqtt_config, needs_mosquitto
from tests.edge.waiting import wait_for

pytestmark = needs_mosquitto

FRAMES = 300


def test_changes_sends_5x_fewer_results_and_every_frame_can_be_rebuilt(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    subscriber = Subscriber(broker, ["edge/+/results"], tmp_path / "sub.txt")
    cleanup.append(subscriber)
    subscriber.wait_ready()
    config = mqtt_config(broker, tmp_path, fps=100, publish="changes")
    config = config.replace("[source]\n", "[source]\ndigits = 4\n")  # multi-digit scenes
    device = Device(
        tmp_path / "dev",
        config,
        "--device",
        "pi1",
        "--model",
        str(zoo_file("digits-detector.int8.tflite")),
        "--max-frames",
        str(FRAMES),
    )
    cleanup.append(device)
    assert device.wait(120) == 0, device.stderr
    ledger = read_jsonl(tmp_path / "dev" / "ledger.jsonl")
    assert len(ledger) == FRAMES  # every_frame would have sent one message per frame
    wait_for(
        lambda: subscriber.results() and subscriber.results()[-1]["seq"] == ledger[-1]["seq"],
        20,
        "the run's last result",
    )
    received = {r["seq"]: r for r in subscriber.results()}
    print(f"publish=changes: {len(received)} results sent for {len(ledger)} frames")
    assert len(received) * 5 <= len(ledger), f"{len(received)} messages for {len(ledger)} frames"
    states = {result_state(r) for r in ledger}
    assert len(states) >= 5  # the scenes did change: there was something to follow
    latest: dict[str, Any] | None = None
    for record in ledger:  # the receiver's rule: the last result at or before each frame
        latest = received.get(record["seq"], latest)
        assert latest is not None, f"nothing received before frame {record['seq']}"
        assert result_state(latest) == result_state(record), record["seq"]
