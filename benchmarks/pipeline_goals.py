"""Issue [7]'s goals in one run: every ratio of docs/benchmarks.md's "Goals" table.

- ``edge run`` against the example loop on the MJPG clip, for the shipped detector and
  the shipped CNN (``loop_vs_run.py``, alternating whole processes);
- pipeline frames/s against the raw invoke rate (``edge bench``, synthetic camera on
  demand) for the CNN, the detector and a model whose invoke takes milliseconds
  (``heavy_model.py``'s output; skipped when it was not built);
- cold start and peak memory of the default model (``edge bench``).

Prints one JSON object with each measurement, its goal and whether it was met.

    python benchmarks/make_clip.py /tmp/clip.avi --frames 1500
    python benchmarks/heavy_model.py /tmp/heavy           # needs TensorFlow; optional
    python benchmarks/pipeline_goals.py /tmp/clip.avi --heavy /tmp/heavy/heavy.int8.tflite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ZOO = HERE.parent / "models" / "zoo"
DETECTOR = ZOO / "digits-detector.int8.tflite"
CNN = ZOO / "digits-cnn.int8.tflite"
EDGE = [sys.executable, "-c", "from edge.cli import entry; entry()"]


def run_json(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    return result


def loop_vs_run(clip: str, model: Path, rounds: int, threads: int) -> dict[str, Any]:
    print(f"loop vs run: {model.name}", file=sys.stderr)
    return run_json(
        [
            sys.executable,
            str(HERE / "loop_vs_run.py"),
            clip,
            "--model",
            str(model),
            "--rounds",
            str(rounds),
            "--threads",
            str(threads),
        ]
    )


def bench(model: Path, frames: int, threads: int) -> dict[str, Any]:
    print(f"bench: {model.name}", file=sys.stderr)
    return run_json(
        [*EDGE, "bench", str(model), "--frames", str(frames), "--threads", str(threads), "--json"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip")
    parser.add_argument("--heavy", type=Path, help="a model with a multi-ms invoke")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=1000)
    args = parser.parse_args()
    goals: dict[str, Any] = {}
    detector = loop_vs_run(args.clip, DETECTOR, args.rounds, args.threads)
    goals["detector_run_over_loop"] = _goal(detector["edge_fps_over_loop_fps"], 1.3, detector)
    cnn = loop_vs_run(args.clip, CNN, args.rounds, args.threads)
    goals["cnn_run_over_loop"] = _goal(cnn["edge_fps_over_loop_fps"], 1.0, cnn)
    cnn_bench = bench(CNN, args.frames, args.threads)
    goals["cnn_pipeline_of_raw"] = _goal(cnn_bench["pipeline"]["of_raw"], 0.80, _brief(cnn_bench))
    goals["cold_start_s"] = _goal(cnn_bench["cold_start_s"], 0.4, None, at_most=True)
    goals["peak_rss_mb"] = _goal(cnn_bench["peak_rss_mb"], 100, None, at_most=True)
    detector_bench = bench(DETECTOR, args.frames, args.threads)
    goals["detector_pipeline_of_raw"] = {
        "value": detector_bench["pipeline"]["of_raw"],
        "goal": None,
        "detail": _brief(detector_bench),
    }
    if args.heavy is not None and args.heavy.exists():
        # One thread leaves the other core to the reader, the preprocessing and the loop;
        # with every core in the invoke, the rest of the pipeline takes its time from it.
        for threads in sorted({1, args.threads}):
            heavy = bench(args.heavy, max(300, args.frames // 2), threads)
            goals[f"heavy_pipeline_of_raw_{threads}_threads"] = _goal(
                heavy["pipeline"]["of_raw"], 0.95, _brief(heavy)
            )
    print(json.dumps({"load_average": os.getloadavg(), "goals": goals}, indent=2))


def _goal(
    value: float | None, goal: float, detail: Any, *, at_most: bool = False
) -> dict[str, Any]:
    met = value is not None and (value <= goal if at_most else value >= goal)
    return {
        "value": value,
        "goal": f"{'<=' if at_most else '>='} {goal}",
        "met": met,
        "detail": detail,
    }


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    raw, pipe = report["raw"], report["pipeline"]
    return {
        "raw_fps": raw["fps"],
        "invoke_p50_ms": raw["latency_ms"]["p50"],
        "pipeline_fps": pipe["fps"],
        "dropped": pipe["dropped"],
        "records": pipe["records_written"],
    }


if __name__ == "__main__":
    main()
