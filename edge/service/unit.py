"""The service's files: the unit rendered for this install, the sysusers line, the config.

The templates ship inside the package (``edge/service/templates/``; ``systemd/`` in the
repository links to them), so an installed wheel can print and install its own unit.
``@EDGE@`` becomes the absolute path of the ``edge`` command next to the running
Python (the venv's), so the unit runs exactly the install that printed it.
``ProtectHome=`` is ``yes`` unless that venv lives under ``/home`` or ``/root``, which
``yes`` would hide from the service; it is then ``read-only`` (and a warning says to
move the venv, e.g. to ``/opt/edge``).

A path is written into ``ExecStart=`` as systemd.syntax(7) and systemd.service(5) read
it: in double quotes when it holds anything but ``[A-Za-z0-9/._+:@-]``, with ``%``
doubled (specifiers), so a venv in ``/opt/my edge`` or ``/opt/100%`` runs as named. The
executable is the one word where systemd expands no ``$VARIABLE`` (so ``$`` stays as
it is: ``$$`` would name another file, checked with systemd-analyze 252) and where it
refuses quotes and backslashes ("Executable name contains special characters"), so a
path with those or a control character is refused here with the fix. A venv under
``/tmp`` or ``/var/tmp`` is refused by ``edge service install`` and printed with a
warning and the fix by ``print-unit`` (``check_visible``):
the unit's ``PrivateTmp=yes`` gives the service its own empty ``/tmp``, where the path
does not exist.
"""

from __future__ import annotations

import re
import shutil
import sys
from importlib import resources
from pathlib import Path

from edge.errors import UsageError

UNIT_NAME = "edge.service"
SERVICE_USER = "edge"
UNIT_PATH = Path("/etc/systemd/system") / UNIT_NAME
SYSUSERS_PATH = Path("/etc/sysusers.d/edge.conf")
CONFIG_DIR = Path("/etc/edge")
CONFIG_PATH = CONFIG_DIR / "edge.toml"
STATE_DIR = Path("/var/lib/edge")
LOGS_DIR = Path("/var/log/edge")
HIDDEN_BY_PROTECT_HOME = (Path("/home"), Path("/root"), Path("/run/user"))
HIDDEN_BY_PRIVATE_TMP = (Path("/tmp"), Path("/var/tmp"))
_PLAIN = re.compile(r"[A-Za-z0-9/._+:@-]+")


def template(name: str) -> str:
    return resources.files("edge.service").joinpath("templates").joinpath(name).read_text("utf-8")


def edge_executable() -> Path:
    """The ``edge`` console script of the running install (the venv's ``bin/edge``)."""
    beside_python = Path(sys.executable).parent / "edge"
    if beside_python.is_file():
        return beside_python.absolute()
    found = shutil.which("edge")
    if found:
        return Path(found).absolute()
    raise UsageError(
        f"cannot find the `edge` command next to {sys.executable}",
        hint="install the package into a venv (pip install .) and run that venv's "
        "bin/edge, e.g. sudo /opt/edge/bin/edge service install",
    )


def under_hidden_home(path: Path) -> bool:
    return any(path == top or top in path.parents for top in HIDDEN_BY_PROTECT_HOME)


def exec_word(path: Path) -> str:
    """``path`` as one word of an ``ExecStart=`` command line (module docstring)."""
    text = str(path)
    if any(ord(char) < 32 or ord(char) == 127 or char in "\"'\\" for char in text):
        raise UsageError(
            f"the path of the edge command {text!r} holds a control character, a quote or "
            "a backslash, which systemd does not accept in the executable of ExecStart=",
            hint="install the venv in a folder with a plain name, e.g. /opt/edge",
        )
    if not _PLAIN.fullmatch(text):
        text = f'"{text}"'
    return text.replace("%", "%%")


def check_visible(executable: Path) -> None:
    """Refuse a venv the unit's own sandbox hides from the service (PrivateTmp=yes)."""
    for top in HIDDEN_BY_PRIVATE_TMP:
        if executable == top or top in executable.parents:
            raise UsageError(
                f"{executable} is under {top}, which the unit's PrivateTmp=yes replaces "
                "with an empty folder: the service could not find the edge command",
                hint="create the venv outside /tmp and /var/tmp (python3 -m venv /opt/edge; "
                "/opt/edge/bin/pip install ...) and run that venv's edge service install",
            )


def render_unit(executable: Path | None = None) -> str:
    executable = executable or edge_executable()
    protect_home = "read-only" if under_hidden_home(executable) else "yes"
    return (
        template(UNIT_NAME)
        .replace("@EDGE@", exec_word(executable))
        .replace("@PROTECT_HOME@", protect_home)
    )


def sysusers_conf() -> str:
    return template("edge.sysusers.conf")


def config_template() -> str:
    return template("edge.toml")
