"""What running the conversion in a child process costs: ``convert`` vs ``convert_in_child``.

Run (from the repository root; a benchmark, not a test):

    nice .venv/bin/python benchmarks/convert_isolation.py            # 3 rounds
    nice .venv/bin/python benchmarks/convert_isolation.py --rounds 5

Each round converts ``models/zoo/digits-cnn.keras`` (``--mode int8``, 16 random
calibration samples) twice, each time in a fresh Python process so both pay the same
start-up: once with ``converter.convert.convert`` (everything in that process) and once
with ``converter.isolation.convert_in_child`` (a child does the TensorFlow work; the
parent never imports TensorFlow). Printed: the wall time of each, from the process start
to the returned report.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_RUN = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from converter.request import ConvertRequest
request = ConvertRequest(model=Path(sys.argv[2]), calibration=Path("cal.npz"),
                         out=Path(sys.argv[1] + ".tflite"), mode="int8", progress=False,
                         latency_seconds=0.1)
if sys.argv[1] == "child":
    from converter.isolation import convert_in_child
    convert_in_child(request)
else:
    from converter.convert import convert
    convert(request)
print(f"{time.perf_counter() - t0:.2f}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    import numpy as np

    model = ROOT / "models" / "zoo" / "digits-cnn.keras"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {"in-process": [], "child": []}
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        np.savez(
            Path(folder) / "cal.npz", x=rng.uniform(0, 255, (16, 28, 28, 1)).astype(np.float32)
        )
        for _ in range(args.rounds):
            for name, how in (("in-process", "inproc"), ("child", "child")):
                done = subprocess.run(
                    [sys.executable, "-c", ONE_RUN, how, str(model)],
                    cwd=folder,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[name].append(float(done.stdout.split()[-1]))
    for name, values in times.items():
        print(
            f"{name:10s} median {sorted(values)[len(values) // 2]:.2f} s  "
            f"({', '.join(f'{v:.2f}' for v in values)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
