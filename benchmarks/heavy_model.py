"""Build a classifier whose int8 invoke takes a few milliseconds here, for the
pipeline-against-raw goal of docs/benchmarks.md (the shipped models invoke in 0.03-0.3 ms
on this x86, far below a Raspberry Pi's 20-80 ms, so the pipeline's fixed per-frame cost
dominates them). Needs TensorFlow (the converter extra); the result is a normal
self-describing int8 model that `edge bench` and `edge run` take.

    python benchmarks/heavy_model.py /tmp/heavy            # writes /tmp/heavy/heavy.int8.tflite
    edge bench /tmp/heavy/heavy.int8.tflite --threads 1 --frames 500 --json

The weights are random (untrained): speed does not depend on them. Calibration uses the
synthetic camera's pictures, as the device sees them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np


def build(out: Path, size: int, width: int) -> Path:
    import keras

    inputs = keras.Input((size, size, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for filters in (width, width * 2, width * 4, width * 8):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="heavy")
    path = out / "heavy.keras"
    model.save(path)
    return path


def calibration(out: Path, size: int, count: int = 64) -> Path:
    from edge.sources.synthetic import SyntheticCamera

    camera = SyntheticCamera(width=size, height=size, fps=None, seed=5)
    pictures = [camera.render(i)[:, :, ::-1] for i in range(count)]  # BGR -> RGB
    path = out / "calibration.npy"
    np.save(path, np.stack(pictures).astype(np.float32))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=128, help="input width and height")
    parser.add_argument("--width", type=int, default=32, help="filters of the first block")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = build(args.out, args.size, args.width)
    data = calibration(args.out, args.size)
    labels = args.out / "labels.txt"
    labels.write_text("".join(f"{i}\n" for i in range(10)))
    target = args.out / "heavy.int8.tflite"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from edge.cli import entry; entry()",
            "convert",
            str(model),
            "--calibration",
            str(data),
            "--labels",
            str(labels),
            "--mode",
            "int8",
            "--out",
            str(target),
        ],
        check=True,
    )
    print(target)


if __name__ == "__main__":
    main()
