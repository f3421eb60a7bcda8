"""The built-in camera: held-out handwritten digits moving over a background.

It needs no file, camera or network beyond the digits shipped in the model zoo, so
``edge run`` works out of the box and tests have a camera with known ground truth.
Everything is a pure function of (seed, frame index): ``truth(i)`` gives what frame
``i`` shows without rendering it, so a test can check a log written by another process.

The digits are the held-out split of the training recipe (models/zoo/digits-holdout.npz),
never seen in training, so agreement with the truth measures real accuracy.

Scene mode (``digit_count`` > 1, config ``digits``), for detectors: each frame shows that
many held-out digits at once, changing every ``hold_frames`` frames. The frame is cut
into a grid of cells (2x1 for two digits, 2x2 for three or four) and each digit sits at
a random place inside its own cell, so digits never overlap; tiles are 30-50 % of the
frame height (22-36 px once a 320x240 frame is letterboxed to the detector's 96x96,
within the 20-40 px tiles it was trained on).
``truth(i)`` then returns a ``SceneTruth`` listing every digit's label and ink box. The
single-digit mode (the default) is unchanged.

Moving mode (``movers``), for zone, line and tracker tests: each ``Mover`` is one digit
gliding back and forth between two points at a set speed (optionally jittering, or
hidden on chosen frames to make it flicker); ``truth(i)`` lists the visible ones.

Hung camera (``freeze_after``, config ``[source] freeze_after = N``), for the watchdog
tests: after N frames the iterator blocks until ``close()``, delivering nothing and
reporting no activity, the way a camera read that never returns looks to the loop.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge.errors import SourceError
from edge.model.zoo import HOLDOUT_DIGITS, zoo_file
from edge.types import Frame, Image

MAX_SCENE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class DigitTruth:
    """What a synthetic frame shows: the digit's label and its box, normalised 0..1."""

    label: int
    box: tuple[float, float, float, float]
    digit_index: int


@dataclass(frozen=True, slots=True)
class SceneTruth:
    """What a multi-digit frame shows: every digit, in drawing order."""

    digits: tuple[DigitTruth, ...]

    @property
    def labels(self) -> list[int]:
        return [d.label for d in self.digits]

    @property
    def boxes(self) -> list[tuple[float, float, float, float]]:
        return [d.box for d in self.digits]


@dataclass(frozen=True, slots=True)
class Mover:
    """A digit moving to and fro along a straight path: its tile's top-left corner goes
    from ``start`` to ``end`` (normalised) in ``period`` frames, then back. ``jitter``
    adds a seeded random offset (normalised, +/-) per frame; on ``hidden`` frames it is
    not drawn. ``digit`` picks a held-out digit (index into the camera's digit order)."""

    start: tuple[float, float]
    end: tuple[float, float]
    period: int = 60
    size: float = 0.35
    jitter: float = 0.0
    hidden: frozenset[int] = frozenset()
    digit: int = 0

    def corner(self, frame: int, seed: int) -> tuple[float, float]:
        phase = frame % (2 * self.period)
        t = phase / self.period if phase <= self.period else 2 - phase / self.period
        x = self.start[0] + t * (self.end[0] - self.start[0])
        y = self.start[1] + t * (self.end[1] - self.start[1])
        if self.jitter:
            dx, dy = np.random.default_rng((seed, frame, self.digit)).uniform(-1, 1, 2)
            x, y = x + float(dx) * self.jitter, y + float(dy) * self.jitter
        return x, y


def load_digits(path: Path | None = None) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    path = path or zoo_file(HOLDOUT_DIGITS)
    try:
        with np.load(path) as data:
            images, labels = np.asarray(data["x"], np.uint8), np.asarray(data["y"], np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise SourceError(
            f"cannot read the synthetic camera's digits from {str(path)!r}: {exc}",
            hint="the file must be an .npz with x (N, 28, 28) uint8 and y (N,) labels",
        ) from exc
    if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
        raise SourceError(f"{path}: expected x (N, H, W) and y (N,), got {images.shape}")
    return images, labels


class SyntheticCamera:
    """A live source paced at ``fps``; also usable unpaced (``fps=None``) in tests, and
    on demand (``on_demand``): not live, one frame each time the reader asks, none dropped,
    like a video file."""

    def __init__(
        self,
        *,
        width: int = 320,
        height: int = 240,
        fps: float | None = 30.0,
        seed: int = 0,
        hold_frames: int = 15,
        digit_scale: float = 0.9,
        digits: tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]] | None = None,
        digit_count: int = 1,
        freeze_after: int | None = None,
        on_demand: bool = False,
        movers: tuple[Mover, ...] = (),
    ) -> None:
        if not 1 <= digit_count <= MAX_SCENE_DIGITS:
            raise SourceError(
                f"the synthetic camera draws 1..{MAX_SCENE_DIGITS} digits per "
                f"frame, not {digit_count}"
            )
        self.digit_count = digit_count
        self.movers = movers
        self.name = "synthetic"
        self.live = not on_demand
        self.width, self.height = width, height
        self.fps = None if on_demand else fps
        self.seed, self.hold_frames, self.digit_scale = seed, hold_frames, digit_scale
        self._images, self._labels = digits if digits is not None else load_digits()
        order_rng = np.random.default_rng(seed)
        self._order = order_rng.permutation(len(self._images))
        self._background = _background(width, height, seed)
        self.freeze_after = freeze_after
        self._closed = threading.Event()

    def digit_index(self, frame: int) -> int:
        slot = frame // self.hold_frames
        return int(self._order[slot % len(self._order)])

    def truth(self, frame: int) -> DigitTruth | SceneTruth:
        """``DigitTruth`` in single-digit mode, ``SceneTruth`` with ``digit_count`` > 1
        or ``movers``."""
        if self.digit_count > 1 or self.movers:
            return SceneTruth(
                tuple(self._truth(index, x, y, size) for index, (x, y, size) in self._scene(frame))
            )
        return self._truth(self.digit_index(frame), *self._placement(frame))

    def render(self, frame: int) -> Image:
        image = self._background.copy()
        noise_rng = np.random.default_rng((self.seed, frame))
        noise = noise_rng.integers(0, 12, size=image.shape[:2], dtype=np.uint8)
        image = np.asarray(cv2.add(image, cv2.merge([noise, noise, noise])), np.uint8)
        if self.digit_count > 1 or self.movers:
            tiles = self._scene(frame)
        else:
            tiles = [(self.digit_index(frame), self._placement(frame))]
        for index, (x, y, size) in tiles:
            digit = cv2.resize(self._images[index], (size, size), interpolation=cv2.INTER_LINEAR)
            _paste_max(image, digit, x, y)
        return image

    def _truth(self, index: int, x: int, y: int, size: int) -> DigitTruth:
        rows, cols = np.nonzero(self._images[index])
        tile = self._images[index].shape[0]
        if len(rows) == 0:
            box = (
                x / self.width,
                y / self.height,
                (x + size) / self.width,
                (y + size) / self.height,
            )
        else:
            k = size / tile
            box = (
                max(0.0, (x + cols.min() * k) / self.width),
                max(0.0, (y + rows.min() * k) / self.height),
                min(1.0, (x + (cols.max() + 1) * k) / self.width),
                min(1.0, (y + (rows.max() + 1) * k) / self.height),
            )
        return DigitTruth(int(self._labels[index]), box, index)

    def _scene(self, frame: int) -> list[tuple[int, tuple[int, int, int]]]:
        """Scene mode: (digit index, (x, y, size)) of each digit, one grid cell each;
        moving mode: of each visible mover."""
        if self.movers:
            return self._moving(frame)
        slot = frame // self.hold_frames
        rng = np.random.default_rng((self.seed, slot, self.digit_count))
        cols, rows = (2, 1) if self.digit_count == 2 else (2, 2)
        cells = rng.permutation(cols * rows)[: self.digit_count]
        cell_w, cell_h = self.width // cols, self.height // rows
        tiles = []
        for j, cell in enumerate(cells):
            index = int(self._order[(slot * self.digit_count + j) % len(self._order)])
            size = min(round(self.height * rng.uniform(0.3, 0.5)), cell_w, cell_h)
            x = (int(cell) % cols) * cell_w + int(rng.integers(0, cell_w - size + 1))
            y = (int(cell) // cols) * cell_h + int(rng.integers(0, cell_h - size + 1))
            tiles.append((index, (x, y, size)))
        return tiles

    def _moving(self, frame: int) -> list[tuple[int, tuple[int, int, int]]]:
        tiles = []
        for mover in self.movers:
            if frame in mover.hidden:
                continue
            x, y = mover.corner(frame, self.seed)
            index = int(self._order[mover.digit % len(self._order)])
            size = round(self.height * mover.size)
            tiles.append((index, (round(x * self.width), round(y * self.height), size)))
        return tiles

    def __iter__(self) -> Iterator[Frame]:
        start = time.monotonic()
        frame = 0
        while not self._closed.is_set():
            if self.freeze_after is not None and frame >= self.freeze_after:
                self._closed.wait()  # a hung read: no frame, no error, until closed
                return
            if self.fps:
                delay = start + frame / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -1.0 / self.fps:
                    # Behind by more than a frame (a slow start, a loaded machine): a camera
                    # never delivers the frames it missed in a burst afterwards, and such a
                    # burst showed as 60-177 fps from a 30 fps camera. Resume from now.
                    start = time.monotonic() - frame / self.fps
            yield Frame(self.render(frame), frame, time.time(), self.name, self.truth(frame))
            frame += 1

    def close(self) -> None:
        self._closed.set()

    def _placement(self, frame: int) -> tuple[int, int, int]:
        """Top-left corner and size of the digit tile: a slow Lissajous drift about the centre."""
        size = max(8, round(self.height * self.digit_scale))
        amplitude = 0.08 * self.height
        t = frame / 30.0
        cx = self.width / 2 + amplitude * math.sin(2 * math.pi * t / 3.7 + self.seed)
        cy = self.height / 2 + amplitude * math.sin(2 * math.pi * t / 2.9 + 1.3 * self.seed)
        return round(cx - size / 2), round(cy - size / 2), size


def _background(width: int, height: int, seed: int) -> Image:
    """A dark, slightly coloured gradient with blotches: a desk, not a black void."""
    rng = np.random.default_rng(seed + 7919)
    gx = np.linspace(0, 1, width, dtype=np.float32)[np.newaxis, :]
    gy = np.linspace(0, 1, height, dtype=np.float32)[:, np.newaxis]
    base = 8 + 18 * (0.6 * gx + 0.4 * gy)
    blotches = cv2.GaussianBlur(rng.random((height, width), dtype=np.float32), (0, 0), 9) * 20
    channels = [base + blotches * w for w in (0.8, 1.0, 1.2)]
    background: Image = np.clip(np.stack(channels, axis=2), 0, 255).astype(np.uint8)
    return background


def _paste_max(image: Image, tile: npt.NDArray[np.uint8], x: int, y: int) -> None:
    """Draw a white-on-black tile with max(), clipped to the frame."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + tile.shape[1]), min(h, y + tile.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    part = np.ascontiguousarray(tile[y0 - y : y1 - y, x0 - x : x1 - x])
    region = image[y0:y1, x0:x1]
    # OpenCV's max writes into the view in place; numpy's broadcast (h, w, 1) against
    # (h, w, 3) took 0.5 ms a frame, most of the camera's rendering time.
    cv2.max(region, cv2.cvtColor(part, cv2.COLOR_GRAY2BGR), dst=region)
