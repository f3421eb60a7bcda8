"""How long ``edge convert`` takes on the shipped CNN with 200 calibration images.

Run (from the repository root; a benchmark, not a test):

    nice .venv/bin/python benchmarks/convert_cnn.py            # --mode auto (the default)
    nice .venv/bin/python benchmarks/convert_cnn.py --mode int8

It writes 200 real training digits (``models.data.split_digits``, evenly spaced over the
training part, so 20 of each digit) as camera-like PNG files (3-channel, 56x56) into a
temporary folder, and converts ``models/zoo/digits-cnn.keras`` exactly as a user would
(``converter.command.run``: image folder -> the device's preprocessing -> calibration;
the shipped held-out digits as eval data), into a temporary output folder. Printed:
the time to import TensorFlow, the conversion's wall time (load, calibrate, convert,
evaluate float vs quantized on 1000 held-out digits, latency measurement, report and
picture), and the whole process. Goal: conversion under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CALIBRATION_IMAGES = 200


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="auto")
    args = parser.parse_args(argv)

    import cv2
    import numpy as np

    from models.data import split_digits

    before_tf = time.perf_counter()
    from converter.quiet import import_tensorflow

    import_tensorflow()
    import keras  # noqa: F401  (timed with TensorFlow: the converter needs both)

    tf_seconds = time.perf_counter() - before_tf
    from converter.command import run
    from edge.cli.convert_request import ConvertCommand

    x_train, _ = split_digits().part("train")
    pick = np.linspace(0, len(x_train) - 1, CALIBRATION_IMAGES).round().astype(np.int64)
    with tempfile.TemporaryDirectory(prefix="bench-convert-") as tmp:
        folder = Path(tmp) / "calibration"
        folder.mkdir()
        for i, digit in enumerate(x_train[pick]):
            big = cv2.resize(digit, (56, 56), interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.merge([big, big, big]))
        command = ConvertCommand(
            model=ROOT / "models" / "zoo" / "digits-cnn.keras",
            calibration=folder,
            eval=ROOT / "models" / "zoo" / "digits-holdout.npz",
            out=Path(tmp) / "out" / "digits-cnn.tflite",
            mode=args.mode,
            resize="crop",
        )
        begin = time.perf_counter()
        code = run(command)
        convert_seconds = time.perf_counter() - begin
    print(f"\nimport tensorflow+keras: {tf_seconds:.1f} s")
    print(
        f"edge convert --mode {args.mode} with {CALIBRATION_IMAGES} calibration images: "
        f"{convert_seconds:.1f} s (exit code {code})"
    )
    print(f"whole process: {time.perf_counter() - started:.1f} s")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
