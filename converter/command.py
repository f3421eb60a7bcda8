"""``edge convert``: a typed ``ConvertCommand`` -> ``converter.isolation.convert_in_child``
-> exit code.

The conversion runs in a child process (``converter.isolation``): nothing from the model
executes in this one. SIGTERM while it runs stops the child and exits 143 (128 + 15),
Ctrl-C stops it and exits 130 (``edge.cli.main``); ``--timeout SECONDS`` stops it with
exit 1. In every case nothing is written and existing outputs stay as they were.

``edge.cli.convert`` defines the flags, builds the ``ConvertCommand``
(``edge.cli.convert_request``: typed fields, the flags' defaults) and imports this module
only when the subcommand runs (the device install has no TensorFlow).
``ConvertRequest.from_command`` makes the library's request of it.

Output: the readable table on stdout, or the report JSON with ``--json`` (scripts); a
user error is one ``edge convert: error: ...`` message on stderr and the error's exit
code (1 for conversion and data errors).
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from edge.errors import ConversionError, EdgeError

if TYPE_CHECKING:
    from converter.request import ConvertRequest
    from edge.cli.convert_request import ConvertCommand

EXIT_SIGTERM = 128 + signal.SIGTERM


def run(command: ConvertCommand) -> int:
    started = time.monotonic()  # the phase lines count from here
    try:
        from converter.isolation import convert_in_child
        from converter.progress import Phases
        from converter.request import ConvertRequest, check_request

        request = ConvertRequest.from_command(command)
        request = dataclasses.replace(request, phase_clock=started)
        _check_before_running(command, request)
        check_request(request)  # its usage errors come before any progress line
        if not command.model.exists():  # as the child would say it, but before progress
            raise ConversionError(
                f"model file {str(command.model)!r} does not exist",
                hint="give the path of a Keras model saved with model.save('NAME.keras')",
            )
        # The first progress line, before anything slow: the conversion process imports
        # TensorFlow (seconds), and the user should not wait in silence.
        say = Phases(True, request.phase_clock)
        say(
            f"converting {command.model.name} in a child process (starting it; importing "
            "TensorFlow takes a few seconds)"
        )
        say.close()
        with _sigterm_stops_the_conversion():
            report = convert_in_child(request, timeout=command.timeout)
    except EdgeError as err:
        print(f"edge convert: error: {err}", file=sys.stderr)
        return err.exit_code
    except _Terminated:
        print(
            "edge convert: stopped by SIGTERM; the conversion process was stopped and "
            "nothing was written",
            file=sys.stderr,
        )
        return EXIT_SIGTERM
    if command.json:
        sys.stdout.write(report.to_json())
    else:
        sys.stdout.write(report.table())
        written = [report.out, request.report_for(report.mode), report.plot]
        print(f"  wrote {', '.join(str(p) for p in written if p)}")
    return 0


def _check_before_running(command: ConvertCommand, request: ConvertRequest) -> None:
    """No input is overwritten: checked before anything runs (``convert`` itself reads
    the model as data before anything in it runs, for every caller)."""
    from converter.outputs import check_output_paths

    custom = command.custom_objects
    check_output_paths(
        inputs=[
            command.model,
            command.calibration,
            command.eval,
            command.labels,
            Path(custom) if custom and custom.endswith(".py") else None,
        ],
        outputs=[
            output
            for mode in request.steps
            for output in (
                ("model", request.out_for(mode)),
                ("report", request.report_for(mode)),
                ("picture", request.report_for(mode).with_suffix(".png")),
            )
        ],
    )


class _Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so the child is stopped on the way out."""


@contextlib.contextmanager
def _sigterm_stops_the_conversion() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(number: int, frame: FrameType | None) -> None:
        del number, frame
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
