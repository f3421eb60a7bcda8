"""Which model files are already verified, so the probe (``edge.model.verify.probe``) runs once
per file instead of on every start.

A model counts as verified when its SHA-256 is

- **shipped**: one of the files of the model zoo, listed in ``models/zoo/SHA256SUMS``
  (``sha256sum`` format). Those bytes are the project's own converter output, installed
  by the same package as this code and run by its test suite on the real runtime; a
  crafted or corrupt file has another digest. Whoever can change that list can change
  this code too, so trusting it adds no new way in. A copy of a shipped file elsewhere
  is the same bytes and counts too.
- **remembered**: it passed the probe before under the same runtime and version (a
  runtime upgrade may load a file differently, so it is probed again), recorded in a
  small text file, one ``<sha256> <runtime>-<version>`` per line, in the first of
  ``$CACHE_DIRECTORY``, ``$STATE_DIRECTORY`` (systemd's ``CacheDirectory=`` and
  ``StateDirectory=``), ``$XDG_CACHE_HOME/edge-infer``, ``~/.cache/edge-infer``.

The record is trusted only when it is a regular file owned by this user and not writable
by group or others, in a folder with the same properties (otherwise another account
could whitelist a hostile model): anything else, or an unreadable file, means "probe
every time", never an error. It is written atomically (temporary file, then rename);
two runs adding an entry at once may lose one, which costs one more probe later.
Deleting the file only costs time.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
from functools import cache
from pathlib import Path

log = logging.getLogger("edge")

FILE_NAME = "verified-models"
SHIPPED_LIST = "SHA256SUMS"
_MAX_ENTRIES = 1000  # the oldest go first; a device runs a handful of models


def cache_file() -> Path | None:
    """Where the record lives, or None when no location is known."""
    for variable in ("CACHE_DIRECTORY", "STATE_DIRECTORY"):
        value = os.environ.get(variable)
        if value:
            # systemd sets a colon-separated list when several folders are configured.
            return Path(value.split(":")[0]) / FILE_NAME
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        return Path(base) / "edge-infer" / FILE_NAME
    home = os.environ.get("HOME")
    return Path(home) / ".cache" / "edge-infer" / FILE_NAME if home else None


@cache
def shipped_digests() -> frozenset[str]:
    """The digests of the zoo's files (empty when the zoo or its list is missing)."""
    from edge.errors import ModelError
    from edge.model.zoo import zoo_dir

    try:
        text = (zoo_dir() / SHIPPED_LIST).read_text(encoding="ascii")
    except (ModelError, OSError, UnicodeDecodeError):
        return frozenset()
    return frozenset(
        line.split()[0].lower()
        for line in text.splitlines()
        if line.strip() and len(line.split()[0]) == 64
    )


def runtime_key(runtime: str) -> str:
    """``<name>-<version>`` of an imported runtime module (``ai_edge_litert-2.3.0``)."""
    module = sys.modules.get(runtime.split(".", maxsplit=1)[0])
    return f"{runtime}-{getattr(module, '__version__', 'unknown')}"


def remembered(path: Path | None = None) -> set[tuple[str, str]]:
    """The ``(sha256, runtime key)`` pairs recorded, if the record can be trusted."""
    path = path if path is not None else cache_file()
    if path is None or not _trusted(path.parent) or not _trusted(path):
        return set()
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return set()
    pairs = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            pairs.add((parts[0], parts[1]))
    return pairs


def is_remembered(digest: str, runtime: str, path: Path | None = None) -> bool:
    return (digest, runtime) in remembered(path)


def remember(digest: str, runtime: str, path: Path | None = None) -> bool:
    """Add one entry; False (and a debug line) when the record cannot be written."""
    path = path if path is not None else cache_file()
    if path is None:
        return False
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _trusted(path.parent) or (path.exists() and not _trusted(path)):
            log.debug("not recording verified model in %s: not private to this user", path)
            return False
        lines = _lines(path)
        entry = f"{digest} {runtime}"
        if entry in lines:
            return True
        lines = [*lines, entry][-_MAX_ENTRIES:]
        descriptor, temporary = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="ascii") as handle:
                handle.write("".join(line + "\n" for line in lines))
            os.replace(temporary, path)  # mkstemp made it 0600, owned by this user
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:  # read-only filesystem, no home, full disk: probe next time
        log.debug("not recording verified model in %s: %s", path, exc)
        return False
    return True


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="ascii").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return []


def _trusted(path: Path) -> bool:
    """Owned by this user and writable by no one else (group and others)."""
    try:
        info = path.lstat()
    except OSError:
        return False
    if info.st_uid != os.geteuid():
        return False
    if stat.S_ISDIR(info.st_mode):
        return not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return stat.S_ISREG(info.st_mode) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
