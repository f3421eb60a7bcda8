"""The service's files: the unit rendered for this install, the sysusers line, the config.

The templates ship inside the package (``edge/service/templates/``; ``systemd/`` in the
repository links to them), so an installed wheel can print and install its own unit.
``@EDGE@`` becomes the absolute path of the ``edge`` command next to the running
Python (the venv's), so the unit runs exactly the install that printed it.
``ProtectHome=`` is ``yes`` unless that venv lives under ``/home`` or ``/root``, which
``yes`` would hide from the service; it is then ``read-only`` (and a warning says to
move the venv, e.g. to ``/opt/edge``).
"""

from __future__ import annotations

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


def render_unit(executable: Path | None = None) -> str:
    executable = executable or edge_executable()
    protect_home = "read-only" if under_hidden_home(executable) else "yes"
    return (
        template(UNIT_NAME)
        .replace("@EDGE@", str(executable))
        .replace("@PROTECT_HOME@", protect_home)
    )


def sysusers_conf() -> str:
    return template("edge.sysusers.conf")


def config_template() -> str:
    return template("edge.toml")
