"""A sink whose own thread dies makes the run unhealthy: ``failed`` in ``STATUS=``, in
the terminal status line and in the MQTT stats, and the watchdog is no longer fed, so
systemd restarts the service. The thread is killed on purpose: the sink's ``write``
raises an exception that is not an ``Exception`` on ``BackgroundSink``'s writer thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from edge.config.model import ModelConfig
from edge.model.load import load_model
from edge.pipeline.inference import Inference
from edge.pipeline.loop import Pipeline
from edge.pipeline.stats import RunStats, status_text
from edge.record import RecordContext
from edge.service.notify import Notifier
from edge.service.supervisor import ServiceSupervisor, is_fresh
from edge.sinks.base import BackgroundSink, Record
from edge.sinks.mqtt.pump import OutboxCounts
from edge.sinks.mqtt.stats import Stats
from edge.sources.synthetic import SyntheticCamera
from tests.edge.notify_listener import NotifyListener
from tests.edge.sinks.mqtt.conftest import FakeConnection


class _Killed(BaseException):
    """Not an ``Exception``: ``BackgroundSink`` does not catch it, the thread ends."""


class DyingSink:
    """Writes records until ``kill`` is set, then ends its writer thread."""

    name = "dying"

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.kill = threading.Event()

    def write(self, record: Record) -> None:
        if self.kill.is_set():
            raise _Killed("injected")
        self.records.append(record)

    def close(self) -> None:
        pass


def test_is_fresh_is_false_while_a_sink_has_failed() -> None:
    stats = RunStats(last_frame_at=99.0, source_state="running")
    assert is_fresh(stats, 100.0, window=10.0, since=50.0)
    stats.sink_failed["mqtt://b:1883"] = "the MQTT network thread ended"
    assert not is_fresh(stats, 100.0, window=10.0, since=50.0)
    stats.sink_state["mqtt://b:1883"] = "failed (the MQTT network thread ended)"
    assert status_text(stats, 20.0, False) == (
        "failed: 20.0 fps, 0 frames, source running, "
        "mqtt://b:1883 failed (the MQTT network thread ended), sink failed: watchdog not fed"
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_sink_whose_thread_dies_stops_the_pings(tmp_path: Path) -> None:
    model = load_model(ModelConfig())
    listener = NotifyListener(tmp_path)
    notifier = Notifier(listener.address)
    supervisor = ServiceSupervisor(notifier, watchdog_interval=0.1, window=5.0, status_every=0.2)
    inner = DyingSink()
    sink = BackgroundSink(inner)
    pipeline = Pipeline(
        SyntheticCamera(fps=50),
        Inference(model),
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
        deadline = time.monotonic() + 30
        while len(inner.records) < 20:
            assert time.monotonic() < deadline, "no records within 30 s"
            time.sleep(0.01)
        inner.kill.set()
        deadline = time.monotonic() + 10
        while not pipeline.stats.sink_failed:
            assert time.monotonic() < deadline, "the failure did not reach RunStats"
            time.sleep(0.01)
        failed_at = time.time()
        frames_then = pipeline.stats.frames
        time.sleep(1.5)
        stats = pipeline.stats
        assert stats.frames > frames_then  # frames keep coming: only the sink is dead
        payload = Stats(
            FakeConnection(),
            topic="p/stats",
            interval=1.0,
            device="pi1",
            control=None,
            outbox=lambda: OutboxCounts(0, 0, 0, 0),
            model=lambda: {"name": "m", "sha256": "s"},
        ).payload(stats, time.monotonic())
    finally:
        stop.set()
        loop.join(timeout=10)
        notifier.close()
        listener.close()
        model.close()
    reason = "the writer thread of sink dying ended"
    assert stats.sink_failed == {"dying": reason}
    assert stats.sink_state["dying"] == f"failed ({reason})"
    assert payload["failed_sinks"] == {"dying": reason}
    assert payload["sink_state"] == {"dying": f"failed ({reason})"}
    pings = [at for at, _ in listener.lines("WATCHDOG")]
    assert pings and pings[0] < failed_at
    # The loop notices within its 0.1 s health refresh; 0.4 s more for a loaded machine
    # stamping the pings on arrival. Pings that went on (every 0.1 s) would show here.
    assert not [at for at in pings if failed_at + 0.5 < at]
    statuses = [text for _, text in listener.lines("STATUS")]
    assert any(
        text.startswith("failed: ") and f"dying failed ({reason})" in text for text in statuses
    ), statuses
    terminal = status_text(stats, 0.0, form="terminal")
    assert terminal.endswith(f"| dying failed ({reason})")
