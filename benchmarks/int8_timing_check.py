"""Why the zoo's reports said int8 was slower than float32 while int8_vs_float.py said
faster: both timings, side by side, on the same files, on this CPU.

For every shipped model and its float32 build (made like ``int8_vs_float.py`` does, cached
in --work; needs TensorFlow the first time), three timings of int8 against float32, in
alternation, 1 thread:

- ``converter``: ``converter.measure.paired_latency_ms``, the converter's own timing
  (median ``invoke()`` on a zero input after a warm-up), float and int8 alternated;
- ``converter_serial``: ``median_latency_ms`` float then int8, as ``convert.py`` calls it;
- ``bench``: the loop of ``edge bench`` and ``int8_vs_float.py`` (set_tensor, invoke,
  get_tensor).

Prints the CPU (the features that pick XNNPACK's int8 kernels), the zoo report's own
numbers, and one JSON object.

    python benchmarks/int8_timing_check.py [--work /tmp/edge-f32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from int8_vs_float import MODELS, ZOO, float32_model, invoke_ms

from converter.measure import cpu_description, median_latency_ms, paired_latency_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-f32"))
    parser.add_argument("--frames", type=int, default=500, help="invokes of the bench loop")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in MODELS:
        int8_path = ZOO / f"{name}.int8.tflite"
        f32_path = float32_model(name, args.work)
        int8, f32 = int8_path.read_bytes(), f32_path.read_bytes()
        float_ms, int8_ms = paired_latency_ms(f32, int8, rounds=3, min_seconds=0.6)
        serial_float = median_latency_ms(f32)
        serial_int8 = median_latency_ms(int8)
        bench_int8 = invoke_ms(int8_path, 1, args.frames)
        bench_float = invoke_ms(f32_path, 1, args.frames)
        report = json.loads((ZOO / f"{name}.report.json").read_text())["latency_ms"]
        row = {
            "model": name,
            "converter": {
                "float_ms": round(float_ms, 4),
                "int8_ms": round(int8_ms, 4),
                "int8_speedup": round(float_ms / int8_ms, 2),
            },
            "converter_serial": {
                "float_ms": round(serial_float, 4),
                "int8_ms": round(serial_int8, 4),
                "int8_speedup": round(serial_float / serial_int8, 2),
            },
            "bench": {
                "float_ms": round(bench_float, 4),
                "int8_ms": round(bench_int8, 4),
                "int8_speedup": round(bench_float / bench_int8, 2),
            },
            "zoo_report": {
                "float_ms": round(report["float"], 4),
                "int8_ms": round(report["quantized"], 4),
                "int8_speedup": round(report["float"] / report["quantized"], 2),
            },
        }
        rows.append(row)
        print(
            f"{name}: converter {row['converter']['int8_speedup']}x, serial "
            f"{row['converter_serial']['int8_speedup']}x, bench "
            f"{row['bench']['int8_speedup']}x, zoo report "
            f"{row['zoo_report']['int8_speedup']}x (int8 speed-up over float32)",
            file=sys.stderr,
        )
    print(
        json.dumps(
            {"cpu": cpu_description(), "load_average": os.getloadavg()[0], "rows": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()
