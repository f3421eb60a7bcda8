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

# First, before the imports below: signals during start-up (edge.cli.early).
from edge.cli.early import defer_signals

defer_signals()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from edge import __version__  # noqa: E402
from edge.cli import (  # noqa: E402
    bench,
    check_config,
    convert,
    eval,
    inspect,
    run,
    service,
    zones,
)
from edge.errors import EXIT_OK, EXIT_USAGE, EdgeError  # noqa: E402

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
        code = int(args.handler(args))
        sys.stdout.flush()  # here, where a closed pipe can still be caught
        return code
    except BrokenPipeError:
        # The reader went away (edge inspect --json | head -c 10): what it read was
        # its choice, not a failure here. Python would report the pipe again at exit.
        _stdout_to_devnull()
        return EXIT_OK
    except EdgeError as exc:
        print(f"edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _stdout_to_devnull() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to flush
        pass
    finally:
        os.close(devnull)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["EXIT_USAGE", "build_parser", "entry", "main"]
