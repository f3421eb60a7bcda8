"""The JSONL log against storage faults: torn lines, full disks, file-size limits,
SIGKILL at random points, rotation, fsync policy, a broken stdout pipe.

Faults are real: a 64 KiB tmpfs (mounted when the tests run as root, skipped otherwise),
``RLIMIT_FSIZE`` with SIGXFSZ ignored (what ``ulimit -f`` does), ``/dev/full``, SIGKILL.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.errors import ConfigError
from edge.sinks.jsonl import JsonlSink
from tests.conftest import RunEdge, read_jsonl
from tests.edge.faults.logs import all_lines, parse_all

ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
EDGE = [sys.executable, "-c", "from edge.cli import entry; entry()"]
FAST = '[source]\nkind = "synthetic"\nfps = 1000\n'  # records as fast as the model runs


def result(seq: int, detections: int = 0) -> dict[str, object]:
    return {
        "schema": "edge.result/1",
        "seq": seq,
        "detections": [{"label": "a", "class_id": 0, "score": 0.9}] * detections,
    }


# --- torn lines -------------------------------------------------------------------------


def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    log.write_bytes(b'{"seq":0}\n{"seq":1}\n{"se')
    sink = JsonlSink(log)
    sink.write({"seq": 2})
    sink.close()
    assert sink.repaired_bytes == 4
    assert [r["seq"] for r in read_jsonl(log)] == [0, 1, 2]


def test_the_zero_filled_tail_of_a_power_cut_is_cut(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    log.write_bytes(b'{"seq":0}\n' + b"\0" * 4096)
    JsonlSink(log).close()
    assert log.read_bytes() == b'{"seq":0}\n'


def test_a_log_without_any_newline_is_emptied(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    log.write_bytes(b"x" * 100_000)  # longer than one tail chunk
    JsonlSink(log).close()
    assert log.read_bytes() == b""


def test_nan_and_infinity_never_make_invalid_json(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    sink = JsonlSink(log)
    sink.write({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5]})
    sink.close()
    assert json.loads(log.read_text(), parse_constant=pytest.fail) == {
        "a": None,
        "b": [None, None, 1.5],
    }


# --- full disk and file-size limit ------------------------------------------------------


def test_dev_full_drops_and_counts_without_stopping() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is a Linux device")
    sink = JsonlSink(Path("/dev/full"))
    for seq in range(3):
        sink.write({"seq": seq})
    assert sink.dropped == 3 and sink.state is not None and "No space" in sink.state
    sink.close()


def _limit_file_size(soft: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as a shell's `ulimit -f`: EFBIG, no kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, resource.RLIM_INFINITY))


def test_file_size_limit_drops_counts_and_resumes(tmp_path: Path) -> None:
    """RLIMIT_FSIZE of 4 KiB cuts writes short (the torn part is removed at once), the
    writer goes on, and when the limit is raised (space returns) writing resumes."""
    log = tmp_path / "d.jsonl"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.edge.faults.log_writer",
            str(log),
            "400",
            "0",
            "0",
            "0",
            "200",
        ],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: _limit_file_size(4096),
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    seqs = [r["seq"] for r in parse_all(log)]
    assert summary["dropped_before"] > 100  # most of the first 200 did not fit in 4 KiB
    assert summary["dropped"] == summary["dropped_before"]  # nothing lost after the raise
    assert seqs == sorted(seqs) and seqs[-1] == 399
    assert len(seqs) + summary["dropped"] == 400  # every record written or counted
    assert summary["state"] == "ok"


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str = "64k") -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_full_disk_drops_then_resumes_when_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "card") as card:
        filler = card / "filler"
        log = card / "d.jsonl"
        sink = JsonlSink(log, max_bytes=0)
        sink.write(result(0))
        with contextlib.suppress(OSError), filler.open("wb") as out:
            while True:
                out.write(b"\0" * 4096)
                out.flush()
        for seq in range(1, 301):  # ~18 KiB: more than the page the log already holds
            sink.write(result(seq))
        assert sink.dropped >= 200 and sink.state and "not writing" in sink.state
        filler.unlink()  # space returns
        for seq in range(301, 311):
            sink.write(result(seq))
        sink.close()
        seqs = [r["seq"] for r in parse_all(log)]
        assert seqs[-10:] == list(range(301, 311)) and sink.state == "ok"
        assert len(seqs) + sink.dropped == 311


def test_edge_run_on_a_full_card_keeps_running_and_counts_drops(
    tmp_path: Path, run_edge: RunEdge
) -> None:
    with small_tmpfs(tmp_path / "card") as card:
        config = tmp_path / "edge.toml"
        config.write_text(
            f'{FAST}[[sinks]]\nkind = "jsonl"\npath = "{card / "d.jsonl"}"\nmax_bytes = 0\n'
        )
        done = run_edge(["run", "--config", str(config), "--max-frames", "300"])
        assert done.returncode == 0, done.stderr
        records = parse_all(card / "d.jsonl")
        summary = next(line for line in done.stderr.splitlines() if "done:" in line)
        drops = int(summary.rsplit("sink drops ", 1)[1])
        assert drops > 0 and len(records) + drops == 300, summary
        print(f"64 KiB card: {len(records)} records written, {drops} counted as sink drops, exit 0")
        assert (card / "d.jsonl").stat().st_size > 60_000  # it filled the card first


# --- SIGKILL at random points -----------------------------------------------------------


def test_sigkill_at_50_random_points_leaves_every_line_readable(tmp_path: Path) -> None:
    """A writer that rotates (and compresses) every ~20 KiB is killed 50 times at random
    moments once its log is open: mid-line, mid-rotation, mid-gzip. Five lanes (each its
    own log) run side by side to keep the test short; every restart repairs what the last
    kill left, and every line of every file parses."""
    rng = random.Random(8)
    logs = [tmp_path / f"lane{n}" / "d.jsonl" for n in range(5)]
    for log in logs:
        log.parent.mkdir()
    written = 0
    for _ in range(10):
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.edge.faults.log_writer",
                    str(log),
                    "100000000",
                    "20000",
                    "3",
                    "1",
                ],
                env=ENV,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            for log in logs
        ]
        try:
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline() == b"ready\n"
            # "ready" comes before the first write: wait until every log grew, so each kill
            # lands while records are being written, however slow the start was.
            _wait_until_written([log.parent for log in logs])
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            for child in children:
                child.kill()
                assert child.wait() == -signal.SIGKILL
                assert child.stdout is not None
                child.stdout.close()
    for log in logs:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.edge.faults.log_writer",
                str(log),
                "10",
                "20000",
                "3",
                "1",
            ],
            env=ENV,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        records = parse_all(log)
        assert read_jsonl(log)[-1]["seq"] == 9
        assert json.loads(done.stdout.splitlines()[-1])["dropped"] == 0
        written += len(records)
        assert not list(log.parent.glob("*.partial"))  # a kill mid-gzip leaves none behind
    print(f"50 SIGKILLs of the writer: {written} records kept, every line parses")
    assert written > 500  # the kills landed while records were being written


def test_edge_run_sigkilled_at_50_random_points(tmp_path: Path) -> None:
    """The real ``edge run`` (synthetic camera at 1000 fps, rotation every 16 KiB with
    gzip) is SIGKILLed 50 times, in 5 lanes so the test stays short; each lane restarts
    on its own log, so every restart repairs what the kill left."""
    rng = random.Random(50)
    lanes = [tmp_path / f"lane{n}" for n in range(5)]
    for lane in lanes:
        lane.mkdir()
        (lane / "edge.toml").write_text(
            FAST + '[[sinks]]\nkind = "jsonl"\npath = "d.jsonl"\nmax_bytes = 16000\nkeep = 3\n'
            "compress = true\nfsync_interval = 0.05\n"
        )
    kills = 0
    for _ in range(10):
        children = [
            subprocess.Popen(
                [*EDGE, "run", "--config", "edge.toml"],
                cwd=lane,
                env=ENV,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for lane in lanes
        ]
        try:
            _wait_until_written(lanes)
            time.sleep(rng.uniform(0.0, 0.3))
        finally:
            for child in children:
                child.kill()
            kills += sum(child.wait() == -signal.SIGKILL for child in children)
    assert kills == 50
    total = 0
    for lane in lanes:
        total += len(parse_all(lane / "d.jsonl"))
    print(f"50 SIGKILLs of edge run: {total} records kept, every line parses")
    assert total > 500  # the kills landed while records were being written


def _wait_until_written(lanes: list[Path]) -> None:
    """Until every lane's log has grown since this round began (the run is writing)."""
    sizes = {lane: _log_bytes(lane) for lane in lanes}
    deadline = time.monotonic() + 30
    while any(_log_bytes(lane) == sizes[lane] for lane in lanes):
        assert time.monotonic() < deadline, "edge run wrote nothing within 30 s"
        time.sleep(0.02)


def _log_bytes(lane: Path) -> int:
    total = 0
    for file in lane.glob("d.jsonl*"):
        with contextlib.suppress(FileNotFoundError):  # rotated away meanwhile
            total += file.stat().st_size
    return total


# --- rotation, fsync, detections-only ---------------------------------------------------


def test_rotation_keeps_the_configured_count(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    sink = JsonlSink(log, max_bytes=1000, keep=2)
    for seq in range(200):
        sink.write(result(seq))
    sink.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["d.jsonl", "d.jsonl.1", "d.jsonl.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    seqs = [
        r["seq"]
        for name in ("d.jsonl.2", "d.jsonl.1", "d.jsonl")
        for r in read_jsonl(tmp_path / name)
    ]
    assert seqs == list(range(seqs[0], 200))  # the newest, in order, nothing in between lost


def test_rotated_files_are_compressed(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    sink = JsonlSink(log, max_bytes=1000, keep=3, compress=True)
    for seq in range(200):
        sink.write(result(seq))
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "d.jsonl",
        "d.jsonl.1.gz",
        "d.jsonl.2.gz",
        "d.jsonl.3.gz",
    ]
    assert json.loads(gzip.decompress((tmp_path / "d.jsonl.1.gz").read_bytes()).splitlines()[0])
    assert len(all_lines(log)) < 200


def test_max_bytes_0_never_rotates(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "d.jsonl", max_bytes=0)
    for seq in range(300):
        sink.write(result(seq))
    sink.close()
    assert [p.name for p in tmp_path.iterdir()] == ["d.jsonl"]


def test_fsync_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    every = JsonlSink(tmp_path / "a.jsonl", fsync_interval=0)
    for seq in range(5):
        every.write(result(seq))
    assert len(calls) == 5
    every.close()
    calls.clear()
    never = JsonlSink(tmp_path / "b.jsonl", fsync_interval=None)
    for seq in range(5):
        never.write(result(seq))
    assert calls == []
    never.close()
    assert len(calls) == 1  # close always syncs what is written


def test_only_detections_with_a_heartbeat(tmp_path: Path) -> None:
    log = tmp_path / "d.jsonl"
    sink = JsonlSink(log, only_detections=True, heartbeat=0.2)
    sink.write(result(0))  # first line ever: a heartbeat
    sink.write(result(1))  # skipped
    sink.write(result(2, detections=1))
    sink.write({"schema": "edge.event/1", "seq": 3})  # events always
    sink.write(result(4))  # skipped
    time.sleep(0.25)
    sink.write(result(5))  # heartbeat
    sink.close()
    assert [r["seq"] for r in read_jsonl(log)] == [0, 2, 3, 5]


# --- paths and pipes --------------------------------------------------------------------


def test_a_log_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as caught:
        JsonlSink(tmp_path / "no" / "such" / "d.jsonl")
    assert caught.value.hint and "mkdir -p" in caught.value.hint
    assert not (tmp_path / "no").exists()


def test_missing_log_folder_exits_78_in_run_and_check_config(
    tmp_path: Path, run_edge: RunEdge
) -> None:
    done = run_edge(["run", "--max-frames", "2", "--sink", "jsonl:nope/d.jsonl"])
    assert done.returncode == 78 and "does not exist" in done.stderr
    assert not (tmp_path / "nope").exists()
    (tmp_path / "edge.toml").write_text('[[sinks]]\nkind = "jsonl"\npath = "/nope/d.jsonl"\n')
    checked = run_edge(["check-config", "edge.toml"])
    assert checked.returncode == 78 and "does not exist" in checked.stderr


def test_a_broken_stdout_pipe_does_not_stop_the_log(tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(FAST)
    reader_gone = subprocess.Popen(
        [
            *EDGE,
            "run",
            "--config",
            "edge.toml",
            "--max-frames",
            "100",
            "--sink",
            "stdout",
            "--sink",
            "jsonl:d.jsonl",
        ],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader_gone.stdout is not None and reader_gone.stderr is not None
    reader_gone.stdout.readline()  # one record reached the reader, which then goes away
    reader_gone.stdout.close()
    stderr = reader_gone.stderr.read().decode()
    reader_gone.stderr.close()
    assert reader_gone.wait(timeout=60) == 0, stderr
    assert len(read_jsonl(tmp_path / "d.jsonl")) == 100
    assert "broken pipe" in stderr.lower() or "standard output was closed" in stderr


def test_a_rotation_that_fails_keeps_appending_and_retries_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "d.jsonl.1").mkdir()  # in the way of the rotation: unlink fails
    (tmp_path / "d.jsonl.1" / "x").write_text("x")
    log = tmp_path / "d.jsonl"
    sink = JsonlSink(log, max_bytes=200, keep=1)
    for seq in range(50):
        sink.write(result(seq))
    sink.close()
    assert [r["seq"] for r in read_jsonl(log)] == list(range(50)) and sink.dropped == 0
    assert caplog.text.count("could not rotate") == 1  # retried after a minute, not per line


def test_a_gzip_cut_short_by_a_crash_is_cleaned_up_on_open(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl.1").write_bytes(b'{"seq":0}\n')
    (tmp_path / "d.jsonl.1.gz.partial").write_bytes(b"\x1f\x8b")
    JsonlSink(tmp_path / "d.jsonl").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "d.jsonl.1"]
