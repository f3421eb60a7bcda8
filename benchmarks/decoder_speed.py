"""What the post-processing added by the detector decoders and the motion gate costs.

``python -m benchmarks.decoder_speed``

Times, on this machine, the yolov8 decoder on a COCO-sized head ([1, 84, 8400], 50
candidates above the threshold), the yolov5 decoder on [1, 25200, 85] (50 hopeful
rows), the ssd decoder on the four TF-Lite tensors, and the motion gate on 640x480
frames; median of interleaved rounds (the 2-core VM is noisy). Numbers only, no model.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from edge.decoders.params import SsdParams, YoloParams
from edge.decoders.ssd import decode_ssd
from edge.decoders.yolo import decode_yolov5, decode_yolov8
from edge.processing.motion import MotionGate
from edge.processing.preprocess import Placement
from edge.types import Frame


def _median_ms(work: Callable[[], object], repeats: int = 200) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    placement = Placement(width=640, height=640)
    yolo = YoloParams()
    v8 = (rng.random((1, 84, 8400)) * 0.2).astype(np.float32)
    v8[0, :4] = rng.random((4, 8400)) * 0.5 + 0.1
    v8[0, 4:, :50] += 0.7
    v5 = (rng.random((1, 25200, 85)) * 0.2).astype(np.float32)
    v5[0, :, :4] = rng.random((25200, 4)) * 400
    v5[0, :50, 4:] += 0.7
    ssd = {
        "b": rng.random((1, 10, 4)).astype(np.float32),
        "c": np.arange(10, dtype=np.float32)[np.newaxis],
        "s": np.linspace(0.9, 0.1, 10, dtype=np.float32)[np.newaxis],
        "n": np.asarray([10], np.float32),
    }
    ssd_params = SsdParams(boxes="b", classes="c", scores="s", count="n")
    gate = MotionGate(heartbeat=0.0)
    # The left half masked ([[masks]] applies_to = "motion"): one AND more per frame.
    masked = MotionGate(heartbeat=0.0, masks=[[[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]])
    frames = [
        Frame(rng.integers(0, 255, (480, 640, 3), np.uint8), i, float(i), "b") for i in range(2)
    ]
    counter = iter(range(10**9))
    cases: dict[str, Callable[[], object]] = {
        "yolov8 [1,84,8400]": lambda: decode_yolov8({"o": v8}, placement, yolo),
        "yolov5 [1,25200,85]": lambda: decode_yolov5({"o": v5}, placement, yolo),
        "ssd 4 x [1,10]": lambda: decode_ssd(ssd, placement, ssd_params),
        "motion gate 640x480": lambda: gate.should_infer(frames[next(counter) % 2]),
        "  with a motion mask": lambda: masked.should_infer(frames[next(counter) % 2]),
    }
    for name, work in cases.items():
        print(f"{name:24} {_median_ms(work):7.3f} ms")


if __name__ == "__main__":
    main()
