"""``edge run`` as systemd runs it: the real command, a real notify socket, real signals.

systemd itself is not PID 1 here, so these tests play its part with what it really
uses: an AF_UNIX datagram socket named in ``NOTIFY_SOCKET`` (a path and an abstract
``@`` name), ``WATCHDOG_USEC``, SIGTERM and SIGHUP.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import jsonschema
import pytest

from edge.config.model import ModelConfig
from edge.model.file import read_model_file
from edge.model.load import load_model
from edge.pipeline.inference import Inference
from edge.service.reload import blank_frame
from tests.conftest import REPO, read_jsonl
from tests.edge import waiting
from tests.edge.notify_listener import NotifyListener

ZOO = REPO / "models" / "zoo"
RUNNING = r"running: \d+\.\d fps, \d+ frames, source running"  # a periodic STATUS line


class EdgeProcess:
    """``edge run`` in a subprocess; stderr goes to a file the test can read while it runs."""

    def __init__(self, cwd: Path, args: list[str], env: dict[str, str]) -> None:
        self.stderr_path = cwd / "stderr.txt"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from edge.cli import entry; entry()", "run", *args],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env={**os.environ, **env},
            text=True,
        )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.stderr)
            if found:
                return found
            assert self.process.poll() is None, f"edge exited early:\n{self.stderr}"
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not logged within {timeout} s:\n{self.stderr}")

    def stop(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM; returns the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


class StartEdge(Protocol):
    """The ``edge_process`` fixture: starts ``edge run ARGS`` in the test's folder."""

    def __call__(self, args: list[str], env: dict[str, str] | None = None) -> EdgeProcess: ...


@pytest.fixture
def edge_process(tmp_path: Path) -> Iterator[StartEdge]:
    started: list[EdgeProcess] = []

    def start(args: list[str], env: dict[str, str] | None = None) -> EdgeProcess:
        process = EdgeProcess(tmp_path, args, env or {})
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def write_config(path: Path, *, model: Path, fps: float = 30, extra: str = "") -> Path:
    path.write_text(
        f'[model]\npath = "{model}"\n'
        f'[source]\nkind = "synthetic"\nfps = {fps}\n{extra}\n'
        f'[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n'
    )
    return path


def frames_done(stderr: str) -> int:
    found = re.search(r"done: (\d+) frames", stderr)
    assert found, stderr
    return int(found.group(1))


def wait_for_records(
    edge: EdgeProcess,
    path: Path,
    count: int,
    keep: Callable[[dict[str, Any]], bool] = lambda _: True,
    timeout: float = 30,
) -> list[dict[str, Any]]:
    """Until ``path`` holds ``count`` complete records that ``keep`` accepts: a number of
    records, not a number of seconds, so a slow machine only makes the wait longer."""
    return waiting.wait_for_records(
        path, count, timeout=timeout, keep=keep, process=edge.process, detail=lambda: edge.stderr
    )


@pytest.mark.parametrize("abstract", [False, True], ids=["path-socket", "abstract-socket"])
def test_ready_watchdog_status_stopping(
    edge_process: StartEdge, tmp_path: Path, abstract: bool
) -> None:
    listener = NotifyListener(tmp_path, abstract=abstract)
    try:
        edge = edge_process(
            ["--sink", "jsonl:out.jsonl"],
            {
                "NOTIFY_SOCKET": listener.address,
                "WATCHDOG_USEC": "1000000",
            },
        )
        ready_at = listener.wait_for("READY", "1")
        # Run until what is asserted below has been sent (pings at 0.5 s and a status line
        # every 2 s make that about 3 s), however long a loaded machine takes for it.
        deadline = time.monotonic() + 30
        while not (
            len(listener.lines("WATCHDOG")) >= 5
            and any(re.match(RUNNING, s) for _, s in listener.lines("STATUS"))
        ):
            assert time.monotonic() < deadline, f"no 5 pings and status: {listener.messages}"
            assert edge.process.poll() is None, f"edge exited early:\n{edge.stderr}"
            time.sleep(0.05)
        code, _ = edge.stop()
        stopping_at = listener.wait_for("STOPPING", "1", timeout=5)
    finally:
        listener.close()
    assert code == 0, edge.stderr
    pings = [at for at, _ in listener.lines("WATCHDOG")]
    assert all(ready_at <= at <= stopping_at for at in pings)
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    # WATCHDOG_USEC = 1 s asks for a ping at least every second; edge pings at half of it.
    # The exact schedule is checked against a fake clock (test_service_supervisor.py);
    # here, in wall time, only what holds on any machine load: pings came all along, never
    # faster than the interval (less a little socket jitter), never a watchdog period apart.
    assert len(pings) >= 5, pings
    assert min(gaps) >= 0.4, gaps
    assert max(gaps) < 1.0, gaps
    statuses = [value for _, value in listener.lines("STATUS")]
    assert any(re.match(RUNNING, s) for s in statuses), statuses
    assert statuses[-1] == "stopping: flushing sinks"


def test_pings_stop_when_the_camera_hangs(edge_process: StartEdge, tmp_path: Path) -> None:
    """The synthetic camera freezes after 30 frames: its read blocks, nothing arrives."""
    window = 1.0
    config = write_config(
        tmp_path / "edge.toml",
        model=ZOO / "digits-cnn.int8.tflite",
        extra=f"freeze_after = 30\n[service]\nwatchdog_window = {window}\n",
    )
    listener = NotifyListener(tmp_path)
    try:
        edge = edge_process(
            ["--config", str(config)],
            {
                "NOTIFY_SOCKET": listener.address,
                "WATCHDOG_USEC": "400000",
                "WATCHDOG_PID": "",
            },
        )
        listener.wait_for("READY", "1")
        deadline = time.monotonic() + 30
        while not any("no progress" in s for _, s in listener.lines("STATUS")):
            assert time.monotonic() < deadline, f"no 'no progress' status: {listener.messages}"
            time.sleep(0.1)
        time.sleep(2.0)  # watch well past the window
        code, _ = edge.stop()
    finally:
        listener.close()
    assert code == 0, edge.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    # A live camera: frames the loop was too busy for are replaced by newer ones (counted
    # as dropped), but the newest, the 30th, is always taken; nothing else goes missing.
    dropped = re.search(r"done: .*dropped (\d+)", edge.stderr)
    assert dropped, edge.stderr
    assert records[-1]["source"]["frame"] == 29
    assert len(records) + int(dropped.group(1)) == 30
    last_frame = _ts(records[-1]["ts"])
    pings = [at for at, _ in listener.lines("WATCHDOG")]
    assert pings and pings[0] < last_frame  # it was fed while frames came
    # ts is the capture time; the frame counts as progress once processed, and the ping
    # is stamped on arrival. A second for both on a loaded machine: pings that went on
    # after the hang would still land in the 2 s watched after "no progress" was seen.
    late = [at - last_frame for at in pings if at > last_frame + window + 1.0]
    assert not late, f"pings {late} s after the last frame; window {window} s"
    assert any("degraded" in s and "no progress" in s for _, s in listener.lines("STATUS"))


def test_watchdog_not_for_another_pid(edge_process: StartEdge, tmp_path: Path) -> None:
    listener = NotifyListener(tmp_path)
    try:
        edge = edge_process(
            ["--sink", "jsonl:out.jsonl"],
            {
                "NOTIFY_SOCKET": listener.address,
                "WATCHDOG_USEC": "200000",
                "WATCHDOG_PID": "1",
            },
        )
        listener.wait_for("READY", "1")
        time.sleep(1.0)
        code, _ = edge.stop()
    finally:
        listener.close()
    assert code == 0
    assert listener.lines("WATCHDOG") == []  # WATCHDOG_PID names another process


def test_sigterm_flushes_every_record(
    edge_process: StartEdge,
    tmp_path: Path,
    result_validator: jsonschema.Draft202012Validator,
) -> None:
    edge = edge_process(["--sink", "jsonl:out.jsonl"])
    edge.wait_for_log(r"running on synthetic")
    log = tmp_path / "out.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < 20_000):
        time.sleep(0.05)
    code, seconds = edge.stop(timeout=10)
    assert code == 0, edge.stderr
    assert seconds < 10
    records = read_jsonl(log)
    produced = frames_done(edge.stderr)
    assert produced > 0 and len(records) == produced
    assert [r["seq"] for r in records] == list(range(produced))
    for record in records[-5:]:
        result_validator.validate(record)


def test_second_sigterm_does_not_cut_the_flush(edge_process: StartEdge, tmp_path: Path) -> None:
    edge = edge_process(["--sink", "jsonl:out.jsonl"])
    log = tmp_path / "out.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size == 0):
        time.sleep(0.05)
    edge.process.send_signal(signal.SIGTERM)
    edge.wait_for_log("stopping on SIGTERM", timeout=5)
    edge.process.send_signal(signal.SIGTERM)
    assert edge.process.wait(timeout=10) == 0, edge.stderr
    # Logged ("SIGTERM again: already stopping") while the loop or the flush runs,
    # ignored after that: either way the stop stays clean and nothing is lost.
    assert len(read_jsonl(log)) == frames_done(edge.stderr)


def test_sighup_refuses_a_corrupt_model(edge_process: StartEdge, tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    shutil.copy(ZOO / "digits-cnn.int8.tflite", model)
    config = write_config(tmp_path / "edge.toml", model=model)
    edge = edge_process(["--config", str(config)])
    edge.wait_for_log("running on synthetic")
    wait_for_records(edge, tmp_path / "out.jsonl", 10)  # the old model is producing
    good = model.read_bytes()
    model.write_bytes(good[: len(good) // 2])  # a copy cut short, as a failed upload leaves
    edge.process.send_signal(signal.SIGHUP)
    edge.wait_for_log(
        r"reload refused, the old model keeps running: "
        r".*model\.tflite.* is a corrupt"
    )
    refused_at = len(read_jsonl(tmp_path / "out.jsonl"))
    # The old model goes on: 10 more records (waited for, not assumed after a second).
    wait_for_records(edge, tmp_path / "out.jsonl", refused_at + 10)
    code, _ = edge.stop()
    assert code == 0, edge.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) - refused_at >= 10, "the old model stopped producing records"
    sha = read_model_file(ZOO / "digits-cnn.int8.tflite").sha256
    assert {(r["model"]["name"], r["model"]["sha256"]) for r in records} == {("digits-cnn", sha)}
    assert [r["seq"] for r in records] == list(range(len(records)))


def test_sighup_switches_to_a_new_model_without_a_gap(
    edge_process: StartEdge,
    tmp_path: Path,
    result_validator: jsonschema.Draft202012Validator,
) -> None:
    old, new = ZOO / "digits-cnn.int8.tflite", ZOO / "digits-vit.int8.tflite"
    fps = 30
    config = write_config(tmp_path / "edge.toml", model=old, fps=fps)
    edge = edge_process(["--config", str(config)])
    edge.wait_for_log("running on synthetic")
    wait_for_records(edge, tmp_path / "out.jsonl", 10)  # the old model is producing
    write_config(config, model=new, fps=fps)  # the operator edits the model path
    edge.process.send_signal(signal.SIGHUP)
    switched = edge.wait_for_log(
        r"reload: now running digits-vit .*, loaded and checked in "
        r"(\d+\.\d+) s"
    )
    wait_for_records(
        edge,
        tmp_path / "out.jsonl",
        10,
        keep=lambda record: record["model"]["name"] == "digits-vit",
    )
    code, _ = edge.stop()
    assert code == 0, edge.stderr

    records = read_jsonl(tmp_path / "out.jsonl")
    names = [r["model"]["name"] for r in records]
    switch = names.index("digits-vit")
    assert switch > 0 and set(names[:switch]) == {"digits-cnn"}
    assert set(names[switch:]) == {"digits-vit"} and len(names) - switch >= 10
    assert {r["model"]["sha256"] for r in records[switch:]} == {read_model_file(new).sha256}
    assert [r["seq"] for r in records] == list(range(len(records)))
    for record in (records[switch - 1], records[switch]):
        result_validator.validate(record)
    # The new model was loaded and checked while the old one kept running: the gap
    # between the last old record and the first new one is a frame interval, not a load.
    # The load time is the one edge measured during that very reload, so a machine that
    # is slow (or busy) at that moment makes both the load and the allowance longer.
    load_seconds = max(float(switched.group(1)), _measure_load(new))
    gap = _ts(records[switch]["ts"]) - _ts(records[switch - 1]["ts"])
    assert gap <= load_seconds + 2 / fps, (gap, load_seconds)
    print(
        f"model load+check {load_seconds * 1000:.0f} ms, gap at the switch "
        f"{gap * 1000:.0f} ms (frame interval {1000 / fps:.0f} ms)"
    )


def test_sighup_logs_what_needs_a_restart(edge_process: StartEdge, tmp_path: Path) -> None:
    config = write_config(tmp_path / "edge.toml", model=ZOO / "digits-cnn.int8.tflite")
    edge = edge_process(["--config", str(config)])
    edge.wait_for_log("running on synthetic")
    first = config.read_text()
    config.write_text(
        first.replace("fps = 30", "fps = 5").replace('"out.jsonl"', '"other.jsonl"')
        + "[output]\nsnapshot_interval = 7.0\n"
    )
    edge.process.send_signal(signal.SIGHUP)
    edge.wait_for_log(r"reload: source, sinks, output changed: needs a restart")
    edge.wait_for_log(r"reload: now running digits-cnn")
    # A model with another input: the source stays set up for the first one until a restart.
    config.write_text(first.replace("digits-cnn.int8.tflite", "digits-detector.int8.tflite"))
    edge.process.send_signal(signal.SIGHUP)
    edge.wait_for_log(
        r"reload: the new model takes 96x96 gray and the source was set up for "
        r"28x28 gray"
    )
    edge.wait_for_log(r"reload: now running digits-detector")
    config.write_text("[model]\npaht = 'typo.tflite'\n")
    edge.process.send_signal(signal.SIGHUP)
    edge.wait_for_log(
        r"reload refused, the old model keeps running: the config is not valid: "
        r".*unknown key 'paht'"
    )
    code, _ = edge.stop()
    assert code == 0
    assert not (tmp_path / "other.jsonl").exists()  # the sinks were not half-applied
    assert len(read_jsonl(tmp_path / "out.jsonl")) == frames_done(edge.stderr)


def _measure_load(path: Path) -> float:
    started = time.monotonic()
    model = load_model(ModelConfig(path=path))
    Inference(model)(blank_frame(model))
    seconds = time.monotonic() - started
    model.close()
    return seconds


def _ts(stamp: str) -> float:
    import datetime as dt

    return (
        dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=dt.timezone.utc)
        .timestamp()
    )
