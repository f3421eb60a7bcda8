"""Where the shipped models live, found without importing the ``models`` package.

The wheel installs ``models/zoo/`` next to ``edge/``. ``importlib.util.find_spec`` locates
a top-level package without running its ``__init__``, so ``edge`` keeps its rule of
never importing ``models`` (which would be harmless today, but the training code there
imports TensorFlow).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edge.errors import ModelError

DEFAULT_MODEL = "digits-cnn.int8.tflite"
HOLDOUT_DIGITS = "digits-holdout.npz"


def zoo_dir() -> Path:
    spec = importlib.util.find_spec("models")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "zoo"
        if candidate.is_dir():
            return candidate
    raise ModelError(
        "the shipped model zoo (models/zoo) is not installed",
        hint="reinstall the package (`pip install edge-infer`), or pass --model PATH",
    )


def zoo_file(name: str) -> Path:
    path = zoo_dir() / name
    if not path.exists():
        raise ModelError(
            f"the shipped file {name!r} is missing from {zoo_dir()}",
            hint="reinstall the package, or rebuild the zoo with `python -m models.train`",
        )
    return path


def shipped_model_named(path: Path) -> Path | None:
    """The shipped model a missing ``path`` probably means (``digits-detector``,
    ``digits-detector.tflite``), or None: the hint of a "does not exist" error."""
    stem = path.name.removesuffix(".tflite").removesuffix(".int8")
    try:
        shipped = zoo_dir() / f"{stem}.int8.tflite"
    except ModelError:
        return None
    return shipped if shipped.exists() else None
