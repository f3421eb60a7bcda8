"""The seed article's DCGAN, sized for 28x28x1 digits, plus an f-AnoGAN encoder.

Three networks and one composite:

- ``build_generator``: latent ``z`` (``LATENT_DIM`` = 64, standard normal) -> Dense
  7*7*128 -> BN -> LeakyReLU -> reshape -> Conv2DTranspose 4x4 stride 2 (14x14x64) -> BN
  -> LeakyReLU -> Conv2DTranspose 4x4 stride 2 (28x28x1, tanh): images in [-1, 1]
  (pixel / 127.5 - 1). The article's extra stride-1 7x7 layer and its 5x5 kernels are
  left out: 2 shared CPU cores train this size in a few minutes, the larger one not.
- ``build_discriminator``: image in [-1, 1] -> Conv2D 4x4 stride 2 (32) -> LeakyReLU ->
  Dropout -> Conv2D stride 2 (64) -> LeakyReLU -> Dropout -> Dense(1) LOGIT (training
  uses a logit loss for numerical stability; the sigmoid is not part of the graph).
- ``build_encoder``: image in [-1, 1] -> Conv2D stride 2 (32) -> LeakyReLU -> Conv2D
  stride 2 (64) -> LeakyReLU -> Dense(``LATENT_DIM``), linear because the prior of z is
  an unbounded normal. Trained AFTER the GAN with G frozen to minimise
  ``mean((x - G(E(x)))^2)`` (f-AnoGAN "izi").
- ``build_anomaly_model``: what the device runs. Input RAW pixels ``(28, 28, 1)``
  0..255 (``Rescaling(1/127.5, offset=-1)`` inside, as for every shipped model, so the
  int8 input is a pixel minus 128 exactly), then the per-image score computed in the
  graph, output ``anomaly_score`` of shape ``(1,)``. The device reads one number per
  frame. The score has two parts, one learned and one DESIGNED (not trained):

  ``score = mean((x - G(E(x)))^2) + weight * relu(floor - ink(x))``

  The reconstruction error (learned) flags noise, bright blank frames and many shapes,
  but a frame with nothing in it (a covered lens, an empty background) is reconstructed
  almost perfectly and scores LOWER than a digit. ``ink(x)`` covers that blind spot: the
  share of pixels clearly brighter than their 5x5 neighbourhood,
  ``mean(sigmoid(INK_STEEPNESS * (x - avgpool5(x) - INK_CONTRAST)))`` with ``x`` in
  [-1, 1] (a pixel at least ~51 grey levels above its local mean counts as 1): every
  digit has strokes, a uniform frame (dark, bright or a faint gradient with noise) has
  none. ``floor`` and ``weight`` are set by the recipe from the TRAINING digits only
  (``models.train_gan.emptiness_term``): ``floor`` a low percentile of their ink,
  ``weight`` such that a frame with no ink at all scores a fixed multiple of the
  training digits' high reconstruction-error percentile. Built only from AVERAGE_POOL_2D,
  SUB, MUL, ADD, LOGISTIC, MEAN and RELU: all int8 kernels, no custom op.

Why reconstruction error and not the discriminator (measured, toolchain notes §3): the
discriminator alone rates a blank frame as MORE real than a normal one, while the
encoder+generator residual flags noise and bright blank frames and survives int8; it
misses dark blank frames (ROC-AUC 0.09 against digits: they score BELOW digits), hence
the emptiness term. Every layer has an int8 kernel: FULLY_CONNECTED, TRANSPOSE_CONV,
CONV_2D, LEAKY_RELU, TANH, SUB, MUL, MEAN, plus the ink branch's AVERAGE_POOL_2D,
LOGISTIC, RELU and ADD (the converter reports no float op). Dynamic-range quantization is
avoided: hybrid TRANSPOSE_CONV is about 10x slower than float.
"""

from __future__ import annotations

from typing import Any

import keras

LATENT_DIM = 64
IMAGE_SHAPE = (28, 28, 1)
SCORE_NAME = "anomaly_score"
_SLOPE = 0.2
# ink(x): a pixel counts as a stroke when it is INK_CONTRAST (in [-1, 1] units: 0.4 is
# ~51 grey levels) above the mean of its INK_WINDOW x INK_WINDOW neighbourhood; the
# sigmoid's steepness makes the count nearly binary (0.1 above -> 0.88, 0.1 below -> 0.12)
# while staying an int8 LOGISTIC op. The camera background's noise (std <= 10 levels)
# stays far below the contrast, a digit's strokes far above it.
INK_WINDOW = 5
INK_CONTRAST = 0.4
INK_STEEPNESS = 20.0


def build_generator(latent_dim: int = LATENT_DIM) -> Any:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((latent_dim,), name="latent"),
            layers.Dense(7 * 7 * 128, use_bias=False, name="project"),
            layers.BatchNormalization(name="project_bn"),
            layers.LeakyReLU(_SLOPE, name="project_act"),
            layers.Reshape((7, 7, 128), name="to_map"),
            layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False, name="up14"),
            layers.BatchNormalization(name="up14_bn"),
            layers.LeakyReLU(_SLOPE, name="up14_act"),
            layers.Conv2DTranspose(
                1, 4, strides=2, padding="same", activation="tanh", name="image"
            ),
        ],
        name="generator",
    )


def build_discriminator() -> Any:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE, name="image"),
            layers.Conv2D(32, 4, strides=2, padding="same", name="down14"),
            layers.LeakyReLU(_SLOPE, name="down14_act"),
            layers.Dropout(0.3, name="down14_drop"),
            layers.Conv2D(64, 4, strides=2, padding="same", name="down7"),
            layers.LeakyReLU(_SLOPE, name="down7_act"),
            layers.Dropout(0.3, name="down7_drop"),
            layers.Flatten(name="flatten"),
            layers.Dense(1, name="logit"),
        ],
        name="discriminator",
    )


def build_encoder(latent_dim: int = LATENT_DIM) -> Any:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE, name="image"),
            layers.Conv2D(32, 4, strides=2, padding="same", name="down14"),
            layers.LeakyReLU(_SLOPE, name="down14_act"),
            layers.Conv2D(64, 4, strides=2, padding="same", name="down7"),
            layers.LeakyReLU(_SLOPE, name="down7_act"),
            layers.Flatten(name="flatten"),
            layers.Dense(latent_dim, name="latent"),
        ],
        name="encoder",
    )


def ink(x: Any) -> Any:
    """``x`` in [-1, 1], (N, 28, 28, 1) -> (N, 1): the share of stroke-like pixels."""
    layers = keras.layers
    local_mean = layers.AveragePooling2D(
        INK_WINDOW, strides=1, padding="same", name="ink_local_mean"
    )(x)
    contrast = layers.Subtract(name="ink_contrast")([x, local_mean])
    steep = layers.Rescaling(INK_STEEPNESS, offset=-INK_STEEPNESS * INK_CONTRAST, name="ink_steep")(
        contrast
    )
    stroke = layers.Activation("sigmoid", name="ink_stroke")(steep)
    return layers.GlobalAveragePooling2D(name="ink")(stroke)


def reconstruction_error(x: Any, encoder: Any, generator: Any) -> Any:
    """``x`` in [-1, 1] -> (N, 1): mean((x - G(E(x)))^2), the f-AnoGAN "izi" score."""
    layers = keras.layers
    rebuilt = generator(encoder(x))
    residual = layers.Subtract(name="residual")([x, rebuilt])
    squared = layers.Multiply(name="squared")([residual, residual])
    # Mean over height, width and the single channel: (N, 1), one score per image.
    return layers.GlobalAveragePooling2D(name="reconstruction_error")(squared)


def build_parts_model(encoder: Any, generator: Any) -> Any:
    """Raw pixels -> ``[reconstruction_error, ink]``: what the recipe measures on the
    training digits to set the emptiness term (not shipped)."""
    pixels = keras.Input(IMAGE_SHAPE, name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_unit")(pixels)
    return keras.Model(
        pixels, [reconstruction_error(x, encoder, generator), ink(x)], name="digits_anomaly_parts"
    )


def build_anomaly_model(
    encoder: Any, generator: Any, *, ink_floor: float, ink_weight: float
) -> Any:
    """Raw pixels -> ``anomaly_score`` = mean((x - G(E(x)))^2)
    + ink_weight * relu(ink_floor - ink(x)), x scaled to [-1, 1]."""
    layers = keras.layers
    pixels = keras.Input(IMAGE_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_unit")(pixels)
    error = reconstruction_error(x, encoder, generator)
    # weight * (floor - ink), then relu: zero for any frame with at least floor ink.
    missing = layers.Rescaling(-ink_weight, offset=ink_weight * ink_floor, name="missing_ink")(
        ink(x)
    )
    emptiness = layers.ReLU(name="emptiness")(missing)
    score = layers.Add(name=SCORE_NAME)([error, emptiness])
    return keras.Model(pixels, score, name="digits_anomaly")
