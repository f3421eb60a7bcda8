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


@dataclass(frozen=True)
class DigitDistortion:
    """A random change of a digit's SHAPE, as another hand would write it: a rotation,
    a shear, a change of aspect and a thinner or thicker stroke.

    The detector's training scenes use it: 3,500 training digits are few for a model
    that must name every digit of a 4-digit frame right, and its classification errors,
    not its boxes, were what kept whole frames from being right (a digit misnamed in
    one frame in 25). The warp turns about the tile's centre; MNIST digits sit in its
    central 20x20, and about 5 % of warped digits (1.4 % of unwarped ones) reach the
    tile's edge, a stroke end clipped. The scene measures its ink box on the warped
    digit, so the box stays right either way.
    """

    max_rotation: float = 12.0  # degrees
    max_shear: float = 0.2
    aspect_range: tuple[float, float] = (0.8, 1.1)  # width scale; height stays
    thicken: float = 0.2  # chance of a 2x2 dilation
    thin: float = 0.15  # chance of a 2x2 erosion (kept only if ink survives)

    def __call__(self, digit: Images, rng: np.random.Generator) -> Images:
        h, w = digit.shape
        angle = np.deg2rad(rng.uniform(-self.max_rotation, self.max_rotation))
        shear = rng.uniform(-self.max_shear, self.max_shear)
        aspect = rng.uniform(*self.aspect_range)
        cos, sin = np.cos(angle), np.sin(angle)
        linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[aspect, shear], [0.0, 1.0]])
        centre = np.array([w / 2.0, h / 2.0])
        matrix = np.hstack([linear, (centre - linear @ centre)[:, np.newaxis]])
        warped = np.asarray(cv2.warpAffine(digit, matrix, (w, h), flags=cv2.INTER_LINEAR), np.uint8)
        stroke = rng.random()
        kernel = np.ones((2, 2), np.uint8)
        if stroke < self.thicken:
            warped = np.asarray(cv2.dilate(warped, kernel), np.uint8)
        elif stroke < self.thicken + self.thin:
            thinner = np.asarray(cv2.erode(warped, kernel), np.uint8)
            if np.count_nonzero(thinner > 64) >= 20:
                warped = thinner
        return warped
