"""Read a secret (the MQTT password) from a file, an environment variable or a systemd
credential, never from the command line.

A password on the command line is visible to every user through ``ps`` and
``/proc/<pid>/cmdline`` and ends up in shell history, so the CLI has no place for one.
Under systemd, ``LoadCredential=mqtt-password:/etc/edge/mqtt-password`` exposes the file
as ``$CREDENTIALS_DIRECTORY/mqtt-password``, readable only by the service; that is the
recommended way. Errors name where the secret was looked for, never the secret itself.

``edge check-config`` runs outside the unit, where there is no ``$CREDENTIALS_DIRECTORY``:
there a credential is not checked but named in a note (``CREDENTIAL_NOTE``), unless
``--credentials-dir DIR`` names a folder standing in for it (``/etc/edge``, the folder the
unit's ``LoadCredential=`` line reads from, checks the real file).
"""

from __future__ import annotations

import os
from pathlib import Path

from edge.bounded import MAX_SECRET_BYTES, read_limited
from edge.errors import ConfigError

CREDENTIAL_NOTE = (
    "not checked here: the unit provides it with LoadCredential= "
    "(use --credentials-dir DIR to check a file)"
)


def credentials_directory() -> str | None:
    """``$CREDENTIALS_DIRECTORY`` (set by systemd for a unit with ``LoadCredential=``)."""
    return os.environ.get("CREDENTIALS_DIRECTORY") or None


def read_secret(
    *,
    file: Path | None = None,
    env: str | None = None,
    credential: str | None = None,
    what: str = "password",
    owner: str = "MQTT",
    key: str = "password_file",
) -> str | None:
    """Return the secret from the one source given, or ``None`` when none is given.

    ``owner`` and ``key`` name whose secret it is and the config key of its file in the
    messages (the MQTT password's by default; ``[http]``'s token is read the same way).

    A file or credential holds the secret on its first line (a trailing newline, as
    ``echo`` writes it, is not part of it).
    """
    if file is not None:
        return _first_line(
            file,
            what,
            hint=f"write the {what} into {file} (chmod 600), or point {key} at the right file",
            owner=owner,
        )
    if env is not None:
        value = os.environ.get(env)
        if value is None or value == "":
            raise ConfigError(
                f"the environment variable {env} that should hold the {owner} {what} is not set",
                hint=f"export {env}=... in the service's environment, or use {key}",
            )
        return value
    if credential is not None:
        directory = credentials_directory()
        if not directory:
            raise ConfigError(
                f"the {owner} {what} is a systemd credential ({credential!r}) but "
                "$CREDENTIALS_DIRECTORY is not set: not running under systemd with "
                "LoadCredential=",
                hint=f"add LoadCredential={credential}:/etc/edge/{credential} to the unit, or "
                f"use {key} outside systemd",
            )
        return _first_line(
            Path(directory) / credential,
            what,
            hint=f"check LoadCredential={credential}:... in the unit",
            owner=owner,
        )
    return None


def _first_line(path: Path, what: str, *, hint: str, owner: str = "MQTT") -> str:
    try:
        # Bounded, and never a FIFO or a device: /dev/zero filled the memory, a FIFO hung.
        text = read_limited(path, what=f"MQTT {what} file", limit=MAX_SECRET_BYTES).decode()
    except FileNotFoundError:
        raise ConfigError(
            f"the {owner} {what} file {str(path)!r} does not exist", hint=hint
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(
            f"cannot read the {owner} {what} file {str(path)!r}: {reason}", hint=hint
        ) from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise ConfigError(f"the {owner} {what} file {str(path)!r} is empty", hint=hint)
    return lines[0]
