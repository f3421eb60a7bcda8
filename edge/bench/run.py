"""``edge bench``: how fast a model runs here, alone and through ``edge run``'s real path.

These measurements, each printed as a progress line on stderr while it runs:

- ``raw``: the model alone in a tight loop (``set_tensor``, ``invoke``, ``get_tensor`` on a
  fixed input), the ceiling of any pipeline;
- ``raw_compiled``: the same loop through LiteRT's ``CompiledModel`` API
  (``edge.bench.compiled_model``), and ``faster_api``, the one of the two with the higher rate;
- ``litert_tool``: LiteRT's own ``ai_edge_litert/tools/benchmark_litert_model.py`` on the
  same file and thread count, run as a subprocess in the same benchmark run (it uses the
  ``CompiledModel`` API, ``edge`` uses ``Interpreter``), and the agreement of the two;
- ``pipeline``: ``edge.app.run`` (the code behind ``edge run``) on the synthetic camera or
  ``--source``, into a real JSONL sink in a temporary folder: frames/s, per-frame latency
  and frame age (capture to record written);
- ``cv2_threads``: the pipeline again with OpenCV's default thread pool and with
  ``cv2.setNumThreads(1)``, alternated, and the ratio;
- ``cold_start_s``: ``edge run --max-frames 1`` as a fresh process, from spawn to its first
  record on stdout; ``peak_rss_mb`` is that process's peak resident memory;
- ``compare`` (with ``--compare``): ``raw`` and ``pipeline`` of another model (a float32
  build of the same network, say), and the ratios;
- ``sweep`` (with ``--sweep``): raw and pipeline rates at 1, 2 and every core's thread
  count, one row each, for the model and the ``--compare`` one.

The synthetic camera runs on demand here (``[source] on_demand``): it renders a frame each
time the pipeline takes one, drops none and is not paced, so the rate is the pipeline's
own. (Paced at its maximum of 1000 frames/s it would spend CPU on frames a slower model
never sees, and cap a faster one.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from edge.bench.compiled_model import CompiledApiError, compiled_runner
from edge.errors import EdgeError, UsageError
from edge.pipeline.stats import percentile

if TYPE_CHECKING:
    from edge.config.sources import SourceConfig

_TOOL_MODULE = "ai_edge_litert.tools.benchmark_litert_model"


@dataclass(frozen=True)
class BenchRequest:
    model: Path | None
    threads: int = 2
    frames: int = 300
    source: str | None = None
    compare: Path | None = None
    sweep: bool = False  # also raw and pipeline at 1, 2 and every core's thread count


class Progress:
    """A one-line progress bar on stderr (redrawn in place on a terminal, one line per
    phase otherwise, so a log stays readable)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()

    def phase(self, name: str) -> None:
        self._stream.write(f"bench: {name}\n")
        self._stream.flush()

    def update(self, name: str, done: int, total: int) -> None:
        if not self._tty or total <= 0:
            return
        width = 30
        filled = width * min(done, total) // total
        self._stream.write(
            f"\rbench: {name} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        )
        if done >= total:
            self._stream.write("\n")
        self._stream.flush()


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 as ``edge run`` and its MQTT stats compute them; 0.0 when empty."""
    return {f"p{p}": round(percentile(values_ms, p) or 0.0, 3) for p in (50, 95, 99)}


def run_bench(request: BenchRequest, progress: Progress | None = None) -> dict[str, Any]:
    """Every measurement for ``request.model`` (and ``request.compare``), as one dict."""
    progress = progress or Progress()
    _check(request)
    config = _config(request, request.model)
    model_path = _model_path(config)
    report: dict[str, Any] = {
        "model": str(model_path),
        "threads": request.threads,
        "frames": request.frames,
    }
    progress.phase(
        f"raw invoke of {model_path.name}, {request.threads} thread(s): Interpreter "
        "and CompiledModel, alternated"
    )
    raw, runtime, compiled = raw_invoke(config, request.frames, progress, model_path)
    report["runtime"] = runtime
    report["raw"] = raw
    report["raw_compiled"] = compiled
    report["faster_api"] = faster_api(raw, compiled)
    progress.phase("LiteRT's own benchmark tool (CompiledModel API)")
    report["litert_tool"] = litert_tool(model_path, request.threads, request.frames, raw)
    progress.phase(f"pipeline: edge run's path on {config.source.kind}")
    report["pipeline"] = pipeline_rate(config, request.frames, progress)
    report["pipeline"]["of_raw"] = (
        round(report["pipeline"]["fps"] / raw["fps"], 3) if raw["fps"] else None
    )
    progress.phase(
        "OpenCV threads: the pipeline with OpenCV's default pool and with "
        "cv2.setNumThreads(1), alternated"
    )
    report["cv2_threads"] = cv2_threads(config, request.frames, progress)
    progress.phase("cold start: edge run --max-frames 1 as a new process")
    report["cold_start_s"], report["peak_rss_mb"] = cold_start(model_path, request.threads)
    if request.compare is not None:
        other = _config(request, request.compare)
        progress.phase(f"compare: raw invoke of {request.compare.name}")
        other_raw, _, _ = raw_invoke(other, request.frames, progress)
        progress.phase(f"compare: pipeline with {request.compare.name}")
        other_pipeline = pipeline_rate(other, request.frames, progress)
        report["compare"] = {
            "model": str(request.compare),
            "raw": other_raw,
            "pipeline": other_pipeline,
            # > 1: the main model is faster than the compared one.
            "raw_speedup": round(raw["fps"] / other_raw["fps"], 3) if other_raw["fps"] else None,
            "pipeline_speedup": round(report["pipeline"]["fps"] / other_pipeline["fps"], 3)
            if other_pipeline["fps"]
            else None,
        }
    if request.sweep:
        report["sweep"] = thread_sweep(request, progress)
    progress.phase("done")
    return report


def sweep_counts(cores: int | None = None) -> list[int]:
    """1, 2 and every core: the thread counts ``--sweep`` measures."""
    return sorted({1, 2, max(1, cores if cores is not None else (os.cpu_count() or 1))})


def thread_sweep(request: BenchRequest, progress: Progress) -> list[dict[str, Any]]:
    """Raw invoke and pipeline rate at each of ``sweep_counts()`` threads (and the same
    for ``--compare``), one row per count."""
    rows: list[dict[str, Any]] = []
    for threads in sweep_counts():
        at = BenchRequest(request.model, threads, request.frames, request.source, request.compare)
        row: dict[str, Any] = {"threads": threads}
        models = [("", request.model)]
        if request.compare is not None:
            models.append(("compare_", request.compare))
        for prefix, model in models:
            config = _config(at, model)
            name = _model_path(config).name
            progress.phase(f"sweep: {name} at {threads} thread(s)")
            raw, _, _ = raw_invoke(config, request.frames, progress)
            pipeline = pipeline_rate(config, request.frames, progress)
            row[f"{prefix}raw_fps"] = raw["fps"]
            row[f"{prefix}raw_p50_ms"] = raw["latency_ms"]["p50"]
            row[f"{prefix}pipeline_fps"] = pipeline["fps"]
            row[f"{prefix}of_raw"] = round(pipeline["fps"] / raw["fps"], 3) if raw["fps"] else None
        if request.compare is not None and row["compare_raw_fps"]:
            row["raw_speedup"] = round(row["raw_fps"] / row["compare_raw_fps"], 3)
        rows.append(row)
    return rows


def raw_invoke(
    config: Any, frames: int, progress: Progress, compiled: Path | None = None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The model alone: ``frames`` invokes on a fixed input after 5 warm-up runs, through
    the ``Interpreter``; with ``compiled`` (the same file) also through ``CompiledModel``,
    the two alternated in chunks of 25 so both see the same load. Returns the
    Interpreter's block, the runtime, and the CompiledModel's block (``{}`` without)."""
    from edge.model.load import load_model

    model = load_model(config.model, config.decoder)
    try:
        backend = model.backend
        inputs = [np.zeros(spec.shape, dtype=np.dtype(spec.dtype)) for spec in backend.inputs]
        for _ in range(5):
            backend.infer(inputs)
        loops: dict[str, Callable[[], object]] = {"raw": lambda: backend.infer(inputs)}
        if compiled is None:
            return alternate(loops, frames, progress)["raw"], backend.runtime, {}
        try:
            with compiled_runner(compiled, config.model.threads) as runner:
                extra = {
                    "fully_accelerated": runner.fully_accelerated,
                    "zero_copy_input": runner.zero_copy_input,
                }
                loops["compiled"] = runner.once
                try:
                    blocks = alternate(loops, frames, progress)
                finally:
                    # The runner and its loop body hold the CompiledModel: dropped inside
                    # the block, so it is freed while compiled_runner still hides LiteRT's
                    # "DestroyAccelerator" lines.
                    del loops["compiled"], runner
        except CompiledApiError as exc:
            blocks = alternate(loops, frames, progress)
            return blocks["raw"], backend.runtime, {"available": False, "reason": str(exc)}
        return (
            blocks["raw"],
            backend.runtime,
            {"available": True, "api": "CompiledModel", **blocks["compiled"], **extra},
        )
    finally:
        model.close()


def alternate(
    loops: dict[str, Callable[[], object]], frames: int, progress: Progress, chunk: int = 25
) -> dict[str, dict[str, Any]]:
    """Time each loop body ``frames`` times, taking turns every ``chunk`` calls; ``fps`` is
    calls per second of the body's own time (1000 / mean latency)."""
    times: dict[str, list[float]] = {name: [] for name in loops}
    done = 0
    while done < frames:
        count = min(chunk, frames - done)
        for name, body in loops.items():
            spent = times[name]
            for _ in range(count):
                t0 = time.perf_counter()
                body()
                spent.append(1000 * (time.perf_counter() - t0))
        done += count
        progress.update("raw", done, frames)
    return {
        name: {
            "fps": round(1000 * len(values) / sum(values), 1) if sum(values) else 0.0,
            "latency_ms": percentiles(values),
        }
        for name, values in times.items()
    }


def faster_api(raw: dict[str, Any], compiled: dict[str, Any]) -> str:
    """``Interpreter`` or ``CompiledModel``: the lower median invoke in this run (the
    median, not the rate, so a load spike on a shared machine does not decide), or
    ``"same"`` within 5 %."""
    if not compiled.get("available"):
        return "Interpreter"
    ours, theirs = raw["latency_ms"]["p50"], compiled["latency_ms"]["p50"]
    if abs(ours - theirs) <= 0.05 * max(ours, theirs):
        return "same"
    return "Interpreter" if ours < theirs else "CompiledModel"


def cv2_threads(config: Any, frames: int, progress: Progress, rounds: int = 2) -> dict[str, Any]:
    """The pipeline with OpenCV's own thread pool (its default) and with
    ``cv2.setNumThreads(1)``, alternated ``rounds`` times (A B A B) so both see the same
    load; ``one_thread_speedup`` > 1 means one OpenCV thread was faster."""
    import cv2

    default = cv2.getNumThreads()
    fps: dict[str, list[float]] = {"default": [], "one": []}
    try:
        for _ in range(rounds):
            for name, count in (("default", default), ("one", 1)):
                cv2.setNumThreads(count)
                fps[name].append(pipeline_rate(config, frames, progress)["fps"])
    finally:
        cv2.setNumThreads(default)
    mean = {name: sum(values) / len(values) for name, values in fps.items()}
    return {
        "default_threads": default,
        "default_fps": round(mean["default"], 1),
        "one_thread_fps": round(mean["one"], 1),
        "one_thread_speedup": round(mean["one"] / mean["default"], 3) if mean["default"] else None,
        "runs": {name: [round(v, 1) for v in values] for name, values in fps.items()},
    }


def litert_tool(model: Path, threads: int, frames: int, raw: dict[str, Any]) -> dict[str, Any]:
    """LiteRT's own benchmark script on the same model and threads; ``agreement`` is its
    median latency over ours (1.0 = the same; within 0.9..1.1 counts as agreeing)."""
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        out = Path(tmp) / "tool.json"
        command = [
            sys.executable,
            "-m",
            _TOOL_MODULE,
            "--model",
            str(model),
            "--num_threads",
            str(threads),
            "--num_runs",
            str(frames),
            "--warmup_runs",
            "5",
            "--result_json",
            str(out),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired:
            return {"available": False, "reason": "timed out after 600 s"}
        if done.returncode != 0 or not out.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return {
                "available": False,
                "reason": f"{_TOOL_MODULE} exited {done.returncode}: {tail[0]}",
            }
        latency = json.loads(out.read_text())["latency"]
    median = float(latency["median_ms"])
    ours = float(raw["latency_ms"]["p50"])
    agreement = round(median / ours, 3) if ours > 0 else None
    return {
        "available": True,
        "api": "CompiledModel",
        "latency_ms": {
            "p50": median,
            "p95": float(latency["p95_ms"]),
            "avg": float(latency["avg_ms"]),
        },
        "fps": round(1000 / float(latency["avg_ms"]), 1) if latency["avg_ms"] else None,
        "agreement": agreement,
        "agrees": agreement is not None and 0.9 <= agreement <= 1.1,
        # The tool rounds to 0.01 ms: below ~0.2 ms the agreement is mostly rounding.
        "resolution_ms": 0.01,
    }


def paced_fps(source: SourceConfig) -> float | None:
    """The rate a source's config asks it to deliver at; ``None`` for one read as fast
    as the pipeline takes it (a file, a folder, the synthetic camera on demand)."""
    from edge.config.sources import (
        CameraSourceConfig,
        PiCamera2SourceConfig,
        SyntheticSourceConfig,
    )

    if isinstance(source, SyntheticSourceConfig):
        return None if source.on_demand else source.fps
    if isinstance(source, CameraSourceConfig | PiCamera2SourceConfig):
        return source.fps
    return None


class _AgeObserver:
    """A frame observer that notes how old each frame is when its record is written."""

    def __init__(self) -> None:
        self.ages_ms: list[float] = []

    def observe(self, frame: Any, record: Any) -> None:
        self.ages_ms.append(1000 * (time.time() - frame.timestamp))

    def close(self) -> None:
        pass


def pipeline_rate(config: Any, frames: int, progress: Progress) -> dict[str, Any]:
    """``edge.app.run`` for ``frames`` frames into a JSONL file in a temporary folder."""
    from edge import app
    from edge.config.sinks import JsonlSinkConfig

    ages = _AgeObserver()
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        run_config = config.model_copy(
            update={
                "sinks": [JsonlSinkConfig(path=Path(tmp) / "bench.jsonl")],
                "max_frames": frames,
            }
        )

        def on_start(pipeline: Any) -> None:
            pipeline.observers.append(ages)

        def tick(stats: Any) -> None:
            if stats.frames % 25 == 0:
                progress.update("pipeline", stats.frames, frames)

        stats = app.run(run_config, stop=threading.Event(), tick_hooks=[tick], on_start=on_start)
        progress.update("pipeline", frames, frames)
        with (Path(tmp) / "bench.jsonl").open() as log_file:
            written = sum(1 for _ in log_file)
    return {
        "fps": round(stats.fps, 1),
        "frames": stats.frames,
        "records_written": written,
        "dropped": stats.dropped,
        "latency_ms": percentiles(list(stats.total_ms)),
        "infer_ms": percentiles(list(stats.infer_ms)),
        "frame_age_ms": percentiles(ages.ages_ms),
        "source": config.source.kind,
        "source_fps": paced_fps(config.source),
    }


# The child reports its own peak (VmHWM) as it exits. Not wait4's ru_maxrss: on Linux that
# also counts the high-water mark of the address space the child was forked from (the
# pages of this bench process, ~97 MB with LiteRT, OpenCV and a model loaded), which
# read as "edge run peaks at 96-102 MB" when its own peak is about 85 MB.
_PEAK_MARK = "edge-bench-peak-rss-kb"
_COLD_START = f"""
import atexit, sys
def _peak():
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    sys.stderr.write('{_PEAK_MARK} ' + line.split()[1] + '\\n')
    except OSError:
        pass
atexit.register(_peak)
from edge.cli import entry
entry()
"""


def cold_start(model: Path, threads: int) -> tuple[float, float | None]:
    """Seconds from spawning ``edge run --max-frames 1`` to its first record on stdout, and
    that process's own peak resident memory in MB (None where /proc is missing)."""
    command = [
        sys.executable,
        "-c",
        _COLD_START,
        "run",
        "--model",
        str(model),
        "--threads",
        str(threads),
        "--max-frames",
        "1",
        "--sink",
        "stdout",
    ]
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        assert process.stdout is not None
        first = process.stdout.readline()
        elapsed = time.perf_counter() - started
        process.stdout.read()
        process.stdout.close()
        process.wait()
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    if process.returncode != 0 or not first:
        raise BenchError(
            f"edge run --max-frames 1 failed (exit {process.returncode}): {message[-300:]}"
        )
    peaks = [line.split()[1] for line in message.splitlines() if line.startswith(_PEAK_MARK)]
    return round(elapsed, 3), round(int(peaks[-1]) / 1024, 1) if peaks else None


class BenchError(EdgeError):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message, hint="run the same `edge run` by hand to see why")


def _check(request: BenchRequest) -> None:
    if request.frames < 10:
        raise UsageError(
            f"--frames {request.frames} is too few to measure",
            hint="use --frames 10 or more (default 300)",
        )
    if request.threads < 1:
        raise UsageError(f"--threads {request.threads} must be at least 1", hint="e.g. --threads 2")
    for path in (request.model, request.compare):
        if path is not None and not path.is_file():
            raise UsageError(
                f"model {str(path)!r} does not exist", hint="give the path of a .tflite file"
            )


def _config(request: BenchRequest, model: Path | None) -> Any:
    from edge.config.load import load_config
    from edge.sources import parse_source_spec

    overrides: dict[str, Any] = {"model": {"threads": request.threads}}
    if model is not None:
        overrides["model"]["path"] = str(model)
    if request.source is None:
        overrides["source"] = {"kind": "synthetic", "on_demand": True}
    else:
        overrides["source"] = parse_source_spec(request.source)
    return load_config(None, overrides)


def _model_path(config: Any) -> Path:
    from edge.model.load import resolve_model_path

    return resolve_model_path(config.model.path)


def tool_comparison(tool: dict[str, Any], raw: dict[str, Any]) -> str:
    """LiteRT's benchmark against our loop in plain words, e.g. "LiteRT's own benchmark
    took 0.070 ms per invoke (median), this loop 0.175 ms: LiteRT's is 2.5x faster, so
    the two measurements disagree (more than 10 % apart)"."""
    theirs, ours = float(tool["latency_ms"]["p50"]), float(raw["latency_ms"]["p50"])
    text = (
        f"LiteRT's own benchmark took {theirs:.3f} ms per invoke (median), this loop {ours:.3f} ms"
    )
    if tool["agrees"]:
        text += ": the two measurements agree (within 10 %)"
    elif theirs > 0 and ours > 0:
        faster = "LiteRT's" if theirs < ours else "this loop"
        ratio = max(theirs, ours) / min(theirs, ours)
        text += (
            f": {faster} is {ratio:.1f}x faster, so the two measurements disagree "
            "(more than 10 % apart)"
        )
    if ours < 0.2:
        text += "; below 0.2 ms the tool's 0.01 ms rounding decides most of the difference"
    return text


def render(report: dict[str, Any]) -> str:
    """The human-readable summary of a report."""
    raw, pipe, cv2t = report["raw"], report["pipeline"], report["cv2_threads"]
    lines = [
        f"model       {report['model']} ({report['runtime']}, {report['threads']} thread(s))",
        f"raw         {raw['fps']:.1f} fps, invoke p50 {raw['latency_ms']['p50']:.3f} ms, "
        f"p95 {raw['latency_ms']['p95']:.3f} ms",
    ]
    compiled = report["raw_compiled"]
    if compiled.get("available"):
        lines.append(
            f"compiled    {compiled['fps']:.1f} fps through CompiledModel, invoke p50 "
            f"{compiled['latency_ms']['p50']:.3f} ms; faster (median): "
            f"{report['faster_api']}"
        )
    else:
        lines.append(f"compiled    CompiledModel not measured: {compiled['reason']}")
    tool = report["litert_tool"]
    if tool.get("available"):
        lines.append(f"litert tool {tool_comparison(tool, raw)}")
    else:
        lines.append(f"litert tool not run: {tool['reason']}")
    lines += [
        f"pipeline    {pipe['fps']:.1f} fps ({pipe['of_raw']} of raw) on {pipe['source']}, "
        f"latency p50 {pipe['latency_ms']['p50']:.3f} ms p95 {pipe['latency_ms']['p95']:.3f} ms,"
        f" frame age p95 {pipe['frame_age_ms']['p95']:.1f} ms, dropped {pipe['dropped']}",
        f"opencv      pipeline {cv2t['default_fps']:.1f} fps with {cv2t['default_threads']} "
        f"OpenCV threads, {cv2t['one_thread_fps']:.1f} fps with cv2.setNumThreads(1) "
        f"({cv2t['one_thread_speedup']}x)",
        f"cold start  {report['cold_start_s']:.3f} s to the first record; peak RSS "
        f"{report['peak_rss_mb']} MB",
    ]
    if "compare" in report:
        other = report["compare"]
        lines.append(
            f"compare     {other['model']}: raw {other['raw']['fps']:.1f} fps, pipeline "
            f"{other['pipeline']['fps']:.1f} fps; speed-up raw "
            f"{other['raw_speedup']}x, pipeline {other['pipeline_speedup']}x"
        )
    for row in report.get("sweep", []):
        line = (
            f"threads {row['threads']:<3} raw {row['raw_fps']:.1f} fps (p50 "
            f"{row['raw_p50_ms']:.3f} ms), pipeline {row['pipeline_fps']:.1f} fps "
            f"({row['of_raw']} of raw)"
        )
        if "compare_raw_fps" in row:
            line += (
                f"; compared model raw {row['compare_raw_fps']:.1f} fps, pipeline "
                f"{row['compare_pipeline_fps']:.1f} fps, raw speed-up "
                f"{row.get('raw_speedup')}x"
            )
        lines.append(line)
    return "\n".join(lines)
