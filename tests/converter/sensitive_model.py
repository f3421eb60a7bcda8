"""An int8-sensitive third-party classifier, built in the test session.

It stands for a Keras 2 classifier from elsewhere: saved as legacy HDF5, separable
convolutions with batch norm, then dense layers (a trunk, six parallel branches summed,
the head). Seven layers (the branches and the head) are broken for int8 by setting
weights, not by training: each has a row of huge weights (1000) on an input that is
always 0 (the previous layer's unit 15 is dead), so float is unchanged but one weight
scale per output covers 1000 and rounds every other weight to 0. int16x8 keeps int8
weights, so it breaks too; only keeping those layers in float repairs it.

No outcome of its tests rides on training noise (a previous version did, and failed on
another OpenCV and CPU): while a broken layer is quantized, the model's output no longer
depends on its input, so agreement falls to the share of one class (at most PER_CLASS of
the evaluation set's inputs have one class); with every broken layer in float, the rest
is int8, and the evaluation set holds only inputs the float model decides with a wide
margin (top-1 ahead of top-2 by MARGIN), which int8 rounding of the healthy layers cannot
flip. Checked with eleven training seeds (0..10): the same ladder every time.

Used by ``tests/converter/test_ladder_mixed.py`` and ``benchmarks/aeq_vs_tf.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

BRANCHES = 6  # fc1..fc6, each broken, as is the head; fc0 (the trunk) is healthy
PER_CLASS = 15
MARGIN = 0.5  # top-1 minus top-2 softmax score of the float model on an evaluation input


def build(folder: Path, *, seed: int = 0) -> Path:
    """Write ``sensitive.h5``, ``cal.npz`` (200 inputs) and ``eval.npz`` (inputs and the
    float model's decisions) into ``folder``; returns ``folder``."""
    from converter.quiet import import_tensorflow
    from models.data import split_digits

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    digits, y = split_digits().part("train")
    x = digits[::2, ::2, ::2, None].astype(np.float32) / 127.5 - 1  # 14x14, -1..1 as Keras 2 apps
    y = y[::2]
    inputs = keras.Input((14, 14, 1))
    h = inputs
    for i in (1, 2):
        h = keras.layers.SeparableConv2D(8, 3, padding="same", name=f"sep{i}")(h)
        h = keras.layers.BatchNormalization(name=f"bn{i}")(h)
        h = keras.layers.ReLU()(h)
        h = keras.layers.MaxPooling2D(2)(h)
    h = keras.layers.Flatten()(h)
    trunk = keras.layers.Dense(16, activation="relu", name="fc0")(h)
    # Six parallel dense branches, summed: each broken one reads the healthy trunk, so its
    # int8 error shows at its own output (a broken layer behind another broken layer
    # would see a flattened input and rank low, by chance).
    branches = [
        keras.layers.Dense(16, activation="relu", name=f"fc{i}")(trunk)
        for i in range(1, BRANCHES + 1)
    ]
    h = keras.layers.Add(name="sum")(branches)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="head")(h))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, batch_size=32, verbose=0)  # about 6 s
    for i in range(BRANCHES + 2):
        name = f"fc{i}" if i <= BRANCHES else "head"
        kernel, bias = model.get_layer(name).get_weights()
        if name != "head":
            kernel[:, 15], bias[15] = 0.0, -1.0  # unit 15 never fires (nor does their sum's)
        if i > 0:
            kernel[15, :] = 1000.0  # ...so these weights never matter in float
        model.get_layer(name).set_weights([kernel, bias])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save")
        model.save(folder / "sensitive.h5")
    pool = x[:1400]
    scores = model.predict(pool, verbose=0)
    decided = scores.argmax(axis=1)
    top2 = np.sort(scores, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > MARGIN
    picked = np.concatenate([np.flatnonzero(clear & (decided == c))[:PER_CLASS] for c in range(10)])
    # What makes the outcomes counting, not noise: many classes, none above PER_CLASS (a
    # constant output agrees on at most PER_CLASS / len(picked)), all decided clearly.
    assert len(picked) >= 4 * PER_CLASS, np.bincount(decided[picked], minlength=10)
    np.savez(folder / "cal.npz", x=x[1400:1600])  # ranges from 200 inputs, as the zoo's
    np.savez(folder / "eval.npz", x=pool[picked], y=decided[picked])  # the float decisions
    return folder
