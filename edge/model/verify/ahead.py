"""Start the model's probe before the rest of ``edge run``'s start-up, not after it.

The probe (``edge.model.verify.probe``) of a model not verified yet costs a Python start plus a
model load in a child process. Done where the model is loaded, it adds that time to the
start; started here, from the raw command line and config file, it runs while the main
process imports numpy and pydantic, validates the config and opens the sinks, and
``verify_model`` only waits for what is left before loading the model.

Only the ``[model]`` table of the config file is read here (path, probe, runtime,
probe_timeout), the same way ``edge.config`` reads it: a relative path is under the config
file's folder, ``--model`` wins. Anything this cannot read is left to the normal start,
which reports it properly; a guess that turns out different from the validated config
simply matches no pending probe, and that model is probed where it is loaded. The bytes
read here are handed to the model loader (``take_prefetched``), so the file is read and
hashed once.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.model.file import ModelFile

log = logging.getLogger("edge")
_PREFETCHED: dict[tuple[str, int, int, int], ModelFile] = {}


def probe_ahead(config_path: Path | None, model_flag: Path | None, *, skip: bool) -> bool:
    """Start the background probe of the model the run will load; True if one started."""
    if skip:
        return False
    try:
        table = _model_table(config_path)
        if table.get("probe", True) is False:
            return False
        path = model_flag or _config_model_path(table, config_path) or _default_model()
        runtime = str(table.get("runtime", "auto"))
        timeout = float(table.get("probe_timeout", 20.0))
        from edge.model.file import read_model_file
        from edge.model.verify.probe import start_probe

        before = _identity(path)
        model_file = read_model_file(path)
        if _identity(path) == before:  # not replaced while it was read: hand it over
            _PREFETCHED[before] = model_file
        return start_probe(
            model_file.content,
            origin=str(model_file.path),
            digest=model_file.sha256,
            runtime=runtime,
            timeout=timeout,
        )
    except Exception as exc:  # the normal start-up reads the same things and says why
        log.debug("model probe not started ahead: %s", exc)
        return False


def take_prefetched(path: Path) -> ModelFile | None:
    """The file read here, if ``path`` is the same file, unchanged since (same inode, size
    and modification time): the model is read and hashed once per start. ``None`` means
    read it again."""
    try:
        return _PREFETCHED.pop(_identity(path), None)
    except OSError:
        return None


def _identity(path: Path) -> tuple[str, int, int, int]:
    info = path.stat()
    return str(path.resolve()), info.st_ino, info.st_size, info.st_mtime_ns


def _model_table(config_path: Path | None) -> dict[str, Any]:
    if config_path is None:
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 on older Pi OS images
        import tomli as tomllib
    from edge.bounded import MAX_CONFIG_BYTES, check_nesting, read_limited

    # Bounded as load_config reads it: a FIFO or /dev/zero as --config hung here.
    text = read_limited(config_path, what="config file", limit=MAX_CONFIG_BYTES).decode()
    check_nesting(text, what="config file")
    table = tomllib.loads(text).get("model", {})
    return table if isinstance(table, dict) else {}


def _config_model_path(table: dict[str, Any], config_path: Path | None) -> Path | None:
    value = table.get("path")
    if not isinstance(value, str) or not value or config_path is None:
        return None
    path = Path(value)
    # As edge.config_paths: relative to the config file's folder ("~" is left as written).
    return (
        path
        if path.is_absolute() or value.startswith("~")
        else config_path.parent.absolute() / path
    )


def _default_model() -> Path:
    from edge.model.zoo import DEFAULT_MODEL, zoo_file

    return zoo_file(DEFAULT_MODEL)
