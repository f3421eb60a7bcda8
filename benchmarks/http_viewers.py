"""What the web server of ``edge run --http`` costs: pipeline rate and CPU with 0, 1 and 5
viewers, against runs with the server off, alternated so the machine's noise shows.

Two experiments, each a real ``edge run`` (the shipped detector, 3 digits a frame):
1. ``rate``: the synthetic camera with ``on_demand = true`` (not paced), so the pipeline
   takes all the CPU it can and any cost of the server shows as a lower frame rate.
2. ``cpu``: the camera paced at 30 fps, so the pipeline is not CPU-bound and the process's
   CPU time (``/proc/PID/stat``) grows by what the server costs.
3. ``phases``: one ``edge run`` (not paced) with the server on, and 0, 1 and 5 viewers
   connected in turn, phase by phase (``--seconds`` each, ``--rounds`` times): no start-up
   between the conditions, so what differs is only the viewers; the run-to-run noise of
   experiment 1 is larger than the effect.
4. ``encode``: in this process, the encoder's own time per picture
   (``FrameFeed.encode``: scale to ``stream_width``, draw, JPEG), for the synthetic
   camera's 320x240 and for a 1280x720 frame (a Pi camera's size) scaled to 640x360.
Conditions: ``off`` (no ``[http]``), ``0`` (server on, nobody watching), ``1`` and ``5``
(MJPEG viewers at ``stream_fps = 5``, each a thread of this script reading
``/stream.mjpg`` as fast as it comes). Each run warms up, then measures ``--seconds``; the
frame rate is the mean of the run's own status lines (``status_interval = 1``) in that
window. Conditions are alternated round by round (off, 0, 1, 5, off, 0, ...).

    .venv/bin/python benchmarks/http_viewers.py [--rounds 3] [--seconds 8] [--json out.json]
        [--experiments rate,cpu,phases,encode] [--size 320x240] [--conditions off,0,1,5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DETECTOR = ROOT / "models" / "zoo" / "digits-detector.int8.tflite"
URL = re.compile(r"status page: http://[^:/]+:(\d+)/")
FPS_LINE = re.compile(r"\| ([0-9.]+) fps \|")
CONDITIONS = ("off", "0", "1", "5")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def config(paced: bool, http: bool, size: str) -> str:
    width, height = size.split("x")
    source = "fps = 30" if paced else "on_demand = true"
    source += f"\nwidth = {width}\nheight = {height}"
    text = f"""
status_interval = 1.0
[model]
path = "{DETECTOR}"
[source]
kind = "synthetic"
digits = 3
{source}
"""
    if http:
        text += '[http]\nenabled = true\nlisten = "127.0.0.1:0"\nstream_fps = 5\nmax_viewers = 8\n'
    return text


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Viewer(threading.Thread):
    """Reads /stream.mjpg until told to stop; counts the pictures (boundaries) it got."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.pictures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as connection:
            connection.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
            while not self.stop.is_set():
                data = connection.recv(65536)
                if not data:
                    return
                self.pictures += data.count(b"--edgeframe")


def start_edge(folder: Path, config_text: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``edge run`` on ``config_text`` in ``folder``; its stderr (the status lines) to a file."""
    (folder / "run.toml").write_text(config_text)
    log = folder / "stderr.txt"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "edge", "run", "--config", "run.toml"),
                *("--sink", f"jsonl:{folder}/out.jsonl"),
            ],
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return process, log


def one_run(
    condition: str, paced: bool, warmup: float, seconds: float, size: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        process, log = start_edge(Path(folder), config(paced, condition != "off", size))
        viewers: list[Viewer] = []
        try:
            while "frames |" not in log.read_text():  # the first status line: running
                if process.poll() is not None:
                    raise RuntimeError(log.read_text())
                time.sleep(0.05)
            if condition not in ("off", "0"):
                port = int(URL.search(log.read_text()).group(1))  # type: ignore[union-attr]
                viewers = [Viewer(port) for _ in range(int(condition))]
                for viewer in viewers:
                    viewer.start()
            time.sleep(warmup)
            lines_before = len(log.read_text().splitlines())
            cpu_before, started = cpu_seconds(process.pid), time.monotonic()
            time.sleep(seconds)
            cpu = (cpu_seconds(process.pid) - cpu_before) / (time.monotonic() - started)
            lines = log.read_text().splitlines()[lines_before:]
            pictures = sum(viewer.pictures for viewer in viewers)
        finally:
            for viewer in viewers:
                viewer.stop.set()
            process.send_signal(signal.SIGINT)
            process.wait(30)
        rates = [float(m.group(1)) for line in lines if (m := FPS_LINE.search(line))]
        return {
            "condition": condition,
            "fps": statistics.mean(rates) if rates else 0.0,
            "cpu_cores": cpu,
            "pictures_per_viewer_s": pictures / max(1, len(viewers)) / (seconds + warmup)
            if viewers
            else 0.0,
        }


def phases(rounds: int, seconds: float, size: str) -> dict[str, list[float]]:
    """Mean fps per phase, keyed by the number of viewers, in one run (see ``main``)."""
    rates: dict[str, list[float]] = {"0": [], "1": [], "5": []}
    with tempfile.TemporaryDirectory() as folder:
        process, log = start_edge(Path(folder), config(False, True, size))
        try:
            while not (found := URL.search(log.read_text())) or "frames |" not in log.read_text():
                if process.poll() is not None:
                    raise RuntimeError(log.read_text())
                time.sleep(0.05)
            port = int(found.group(1))
            time.sleep(3.0)  # warm-up
            for round_ in range(rounds):
                for condition, measured in rates.items():
                    viewers = [Viewer(port) for _ in range(int(condition))]
                    for viewer in viewers:
                        viewer.start()
                    time.sleep(1.0)  # connected and served
                    before = len(log.read_text().splitlines())
                    time.sleep(seconds)
                    lines = log.read_text().splitlines()[before:]
                    for viewer in viewers:
                        viewer.stop.set()
                    found_rates = [
                        float(m.group(1)) for line in lines if (m := FPS_LINE.search(line))
                    ]
                    measured.append(statistics.mean(found_rates))
                    print(
                        f"phases round {round_} viewers {condition}: {measured[-1]:7.1f} fps",
                        flush=True,
                    )
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    return rates


def encode_times(repeat: int = 200) -> dict[str, float]:
    """Median ms per annotated picture, per frame size, on this machine."""
    from edge.http.feed import FrameFeed
    from edge.sources.synthetic import SyntheticCamera
    from edge.types import Frame

    feed = FrameFeed(fps=5, width=640, quality=80, max_viewers=1)
    box = {"label": "3", "class_id": 3, "score": 0.9, "box": [0.1, 0.1, 0.4, 0.5]}
    record = {"detections": [box, {**box, "box": [0.5, 0.5, 0.9, 0.9]}]}
    times: dict[str, float] = {}
    try:
        for width, height in ((320, 240), (1280, 720)):
            camera = SyntheticCamera(width=width, height=height, fps=None, digit_count=3)
            frame = Frame(camera.render(0), 0, time.time(), "synthetic")
            spent = []
            for _ in range(repeat):
                started = time.perf_counter()
                feed.encode(frame, record, annotated=True)
                spent.append(time.perf_counter() - started)
            times[f"{width}x{height}"] = statistics.median(spent) * 1000
    finally:
        feed.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--experiments", default="rate,cpu,phases,encode")
    parser.add_argument("--size", default="320x240", help="the synthetic camera's WxH")
    parser.add_argument(
        "--conditions", default=",".join(CONDITIONS), help="in this order, every round"
    )
    args = parser.parse_args()
    chosen = args.experiments.split(",")
    results: dict[str, Any] = {"rate": [], "cpu": [], "size": args.size}
    if "phases" in chosen:
        results["phases"] = phases(args.rounds, args.seconds, args.size)
        for condition, rates in results["phases"].items():
            print(
                f"  phases {condition} viewers: {statistics.mean(rates):7.1f} "
                f"({min(rates):.1f}-{max(rates):.1f})"
            )
    if "encode" in chosen:
        results["encode_ms"] = encode_times()
        print("encode, ms per annotated picture:", results["encode_ms"], flush=True)
    for experiment, paced in (("rate", False), ("cpu", True)):
        if experiment not in chosen:
            continue
        for round_ in range(args.rounds):
            for condition in args.conditions.split(","):
                run = one_run(condition, paced, args.warmup, args.seconds, args.size)
                run["round"] = round_
                results[experiment].append(run)
                print(
                    f"{experiment} round {round_} viewers {condition:>3}: "
                    f"{run['fps']:7.1f} fps, CPU {run['cpu_cores']:.3f} cores, "
                    f"{run['pictures_per_viewer_s']:.1f} pictures/s per viewer",
                    flush=True,
                )
    print()
    for experiment in ("rate", "cpu"):
        if experiment not in chosen:
            continue
        print(f"{experiment}: condition, mean fps (min-max), mean CPU cores (min-max)")
        for condition in args.conditions.split(","):
            runs = [r for r in results[experiment] if r["condition"] == condition]
            fps = [r["fps"] for r in runs]
            cpu = [r["cpu_cores"] for r in runs]
            print(
                f"  {condition:>3}: {statistics.mean(fps):7.1f} ({min(fps):.1f}-{max(fps):.1f})"
                f"  {statistics.mean(cpu):.3f} ({min(cpu):.3f}-{max(cpu):.3f})"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
