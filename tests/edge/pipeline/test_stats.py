"""The run's figures, computed once: the frame-rate window, the percentile and the status
line in its terminal and systemd forms."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pipeline.stats import FpsWindow, RunStats, percentile, status_text


def stats(**values: object) -> RunStats:
    result = RunStats()
    for key, value in values.items():
        setattr(result, key, value)
    return result


def test_fps_window_first_take_counts_from_the_start() -> None:
    window = FpsWindow(start=10.0)
    assert (window.since, window.frames) == (10.0, 0)
    assert window.take(50, 12.0) == 25.0  # 50 frames in the 2 s since the start
    assert (window.since, window.frames) == (12.0, 50)


def test_fps_window_reads_only_since_the_previous_take() -> None:
    window = FpsWindow(start=0.0)
    window.take(1000, 100.0)  # a fast start does not lift the next reading
    assert window.take(1010, 110.0) == 1.0
    assert window.take(1010, 110.0) == 0.0  # no time passed: no rate, no division by zero
    assert window.take(1010, 120.0) == 0.0  # a stall shows as 0


def test_fps_window_start_with_frames_and_restart() -> None:
    window = FpsWindow(start=5.0, frames=100)
    assert window.take(130, 8.0) == 10.0
    window.restart(20.0, frames=200)  # e.g. once the service is ready: the load is not counted
    assert window.take(240, 22.0) == 20.0


def test_fps_window_defaults_to_the_monotonic_clock() -> None:
    import time

    before = time.monotonic()
    window = FpsWindow()
    assert before <= window.since <= time.monotonic()


@pytest.mark.parametrize(
    "values",
    [[1.0], [3.0, 1.0], [1.0, 2.0, 3.0, 4.0], [0.5, 9.0, 2.25, 7.0, 7.0, 1.0, 100.0]],
)
@pytest.mark.parametrize("q", [0, 25, 50, 95, 99, 100])
def test_percentile_is_numpys_linear_interpolation(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_interpolates_between_ranks_and_is_none_when_empty() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5  # not a nearest-rank 2 or 3
    assert percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert percentile([], 50) is None


def test_summary_percentiles_are_rounded_and_zero_before_a_frame() -> None:
    empty = RunStats().summary()
    assert (empty["infer_ms_p50"], empty["infer_ms_p95"], empty["total_ms_p50"]) == (0.0,) * 3
    run = stats(frames=4)
    run.infer_ms.extend([1.0, 2.0, 3.0, 4.12345])
    run.total_ms.extend([2.0, 4.0])
    summary = run.summary()
    assert summary["infer_ms_p50"] == 2.5
    assert summary["infer_ms_p95"] == round(float(np.percentile(run.infer_ms, 95)), 3)
    assert summary["total_ms_p50"] == 3.0


@pytest.mark.parametrize(
    ("case", "values", "fresh", "systemd", "terminal"),
    [
        (
            "healthy",
            {"frames": 300, "source_state": "running"},
            True,
            "running: 30.0 fps, 300 frames, source running",
            "300 frames | 30.0 fps | infer 2.00 ms | dropped 0",
        ),
        (
            "opening counts as healthy",
            {"frames": 0, "source_state": "opening"},
            True,
            "running: 30.0 fps, 0 frames, source opening",
            "0 frames | 30.0 fps | infer 2.00 ms | dropped 0",
        ),
        (
            "stale",
            {"frames": 300, "source_state": "running", "dropped": 3, "skipped": 7},
            False,
            "degraded: 30.0 fps, 300 frames, source running, no progress: watchdog not fed",
            "300 frames | 30.0 fps | infer 2.00 ms | dropped 3 | skipped 7",
        ),
        (
            "source and sink trouble",
            {
                "frames": 300,
                "source_state": "reconnecting",
                "reconnects": 2,
                "sink_state": {"mqtt:broker": "offline"},
                "sink_dropped": {"mqtt:broker": 4, "jsonl:out.jsonl": 1},
            },
            True,
            "degraded: 30.0 fps, 300 frames, source reconnecting (reconnects 2), "
            "mqtt:broker offline, sink drops 5",
            "300 frames | 30.0 fps | infer 2.00 ms | dropped 0 | source reconnecting "
            "(reconnects 2) | mqtt:broker offline | sink drops 5",
        ),
        (
            "an ended source, no reconnects",
            {"frames": 300, "source_state": "ended"},
            True,
            "degraded: 30.0 fps, 300 frames, source ended",
            "300 frames | 30.0 fps | infer 2.00 ms | dropped 0 | source ended (reconnects 0)",
        ),
    ],
)
def test_status_text_in_both_forms(
    case: str, values: dict[str, object], fresh: bool, systemd: str, terminal: str
) -> None:
    run = stats(**values)
    run.infer_ms.extend([100.0, 3.0, 1.0])  # the terminal form averages the window's frames
    assert status_text(run, 29.96, fresh) == systemd, case
    assert status_text(run, 29.96, fresh, form="terminal", window_frames=2) == terminal, case


def test_terminal_status_averages_at_least_the_last_frame() -> None:
    run = stats(frames=3)
    assert "infer 0.00 ms" in status_text(run, 0.0, form="terminal")  # nothing inferred yet
    run.infer_ms.extend([9.0, 4.0])
    assert "infer 4.00 ms" in status_text(run, 0.0, form="terminal", window_frames=0)
    assert "infer 6.50 ms" in status_text(run, 0.0, form="terminal", window_frames=50)
