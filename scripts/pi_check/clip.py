"""The clips every shipped model runs on, on x86 and in the arm64 root (scripts/test-pi.sh).

Written with OpenCV (MJPG in .avi, 640x480, 30 fps) from the built-in synthetic camera's
renderer, so the frames are held-out handwritten digits on the camera's desk:

- ``digits.avi``: one digit per frame, a new digit every 5 frames (60 digits), for the
  classifiers and the anomaly model;
- ``scene.avi``: three digits per frame at once, for the detector (its training scenes).

Both sides decode the same file with their own OpenCV (4.11 in the device venv), so the
comparison covers decoding and preprocessing too, not only the interpreter.

    python scripts/pi_check/clip.py OUT_DIR [--frames 300]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

from edge.sources.synthetic import SyntheticCamera

WIDTH, HEIGHT, FPS = 640, 480, 30.0
CLIPS = {"digits.avi": 1, "scene.avi": 3}


def write_clip(path: Path, frames: int, digit_count: int) -> None:
    camera = SyntheticCamera(
        width=WIDTH, height=HEIGHT, on_demand=True, hold_frames=5, seed=7, digit_count=digit_count
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write MJPG to {path}")
    try:
        for i in range(frames):
            writer.write(camera.render(i))
    finally:
        writer.release()
    check = cv2.VideoCapture(str(path))
    count = int(check.get(cv2.CAP_PROP_FRAME_COUNT))
    check.release()
    if count != frames:
        raise SystemExit(f"{path}: wrote {frames} frames, OpenCV reads back {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, digits in CLIPS.items():
        write_clip(args.out / name, args.frames, digits)
        size = (args.out / name).stat().st_size // 1000
        print(f"{name}: {args.frames} frames {WIDTH}x{HEIGHT} MJPG, {digits} digit(s), {size} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
