"""Labels files (one label per line, in class-index order) and the check that a
classifier's labels fit its output.
"""

from __future__ import annotations

from pathlib import Path

from edge.bounded import MAX_LABELS_BYTES, read_limited
from edge.errors import ConfigError
from edge.model.backends.base import Backend
from edge.model.manifest import (
    Manifest,
)


def read_labels(path: Path) -> list[str]:
    """One label per line, in class-index order; used by ``edge run`` and ``edge convert``
    alike so a labels file means the same on the workstation and the device."""
    try:
        raw = read_limited(path, what="labels file", limit=MAX_LABELS_BYTES)
        lines = raw.decode("utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(
            f"labels file {str(path)!r} does not exist",
            hint="give a text file with one label per line, in class-index order",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read labels file {str(path)!r}: {exc}") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ConfigError(
            f"labels file {str(path)!r} is empty",
            hint="write one label per line, in class-index order",
        )
    return [line.strip() for line in lines]


def _check_labels(manifest: Manifest, backend: Backend, path: Path) -> None:
    if manifest.task != "classify" or not manifest.labels or len(backend.outputs) != 1:
        return
    classes = backend.outputs[0].shape[-1]
    classes = 2 if classes == 1 else classes  # one sigmoid value: a binary classifier
    if classes != len(manifest.labels):
        raise ConfigError(
            f"{path} has {classes} classes but {len(manifest.labels)} labels were given",
            hint="the labels file needs one line per class, in class-index order",
        )
