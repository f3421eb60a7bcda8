"""Live sources survive: reopening with backoff, stalls, blocking reads, a real stream
that drops (an MJPEG-over-HTTP server on loopback, stopped and restarted mid-run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge.errors import ConfigError, SourceError
from edge.pipeline.readers import LatestFrameReader
from edge.sources.live import Backoff, Capture, LiveSource
from edge.sources.opencv import camera_backends, camera_hint
from tests.conftest import RunEdge, read_jsonl
from tests.edge.waiting import wait_for_log, wait_for_records

TESTS_EDGE = Path(__file__).resolve().parents[1]  # the shared helpers (mjpeg_server.py)
REPO = Path(__file__).resolve().parents[3]
FAST = Backoff(0.02, 0.1)


class ScriptedDevice:
    """A device that delivers ``frames`` pictures, then fails every read."""

    def __init__(self, frames: int) -> None:
        self.left = frames
        self.released = False
        self.reader_threads: set[str] = set()

    def read(self) -> Capture | None:
        self.reader_threads.add(threading.current_thread().name)
        if self.left <= 0:
            return None
        self.left -= 1
        return Capture(np.zeros((4, 4, 3), np.uint8), time.time())

    def release(self) -> None:
        self.released = True


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    import random

    backoff, rng = Backoff(0.5, 4.0), random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(6)]
    for n, delay in enumerate(delays):
        base = min(4.0, 0.5 * 2**n)
        assert base * 0.5 <= delay <= base
    assert len({round(d, 6) for d in delays}) == 6  # jittered, not a fixed ladder


def test_a_stalled_device_is_released_and_reopened() -> None:
    devices: list[ScriptedDevice] = []

    def opener() -> ScriptedDevice:
        devices.append(ScriptedDevice(3))
        return devices[-1]

    source = LiveSource("scripted", opener, stall_timeout=0.05, backoff=FAST)
    assert source.health().state == "opening"
    frames = []
    for frame in source:
        frames.append(frame)
        if len(frames) == 9:
            health = source.health()
            break
    source.close()
    assert [f.index for f in frames] == list(range(9))
    assert len(devices) == 3 and all(d.released for d in devices[:2])
    assert health.reconnects == 2 and health.state == "running"


def test_open_failures_retry_with_backoff_and_count_as_activity() -> None:
    attempts: list[float] = []

    def opener() -> ScriptedDevice:
        attempts.append(time.monotonic())
        if len(attempts) < 4:
            raise SourceError("not yet")
        return ScriptedDevice(100)

    source = LiveSource("flaky", opener, retry_at_start=True, backoff=FAST)
    assert source.health().state == "reconnecting"  # nothing opened in the constructor
    assert attempts == []
    frame = next(iter(source))
    assert frame.index == 0 and len(attempts) == 4
    assert source.health().reconnects == 0  # the first open is not a reopening
    assert source.health().last_activity >= attempts[-1]
    source.close()


def test_a_long_backoff_wait_keeps_showing_activity_a_hung_open_does_not() -> None:
    """The watchdog reads last_activity: waiting on purpose between attempts is progress
    (a 30 s backoff must not restart the service), an open that never returns is not."""
    release_open = threading.Event()
    attempts: list[float] = []

    def opener() -> ScriptedDevice:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            first_failed.set()
            raise SourceError("camera unplugged")
        release_open.wait(10)  # the second attempt hangs inside the open
        raise SourceError("still unplugged")

    first_failed = threading.Event()
    source = LiveSource("slow", opener, retry_at_start=True, backoff=Backoff(4.0, 4.0))
    thread = threading.Thread(target=lambda: next(iter(source), None), daemon=True)
    thread.start()
    try:
        # Counted from the first attempt, not from the thread's start: 1.5 s is past the
        # wait's first activity mark (1 s) and well before the next attempt (2-4 s).
        assert first_failed.wait(10), "the first open was never tried"
        time.sleep(max(0.0, attempts[0] + 1.5 - time.monotonic()))
        waiting = source.health()
        assert len(attempts) == 1 and waiting.state == "reconnecting"
        assert time.monotonic() - waiting.last_activity < 1.2
        deadline = time.monotonic() + 10
        while len(attempts) < 2:
            assert time.monotonic() < deadline, "the second open was never tried"
            time.sleep(0.05)
        time.sleep(2.0)  # now hung inside the second open
        assert time.monotonic() - source.health().last_activity >= 1.9
    finally:
        release_open.set()
        source.close()
        thread.join(5)


def test_without_retry_at_start_the_first_open_fails_at_once() -> None:
    def opener() -> ScriptedDevice:
        raise SourceError("no such camera")

    with pytest.raises(SourceError, match="no such camera"):
        LiveSource("missing", opener)


def test_a_config_error_while_reopening_ends_the_run() -> None:
    calls = []

    def opener() -> ScriptedDevice:
        calls.append(1)
        if len(calls) > 1:
            raise ConfigError("picamera2 vanished")
        return ScriptedDevice(1)

    source = LiveSource("cfg", opener, stall_timeout=0.02, backoff=FAST)
    with pytest.raises(ConfigError):
        list(source)


class BlockingDevice:
    """A read that never returns (a driver stuck in the kernel, a capture without timeout)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.never = threading.Event()
        self.released_by: list[str] = []

    def read(self) -> Capture | None:
        self.entered.set()
        self.never.wait()
        return None

    def release(self) -> None:
        self.released_by.append(threading.current_thread().name)


def test_closing_while_a_read_blocks_returns_within_the_stop_timeout() -> None:
    device = BlockingDevice()
    source = LiveSource("stuck", lambda: device, stall_timeout=0.05, backoff=FAST)
    reader = LatestFrameReader(source)
    assert device.entered.wait(2)
    activity = source.health().last_activity
    time.sleep(0.3)
    assert source.health().last_activity == activity  # a blocked read makes no activity
    start = time.monotonic()
    reader.close(timeout=1.0)
    assert time.monotonic() - start < 1.5
    assert device.released_by == []  # never released under the blocked read's feet
    device.never.set()  # the driver finally returns: the capture thread releases it
    deadline = time.monotonic() + 2
    while not device.released_by and time.monotonic() < deadline:
        time.sleep(0.01)
    assert device.released_by == ["capture"]
    assert source.health().state == "ended"


def test_the_capture_thread_owns_the_device() -> None:
    devices: list[ScriptedDevice] = []

    def opener() -> ScriptedDevice:
        devices.append(ScriptedDevice(2))
        return devices[-1]

    source = LiveSource("owned", opener, stall_timeout=0.02, backoff=FAST)
    reader = LatestFrameReader(source)
    stop = threading.Event()
    seen = 0
    for frame in reader.frames(stop):
        seen += frame is not None
        if seen >= 5:
            break
    reader.close()
    for device in devices:
        assert device.reader_threads == {"capture"}


def test_a_never_iterated_source_is_released_by_close() -> None:
    device = ScriptedDevice(1)
    source = LiveSource("unused", lambda: device)
    source.close()
    assert device.released and source.health().state == "ended"


@pytest.mark.parametrize(
    ("platform", "backends"),
    [
        ("linux", ("CAP_V4L2",)),
        ("darwin", ("CAP_AVFOUNDATION",)),
        ("win32", ("CAP_DSHOW", "CAP_MSMF")),
        ("freebsd14", ("CAP_ANY",)),
    ],
)
def test_webcam_backend_per_platform(platform: str, backends: tuple[str, ...]) -> None:
    import cv2

    assert camera_backends(platform) == tuple(getattr(cv2, b) for b in backends)


def test_webcam_hints_point_at_what_works_per_platform() -> None:
    assert "--source picamera2" in camera_hint("linux")
    assert "Privacy & Security > Camera" in camera_hint("darwin")
    assert "/dev/video" not in camera_hint("darwin") + camera_hint("win32")


# --- a real stream over loopback -------------------------------------------------------


def start_server(port: int, fps: float = 25.0) -> tuple[subprocess.Popen[str], int]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, str(TESTS_EDGE / "mjpeg_server.py"), str(port), str(fps)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip().isdigit(), "the MJPEG server did not start"
    return process, int(line)


def stop_process(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


def start_edge(tmp_path: Path, out: Path) -> tuple[subprocess.Popen[str], Path]:
    """``edge run --config run.toml``; stderr goes to a file the test can read meanwhile."""
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as file:
        run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from edge.cli import entry; entry()",
                "run",
                "--config",
                "run.toml",
                "--sink",
                f"jsonl:{out}",
            ],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=file,
            text=True,
        )
    return run, stderr


def stop_edge(run: subprocess.Popen[str], stderr: Path) -> str:
    run.send_signal(signal.SIGINT)
    run.wait(timeout=30)
    return stderr.read_text()


@dataclass
class MjpegServer:
    """The camera server of a test: its process (a test may restart it) and its port."""

    process: subprocess.Popen[str]
    port: int


@pytest.fixture
def mjpeg_server() -> Iterator[MjpegServer]:
    process, port = start_server(0)
    server = MjpegServer(process, port)
    try:
        yield server
    finally:
        stop_process(server.process)


def test_a_stream_that_drops_is_reopened_and_the_run_goes_on(
    mjpeg_server: MjpegServer, tmp_path: Path
) -> None:
    port = mjpeg_server.port
    (tmp_path / "run.toml").write_text(
        "status_interval = 0.2\n[source]\nkind = 'video'\n"
        f"uri = 'http://127.0.0.1:{port}/stream.mjpg'\n"
        "stall_timeout = 0.5\nreconnect_delay = 0.2\nreconnect_delay_max = 0.5\n"
        "open_timeout = 2\n"
    )
    out = tmp_path / "out.jsonl"
    run, log = start_edge(tmp_path, out)
    try:
        before = len(wait_for_records(out, 10, timeout=60))
        stop_process(mjpeg_server.process)
        # The source noticed and a status line was written while it was down: waited
        # for in the log, not assumed after a fixed time.
        wait_for_log(run, log, "delivered no frame for 0.5 s; reconnecting")
        wait_for_log(run, log, "source reconnecting (reconnects 0)")
        stalled = len(read_jsonl(out))
        mjpeg_server.process, _ = start_server(port)
        wait_for_records(out, stalled + 10, timeout=60)
        wait_for_log(run, log, "source running (reconnects 1)")  # a status line after it
        stderr = stop_edge(run, log)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stderr
    assert stalled >= before
    assert "delivered no frame for 0.5 s; reconnecting" in stderr
    assert "reopened (reconnect 1)" in stderr
    assert "source reconnecting (reconnects 0)" in stderr  # the status line while down
    assert "source running (reconnects 1)" in stderr  # and after it came back
    summary = [line for line in stderr.splitlines() if "done:" in line][-1]
    assert "reconnects 1" in summary
    assert stderr.count("reopened") == 1  # each reopening is logged once


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_stream_unreachable_at_start_exits_1(run_edge: RunEdge) -> None:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    done = run_edge(["run", "--source", url, "--max-frames", "1"], timeout=60)
    assert done.returncode == 1
    assert f"error: the stream '{url}' could not be opened" in done.stderr
    assert "retry_at_start = true" in done.stderr


def test_stream_unreachable_at_start_with_retry_keeps_trying(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "run.toml").write_text(
        f"status_interval = 0.2\n[source]\nkind = 'video'\n"
        f"uri = 'http://127.0.0.1:{port}/stream.mjpg'\n"
        "retry_at_start = true\nreconnect_delay = 0.1\nreconnect_delay_max = 0.3\n"
    )
    out = tmp_path / "late.jsonl"
    run, log = start_edge(tmp_path, out)
    server = None
    try:
        # Up and retrying (a failed attempt and a status line saying so) before the
        # camera appears, however long the start took; wait_for_log fails if it exited.
        wait_for_log(run, log, "cannot be opened")
        wait_for_log(run, log, "source reconnecting (reconnects 0)")
        server, _ = start_server(port)
        wait_for_records(out, 5, timeout=60)
        stderr = stop_edge(run, log)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if server is not None:
            stop_process(server)
    assert run.returncode == 0, stderr
    assert "source reconnecting (reconnects 0)" in stderr
    assert "cannot be opened" in stderr and "opened after" in stderr


def test_a_refused_stream_is_reported_once_not_by_ffmpeg_on_every_attempt(
    run_edge: RunEdge,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    done = run_edge(["run", "--source", url], timeout=60)
    assert done.returncode == 1
    assert "Connection refused" not in done.stderr  # FFmpeg's own line is silenced
