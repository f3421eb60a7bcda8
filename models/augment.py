"""Training-time augmentation that mimics what the device's synthetic camera shows.

The camera draws a held-out digit, shifted and scaled a little, white on a faint dark
background that is noisy or has a gradient, and the device resizes the frame to 28x28.
A model trained only on clean, centred MNIST loses accuracy on that, so each training
epoch sees fresh random variants of:

- a shift of up to ``max_shift`` pixels and a scale of ``scale_range`` about the centre;
- a background (a linear gradient plus Gaussian noise, at most ``max_background``) that
  lies UNDER the digit: ``max(background, digit)``, as light adds on a screen;
- a clean black background for ``clean_fraction`` of the images, so clean digits
  (the held-out evaluation) stay in the training distribution.

Everything is driven by one ``numpy.random.Generator``, so a seed reproduces an epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Images = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Augmentation:
    max_shift: float = 3.0
    scale_range: tuple[float, float] = (0.85, 1.15)
    max_background: int = 40
    clean_fraction: float = 0.25

    def __call__(self, x: Images, rng: np.random.Generator) -> Images:
        """Return augmented copies of ``x`` (uint8, ``(N, H, W)``)."""
        out = np.empty_like(x)
        for i, image in enumerate(x):
            digit = self.warp(image, rng)
            if rng.random() < self.clean_fraction:
                out[i] = digit
            else:
                out[i] = np.maximum(self.background(image.shape, rng), digit)
        return out

    def warp(self, image: Images, rng: np.random.Generator) -> Images:
        h, w = image.shape
        scale = rng.uniform(*self.scale_range)
        dx, dy = rng.uniform(-self.max_shift, self.max_shift, size=2)
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), 0.0, scale)
        matrix[:, 2] += (dx, dy)
        warped = cv2.warpAffine(
            image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        result: Images = np.asarray(warped, np.uint8)
        return result

    def background(self, shape: tuple[int, ...], rng: np.random.Generator) -> Images:
        h, w = shape
        peak = rng.uniform(0.0, self.max_background)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = (xx * np.cos(angle) + yy * np.sin(angle)) / max(h, w)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        gradient = ramp * peak * rng.uniform(0.0, 1.0)
        noise = rng.normal(0.0, rng.uniform(0.0, self.max_background / 4.0), size=(h, w))
        level = rng.uniform(0.0, peak / 2.0) + gradient + noise
        background: Images = np.clip(level, 0, self.max_background).astype(np.uint8)
        return background
