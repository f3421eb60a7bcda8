"""The ``edge`` command: ``main(argv) -> exit code``.

One module per subcommand, each adding its own subparser (``add_parser``) and holding
its handler: ``run``, ``convert``, ``inspect``, ``check_config``, ``eval``, ``service``,
``bench``. This module only wires them together, parses, sets up logging and turns an
``EdgeError`` into its message and exit code.

Importing this package imports no TensorFlow and nothing a command only needs when it
runs: the command modules import their work inside their handlers. ``convert`` imports
the ``converter`` package there, only when called, and names the extra to install when
it is missing (``edge.cli.convert``).

Exit codes: 0 ok, 1 runtime failure, 2 usage error, 78 configuration error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.cli import bench, check_config, convert, eval, inspect, run, service, zones
from edge.errors import EXIT_USAGE, EdgeError

# The order of ``edge --help``'s command list.
COMMANDS = (run, convert, inspect, check_config, service, bench, eval, zones)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge",
        description="Run image models on camera frames with LiteRT; convert Keras models "
        "to self-describing int8 TFLite.",
    )
    parser.add_argument("--version", action="version", version=f"edge {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="edge: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except EdgeError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["EXIT_USAGE", "build_parser", "entry", "main"]
