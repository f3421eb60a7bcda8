"""What decoding an MJPEG frame costs in full and at 1/2, 1/4, 1/8 (``edge.sources.mjpeg``),
and the full ``read()`` + grey conversion the example loop pays.

    python benchmarks/mjpeg_decode.py CLIP.avi
"""

from __future__ import annotations

import json
import sys
import time

import cv2


def main() -> None:
    clip = sys.argv[1]
    capture = cv2.VideoCapture(clip)
    started, frames = time.perf_counter(), 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        frames += 1
    result = {
        "frames": frames,
        "read_full_plus_gray_ms": round(1000 * (time.perf_counter() - started) / frames, 3),
    }
    capture.release()
    capture = cv2.VideoCapture(clip)
    capture.set(cv2.CAP_PROP_FORMAT, -1)
    buffers = []
    started = time.perf_counter()
    while True:
        ok, buffer = capture.read()
        if not ok:
            break
        buffers.append(buffer.reshape(-1))
    result["read_compressed_ms"] = round(1000 * (time.perf_counter() - started) / len(buffers), 3)
    for name, flag in (
        ("imdecode_full_ms", cv2.IMREAD_COLOR),
        ("imdecode_half_ms", cv2.IMREAD_REDUCED_COLOR_2),
        ("imdecode_quarter_ms", cv2.IMREAD_REDUCED_COLOR_4),
        ("imdecode_eighth_ms", cv2.IMREAD_REDUCED_COLOR_8),
    ):
        started = time.perf_counter()
        for buffer in buffers:
            cv2.imdecode(buffer, flag)
        result[name] = round(1000 * (time.perf_counter() - started) / len(buffers), 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
