"""Where ``edge convert`` writes, and how: never over one of its inputs, and all or nothing.

Paths (``check_output_paths``): ``--out model.keras`` would replace the Keras model with
TFLite bytes and ``--report calib.npz`` the calibration set with JSON, both silently.
Every path the conversion may write (the model, its report and the report's picture, for
every mode the ladder may choose) is compared with every file it reads (the model,
calibration and evaluation data, the labels, a ``--custom-objects`` file) by the file it
names, so ``./m.keras``, ``m.keras`` and a symlink to it are the same file.

Writing (``StagedOutputs``): each output is first written to a temporary file in its
target's folder (``.<stem>.<pid>.partial<suffix>``: the suffix is kept because matplotlib
picks the picture's format from it) and synced; only when every one is complete are they
renamed into place, one after the other, at the very end. A failure before that (the
picture raising, a full disk or a file-size limit while writing the report, the process
killed) leaves the temporaries only, which are removed (by this process, or by the parent
of a killed conversion process, ``remove_partials``), so existing files are untouched. A
rename that fails puts back the files already replaced (each existing target is
hard-linked to ``.<name>.<pid>.previous`` first). What is not covered: a kill in the
microseconds between two renames leaves the new model beside the old report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from edge.errors import ConversionError, UsageError


def check_output_paths(
    *, inputs: Iterable[Path | None], outputs: Iterable[tuple[str, Path]]
) -> None:
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
            raise UsageError(
                f"the {role} {str(path)!r} and the {other[0]} {str(other[1])!r} are the same file",
                hint="give --out and --report different paths",
            )
        written[identity] = (role, path)


def _identity(path: Path) -> Path:
    """The file a path names: symlinks and ``..`` resolved, relative to the cwd."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def partial_path(target: Path, pid: int) -> Path:
    """The temporary file process ``pid`` writes ``target`` to."""
    return target.with_name(f".{target.stem}.{pid}.partial{target.suffix}")


def _previous_path(target: Path, pid: int) -> Path:
    return target.with_name(f".{target.name}.{pid}.previous")


def remove_partials(targets: Iterable[Path], pid: int) -> None:
    """Undo what process ``pid`` left while staging ``targets`` (it was killed): its
    temporary files go, and a target it had already replaced during ``commit`` gets its
    previous version back, so every target is the old file again, never a mix."""
    for target in targets:
        with contextlib.suppress(OSError):
            partial_path(target, pid).unlink()
        previous = _previous_path(target, pid)
        with contextlib.suppress(OSError):
            if previous.is_file():
                os.replace(previous, target)


def remove_stale(targets: Iterable[Path]) -> None:
    """Remove what an earlier run left at this run's output paths (nothing is written):
    a refused conversion must not leave an older model that passes for its result."""
    for target in targets:
        with contextlib.suppress(FileNotFoundError):
            target.unlink()


class StagedOutputs:
    """Outputs written beside their targets and renamed into place together by ``commit``.

    Use as a context manager: leaving the block without ``commit`` (an exception) removes
    every temporary file and touches no target.
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._staged: dict[Path, Path] = {}  # target -> its temporary file

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.discard()

    def path_for(self, target: Path) -> Path:
        """The temporary file to write ``target`` to (its folder is created)."""
        _make_folder(target)
        partial = partial_path(target, self._pid)
        # A name someone could guess: whatever sits there (a symlink planted in a shared
        # folder, a leftover) goes first, and write() creates the file anew.
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        self._staged[target] = partial
        return partial

    def write(self, target: Path, content: bytes) -> None:
        """Write ``content`` for ``target`` to its temporary file, synced to storage."""
        partial = self.path_for(target)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(partial, flags, 0o644), "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise ConversionError(
                f"cannot write {str(target)!r}: {exc.strerror or exc}; nothing was written",
                hint="check that the folder is writable and the disk has room, or choose "
                "another --out/--report",
            ) from exc

    def commit(self) -> None:
        """Rename every staged file into place; on a failure put back what was replaced."""
        for target, partial in self._staged.items():
            if not partial.is_file():
                raise ConversionError(f"{str(target)!r} was not produced; nothing was written")
        done: list[tuple[Path, Path | None]] = []  # (target, its previous version)
        kept: list[Path] = []
        try:
            for target, partial in self._staged.items():
                previous = self._keep_previous(target)
                kept += [previous] if previous is not None else []
                os.replace(partial, target)
                done.append((target, previous))
        except OSError as exc:
            self._put_back(done)
            raise ConversionError(
                f"cannot move the finished {str(target)!r} into place: "
                f"{exc.strerror or exc}; nothing was changed",
                hint="check that the folder is writable and the path is not a folder, or "
                "choose another --out/--report",
            ) from exc
        finally:
            for previous in kept:  # put back already, or no longer needed
                with contextlib.suppress(OSError):
                    previous.unlink()
        for folder in {target.parent for target in self._staged}:
            _sync_folder(folder)
        self._staged.clear()

    def discard(self) -> None:
        for partial in self._staged.values():
            with contextlib.suppress(OSError):
                partial.unlink()
        self._staged.clear()

    def _keep_previous(self, target: Path) -> Path | None:
        if not target.is_file():
            return None
        previous = _previous_path(target, self._pid)
        with contextlib.suppress(FileNotFoundError):
            previous.unlink()
        try:
            os.link(target, previous)  # a second name, not a copy: the file is not touched
        except OSError:  # a file system without hard links (FAT on a card or stick)
            shutil.copy2(target, previous)
        return previous

    @staticmethod
    def _put_back(replaced: list[tuple[Path, Path | None]]) -> None:
        for target, previous in reversed(replaced):
            with contextlib.suppress(OSError):
                if previous is not None:
                    os.replace(previous, target)
                else:
                    target.unlink()


def _make_folder(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConversionError(
            f"cannot create the folder {str(path.parent)!r}: {exc.strerror}",
            hint="check that the folder is writable, or choose another --out/--report",
        ) from exc


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (a power cut after success keeps the new files)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
