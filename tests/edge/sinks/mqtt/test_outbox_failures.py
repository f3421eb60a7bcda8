"""An outbox that cannot be written: reported as such, never set aside as corrupt, and a
run whose last results could not be committed exits non-zero with them counted."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Collection, Iterable
from pathlib import Path

import pytest

from edge.cli import main
from edge.errors import EXIT_FAILURE, SinkError
from edge.sinks.mqtt import pump as pump_module
from edge.sinks.mqtt.outbox import Outbox, OutboxGoneError
from edge.sinks.mqtt.pump import OutboxPump
from tests.edge.sinks.mqtt.test_pump import FakeLink
from tests.edge.waiting import wait_for


def _made(path: Path) -> None:
    box = Outbox(path)
    box.commit([("t", b"kept")], ())
    box.close()


def _assert_reported_read_only(path: Path) -> None:
    with pytest.raises(SinkError) as caught:
        Outbox(path)
    text = str(caught.value)
    assert "read-only" in text and str(path) in text
    assert "fix:" in text and "writable" in text
    assert not list(path.parent.glob("*.corrupt-*"))  # not set aside
    assert path.exists()


def test_a_read_only_outbox_is_reported_not_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "o.sqlite3"
    _made(path)
    real_access = os.access
    # Root writes whatever the mode bits say: stand in for a read-only file or mount.
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p) == path else real_access(p, mode)
    )
    _assert_reported_read_only(path)
    monkeypatch.undo()
    assert Outbox(path).rows == 1  # the backlog is still there once it is writable


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores the mode bits")
def test_a_chmod_read_only_outbox_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    _made(path)
    path.chmod(0o444)
    try:
        _assert_reported_read_only(path)
    finally:
        path.chmod(0o644)


def idle_pump(path: Path) -> OutboxPump:
    """A pump whose link never connects: every result waits in the outbox."""
    return OutboxPump(
        Outbox(path),
        FakeLink(),
        commit_interval=0.05,
        max_inflight=3,
        drain_rate=1000,
        stuck_after=60,
        close_timeout=0.5,
    )


def _failing_commit(
    self: Outbox,
    new: Iterable[tuple[str, bytes]],
    acked: Collection[int],
    inflight: Collection[int] = (),
) -> None:
    raise SinkError(f"cannot write the MQTT outbox {str(self.path)!r}: database or disk is full")


def test_results_the_outbox_cannot_take_are_counted_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = idle_pump(tmp_path / "o.sqlite3")
    monkeypatch.setattr(box.outbox, "commit", _failing_commit.__get__(box.outbox))
    for i in range(5):
        box.add("t", f"r{i}".encode())
    box.start()
    box.drain()
    assert isinstance(box.error, SinkError)
    assert box.failure is not None and "disk is full" in box.failure
    assert box.dropped == 5
    box.add("t", b"late")  # after the failure: lost too, and counted
    assert box.dropped == 6
    box.close()


def test_a_run_whose_last_commit_fails_exits_non_zero_with_the_loss_counted(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a closed port: the broker is away all run long
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "edge.toml"
    config.write_text(
        "[source]\nkind = 'synthetic'\nfps = 200\n"
        f"\n[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {port}\n"
        f"outbox = '{tmp_path}/outbox.sqlite3'\ncommit_interval = 60\nclose_timeout = 0.5\n"
        "publish = 'every_frame'\nmax_rate = 0\n"
    )
    real_drain = OutboxPump.drain

    def slow_add(self: OutboxPump, topic: str, payload: bytes) -> None:
        # Keep the results in memory until the end, as if the disk were too slow.
        with self._lock:
            self._batch.append((topic, payload))

    def drain_on_a_full_disk(self: OutboxPump) -> None:
        monkeypatch.setattr(self.outbox, "commit", _failing_commit.__get__(self.outbox))
        real_drain(self)

    monkeypatch.setattr(pump_module.OutboxPump, "add", slow_add)
    monkeypatch.setattr(pump_module.OutboxPump, "drain", drain_on_a_full_disk)
    with caplog.at_level(logging.INFO):
        args = ["run", "--config", str(config), "--device", "pi1", "--max-frames", "20"]
        code = main([*args, "--no-model-probe"])
    assert code == EXIT_FAILURE
    assert "sink drops 20" in caplog.text
    assert "disk is full" in caplog.text and "failed" in caplog.text


def _other_programs_database(path: Path, schema: str) -> bytes:
    with sqlite3.connect(path) as db:
        db.executescript(schema)
    db.close()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ("CREATE TABLE readings (t REAL, v REAL); INSERT INTO readings VALUES (1, 2);", "readings"),
        ("CREATE TABLE outbox (id INTEGER PRIMARY KEY, body TEXT);", "outbox table"),
    ],
)
def test_another_programs_database_is_refused_and_left_untouched(
    tmp_path: Path, schema: str, named: str
) -> None:
    path = tmp_path / "o.sqlite3"
    before = _other_programs_database(path, schema)
    with pytest.raises(SinkError) as caught:
        Outbox(path)
    text = str(caught.value)
    assert "not an edge MQTT outbox" in text and named in text and "fix:" in text
    assert path.read_bytes() == before and not list(tmp_path.glob("*.corrupt-*"))


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_outbox_is_noticed_and_its_results_counted_lost(
    tmp_path: Path, how: str
) -> None:
    path = tmp_path / "o.sqlite3"
    box = idle_pump(path)  # never connected: every result waits in the outbox
    box.start()
    for i in range(7):
        box.add("t", f"r{i}".encode())
    wait_for(lambda: box.counts.depth == 7, 10, "7 results in the outbox")
    path.unlink()
    if how == "replaced":  # a restore from a backup: another file at the same path
        _made(path)
    box.add("t", b"r7")  # noticed at the next fsync, which follows a commit
    wait_for(lambda: box.error is not None, 10, "the outbox thread noticing")
    assert isinstance(box.error, OutboxGoneError)
    # Noticed at the fsync of the first 7 commits or after r7's: either way all 8 are lost.
    assert "deleted or replaced" in str(box.error)
    assert re.search(r"the [78] results it held", str(box.error))
    wait_for(lambda: box.dropped == 8, 10, "r7 counted (lost in the batch or refused)")
    assert box.failure is not None
    box.drain()
    box.close()
    assert box.dropped == 8  # counted once


def test_an_outbox_deleted_while_idle_is_noticed_at_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "o.sqlite3"
    box = idle_pump(path)
    box.start()
    for i in range(3):
        box.add("t", f"r{i}".encode())
    wait_for(lambda: box.counts.depth == 3, 10, "3 results in the outbox")
    path.unlink()
    box.drain()
    with caplog.at_level(logging.INFO):
        box.close()
    assert box.dropped == 3
    assert "the 3 results it held cannot be kept" in caplog.text
    assert "stay in the outbox" not in caplog.text


def test_a_run_whose_outbox_is_deleted_exits_non_zero_with_the_loss_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a closed port: the broker is away all run long
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outbox = tmp_path / "outbox.sqlite3"
    config = tmp_path / "edge.toml"
    config.write_text(
        "[source]\nkind = 'synthetic'\nfps = 50\n"
        f"\n[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {port}\n"
        f"outbox = '{outbox}'\ncommit_interval = 0.1\nclose_timeout = 0.5\n"
        "publish = 'every_frame'\nmax_rate = 0\n"
    )

    def rows() -> int:
        try:
            with contextlib.closing(sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)) as db:
                return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.Error:
            return 0  # not made yet

    def delete_once_40_wait() -> None:
        # Waited for, not timed: a loaded machine may take seconds to load the model.
        deadline = time.monotonic() + 60
        while rows() < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        outbox.unlink()

    deleter = threading.Thread(target=delete_once_40_wait)
    deleter.start()
    with caplog.at_level(logging.INFO):
        args = ["run", "--config", str(config), "--device", "pi1", "--max-frames", "400"]
        code = main([*args, "--no-model-probe"])
    deleter.join()
    assert code == EXIT_FAILURE
    assert "was deleted or replaced while this run used it" in caplog.text
    assert "stay in the outbox" not in caplog.text  # no promise the next run cannot keep
    lost = re.search(r"the (\d+) results it held", caplog.text)
    assert lost is not None and int(lost.group(1)) >= 40
    assert caplog.text.count("was deleted or replaced") == 1  # said once
