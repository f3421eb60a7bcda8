"""``edge service print-unit | install | uninstall``: the parser and the handler.

The work is in ``edge.service.unit`` (the unit text) and ``edge.service.install`` (the
steps, each printed before it runs; ``--dry-run`` only prints them).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge.errors import EXIT_OK, UsageError

log = logging.getLogger("edge")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    service = commands.add_parser(
        "service",
        help="print, install or remove the systemd unit",
        description="Run edge as a systemd service: print the unit for this install, "
        "install it (user, directories, /etc/edge/edge.toml, unit, enable and start) or "
        "remove it. See docs/raspberry-pi.md.",
    )
    actions = service.add_subparsers(dest="action", metavar="ACTION", required=True)
    print_unit = actions.add_parser("print-unit", help="print edge.service for this install")
    print_unit.add_argument(
        "--executable", type=Path, help="edge command the unit runs (default: this venv's)"
    )
    install = actions.add_parser(
        "install",
        help="install and start the service (idempotent)",
        description="Create the user edge (group video), /etc/edge, /var/lib/edge, "
        "/var/log/edge, write /etc/edge/edge.toml if absent and the unit, then "
        "daemon-reload and enable --now. Needs root.",
    )
    uninstall = actions.add_parser(
        "uninstall",
        help="stop and remove the service",
        description="Disable and stop the service and remove its unit and sysusers file; "
        "keeps /var/lib/edge, /var/log/edge and /etc/edge unless --purge.",
    )
    uninstall.add_argument(
        "--purge",
        action="store_true",
        help="also remove /var/lib/edge, /var/log/edge and /etc/edge",
    )
    for action in (install, uninstall):
        action.add_argument(
            "--root",
            type=Path,
            metavar="DIR",
            help="work inside DIR (a system image being prepared): no daemon-reload, no start",
        )
        action.add_argument(
            "--dry-run", action="store_true", help="print every step without doing it"
        )
    for action in (print_unit, install, uninstall):
        action.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edge.service import install, unit

    if args.action == "print-unit":
        sys.stdout.write(unit.render_unit(args.executable))
        executable = args.executable or unit.edge_executable()
        _warn_about_home(executable)
        try:
            unit.check_visible(executable)
        except UsageError as exc:  # printing is harmless; installing it is refused
            log.warning("%s", exc)
        return EXIT_OK
    root = args.root.absolute() if args.root else None
    if args.action == "install":
        executable = unit.edge_executable()
        unit.check_visible(executable)
        _warn_about_home(executable)
        steps = install.install_steps(root, unit.render_unit(executable))
    else:
        steps = install.uninstall_steps(root, args.purge)
    if not args.dry_run:
        install.check_can_change_system(root)
    install.execute(steps, dry_run=args.dry_run, out=sys.stdout)
    if args.action == "install" and not args.dry_run and root is None:
        print("installed: systemctl status edge; journalctl -u edge -f")
    return EXIT_OK


def _warn_about_home(executable: Path) -> None:
    from edge.service.unit import under_hidden_home

    if under_hidden_home(executable):
        log.warning(
            "%s is under a home directory: the unit uses ProtectHome=read-only "
            "so the service can run it; a venv in /opt/edge keeps ProtectHome=yes",
            executable,
        )
