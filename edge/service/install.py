"""``edge service install | uninstall``: the steps, printed as they run (or only printed).

Install, in order (every step can run again without harm):

1. the sysusers file ``/etc/sysusers.d/edge.conf`` (user ``edge``, member of ``video``);
2. the user: ``systemd-sysusers`` on that file (``--root DIR`` for a staging root);
3. the directories ``/etc/edge`` (root, 0755), ``/var/lib/edge`` and ``/var/log/edge``
   (user edge, 0750; systemd would create the last two at start as well);
4. ``/etc/edge/edge.toml`` from the template, only when absent (edits are kept);
5. the unit ``/etc/systemd/system/edge.service``, rendered for this install;
6. ``systemctl daemon-reload``;
7. ``systemctl enable --now edge.service``.

With ``--root DIR`` every path is inside DIR (an image being prepared, a chroot) and
there is no running systemd to talk to: step 6 is skipped (systemd reads the unit when
that system boots) and step 7 becomes ``systemctl --root DIR enable`` (the
``multi-user.target.wants`` link, without starting anything).

Uninstall reverses it: disable and stop, remove the unit, daemon-reload, remove the
sysusers file. ``/var/lib/edge``, ``/var/log/edge`` and ``/etc/edge`` are kept unless
``--purge``. The user ``edge`` is kept either way, as packages keep their system users:
a later user given the same uid would own the files left behind (``userdel edge``).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from edge.errors import EdgeError, UsageError
from edge.service import unit

Action = Callable[[], str]


@dataclass(frozen=True)
class Step:
    description: str
    action: Action  # does the step; returns what happened ("written", "unchanged", ...)


class InstallError(EdgeError):
    """A step of ``edge service install/uninstall`` failed (exit code 1)."""


def in_root(root: Path | None, path: Path) -> Path:
    return root / path.relative_to("/") if root else path


def install_steps(root: Path | None, unit_text: str) -> list[Step]:
    sysusers = in_root(root, unit.SYSUSERS_PATH)
    steps = [
        Step(
            f"write {sysusers} (user {unit.SERVICE_USER}, in group video)",
            lambda: write_file(sysusers, unit.sysusers_conf(), 0o644),
        ),
        _create_user_step(root, sysusers),
        Step(
            f"create {in_root(root, unit.CONFIG_DIR)} (root, 0755), "
            f"{in_root(root, unit.STATE_DIR)} and {in_root(root, unit.LOGS_DIR)} "
            f"({unit.SERVICE_USER}, 0750)",
            lambda: make_directories(root),
        ),
        Step(
            f"write {in_root(root, unit.CONFIG_PATH)} from the template if absent",
            lambda: write_file(
                in_root(root, unit.CONFIG_PATH), unit.config_template(), 0o644, keep_existing=True
            ),
        ),
        Step(
            f"write {in_root(root, unit.UNIT_PATH)}",
            lambda: write_file(in_root(root, unit.UNIT_PATH), unit_text, 0o644),
        ),
    ]
    if root is None:
        steps.append(
            Step("systemctl daemon-reload", lambda: run_command(["systemctl", "daemon-reload"]))
        )
        steps.append(
            Step(
                f"systemctl enable --now {unit.UNIT_NAME}",
                lambda: run_command(["systemctl", "enable", "--now", unit.UNIT_NAME]),
            )
        )
    else:
        steps.append(
            Step(
                "systemctl daemon-reload",
                lambda: (
                    "skipped: a staging root has no running systemd; it reads "
                    "the unit when that system boots"
                ),
            )
        )
        steps.append(
            Step(
                f"systemctl --root {root} enable {unit.UNIT_NAME} (no start: "
                "nothing runs in a staging root)",
                lambda: run_command(["systemctl", f"--root={root}", "enable", unit.UNIT_NAME]),
            )
        )
    return steps


def uninstall_steps(root: Path | None, purge: bool) -> list[Step]:
    unit_path = in_root(root, unit.UNIT_PATH)
    if root is None:
        disable = ["systemctl", "disable", "--now", unit.UNIT_NAME]
    else:
        disable = ["systemctl", f"--root={root}", "disable", unit.UNIT_NAME]
    steps = [
        Step(
            " ".join(disable),
            lambda: run_command(disable) if unit_path.exists() else "skipped: not installed",
        ),
        Step(f"remove {unit_path}", lambda: remove(unit_path)),
        Step("systemctl daemon-reload", _daemon_reload if root is None else _no_daemon),
        Step(
            f"remove {in_root(root, unit.SYSUSERS_PATH)} (the user {unit.SERVICE_USER} "
            "stays: `userdel edge` removes it)",
            lambda: remove(in_root(root, unit.SYSUSERS_PATH)),
        ),
    ]
    data = [in_root(root, d) for d in (unit.STATE_DIR, unit.LOGS_DIR, unit.CONFIG_DIR)]
    if purge:
        steps.extend(
            Step(f"remove {d} and everything in it", functools.partial(remove, d)) for d in data
        )
    else:
        steps.append(
            Step(f"keep {', '.join(map(str, data))} (--purge removes them)", lambda: "kept")
        )
    return steps


def execute(steps: Sequence[Step], *, dry_run: bool, out: TextIO) -> None:
    for number, step in enumerate(steps, 1):
        print(f"[{number}/{len(steps)}] {step.description}", file=out, flush=True)
        if not dry_run:
            print(f"      {step.action()}", file=out, flush=True)
    if dry_run:
        print("dry run: nothing was changed", file=out)


def check_can_change_system(root: Path | None) -> None:
    """Without ``--root`` the steps change this machine: root and systemd as PID 1."""
    if root is not None:
        return
    if os.geteuid() != 0:
        raise UsageError(
            "installing the service changes /etc and systemd: it needs root",
            hint=f"sudo {unit.edge_executable()} service install (or "
            "--dry-run to see the steps, --root DIR to stage into a folder)",
        )
    if not Path("/run/systemd/system").is_dir():
        raise InstallError(
            "systemd is not running on this machine (PID 1 is not systemd)",
            hint="use --root DIR to stage the files into a system image, or run it on the device",
        )


def write_file(path: Path, text: str, mode: int, *, keep_existing: bool = False) -> str:
    if path.exists():
        if keep_existing:
            return "kept: it exists (your edits are not overwritten)"
        if path.read_text(encoding="utf-8") == text:
            path.chmod(mode)
            return "unchanged"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    temporary.replace(path)  # atomic: systemd never reads a half-written unit
    return "written"


def make_directories(root: Path | None) -> str:
    owner = lookup_user(in_root(root, Path("/etc/passwd")), unit.SERVICE_USER)
    in_root(root, unit.CONFIG_DIR).mkdir(parents=True, exist_ok=True)
    in_root(root, unit.CONFIG_DIR).chmod(0o755)
    for directory in (unit.STATE_DIR, unit.LOGS_DIR):
        path = in_root(root, directory)
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o750)
        if owner is not None and os.geteuid() == 0:
            os.chown(path, *owner)
    if owner is None:
        return f"created (user {unit.SERVICE_USER} not found: owner left as is)"
    return f"created (owner uid {owner[0]} gid {owner[1]})"


def lookup_user(passwd: Path, name: str) -> tuple[int, int] | None:
    """(uid, gid) of ``name`` in a passwd file (the staging root's, not this machine's)."""
    try:
        lines = passwd.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return None


def remove(path: Path) -> str:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
        return "removed"
    if path.exists() or path.is_symlink():
        path.unlink()
        return "removed"
    return "skipped: not there"


def run_command(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise InstallError(
            f"{command[0]} is not installed", hint="install systemd (apt install systemd)"
        ) from None
    if done.returncode != 0:
        raise InstallError(
            f"`{' '.join(command)}` failed with exit code {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()}",
            hint="see `journalctl -xe`; the steps before this one were done "
            "and running the command again continues from here",
        )
    said = "; ".join(line for line in done.stderr.splitlines() if line.strip())
    return f"ok: {said}" if said else "ok"


def _daemon_reload() -> str:
    return run_command(["systemctl", "daemon-reload"])


def _no_daemon() -> str:
    return "skipped: a staging root has no running systemd"


def _create_user_step(root: Path | None, sysusers: Path) -> Step:
    if root is None:
        command = ["systemd-sysusers", str(sysusers)]
    else:  # the file is named by its path on this machine, inside the root
        command = ["systemd-sysusers", f"--root={root}", str(sysusers)]
    return Step(" ".join(command), lambda: run_command(command))
