"""Write the benchmark clip: the synthetic camera (two digits moving), MJPG in .avi.

python benchmarks/make_clip.py OUT.avi [--frames 1500] [--size 640x480]
"""

from __future__ import annotations

import argparse

import cv2

from edge.sources.synthetic import SyntheticCamera


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    camera = SyntheticCamera(width=width, height=height, fps=None, seed=0, digit_count=2)
    writer = cv2.VideoWriter(args.out, cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (width, height))
    for written, frame in enumerate(camera):
        if written == args.frames:
            break
        writer.write(frame.image)
    writer.release()
    camera.close()


if __name__ == "__main__":
    main()
