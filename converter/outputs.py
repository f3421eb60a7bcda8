"""``edge convert`` never writes over one of its own inputs.

``--out model.keras`` would replace the Keras model with TFLite bytes and ``--report
calib.npz`` the calibration set with JSON, both silently. Every path the conversion may
write (the model, its report and the report's picture, for every mode the ladder may
choose) is compared with every file it reads (the model, calibration and evaluation data,
the labels, a ``--custom-objects`` file) by the file it names, so ``./m.keras``,
``m.keras`` and a symlink to it are the same file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from edge.errors import UsageError


def check_output_paths(*, inputs: Iterable[Path | None],
                       outputs: Iterable[tuple[str, Path]]) -> None:
    """``outputs`` are ``(role, path)``: the same path may recur in one role (``--out``
    for every mode of the ladder), never in two (the model and its report)."""
    read = [(path, _identity(path)) for path in inputs if path is not None]
    written: dict[Path, tuple[str, Path]] = {}
    for role, path in outputs:
        identity = _identity(path)
        for source, source_identity in read:
            if identity == source_identity:
                raise UsageError(
                    f"{str(path)!r} is one of the conversion's inputs ({str(source)!r}); "
                    "writing there would destroy it",
                    hint="choose another --out / --report path",
                )
        other = written.get(identity)
        if other is not None and other[0] != role:
            raise UsageError(f"the {role} {str(path)!r} and the {other[0]} {str(other[1])!r} "
                             "are the same file", hint="give --out and --report different paths")
        written[identity] = (role, path)


def _identity(path: Path) -> Path:
    """The file a path names: symlinks and ``..`` resolved, relative to the cwd."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
