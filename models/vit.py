"""The seed article's Vision Transformer, shrunk to 28x28x1 digits.

Layout: raw pixels 0..255 -> ``Rescaling(1/255)`` (inside the model, so the int8 input
gets scale 1.0 / zero point -128 and a camera pixel minus 128 is exact, as for the CNN)
-> ``PatchEmbedding`` (a 4x4 stride-4 convolution: 7x7 = 49 tokens of ``dim``, plus a
learned position embedding) -> ``depth`` pre-norm blocks of (LayerNormalization,
MultiHeadAttention, residual, LayerNormalization, Dense-GELU-Dense MLP, residual) ->
LayerNormalization -> global average pool over the tokens -> Dense softmax.

Defaults (dim 64, 4 heads of 16, MLP 128, 4 blocks) give about 138k parameters.

Choices made for the int8 converter (docs/int8-speed.md has the measurements):
- GELU is the tanh approximation (``Gelu(approximate=True)``): the exact form lowers
  to TensorFlow's ``Erf``, which has no TFLite builtin kernel.
- Keras ``LayerNormalization`` is kept as is in the model; ``converter.rewrite`` swaps it
  for the subtract-mean form before conversion (its NEG op would stay float in int8).
- Average pooling instead of a class token: no BROADCAST_TO / CONCATENATION ops.

Custom layers are registered under the package ``edge_models`` (the registry key stored
in ``.keras`` files is ``edge_models>PatchEmbedding``), so ``import models.vit`` before
``keras.saving.load_model`` is all a loader needs (``--custom-objects models.vit``).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

NAME = "digits_vit"
PACKAGE = "edge_models"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchEmbedding(keras.layers.Layer):  # type: ignore[misc]
    """Non-overlapping ``patch`` x ``patch`` patches -> ``dim`` vectors + position embedding.

    A convolution with kernel = stride = patch is the linear patch projection of the
    ViT paper in one op (CONV_2D in TFLite, which int8 runs fast).
    """

    def __init__(self, patch: int, dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch = patch
        self.dim = dim

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        _, height, width, channels = input_shape
        if height is None or width is None or channels is None:
            raise ValueError("PatchEmbedding needs a fixed input height, width and channels")
        if height % self.patch or width % self.patch:
            raise ValueError(f"input {height}x{width} is not a multiple of patch {self.patch}")
        self.tokens = (height // self.patch) * (width // self.patch)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.patch, self.patch, channels, self.dim),
            initializer="glorot_uniform",
        )
        self.bias = self.add_weight(name="bias", shape=(self.dim,), initializer="zeros")
        self.position = self.add_weight(
            name="position",
            shape=(self.tokens, self.dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, x: Any) -> Any:
        y = ops.conv(x, self.kernel, strides=self.patch, padding="valid") + self.bias
        return ops.reshape(y, (-1, self.tokens, self.dim)) + self.position

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        _, height, width, _ = input_shape
        assert height is not None and width is not None
        return (input_shape[0], (height // self.patch) * (width // self.patch), self.dim)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(patch=self.patch, dim=self.dim)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class Gelu(keras.layers.Layer):  # type: ignore[misc]
    """GELU as its own layer, so the approximation is explicit and saved in the file."""

    def __init__(self, approximate: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.approximate = approximate

    def call(self, x: Any) -> Any:
        return keras.activations.gelu(x, approximate=self.approximate)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(approximate=self.approximate)
        return config


def build_vit(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    num_classes: int = 10,
    *,
    patch: int = 4,
    dim: int = 64,
    depth: int = 4,
    heads: int = 4,
    mlp: int = 128,
    epsilon: float = 1e-6,
) -> Any:
    """The functional ViT described in the module docstring."""
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = PatchEmbedding(patch, dim, name="patches")(x)
    for i in range(depth):
        h = layers.LayerNormalization(epsilon=epsilon, name=f"block{i}_norm1")(x)
        h = layers.MultiHeadAttention(heads, dim // heads, name=f"block{i}_attention")(h, h)
        x = layers.Add(name=f"block{i}_residual1")([x, h])
        h = layers.LayerNormalization(epsilon=epsilon, name=f"block{i}_norm2")(x)
        h = layers.Dense(mlp, name=f"block{i}_mlp1")(h)
        h = Gelu(approximate=True, name=f"block{i}_gelu")(h)
        h = layers.Dense(dim, name=f"block{i}_mlp2")(h)
        x = layers.Add(name=f"block{i}_residual2")([x, h])
    x = layers.LayerNormalization(epsilon=epsilon, name="norm")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=NAME)
