"""``edge bench``: how fast a model runs here (``edge.bench.run`` measures, this module
parses the flags and prints the report)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge.errors import EXIT_OK


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure a model: raw invoke, edge run's pipeline, cold start, memory",
        description="Measure how fast a model runs here: the model alone in a tight loop "
        "(checked against LiteRT's own benchmark tool in the same run), the frame rate "
        "through edge run's real path (synthetic camera or --source, a JSONL sink in a "
        "temporary folder), latency p50/p95/p99, frame age, cold start and peak memory.",
    )
    bench.add_argument(
        "model", type=Path, nargs="?", help=".tflite model (default: the shipped default model)"
    )
    bench.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    bench.add_argument(
        "--frames", type=int, default=300, help="frames per measurement (default 300)"
    )
    bench.add_argument(
        "--source",
        help="SOURCE SPEC for the pipeline part (default: the synthetic camera at 1000 fps)",
    )
    bench.add_argument(
        "--compare",
        type=Path,
        metavar="OTHER.tflite",
        help="also measure this model (e.g. the float32 build) and give ratios",
    )
    bench.add_argument(
        "--sweep",
        action="store_true",
        help="also measure raw and pipeline at 1, 2 and all-cores threads",
    )
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.bench.run import BenchRequest, render, run_bench

    report = run_bench(
        BenchRequest(
            model=args.model,
            threads=args.threads,
            frames=args.frames,
            source=args.source,
            compare=args.compare,
            sweep=args.sweep,
        )
    )
    print(json.dumps(report, indent=2) if args.json else render(report), flush=True)
    import atexit

    atexit.register(_quiet_native_teardown)
    return EXIT_OK


def _quiet_native_teardown() -> None:
    """LiteRT's CompiledModel (measured by the bench) logs "DestroyAccelerator" lines from
    native destructors while the interpreter shuts down, where Python filters nothing. The
    report is out by then, so file descriptor 2 goes to /dev/null for the teardown."""
    import os

    sys.stderr.flush()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        pass
