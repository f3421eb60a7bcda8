"""``edge bench``: the report's keys and that its numbers are sane (never timed: the
machine is shared, so no test asserts a speed), ``--compare``, and its errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from edge.bench.run import Progress, percentiles
from tests.conftest import RunEdge

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"
DETECTOR = ZOO / "digits-detector.int8.tflite"


def _stats_ok(block: dict[str, float]) -> None:
    assert 0 < block["p50"] <= block["p95"] <= block["p99"]


def test_bench_json_has_the_design_keys_and_sane_values(
    run_edge: RunEdge, shipped_model: Path
) -> None:
    done = run_edge(["bench", "--frames", "30", "--threads", "1", "--json"], timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == str(shipped_model)
    assert report["threads"] == 1
    assert report["runtime"] == "ai_edge_litert"
    assert report["raw"]["fps"] > 0
    _stats_ok(report["raw"]["latency_ms"])
    pipeline = report["pipeline"]
    assert pipeline["fps"] > 0
    assert pipeline["frames"] == 30
    assert pipeline["records_written"] == 30  # a real sink got every record
    _stats_ok(pipeline["latency_ms"])
    _stats_ok(pipeline["frame_age_ms"])
    # A pipeline cannot beat the model alone.
    assert pipeline["fps"] <= report["raw"]["fps"]
    assert 0 < pipeline["of_raw"] <= 1
    assert 0 < report["cold_start_s"] < 60
    assert 20 < report["peak_rss_mb"] < 1000
    compiled = report["raw_compiled"]
    assert compiled["available"] is True, compiled
    assert compiled["api"] == "CompiledModel" and compiled["fps"] > 0
    _stats_ok(compiled["latency_ms"])
    assert compiled["zero_copy_input"] is False  # ai-edge-litert 2.3.0 refuses a flat view
    assert report["faster_api"] in ("Interpreter", "CompiledModel", "same")
    threads = report["cv2_threads"]
    assert threads["default_threads"] >= 1
    assert threads["default_fps"] > 0 and threads["one_thread_fps"] > 0
    assert len(threads["runs"]["default"]) == len(threads["runs"]["one"]) == 2
    # From the unrounded means; the fps shown are rounded to 0.1.
    assert threads["one_thread_speedup"] == pytest.approx(
        threads["one_thread_fps"] / threads["default_fps"], rel=0.005
    )
    tool = report["litert_tool"]
    assert tool["available"] is True, tool
    assert tool["latency_ms"]["p50"] >= 0
    assert isinstance(tool["agrees"], bool)
    # LiteRT's own lines (CompiledModel's "INFO: [accelerator_registry.cc:43]
    # DestroyAccelerator ...", the XNNPACK delegate's) stay out of the output.
    assert "INFO:" not in done.stderr and "DestroyAccelerator" not in done.stderr
    # Progress goes to stderr, one line per phase when stderr is not a terminal.
    for phase in (
        "raw invoke",
        "LiteRT's own benchmark tool",
        "pipeline",
        "OpenCV threads",
        "cold start",
    ):
        assert f"bench: {phase}" in done.stderr


def test_bench_compare_measures_both_models(run_edge: RunEdge, shipped_model: Path) -> None:
    done = run_edge(
        ["bench", str(DETECTOR), "--frames", "20", "--compare", str(shipped_model), "--json"],
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == str(DETECTOR)
    other = report["compare"]
    assert other["model"] == str(shipped_model)
    assert other["raw"]["fps"] > 0 and other["pipeline"]["fps"] > 0
    assert other["pipeline"]["records_written"] == 20
    assert other["raw_speedup"] == round(report["raw"]["fps"] / other["raw"]["fps"], 3)


def test_bench_human_output_names_every_measurement(run_edge: RunEdge) -> None:
    done = run_edge(["bench", "--frames", "10"], timeout=300)
    assert done.returncode == 0, done.stderr
    for word in ("raw", "compiled", "litert tool", "pipeline", "opencv", "cold start", "peak RSS"):
        assert word in done.stdout


def test_bench_missing_model_is_a_usage_error(run_edge: RunEdge, tmp_path: Path) -> None:
    done = run_edge(["bench", str(tmp_path / "nope.tflite")])
    assert done.returncode == 2
    assert "does not exist" in done.stderr and "fix:" in done.stderr


def test_bench_missing_compare_model_is_a_usage_error(run_edge: RunEdge, tmp_path: Path) -> None:
    done = run_edge(["bench", "--compare", str(tmp_path / "float.tflite")])
    assert done.returncode == 2
    assert "float.tflite" in done.stderr


def test_bench_too_few_frames_is_a_usage_error(run_edge: RunEdge) -> None:
    done = run_edge(["bench", "--frames", "3"])
    assert done.returncode == 2
    assert "--frames 3" in done.stderr and "fix:" in done.stderr


def test_bench_bad_threads_is_a_usage_error(run_edge: RunEdge) -> None:
    done = run_edge(["bench", "--threads", "0"])
    assert done.returncode == 2
    assert "--threads 0" in done.stderr


def test_bench_not_a_model_is_a_config_error(run_edge: RunEdge, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tflite"
    bogus.write_bytes(b"not a flatbuffer")
    done = run_edge(["bench", str(bogus), "--frames", "10"])
    assert done.returncode == 78, done.stderr
    assert "bogus.tflite" in done.stderr


def test_percentiles_and_progress_bar() -> None:
    assert percentiles([1.0, 2.0, 3.0]) == {"p50": 2.0, "p95": 2.9, "p99": 2.98}

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = Progress(stream)
    bar.update("raw", 5, 10)
    bar.update("raw", 10, 10)
    assert "5/10" in stream.getvalue() and stream.getvalue().endswith("10/10\n")
    quiet = io.StringIO()
    Progress(quiet).update("raw", 5, 10)
    assert quiet.getvalue() == ""


def test_sweep_counts_are_one_two_and_every_core() -> None:
    from edge.bench.run import sweep_counts

    assert sweep_counts(4) == [1, 2, 4]
    assert sweep_counts(2) == [1, 2]
    assert sweep_counts(1) == [1, 2]


def test_bench_sweep_measures_both_models_at_each_thread_count(run_edge: RunEdge) -> None:
    from edge.bench.run import sweep_counts

    done = run_edge(
        ["bench", "--frames", "12", "--sweep", "--compare", str(DETECTOR), "--json"], timeout=600
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["sweep"]
    assert [row["threads"] for row in rows] == sweep_counts()
    for row in rows:
        assert row["raw_fps"] > 0 and row["compare_raw_fps"] > 0
        assert 0 < row["pipeline_fps"] <= row["raw_fps"]
        assert 0 < row["compare_pipeline_fps"] <= row["compare_raw_fps"]
        assert row["raw_speedup"] == pytest.approx(
            row["raw_fps"] / row["compare_raw_fps"], rel=0.01
        )


@pytest.mark.parametrize(
    ("theirs", "ours", "agrees", "words"),
    [
        (0.070, 0.175, False, "LiteRT's is 2.5x faster, so the two measurements disagree"),
        (0.350, 0.175, False, "this loop is 2.0x faster, so the two measurements disagree"),
        (0.300, 0.310, True, "the two measurements agree (within 10 %)"),
    ],
)
def test_tool_comparison_is_plain_words(
    theirs: float, ours: float, agrees: bool, words: str
) -> None:
    from edge.bench.run import tool_comparison

    line = tool_comparison(
        {"latency_ms": {"p50": theirs}, "agrees": agrees}, {"latency_ms": {"p50": ours}}
    )
    assert words in line and "DIFFERS" not in line and "agreement 0." not in line
    assert f"took {theirs:.3f} ms per invoke (median), this loop {ours:.3f} ms" in line
