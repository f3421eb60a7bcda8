"""sd_notify: addresses, the watchdog variables, and datagrams on a real socket."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge.service.notify import Notifier, socket_address, watchdog_interval, watchdog_usec
from tests.edge.notify_listener import NotifyListener


def test_abstract_socket_names_start_with_a_nul_byte() -> None:
    assert (
        socket_address("@/org/freedesktop/systemd1/notify") == b"\0/org/freedesktop/systemd1/notify"
    )
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec(
    env: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(env) == expected
    assert watchdog_usec(env) == (int(env["WATCHDOG_USEC"]) if expected else None)


@pytest.mark.parametrize("abstract", [False, True])
def test_messages_arrive_as_one_datagram(tmp_path: Path, abstract: bool) -> None:
    listener = NotifyListener(tmp_path, abstract=abstract)
    notifier = Notifier.from_environment({"NOTIFY_SOCKET": listener.address})
    try:
        assert notifier.enabled
        assert notifier.send("READY=1", "STATUS=two\nlines")
        listener.wait_for("READY", "1", timeout=5)
    finally:
        notifier.close()
        listener.close()
    assert [m for _, m in listener.messages] == ["READY=1\nSTATUS=two lines"]


def test_without_a_socket_every_call_is_a_no_op() -> None:
    notifier = Notifier.from_environment({})
    assert not notifier.enabled
    assert notifier.send("READY=1") is False


def test_a_socket_that_is_gone_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens.sock"))
    assert notifier.send("WATCHDOG=1") is False
    assert notifier.send("WATCHDOG=1") is False
    notifier.close()
    assert len([r for r in caplog.records if "cannot notify systemd" in r.message]) == 1
