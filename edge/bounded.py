"""Reading the files a user names (config, secret, model, labels) with limits.

A path in a config can name anything: ``/dev/zero`` never ends (read whole, it is a
``MemoryError`` after about 1 GB), a FIFO blocks the reader until someone writes to it
(``edge check-config`` hung), a text nested 5,000 brackets deep makes Python's TOML and
JSON parsers recurse into a ``RecursionError``. So a named file is opened without
blocking, refused unless it is a regular file, read up to a size limit that no real file
of its kind comes near, and its nesting is measured before it is parsed. Each refusal is
a ``ConfigError`` (exit 78) naming the file, the limit and the fix.

The limits (docs/configuration.md): config file 1 MiB, secret 64 KiB, labels file 4 MiB,
model file 1 GiB (the largest shipped model is under 1 MB; a Pi holds the model in RAM),
nesting 32 levels (a config needs 4, a manifest 5).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

KiB = 1024
MiB = 1024 * KiB
MAX_CONFIG_BYTES = 1 * MiB
MAX_SECRET_BYTES = 64 * KiB
MAX_LABELS_BYTES = 4 * MiB
MAX_MODEL_BYTES = 1024 * MiB
MAX_NESTING = 32

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(mode: int) -> str | None:
    """What a ``st_mode`` that is neither a regular file nor a folder is, else ``None``."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "not a file")


def read_limited(
    path: Path, *, what: str, limit: int, error: type[ConfigError] = ConfigError
) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``FileNotFoundError``, ``IsADirectoryError`` and other ``OSError`` pass through, so
    callers keep their own messages for those; a FIFO, a device or a socket and a file
    over ``limit`` are ``error`` (a ``ConfigError``), naming ``what`` and ``path``.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise error(
                f"{what} {str(path)!r} is {kind}, not a regular file",
                hint=f"point it at a regular file (a {what} is read whole, once)",
            )
        if info.st_size > limit:
            _too_large(path, what, limit, error)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:  # the file may grow while it is read
            chunk = os.read(fd, min(limit + 1 - total, 1 * MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            _too_large(path, what, limit, error)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _too_large(path: Path, what: str, limit: int, error: type[ConfigError]) -> None:
    raise error(
        f"{what} {str(path)!r} is larger than {_size(limit)}, the most a {what} may be",
        hint=f"check that {str(path)!r} is the {what} meant",
    )


def _size(count: int) -> str:
    for unit, size in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", KiB)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def check_nesting(text: str, *, what: str, limit: int = MAX_NESTING) -> None:
    """Refuse ``text`` (TOML or JSON) whose brackets nest deeper than ``limit``, before a
    recursive parser meets it. Brackets inside strings and comments do not count; a text
    this scanner misreads is one the parser refuses at that very character, before it
    goes deeper."""
    depth = deepest = 0
    i, end = 0, len(text)
    while i < end:
        char = text[i]
        if char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    _too_deep(what, limit)
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "#":
            newline = text.find("\n", i)
            i = end if newline < 0 else newline
        elif char in "\"'":
            i = _string_end(text, i)
            continue
        i += 1


def _string_end(text: str, start: int) -> int:
    """The index after the string that starts at ``start`` (basic or literal, one-line or
    multi-line); the end of the text if it is not closed."""
    quote = text[start]
    triple = text.startswith(quote * 3, start)
    closing = quote * 3 if triple else quote
    i = start + len(closing)
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text.startswith(closing, i):
            return i + len(closing)
        if not triple and text[i] == "\n":
            return i  # an unclosed one-line string: the parser refuses it here
        i += 1
    return len(text)


def check_depth(data: Any, *, what: str, limit: int = MAX_NESTING) -> None:
    """The same limit on parsed data (TOML's dotted keys and table headers nest without
    brackets), walked without recursion."""
    level: Iterable[Any] = [data]
    for _ in range(limit + 1):
        children: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                children.extend(node.values())
            elif isinstance(node, list):
                children.extend(node)
        if not children:
            return
        level = children
    _too_deep(what, limit)


def _too_deep(what: str, limit: int) -> None:
    raise ConfigError(
        f"{what} is nested more than {limit} levels deep (tables and arrays within each other)",
        hint=f"no valid {what} comes near {limit} levels: check that it is the file meant",
    )
