"""Videos written with OpenCV for the motion gate and event mode tests.

A fixed background (the synthetic camera's desk), a little sensor noise in every frame
(a real static camera never gives two identical frames), and a held-out handwritten
digit that moves in along a straight line from a known frame on, then leaves.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.sources.synthetic import _background, _paste_max, load_digits

WIDTH, HEIGHT = 320, 240


def digit_tile(size: int = 96) -> np.ndarray:
    """The first held-out 0: the shipped detector finds it with one label everywhere
    (some 7s also score as 9s, which would make two tracks of one object)."""
    images, labels = load_digits()
    index = int(np.nonzero(labels == 0)[0][0])
    return np.asarray(
        cv2.resize(images[index], (size, size), interpolation=cv2.INTER_LINEAR), np.uint8
    )


def write_video(
    path: Path, frames: int, positions: dict[int, tuple[int, int]], seed: int = 3
) -> Path:
    """``positions[i]``: top-left of the digit in frame ``i``; absent = no digit."""
    rng = np.random.default_rng(seed)
    background = _background(WIDTH, HEIGHT, seed)
    tile = digit_tile()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30.0, (WIDTH, HEIGHT))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    try:
        for i in range(frames):
            noise = rng.normal(0, 2.0, background.shape)
            image = np.clip(background + noise, 0, 255).astype(np.uint8)
            if i in positions:
                _paste_max(image, tile, *positions[i])
            writer.write(image)
    finally:
        writer.release()
    return path
