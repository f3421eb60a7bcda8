"""Size-based rotation of a log file: ``log`` -> ``log.1`` -> ... -> ``log.<keep>``.

The newest rotated file is ``.1``; the oldest beyond ``keep`` is deleted. With
``compress`` a rotated file becomes ``log.1.gz`` (written to a temporary name and renamed,
so a crash or a full disk never leaves a half-written ``.gz`` in the set). Rotation never
raises: a rotation that fails (no space to compress, a read-only folder) is logged and
the caller goes on appending to the current file.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def rotated_name(path: Path, index: int, compress: bool) -> Path:
    return path.with_name(f"{path.name}.{index}" + (".gz" if compress else ""))


def rotate(path: Path, keep: int, compress: bool) -> bool:
    """Shift the rotated files up by one and move ``path`` to ``.1``; True when moved."""
    try:
        for index in range(keep, 0, -1):
            for gz in (False, True):
                older = rotated_name(path, index, gz)
                if not older.exists():
                    continue
                if index == keep:
                    older.unlink()
                else:
                    older.replace(rotated_name(path, index + 1, gz))
        if keep == 0:
            path.unlink()
            return True
        first = rotated_name(path, 1, False)
        path.replace(first)
    except OSError as exc:
        log.warning("could not rotate %s: %s; appending to it instead", path, exc)
        return False
    if compress:
        _compress(first)
    return True


def remove_partials(path: Path) -> None:
    """Delete ``.gz.partial`` files a crash left mid-compression (the plain file stays)."""
    for partial in path.parent.glob(f"{path.name}.*.gz.partial"):
        try:
            partial.unlink()
        except OSError as exc:
            log.warning("could not remove %s: %s", partial, exc)


def _compress(plain: Path) -> None:
    target = plain.with_name(plain.name + ".gz")
    partial = plain.with_name(plain.name + ".gz.partial")
    try:
        with plain.open("rb") as source, gzip.open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        os.replace(partial, target)
        plain.unlink()
    except OSError as exc:
        partial.unlink(missing_ok=True)
        log.warning("could not compress %s (%s); kept it uncompressed", plain, exc)
