"""Cold start: ``edge run --max-frames 1 --sink stdout`` from spawn to its first record,
and that process's peak resident memory, for one or more source trees, in alternation
(median and minimum of N processes each).

    python -m compileall -q edge            # a pip install has bytecode; a checkout may not
    python benchmarks/cold_start.py 11 /path/to/tree-before /path/to/tree-after
    python benchmarks/cold_start.py 11 --model my.tflite --unverified TREE   # a new model

Each tree is put first on PYTHONPATH; with no tree, the installed ``edge`` is measured.
``--model`` runs that file instead of the default model. ``--unverified`` points the
record of verified models (``edge.model.verify.cache``) at a folder that cannot be written, so
every start probes the model as the first start of a new model does; without it, the
first start of a new model records it and the later ones measure a remembered model.
Peak memory is ``wait4``'s ``ru_maxrss``: the larger of the process and its children
(the probe's child, when there is one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def first_record(
    tree: str | None, model: str | None, env_extra: dict[str, str]
) -> tuple[float, float]:
    """(seconds from spawn to the first record, peak RSS in MB)."""
    env = {**os.environ, **env_extra}
    if tree:
        env["PYTHONPATH"] = tree
    command = [
        sys.executable,
        "-c",
        "from edge.cli import entry; entry()",
        "run",
        "--max-frames",
        "1",
        "--sink",
        "stdout",
    ]
    if model:
        command += ["--model", os.path.abspath(model)]
    started = time.perf_counter()
    # Not from the checkout's folder: `python -c` puts the working directory first on
    # sys.path, so from there every "tree" would run the checkout's own edge.
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=tempfile.gettempdir(),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.stdout.read()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    assert line and process.returncode == 0, f"no record from {tree or 'the installed edge'}"
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rounds", type=int, nargs="?", default=11)
    parser.add_argument("trees", nargs="*", help="source trees (default: installed edge)")
    parser.add_argument("--model", help=".tflite to run (default: the default model)")
    parser.add_argument(
        "--unverified",
        action="store_true",
        help="probe the model on every start (no record of verified models)",
    )
    args = parser.parse_intermixed_args()
    env_extra = {"XDG_CACHE_HOME": "/proc/edge-bench-no-cache"} if args.unverified else {}
    if args.unverified:
        for variable in ("CACHE_DIRECTORY", "STATE_DIRECTORY"):
            os.environ.pop(variable, None)
    trees: list[str | None] = list(args.trees) or [None]
    times: dict[str | None, list[float]] = {tree: [] for tree in trees}
    peaks: dict[str | None, list[float]] = {tree: [] for tree in trees}
    for _ in range(args.rounds):
        for tree in trees:
            seconds, peak = first_record(tree, args.model, env_extra)
            times[tree].append(seconds)
            peaks[tree].append(peak)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for tree in trees:
        values = times[tree]
        print(
            f"{tree or 'installed'}: first record median {statistics.median(values):.3f} s, "
            f"min {min(values):.3f} s; peak RSS median {statistics.median(peaks[tree]):.1f}"
            f" MB, max {max(peaks[tree]):.1f} MB (n={len(values)})"
        )


if __name__ == "__main__":
    main()
