"""The watchdog rule and the status line as pure functions of (stats, now), and the
supervisor driven by a test clock against a real socket (no sleeping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.pipeline.stats import RunStats, status_text
from edge.service.notify import Notifier
from edge.service.supervisor import ServiceSupervisor, is_fresh
from tests.edge.notify_listener import NotifyListener


def stats(**values: object) -> RunStats:
    result = RunStats()
    for key, value in values.items():
        setattr(result, key, value)
    return result


@pytest.mark.parametrize(
    ("case", "kwargs", "now", "fresh"),
    [
        ("a frame 2 s ago", {"last_frame_at": 98.0, "source_state": "running"}, 100.0, True),
        ("last frame 11 s ago", {"last_frame_at": 89.0, "source_state": "running"}, 100.0, False),
        (
            "no frame yet, ready 5 s ago",
            {"last_frame_at": 0.0, "source_state": "opening"},
            55.0,
            True,
        ),
        (
            "no frame yet, ready 20 s ago",
            {"last_frame_at": 0.0, "source_state": "opening"},
            70.0,
            False,
        ),
        (
            "reconnecting, tried 3 s ago",
            {"last_frame_at": 10.0, "source_state": "reconnecting", "source_activity_at": 97.0},
            100.0,
            True,
        ),
        (
            "reconnecting, hung for 30 s",
            {"last_frame_at": 10.0, "source_state": "reconnecting", "source_activity_at": 70.0},
            100.0,
            False,
        ),
        (
            "running but the read hangs",
            {"last_frame_at": 10.0, "source_state": "running", "source_activity_at": 99.0},
            100.0,
            False,
        ),
    ],
)
def test_is_fresh(case: str, kwargs: dict[str, object], now: float, fresh: bool) -> None:
    assert is_fresh(stats(**kwargs), now, window=10.0, since=50.0) is fresh, case


def test_status_text_says_what_is_degraded() -> None:
    healthy = stats(frames=300, source_state="running")
    assert status_text(healthy, 29.96, True) == "running: 30.0 fps, 300 frames, source running"
    sick = stats(
        frames=300,
        source_state="reconnecting",
        reconnects=2,
        sink_state={"mqtt:broker": "offline"},
        sink_dropped={"mqtt:broker": 4},
    )
    assert status_text(sick, 0.0, False) == (
        "degraded: 0.0 fps, 300 frames, source reconnecting (reconnects 2), "
        "mqtt:broker offline, sink drops 4, no progress: watchdog not fed"
    )


def test_supervisor_pings_at_the_interval_only_while_fresh(tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path)
    now = [1000.0]
    notifier = Notifier(listener.address)
    supervisor = ServiceSupervisor(
        notifier, watchdog_interval=0.5, window=None, status_every=100.0, clock=lambda: now[0]
    )
    run = stats(source_state="running")
    try:
        assert supervisor.window == 1.0  # default: the whole WATCHDOG_USEC
        for step in range(40):  # 4 s of loop ticks every 0.1 s; frames for the first 2 s
            now[0] = 1000.0 + step * 0.1
            if step < 20:
                run.frames, run.last_frame_at = step + 1, now[0]
            supervisor(run)
        supervisor.stopping()
        supervisor(run)  # nothing after STOPPING=1
        listener.wait_for("STOPPING", "1", timeout=5)
    finally:
        notifier.close()
        listener.close()
    # pings at 0.0, 0.5, ..., then the last frame at 1.9 s keeps it fresh until 2.9 s
    assert supervisor.pings == 6
    assert len(listener.lines("WATCHDOG")) == 6


def test_a_hung_invoke_stops_the_pings(tmp_path: Path) -> None:
    """Pings need progress: an invoke that never returns (on the inference stage's
    thread) stops them within the window, although the loop thread goes on ticking."""
    import threading
    import time

    from edge.config.model import ModelConfig
    from edge.model.backends.base import Array
    from edge.model.load import load_model
    from edge.model.manifest import InputSpec
    from edge.pipeline.inference import Inference, ModelOutput, Prepared
    from edge.pipeline.loop import Pipeline
    from edge.record import RecordContext
    from edge.sinks.memory import MemorySink
    from edge.sources.synthetic import SyntheticCamera
    from edge.types import Detections, Frame, Latency

    model = load_model(ModelConfig())
    real = Inference(model)
    unblock, hung = threading.Event(), threading.Event()
    calls = [0]

    class HangingInference:
        @property
        def input_spec(self) -> InputSpec:
            return real.input_spec

        def new_input(self) -> Array:
            return real.new_input()

        def prepare(self, frame: Frame, buffer: Array) -> Prepared:
            return real.prepare(frame, buffer)

        def run_prepared(self, prepared: Prepared) -> ModelOutput:
            calls[0] += 1
            if calls[0] > 20:
                hung.set()
                unblock.wait()  # the invoke that never returns (until the test lets it)
            return real.run_prepared(prepared)

        def decode(self, output: ModelOutput) -> tuple[Detections, dict[str, Any], Latency]:
            return real.decode(output)

    inference = HangingInference()
    listener = NotifyListener(tmp_path)
    notifier = Notifier(listener.address)
    supervisor = ServiceSupervisor(notifier, watchdog_interval=0.1, window=0.3)
    sink = MemorySink()
    pipeline = Pipeline(
        SyntheticCamera(fps=50),
        inference,
        [sink],
        RecordContext("test", "digits-cnn", model.file.sha256, "classify"),
        model.manifest.labels,
        tick_hooks=[supervisor],
    )
    stop = threading.Event()
    supervisor.ready(pipeline)
    loop = threading.Thread(target=pipeline.run, args=(stop,))
    loop.start()
    try:
        assert hung.wait(timeout=30)
        # The 20th frame's record is written by the loop thread after its invoke, maybe
        # after the 21st invoke hung: waited for, so hung_at follows the last progress.
        deadline = time.monotonic() + 10
        while len(sink.records) < 20:
            assert time.monotonic() < deadline, f"{len(sink.records)} records within 10 s"
            time.sleep(0.01)
        hung_at = time.time()
        time.sleep(1.5)
        records_while_hung = len(sink.records)
    finally:
        stop.set()
        unblock.set()
        loop.join(timeout=10)
        notifier.close()
        listener.close()
        model.close()
    pings = [at for at, _ in listener.lines("WATCHDOG")]
    assert pings and pings[0] < hung_at
    # The 20th frame was recorded just before hung_at; it stays fresh for the 0.3 s
    # window, plus one 0.1 s watchdog interval to notice, and then no ping at all. The
    # pings are stamped on arrival by a thread of this busy process: 0.4 s more for that
    # on a loaded machine. Pings that went on (every 0.1 s) would still fall in the last
    # 0.7 s watched.
    assert not [at for at in pings if hung_at + 0.3 + 0.1 + 0.4 < at < hung_at + 1.5]
    assert records_while_hung == 20
