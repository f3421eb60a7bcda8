"""The baseline: the loop of the TF-Lite Raspberry Pi examples, as a new user writes it.

read a frame -> BGR to gray -> resize to the input -> quantize -> set_tensor -> invoke ->
get_tensor, one after the other on one thread, no box decoding and no output. It prints
one JSON line: frames, seconds and its own frames/s (start-up excluded).

    python benchmarks/example_loop.py CLIP.avi MODEL.tflite [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    interpreter = Interpreter(model_path=args.model, num_threads=args.threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()
    _, height, width, channels = inp["shape"]
    scale, zero_point = inp["quantization"]
    capture = cv2.VideoCapture(args.clip)
    frames = 0
    started = time.perf_counter()
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if channels == 1:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        resized = cv2.resize(frame, (int(width), int(height)))
        values = (
            resized.astype(np.float32) / 255.0
            if inp["dtype"] == np.float32
            else np.clip(np.round(resized / 255.0 / scale + zero_point), -128, 127)
        )
        tensor = values.astype(inp["dtype"]).reshape(inp["shape"])
        interpreter.set_tensor(inp["index"], tensor)
        interpreter.invoke()
        for detail in outputs:
            interpreter.get_tensor(detail["index"])
        frames += 1
    seconds = time.perf_counter() - started
    capture.release()
    print(
        json.dumps(
            {"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 1)}
        )
    )


if __name__ == "__main__":
    main()
