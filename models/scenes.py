"""Synthetic detection scenes made of REAL handwritten digits (training and evaluation).

A scene is a ``size`` x ``size`` grayscale canvas (96 by default) with 1..4 digits
from ``models.data`` (training digits, their shapes changed by a
``models.augment.DigitDistortion``, for training scenes; the held-out split, unchanged,
for evaluation scenes), each digit tile 20..40 px, tiles never overlapping, over a mild
background like the device's synthetic camera (a dark gradient, soft blotches and
per-pixel noise; see ``edge/sources/synthetic.py``). Digits are drawn with ``max()``,
as the camera draws them (light adds on a screen).

Half of the scenes are "letterboxed": the content is a 4:3 band (96 x 72) between black
bars, which is exactly what the device's ``letterbox`` resize makes of the camera's
4:3 frames, so the detector knows the bars are not digits.

Ground truth per digit: the tight box of its ink (the nonzero pixels of the 28x28
source digit, scaled to the tile; the same definition as the camera's ``truth()``),
normalised 0..1 to the canvas as ``x0, y0, x1, y1``, and its class.

Everything is a pure function of the digits and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from models.augment import DigitDistortion

SCENE_SIZE = 96
MAX_DIGITS = 4
TILE_RANGE = (20, 40)
LETTERBOX_FRACTION = 0.5


@dataclass(frozen=True)
class Scenes:
    """Canvases and their boxes; box ``k`` belongs to image ``image_index[k]``."""

    images: npt.NDArray[np.uint8]  # (N, size, size)
    boxes: npt.NDArray[np.float32]  # (M, 4) normalised x0, y0, x1, y1
    classes: npt.NDArray[np.int64]  # (M,)
    image_index: npt.NDArray[np.int64]  # (M,)

    def __len__(self) -> int:
        return len(self.images)

    def truth(self, i: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        keep = self.image_index == i
        return self.boxes[keep], self.classes[keep]


def ink_box(digit: npt.NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """Tight (col0, row0, col1, row1) of the nonzero pixels, end-exclusive."""
    rows, cols = np.nonzero(digit)
    if len(rows) == 0:
        return 0, 0, digit.shape[1], digit.shape[0]
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def make_scenes(
    digits: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.int64],
    count: int,
    *,
    seed: int,
    size: int = SCENE_SIZE,
    max_digits: int = MAX_DIGITS,
    distort: DigitDistortion | None = None,
) -> Scenes:
    """``count`` scenes drawing from ``digits`` (deterministic for a seed). ``distort``
    changes each digit's shape first (training scenes); without it the random stream is
    the one the evaluation scenes have always had."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size), np.uint8)
    boxes: list[tuple[float, float, float, float]] = []
    classes: list[int] = []
    owners: list[int] = []
    for i in range(count):
        letterbox = rng.random() < LETTERBOX_FRACTION
        band = round(size * 3 / 4) if letterbox else size
        top = (size - band) // 2
        canvas = np.zeros((size, size), np.uint8)
        canvas[top : top + band] = _background(size, band, rng)
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, max_digits + 1))):
            placed = _place(rng, size, top, band, taken)
            if placed is None:
                continue
            x, y, tile = placed
            taken.append((x, y, x + tile, y + tile))
            index = int(rng.integers(len(digits)))
            digit = digits[index] if distort is None else distort(digits[index], rng)
            brightness = rng.uniform(0.6, 1.0)
            drawn = cv2.resize(digit, (tile, tile), interpolation=cv2.INTER_LINEAR)
            drawn = (drawn.astype(np.float32) * brightness).astype(np.uint8)
            np.maximum(
                canvas[y : y + tile, x : x + tile], drawn, out=canvas[y : y + tile, x : x + tile]
            )
            c0, r0, c1, r1 = ink_box(digit)
            k = tile / digit.shape[0]
            boxes.append(
                ((x + c0 * k) / size, (y + r0 * k) / size, (x + c1 * k) / size, (y + r1 * k) / size)
            )
            classes.append(int(labels[index]))
            owners.append(i)
        images[i] = canvas
    return Scenes(
        images=images,
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        classes=np.asarray(classes, np.int64),
        image_index=np.asarray(owners, np.int64),
    )


def _place(
    rng: np.random.Generator,
    size: int,
    top: int,
    band: int,
    taken: list[tuple[int, int, int, int]],
) -> tuple[int, int, int] | None:
    """A tile position inside the content band that overlaps no earlier tile."""
    for _ in range(30):
        tile = int(rng.integers(TILE_RANGE[0], min(TILE_RANGE[1], band) + 1))
        x = int(rng.integers(0, size - tile + 1))
        y = int(rng.integers(top, top + band - tile + 1))
        if all(x >= b[2] or x + tile <= b[0] or y >= b[3] or y + tile <= b[1] for b in taken):
            return x, y, tile
    return None


def _background(width: int, height: int, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    """Dark gradient + soft blotches + pixel noise, at a random overall level."""
    gx = np.linspace(0, 1, width, dtype=np.float32)[np.newaxis, :]
    gy = np.linspace(0, 1, height, dtype=np.float32)[:, np.newaxis]
    a, b = rng.uniform(-1, 1, 2)
    level = rng.uniform(0, 30)
    base = level + rng.uniform(0, 20) * (a * gx + b * gy)
    blotch_sigma = rng.uniform(2, 6)
    blotches = cv2.GaussianBlur(rng.random((height, width), dtype=np.float32), (0, 0), blotch_sigma)
    blotches = (blotches - blotches.mean()) * rng.uniform(0, 80)
    noise = rng.integers(0, int(rng.integers(1, 17)), size=(height, width))
    # Annotated: cv2's blur is typed Any, which would make the picture Any for mypy.
    picture: npt.NDArray[np.uint8] = np.clip(base + blotches + noise, 0, 255).astype(np.uint8)
    return picture
