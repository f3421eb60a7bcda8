"""One device id per board: the default is the hostname plus a stable suffix from the
machine id (never the id itself), with the bare hostname when there is none; and two
devices that share an id anyway are told so ("another client uses the id ..."), first by
the failure policy on its own, then by two real ``edge run`` against one real mosquitto."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from edge.config.load import build_config
from edge.config.run import MACHINE_ID_FILES, default_device
from edge.sinks.mqtt.failures import SHORT_SESSION, ConnectionFailures
from tests.edge.sinks.mqtt.conftest import Broker, Device, mqtt_config, needs_mosquitto
from tests.edge.waiting import wait_for

MACHINE_ID = "0123456789abcdef0123456789abcdef"


def machine_id_file(tmp_path: Path, text: str, name: str = "machine-id") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_default_is_the_hostname_and_a_stable_suffix_from_the_machine_id(
    tmp_path: Path,
) -> None:
    path = machine_id_file(tmp_path, MACHINE_ID + "\n")
    device = default_device([path], hostname="raspberrypi")
    expected = hmac.new(MACHINE_ID.encode(), b"edge-infer device id", hashlib.sha256)
    assert device == f"raspberrypi-{expected.hexdigest()[:6]}"
    assert default_device([path], hostname="raspberrypi") == device  # stable
    assert MACHINE_ID[:6] not in device  # the private id itself is not published
    other = machine_id_file(tmp_path, "fedcba9876543210fedcba9876543210", "other")
    assert default_device([other], hostname="raspberrypi") != device  # per board
    # The suffix is valid everywhere the id goes: no HA renaming, no warning.
    assert build_config({"device": device}).device == device


@pytest.mark.parametrize("content", [None, "", "\n", "uninitialized\n"])
def test_without_a_machine_id_the_default_is_the_bare_hostname(
    tmp_path: Path, content: str | None
) -> None:
    # A fresh container has no /etc/machine-id (or an empty one); systemd writes
    # "uninitialized" there before the first boot completes.
    path = tmp_path / "machine-id"
    if content is not None:
        path.write_text(content)
    assert default_device([path], hostname="3f2a9c1d7e4b") == "3f2a9c1d7e4b"


def test_the_dbus_machine_id_is_the_second_choice(tmp_path: Path) -> None:
    dbus = machine_id_file(tmp_path, MACHINE_ID, "dbus-machine-id")
    both = default_device([tmp_path / "missing", dbus], hostname="pi")
    assert both == default_device([dbus], hostname="pi") != "pi"
    assert (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")) == MACHINE_ID_FILES


def test_the_config_default_is_this_boards_default_device() -> None:
    assert build_config({}).device == default_device()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(clock: Clock) -> ConnectionFailures:
    return ConnectionFailures(
        "mqtt://b:1883",
        username=None,
        tls=False,
        outbox_path=Path("o.sqlite3"),
        client_id="edge-raspberrypi",
        clock=clock,
    )


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def flap(failures: ConnectionFailures, clock: Clock, lasted: float, times: int) -> None:
    for _ in range(times):
        failures.connected()
        clock.now += lasted
        failures.lost("Unspecified error")
        clock.now += 1.0  # paho's reconnect delay


def test_connections_dropped_within_seconds_again_and_again_are_a_takeover(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    failures = policy(clock)
    with caplog.at_level(logging.DEBUG):
        flap(failures, clock, lasted=1.0, times=33)  # a drop every 2 s for 66 s
    first, second, takeover, *rest = said(caplog)
    for lost in (first, second):
        assert lost.startswith("MQTT connection to mqtt://b:1883 lost (Unspecified error);")
    assert takeover == (
        "MQTT connection to mqtt://b:1883 lost (Unspecified error), 3 times in a row within "
        "seconds of connecting: another client uses the id edge-raspberrypi (two devices "
        "with the same device name?); give each device its own device id (device = ... or "
        "--device) or client_id; results wait in the outbox meanwhile"
    )
    assert len(rest) == 1 and "33 times in a row" in rest[0]  # once a minute, not per drop


def test_mqtt5_says_session_taken_over_at_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    failures = policy(clock)
    failures.connected()
    clock.now += 600
    with caplog.at_level(logging.WARNING):
        failures.lost("Session taken over")
    [line] = said(caplog)
    assert "lost (Session taken over): another client uses the id edge-raspberrypi" in line


@pytest.mark.parametrize(
    ("lasted", "outage_between"),
    [(SHORT_SESSION + 0.1, False), (1.0, True)],
    ids=["connections-up-longer-than-a-reconnect-delay", "failed-attempts-between-drops"],
)
def test_drops_that_are_not_a_takeover_are_told_as_lost(
    lasted: float, outage_between: bool, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    failures = policy(clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(6):
            failures.connected()
            clock.now += lasted
            failures.lost("Unspecified error")
            if outage_between:
                failures.no_connack()
    assert not any("another client" in line for line in said(caplog))


@needs_mosquitto
def test_two_devices_with_one_device_id_are_told_of_the_takeover(
    tmp_path: Path, cleanup: list[Any]
) -> None:
    broker = Broker(tmp_path / "broker").start()
    cleanup.append(broker)
    devices = []
    for name in ("a", "b"):
        config = mqtt_config(broker, tmp_path / name, fps=5, jsonl=False)
        device = Device(tmp_path / name, config, "--device", "raspberrypi")
        cleanup.append(device)
        devices.append(device)
    message = "another client uses the id edge-raspberrypi (two devices with the same device name?)"
    started = time.monotonic()
    wait_for(lambda: any(message in d.stderr for d in devices), 10, "the takeover report")
    assert time.monotonic() - started < 10
    for device in devices:
        assert device.process.poll() is None, device.stderr  # not fatal: both run on
        assert device.stop() == 0, device.stderr
