"""Cold start: ``edge run --max-frames 1 --sink stdout`` from spawn to its first record,
for one or more source trees, in alternation (median and minimum of N processes each).

    python -m compileall -q edge            # a pip install has bytecode; a checkout may not
    python benchmarks/cold_start.py 11 /path/to/tree-before /path/to/tree-after

Each tree is put first on PYTHONPATH; with no tree, the installed ``edge`` is measured.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def first_record_s(tree: str | None) -> float:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", "from edge.cli import entry; entry()", "run", "--max-frames",
         "1", "--sink", "stdout"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.stdout.close()
    process.wait()
    assert line, f"no record from {tree or 'the installed edge'}"
    return elapsed


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    trees: list[str | None] = list(sys.argv[2:]) or [None]
    times: dict[str | None, list[float]] = {tree: [] for tree in trees}
    for _ in range(rounds):
        for tree in trees:
            times[tree].append(first_record_s(tree))
    for tree, values in times.items():
        print(f"{tree or 'installed'}: first record median {statistics.median(values):.3f} s, "
              f"min {min(values):.3f} s (n={len(values)})")


if __name__ == "__main__":
    main()
