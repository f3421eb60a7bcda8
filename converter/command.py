"""``edge convert``: argparse namespace -> ``converter.isolation.convert_in_child`` -> exit code.

The conversion runs in a child process (``converter.isolation``): nothing from the model
executes in this one. SIGTERM while it runs stops the child and exits 143 (128 + 15),
Ctrl-C stops it and exits 130 (``edge.cli.main``); ``--timeout SECONDS`` stops it with
exit 1. In every case nothing is written and existing outputs stay as they were.

``edge/cli/__init__.py`` defines the arguments and imports this module only when the subcommand
runs (the device install has no TensorFlow). Attributes read from ``args``: model,
calibration, out, task, labels, mode, max_drop, io_dtype, eval, report, custom_objects,
trust_model, no_rewrite, json, resize, colour, input_range, input_scale,
input_offset, timeout. Missing attributes take the defaults of
``ConvertRequest``, so the CLI can grow flags without breaking this function.

Output: the readable table on stdout, or the report JSON with ``--json`` (scripts); a
user error is one ``edge convert: error: ...`` message on stderr and the error's exit
code (1 for conversion and data errors).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from edge.errors import EdgeError

EXIT_SIGTERM = 128 + signal.SIGTERM


def run(args: argparse.Namespace) -> int:
    try:
        from converter.isolation import convert_in_child
        from converter.request import ConvertRequest
        from edge.model.labels import read_labels

        labels_file = _get(args, "labels")
        request = ConvertRequest(
            model=Path(args.model),
            calibration=Path(args.calibration),
            out=_path(_get(args, "out")),
            task=_get(args, "task") or "classify",
            labels=read_labels(Path(labels_file)) if labels_file else None,
            mode=_get(args, "mode") or "auto",
            max_drop=_get(args, "max_drop"),
            no_rewrite=bool(_get(args, "no_rewrite")),
            io_dtype=_get(args, "io_dtype") or "int8",
            eval=_path(_get(args, "eval")),
            report=_path(_get(args, "report")),
            custom_objects=_get(args, "custom_objects"),
            trust_model=bool(_get(args, "trust_model")),
            resize=_get(args, "resize") or "stretch",
            colour=_get(args, "colour"),
            input_range=_get(args, "input_range"),
            input_scale=_get(args, "input_scale"),
            input_offset=_get(args, "input_offset"),
            progress=not _get(args, "json"),
        )
        _check_before_running(request, _path(labels_file))
        with _sigterm_stops_the_conversion():
            report = convert_in_child(request, timeout=_get(args, "timeout"))
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
    if _get(args, "json"):
        sys.stdout.write(report.to_json())
    else:
        sys.stdout.write(report.table())
        written = [report.out, request.report_for(report.mode), report.plot]
        print(f"  wrote {', '.join(str(p) for p in written if p)}")
    return 0


def _check_before_running(request: Any, labels: Path | None) -> None:
    """No input is overwritten: checked before anything runs (``convert`` itself reads
    the model as data before anything in it runs, for every caller)."""
    from converter.outputs import check_output_paths

    custom = request.custom_objects
    check_output_paths(
        inputs=[
            request.model,
            request.calibration,
            request.eval,
            labels,
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


def _get(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
