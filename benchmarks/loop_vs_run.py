"""The example loop against ``edge run`` on the same clip and model, as whole processes.

Each round runs the two programs one after the other (alternating, so both see the same
machine load) and records each process's wall time and each program's own frames/s
(the loop's JSON line; ``edge run``'s "done: N frames in S s (F fps)" line). Prints one
JSON object with the medians and the ratios.

    python benchmarks/make_clip.py /tmp/clip.avi --frames 1500
    python benchmarks/loop_vs_run.py /tmp/clip.avi [--model M] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DETECTOR = HERE.parent / "models" / "zoo" / "digits-detector.int8.tflite"
DONE = re.compile(r"done: (\d+) frames in ([\d.]+) s \(([\d.]+) fps\)")


def timed(command: list[str]) -> tuple[float, str, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("--model", default=str(DETECTOR))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    loop_cmd = [
        sys.executable,
        str(HERE / "example_loop.py"),
        args.clip,
        args.model,
        "--threads",
        str(args.threads),
    ]
    walls: dict[str, list[float]] = {"loop": [], "edge": []}
    fps: dict[str, list[float]] = {"loop": [], "edge": []}
    frames: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            wall, out, _ = timed(loop_cmd)
            report = json.loads(out.strip().splitlines()[-1])
            walls["loop"].append(wall)
            fps["loop"].append(report["fps"])
            frames["loop"] = report["frames"]
            sink = Path(tmp) / f"out-{round_}.jsonl"
            edge_cmd = [
                sys.executable,
                "-c",
                "from edge.cli import entry; entry()",
                "run",
                "--model",
                args.model,
                "--source",
                args.clip,
                "--threads",
                str(args.threads),
                "--sink",
                f"jsonl:{sink}",
            ]
            wall, _, err = timed(edge_cmd)
            match = DONE.search(err)
            assert match, err
            walls["edge"].append(wall)
            fps["edge"].append(float(match.group(3)))
            frames["edge"] = int(match.group(1))
            frames["edge_records"] = sum(1 for _ in sink.open())
            print(
                f"round {round_ + 1}/{args.rounds}: loop {walls['loop'][-1]:.2f} s, "
                f"edge {walls['edge'][-1]:.2f} s",
                file=sys.stderr,
            )
    med = {
        k: {
            "wall_s": round(statistics.median(walls[k]), 3),
            "fps": round(statistics.median(fps[k]), 1),
        }
        for k in walls
    }
    print(
        json.dumps(
            {
                "clip": args.clip,
                "model": args.model,
                "threads": args.threads,
                "rounds": args.rounds,
                "frames": frames,
                "median": med,
                "all_wall_s": {k: [round(v, 3) for v in walls[k]] for k in walls},
                "edge_fps_over_loop_fps": round(med["edge"]["fps"] / med["loop"]["fps"], 3),
                "loop_wall_over_edge_wall": round(med["loop"]["wall_s"] / med["edge"]["wall_s"], 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
