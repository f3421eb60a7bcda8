"""``ReadAheadReader``: a file or folder read on its own thread a few frames ahead, in
order, nothing dropped, errors handed over, a hung read visible to the watchdog.

The sources here are small fakes with the ``Source`` protocol (``__iter__``, ``close``,
``live``) because the cases need a read that fails or hangs on cue; the real video
file path through the reader is covered by every ``edge run --source FILE`` test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edge.config.model import DecoderConfig, ModelConfig
from edge.model.load import load_model
from edge.pipeline.inference import Inference
from edge.pipeline.loop import Pipeline
from edge.pipeline.readers import ReadAheadReader
from edge.record import RecordContext
from edge.service.notify import Notifier
from edge.service.supervisor import ServiceSupervisor
from edge.sinks.memory import MemorySink
from edge.types import Frame
from tests.edge.notify_listener import NotifyListener

IMAGE = np.zeros((48, 64, 3), np.uint8)


class FakeFile:
    """A non-live source of ``count`` frames; optionally fails or hangs after ``after``."""

    name = "fake"
    live = False

    def __init__(
        self, count: int, *, fail_after: int | None = None, hang_after: int | None = None
    ) -> None:
        self.count, self.fail_after, self.hang_after = count, fail_after, hang_after
        self.produced = 0
        self.release = threading.Event()
        self.closed_by: str | None = None

    def __iter__(self) -> Iterator[Frame]:
        for index in range(self.count):
            if index == self.fail_after:
                raise OSError("disk read failed")
            if index == self.hang_after:
                self.release.wait()  # a read that does not return until the test says so
                return
            self.produced += 1
            yield Frame(IMAGE, index, time.time(), self.name)

    def close(self) -> None:
        self.closed_by = threading.current_thread().name


def test_every_frame_arrives_in_order_with_a_slow_consumer() -> None:
    source = FakeFile(40)
    reader = ReadAheadReader(source, depth=3)
    seen = []
    for frame in reader.frames(threading.Event()):
        if frame is not None:
            seen.append(frame.index)
            time.sleep(0.002)
    reader.close()
    assert seen == list(range(40))
    assert reader.dropped == 0
    assert source.closed_by == "read-ahead"  # the reader thread owns the source


def test_the_reader_stays_at_most_depth_frames_ahead() -> None:
    source = FakeFile(100)
    reader = ReadAheadReader(source, depth=3)
    frames = reader.frames(threading.Event())
    first = next(frames)
    assert first is not None and first.index == 0
    # Until the reader has filled the queue (1 taken + 3 queued), however long that takes,
    # then a while longer to see that it goes no further.
    deadline = time.monotonic() + 10
    while source.produced < 4:
        assert time.monotonic() < deadline, f"the reader read {source.produced} frames"
        time.sleep(0.01)
    time.sleep(0.3)
    # 1 taken + 3 in the queue + 1 waiting for room in the reader thread.
    assert source.produced <= 5
    reader.close()
    assert source.closed_by == "read-ahead"


def test_a_read_error_is_raised_in_the_loop() -> None:
    reader = ReadAheadReader(FakeFile(10, fail_after=4))
    seen = []
    with pytest.raises(OSError, match="disk read failed"):
        for frame in reader.frames(threading.Event()):
            if frame is not None:
                seen.append(frame.index)
    reader.close()
    assert seen == [0, 1, 2, 3]


def test_a_hung_read_gives_idle_ticks_and_close_returns() -> None:
    source = FakeFile(10, hang_after=2)
    reader = ReadAheadReader(source)
    items = []
    for item in reader.frames(threading.Event(), poll=0.05):
        items.append(item)
        if len(items) == 6:
            break
    assert [i.index for i in items[:2] if i is not None] == [0, 1]
    assert items[2:] == [None] * 4  # idle ticks while the read hangs
    started = time.monotonic()
    reader.close(timeout=0.2)
    assert time.monotonic() - started < 1.0  # bounded, even with the read still stuck
    source.release.set()


def test_stop_ends_frames_and_close_drains_a_full_queue() -> None:
    source = FakeFile(1000)
    reader = ReadAheadReader(source, depth=2)
    stop = threading.Event()
    taken = 0
    for frame in reader.frames(stop):
        if frame is not None:
            taken += 1
        if taken == 5:
            stop.set()
    reader.close()
    assert taken == 5
    assert source.closed_by == "read-ahead"
    assert source.produced < 1000  # it stopped reading


def test_a_hung_file_read_stops_the_watchdog_pings(tmp_path: Path) -> None:
    """The main loop keeps ticking through a hung file read and stops pinging."""
    model = load_model(ModelConfig(), DecoderConfig())
    source = FakeFile(1000, hang_after=20)
    listener = NotifyListener(tmp_path)
    notifier = Notifier(listener.address)
    supervisor = ServiceSupervisor(notifier, watchdog_interval=0.1, window=0.3)
    sink = MemorySink()
    ticks = [0]

    def count_ticks(_: object) -> None:
        ticks[0] += 1

    pipeline = Pipeline(
        source,
        Inference(model),
        [sink],
        RecordContext("test", "digits-cnn", model.file.sha256, "classify"),
        model.manifest.labels,
        tick_hooks=[supervisor, count_ticks],
    )
    stop = threading.Event()
    supervisor.ready(pipeline)
    loop = threading.Thread(target=pipeline.run, args=(stop,))
    loop.start()
    try:
        deadline = time.monotonic() + 30
        while len(sink.records) < 20:
            assert time.monotonic() < deadline, f"{len(sink.records)} records within 30 s"
            time.sleep(0.01)
        hung_at = time.time()
        ticks_at_hang = ticks[0]
        time.sleep(1.5)
    finally:
        stop.set()
        source.release.set()
        loop.join(timeout=10)
        notifier.close()
        listener.close()
        model.close()
    assert not loop.is_alive()
    assert len(sink.records) == 20
    assert ticks[0] >= ticks_at_hang + 5  # idle ticks: the loop kept supervising
    pings = [at for at, _ in listener.lines("WATCHDOG")]
    assert pings and pings[0] < hung_at
    # Fresh for the 0.3 s window after the 20th frame, then no ping at all. The pings are
    # stamped on arrival by a thread of this busy process: 0.5 s more for that on a loaded
    # machine; pings that went on (every 0.1 s) would still fall in the last 0.7 s.
    assert not [at for at in pings if hung_at + 0.3 + 0.5 < at < hung_at + 1.5]
