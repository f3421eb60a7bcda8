"""A fleet of N devices against one mosquitto on loopback: results/s, latency, loss.

Run (from the repository root; a benchmark, not a test; needs mosquitto and
mosquitto-clients, which ``scripts/test.sh`` installs):

    nice .venv/bin/python benchmarks/mqtt_fleet.py                       # N = 1, 10, 50
    nice .venv/bin/python benchmarks/mqtt_fleet.py --devices 10 --fps 10 --seconds 30
    nice .venv/bin/python benchmarks/mqtt_fleet.py --drain 5000          # QoS 1 drain rate
    nice .venv/bin/python benchmarks/mqtt_fleet.py --drain 20000 --drain-rate 100000 \
        --max-inflight 100                                                # the ceiling

Fleet mode: one broker; one ``mosquitto_sub`` on ``edge/+/results`` (QoS 1) stamping each
arrival (``%U``); N real ``edge run`` processes (the shipped model on the synthetic
camera at ``--fps``, distinct ``--device`` ids, a JSONL ledger each, the MQTT sink with
its default outbox settings) that stop after ``fps * seconds`` frames. Reported per N:
results/s delivered while every device was running (arrivals of records stamped inside
the common window / its length), end-to-end latency p50/p95 from the record's ``ts``
(frame time, wall clock) to its arrival at the subscriber (same machine, same clock;
it includes the outbox commit window, ``--commit-interval``), loss (ledger ids that
never arrived; zero expected) and duplicates.

Drain mode: a device fills its outbox with ``--drain`` results while no broker runs and
exits; then the broker starts and the device runs again; the rate at which the backlog
reaches the subscriber is the QoS 1 throughput of the outbox drain on loopback (paced by
``max_inflight`` and ``drain_rate``, printed with the figure).
"""

from __future__ import annotations

import argparse
import getpass
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(directory: Path, port: int) -> subprocess.Popen[bytes]:
    config = directory / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        "max_queued_messages 0\nmax_connections -1\n"
        f"user {getpass.getuser()}\n"
    )
    broker = subprocess.Popen(
        [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def start_subscriber(port: int, out: Path) -> subprocess.Popen[bytes]:
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-t",
            "edge/+/results",
            "-F",
            "%U %p",
        ],
        stdout=out.open("wb"),
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return sub


def device_config(
    directory: Path, port: int, fps: float, commit_interval: float, extra: str = ""
) -> Path:
    path = directory / "edge.toml"
    path.write_text(
        f"status_interval = 30\n[source]\nkind = 'synthetic'\nfps = {fps}\n"
        "[[sinks]]\nkind = 'jsonl'\npath = 'ledger.jsonl'\n"
        f"[[sinks]]\nkind = 'mqtt'\nhost = '127.0.0.1'\nport = {port}\n"
        f"outbox = 'outbox.sqlite3'\ncommit_interval = {commit_interval}\n"
        "publish = 'every_frame'\nmax_rate = 0\n"  # every result: this measures delivery
        f"homeassistant = false\n{extra}\n"
    )
    return path


def start_device(directory: Path, name: str, frames: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-c",
        "from edge.cli import entry; entry()",
        "run",
        "--config",
        "edge.toml",
        "--device",
        name,
        "--max-frames",
        str(frames),
    ]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(
        command,
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(directory / "stderr.txt").open("wb"),
    )


def arrivals(path: Path) -> list[tuple[float, dict[str, Any]]]:
    found = []
    for line in path.read_bytes().decode().splitlines():
        stamp, _, payload = line.partition(" ")
        found.append((float(stamp), json.loads(payload)))
    return found


def epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def fleet(n: int, fps: float, seconds: float, commit_interval: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"fleet{n}-") as tmp:
        root = Path(tmp)
        port = free_port()
        broker = start_broker(root, port)
        sub_out = root / "sub.txt"
        sub = start_subscriber(port, sub_out)
        devices = []
        for i in range(n):
            directory = root / f"dev{i}"
            directory.mkdir()
            device_config(directory, port, fps, commit_interval)
            devices.append((directory, start_device(directory, f"fleet-{i}", int(fps * seconds))))
        for directory, process in devices:
            if process.wait(seconds * 4 + 120) != 0:
                raise RuntimeError((directory / "stderr.txt").read_text())
        produced: list[dict[str, Any]] = []
        for directory, _ in devices:
            ledger = directory / "ledger.jsonl"
            produced += (
                [json.loads(x) for x in ledger.read_text().splitlines()] if ledger.exists() else []
            )
        wanted = {r["id"] for r in produced}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = arrivals(sub_out)
            if wanted <= {r["id"] for _, r in got}:
                break
            time.sleep(0.5)
        sub.send_signal(signal.SIGTERM)
        sub.wait(10)
        broker.terminate()
        broker.wait(10)
        got = arrivals(sub_out)
        first: dict[str, tuple[float, dict[str, Any]]] = {}
        for stamp, record in got:
            first.setdefault(record["id"], (stamp, record))
        latency = [stamp - epoch(r["ts"]) for stamp, r in first.values()]
        per_device: dict[str, list[float]] = {}
        for r in produced:
            per_device.setdefault(r["device"], []).append(epoch(r["ts"]))
        start = max(min(v) for v in per_device.values())
        end = min(max(v) for v in per_device.values())
        in_window = [r for _, r in first.values() if start <= epoch(r["ts"]) <= end]
        return {
            "devices": n,
            "fps_per_device": fps,
            "commit_interval_s": commit_interval,
            "produced": len(produced),
            "received": len(got),
            "lost": len(wanted - set(first)),
            "duplicates": len(got) - len(first),
            "window_s": round(end - start, 1),
            "results_per_s": round(len(in_window) / (end - start), 1) if end > start else None,
            "latency_ms": {
                "p50": round(1000 * percentile(latency, 50), 1),
                "p95": round(1000 * percentile(latency, 95), 1),
            },
        }


def drain(count: int, commit_interval: float, rate: float, inflight: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="drain-") as tmp:
        root = Path(tmp)
        port = free_port()
        directory = root / "dev"
        directory.mkdir()
        device_config(directory, port, 1000, commit_interval, extra="outbox_max_rows = 1000000")
        filling = start_device(directory, "drain", count)
        if filling.wait(600) != 0:  # no broker: all stay in the outbox
            raise RuntimeError((directory / "stderr.txt").read_text())
        ledger = directory / "ledger.jsonl"
        wanted = {json.loads(x)["id"] for x in ledger.read_text().splitlines()}
        broker = start_broker(root, port)
        sub_out = root / "sub.txt"
        sub = start_subscriber(port, sub_out)
        device_config(
            directory,
            port,
            1,
            commit_interval,
            extra=f"drain_rate = {rate}\nmax_inflight = {inflight}",
        )
        started = time.time()
        device = start_device(directory, "drain", 1000)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not wanted <= {r["id"] for _, r in arrivals(sub_out)}:
            time.sleep(0.2)
        device.send_signal(signal.SIGINT)
        device.wait(60)
        sub.send_signal(signal.SIGTERM)
        sub.wait(10)
        broker.terminate()
        broker.wait(10)
        got = arrivals(sub_out)
        backlog = [stamp for stamp, r in got if r["id"] in wanted]
        span = max(backlog) - min(backlog)
        return {
            "backlog": count,
            "received": len(backlog),
            "drain_s_from_process_start": round(max(backlog) - started, 2),
            "drain_rate_per_s": round(len(backlog) / span, 1) if span > 0 else None,
            "max_inflight": inflight,
            "drain_rate": rate,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--fps", type=float, default=5.0, help="frames/s per device")
    parser.add_argument("--seconds", type=float, default=30.0, help="run length per device")
    parser.add_argument("--commit-interval", type=float, default=1.0)
    parser.add_argument("--drain", type=int, metavar="N", help="measure draining N results")
    parser.add_argument(
        "--drain-rate",
        type=float,
        default=500.0,
        help="drain mode: the sink's drain_rate (default 500, the sink's default)",
    )
    parser.add_argument(
        "--max-inflight",
        type=int,
        default=10,
        help="drain mode: the sink's max_inflight (default 10, the sink's default)",
    )
    args = parser.parse_args(argv)
    if args.drain:
        print(
            json.dumps(drain(args.drain, args.commit_interval, args.drain_rate, args.max_inflight))
        )
        return 0
    for n in args.devices:
        print(json.dumps(fleet(n, args.fps, args.seconds, args.commit_interval)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
