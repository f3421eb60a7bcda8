"""int8 against float32 for every shipped model, at 1 and 2 threads: raw invoke ms.

The float32 .tflite files are not shipped. This script makes them from the shipped
``.keras`` sources with TensorFlow's own Keras converter and no quantization (so this part
needs TensorFlow: ``pip install 'edge-infer[convert]'``; a Pi never runs it) and caches
them in --work. Both files of a pair are then timed with the same loop as ``edge
bench``'s raw invoke (set_tensor, invoke, get_tensor on a fixed input, after 5 warm-up
runs), int8 then float32 per thread count. Prints one JSON object.

    python benchmarks/int8_vs_float.py [--frames 500] [--work /tmp/edge-f32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ZOO = Path(__file__).resolve().parent.parent / "models" / "zoo"
MODELS = ("digits-cnn", "digits-vit", "digits-detector", "digits-anomaly", "digits-dcgan-generator")


def float32_model(name: str, work: Path) -> Path:
    out = work / f"{name}.float32.tflite"
    if not out.is_file():
        import keras
        import tensorflow as tf

        import models.vit  # noqa: F401  (registers the ViT's custom layers)

        model = keras.models.load_model(ZOO / f"{name}.keras", compile=False)
        # TensorFlow's plain Keras conversion. Cross-checked on the CNN against
        # `edge convert --mode float32` (the project's own float32 build): 0.066 against
        # 0.069 ms. (A batch-1 concrete function instead came out 4-8x slower in float32
        # on this machine, so it is not used.)
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        with contextlib.redirect_stdout(sys.stderr):  # TF prints its export log there
            out.write_bytes(converter.convert())
    return out


def invoke_ms(path: Path, threads: int, frames: int) -> float:
    """Median invoke of ``path`` in ms (the same loop as ``edge bench``'s raw part)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=path.read_bytes(), num_threads=threads)
    interpreter.allocate_tensors()
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    values = [np.zeros(d["shape"], d["dtype"]) for d in inputs]
    times = []
    for i in range(frames + 5):
        t0 = time.perf_counter()
        for detail, value in zip(inputs, values, strict=True):
            interpreter.set_tensor(detail["index"], value)
        interpreter.invoke()
        for detail in outputs:
            interpreter.get_tensor(detail["index"])
        if i >= 5:
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--work", type=Path, default=Path("/tmp/edge-f32"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in MODELS:
        int8 = ZOO / f"{name}.int8.tflite"
        f32 = float32_model(name, args.work)
        for threads in (1, 2):
            q = invoke_ms(int8, threads, args.frames)
            f = invoke_ms(f32, threads, args.frames)
            rows.append(
                {
                    "model": name,
                    "threads": threads,
                    "int8_ms": round(q, 4),
                    "float32_ms": round(f, 4),
                    "int8_speedup": round(f / q, 2),
                }
            )
            print(
                f"{name} {threads} thread(s): int8 {q:.3f} ms, float32 {f:.3f} ms", file=sys.stderr
            )
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
