from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from edge.errors import ConfigError, SinkError
from edge.sinks.base import BackgroundSink, Record
from edge.sinks.jsonl import JsonlSink
from edge.sinks.memory import MemorySink


def test_jsonl_appends_one_object_per_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    for run in range(2):
        sink = JsonlSink(path)
        sink.write({"run": run, "a": [1, 2]})
        sink.close()
    assert [json.loads(line)["run"] for line in path.read_text().splitlines()] == [0, 1]


def test_jsonl_path_that_is_a_folder(tmp_path: Path) -> None:
    # A configuration error (78, found by check-config too), no longer a SinkError (1).
    (tmp_path / "d.jsonl").mkdir()
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        JsonlSink(tmp_path / "d.jsonl")


def test_jsonl_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a folder"):
        JsonlSink(tmp_path / "file" / "d.jsonl")


def test_background_sink_delivers_everything_in_order() -> None:
    inner = MemorySink()
    sink = BackgroundSink(inner)
    for i in range(500):
        sink.write({"seq": i})
    sink.close()
    assert [r["seq"] for r in inner.records] == list(range(500))
    assert inner.closed and sink.dropped == 0


class Failing(MemorySink):
    def write(self, record: Record) -> None:
        raise SinkError("disk gone")


def test_background_sink_failure_reaches_the_loop() -> None:
    sink = BackgroundSink(Failing())
    sink.write({"seq": 0})
    deadline = time.monotonic() + 2
    with pytest.raises(SinkError, match="disk gone"):
        while time.monotonic() < deadline:
            sink.write({"seq": 1})
            time.sleep(0.01)
    sink.close()


class Slow(MemorySink):
    def write(self, record: Record) -> None:
        time.sleep(0.2)
        super().write(record)


def test_background_sink_never_blocks_and_counts_drops_exactly() -> None:
    gate, entered = threading.Event(), threading.Event()

    class Stuck(MemorySink):
        def write(self, record: Record) -> None:
            entered.set()
            gate.wait()
            super().write(record)

    inner = Stuck()
    sink = BackgroundSink(inner, maxsize=10)
    sink.write({"seq": 0, "id": "0"})
    assert entered.wait(10)  # the drain thread took it and sticks in write()

    def burst() -> None:
        for i in range(1, 100):
            sink.write({"seq": i, "id": str(i)})

    # write() must never wait on the stuck sink: the burst ends while the gate is still
    # shut (were it to block, it would hang here until the bound).
    writer = threading.Thread(target=burst, daemon=True)
    writer.start()
    writer.join(10)
    assert not writer.is_alive() and not gate.is_set()
    # One record is inside the stuck write, ten are queued: the other 89 were dropped.
    assert sink.dropped == 89
    gate.set()
    sink.close()
    assert [r["seq"] for r in inner.records] == list(range(11))
    assert sink.dropped == 89


def test_background_sink_close_waits_only_up_to_its_timeout() -> None:
    gate, entered = threading.Event(), threading.Event()

    class Hung(MemorySink):
        def write(self, record: Record) -> None:
            entered.set()
            gate.wait()

    sink = BackgroundSink(Hung(), maxsize=10, close_timeout=0.5)
    sink.write({"seq": 0})
    assert entered.wait(10)  # the first record is now inside the hung write
    for i in range(1, 6):
        sink.write({"seq": i})
    started = time.monotonic()
    sink.close()
    # close() gave up after its timeout instead of waiting for the hung write forever.
    assert 0.4 < time.monotonic() - started < 10
    assert not gate.is_set()
    assert sink.dropped == 5  # the queued ones; the one inside write() may still land
    gate.set()


def test_background_sink_adds_the_inner_sinks_own_drops_and_state() -> None:
    class Counting(MemorySink):
        dropped = 7
        state = "connected"

    sink = BackgroundSink(Counting())
    assert sink.dropped == 7 and sink.state == "connected"
    sink.close()
