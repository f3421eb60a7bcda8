"""The motion gate on real video files written by OpenCV, through ``edge run``."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from edge.processing.motion import MotionGate
from edge.types import Frame
from tests.conftest import RunEdge, read_jsonl
from tests.edge.scene_videos import HEIGHT, WIDTH, write_video

GATE = "status_interval = 0.01\n[motion]\nenabled = true\n"


def test_static_video_skips_at_least_90_percent(run_edge: RunEdge, tmp_path: Path) -> None:
    write_video(tmp_path / "static.avi", 120, {})
    # A status line on every loop turn: with the reduced MJPEG decode the whole run can
    # take less than GATE's 0.01 s, and the line is what this test reads.
    (tmp_path / "edge.toml").write_text(GATE.replace("0.01", "0.000001"))
    done = run_edge(
        ["run", "--config", "edge.toml", "--source", "static.avi", "--sink", "jsonl:out.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    records = read_jsonl(tmp_path / "out.jsonl")
    assert 1 <= len(records) <= 12, len(records)  # >= 90 % of 120 frames skipped
    assert records[0]["source"]["frame"] == 0  # the first frame always goes through
    summary = re.search(r"motion gate: (\d+) frames skipped", done.stderr)
    assert summary and int(summary.group(1)) == 120 - len(records), done.stderr
    assert re.search(r"frames \| .* \| skipped \d+", done.stderr), done.stderr  # status line


def test_movement_wakes_the_model_within_two_frames(run_edge: RunEdge, tmp_path: Path) -> None:
    start = 40
    moving = {i: (10 + 6 * (i - start), 60) for i in range(start, 70)}
    write_video(tmp_path / "moves.avi", 90, moving)
    (tmp_path / "edge.toml").write_text(GATE)
    done = run_edge(
        ["run", "--config", "edge.toml", "--source", "moves.avi", "--sink", "jsonl:out.jsonl"]
    )
    assert done.returncode == 0, done.stderr
    inferred = [r["source"]["frame"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert all(f == 0 or f >= start for f in inferred), inferred  # asleep while static
    woke = min(f for f in inferred if f >= start)
    assert woke <= start + 1, inferred  # within 2 frames of the movement
    during = [f for f in inferred if start <= f < 70]
    assert len(during) >= 25, inferred  # awake while it moves


def test_heartbeat_runs_the_model_while_nothing_moves() -> None:
    gate = MotionGate(heartbeat=1.0)
    image = np.full((HEIGHT, WIDTH, 3), 50, np.uint8)
    start = time.time()
    decisions = [gate.should_infer(Frame(image, i, start + 0.1 * i, "t")) for i in range(25)]
    assert [i for i, d in enumerate(decisions) if d] == [0, 10, 20]


def test_slow_change_adds_up() -> None:
    """Compared with the last inferred frame, a creeping change still wakes the model."""
    gate = MotionGate(heartbeat=0.0)
    decisions = []
    for i in range(40):
        image = np.full((HEIGHT, WIDTH, 3), 50 + 2 * i, np.uint8)  # light rising 2 a frame
        decisions.append(gate.should_infer(Frame(image, i, float(i), "t")))
    woken = [i for i, d in enumerate(decisions) if d]
    assert woken == [0, 11, 22, 33], woken  # each time the sum passes pixel_threshold 20


def test_bad_motion_and_events_settings_exit_78(run_edge: RunEdge, tmp_path: Path) -> None:
    cases = {
        "[motion]\nenabled = true\nmin_changed = 0\n": "motion.min_changed: Input should be "
        "greater than 0",
        "[motion]\nheartbet = 5\n": "unknown key 'heartbet' in [motion] (line 2); did you "
        "mean 'heartbeat'?",
        "[events]\nupdate_interval = -1\n": "events.update_interval: Input should be greater "
        "than or equal to 0",
        "[filters]\nthresholds = {cat = 1.5}\n": "filters.thresholds.cat: Input should be less "
        "than or equal to 1",
    }
    for text, expected in cases.items():
        (tmp_path / "edge.toml").write_text(text)
        for command in (["check-config", "edge.toml"], ["run", "--config", "edge.toml"]):
            done = run_edge(command)
            assert done.returncode == 78, (text, done.stderr)
            assert expected in done.stderr, (text, done.stderr)
