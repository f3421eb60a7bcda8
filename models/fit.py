"""The epoch loop the classifiers share: fresh augmentation each epoch, validation logged.

Each epoch trains on a new random variant of every training digit (``models.augment``,
drawn from ``rng``), so the model never sees the same image twice; validation accuracy
is printed after each epoch. Determinism is the caller's: seed Keras and enable op
determinism before building the model, and pass a seeded ``rng``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

from models.augment import Augmentation


def train_epochs(
    model: Any,
    name: str,
    *,
    x_train: npt.NDArray[np.uint8],
    targets: npt.NDArray[Any],
    x_val: npt.NDArray[np.uint8],
    y_val: npt.NDArray[np.int64],
    rng: np.random.Generator,
    epochs: int,
    batch: int,
) -> Any:
    """Fit ``model`` (compiled) for ``epochs``; returns it."""
    augment = Augmentation()
    print(
        f"{name}: training on {len(x_train)} digits for {epochs} epochs (batch {batch})", flush=True
    )
    start = time.monotonic()
    for epoch in range(1, epochs + 1):
        x_epoch = _inputs(augment(x_train, rng))
        history = model.fit(x_epoch, targets, batch_size=batch, epochs=1, verbose=0)
        predicted = model.predict(_inputs(x_val), batch_size=250, verbose=0).argmax(axis=1)
        print(
            f"  epoch {epoch:2d}/{epochs}  loss {history.history['loss'][0]:.4f}  "
            f"train acc {history.history['accuracy'][0]:.4f}  "
            f"val acc {float((predicted == y_val).mean()):.4f}  "
            f"{time.monotonic() - start:5.1f} s",
            flush=True,
        )
    print(f"{name}: trained in {time.monotonic() - start:.1f} s", flush=True)
    return model


def _inputs(x: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """uint8 (N, 28, 28) digits -> float32 (N, 28, 28, 1) raw pixels, what the models take."""
    return x[..., np.newaxis].astype(np.float32)
