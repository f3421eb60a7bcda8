"""Phase lines: what a conversion is doing, on stderr, from its first second.

A conversion spends seconds in each phase (importing TensorFlow, loading the model,
the float reference, calibration and conversion, evaluation, latency), and tqdm's bars
only cover the loops over samples, only on a terminal. ``Phases`` prints one line as each
phase starts, with the time since the conversion began::

    edge convert: [  2.1 s] loading the model (importing TensorFlow first)

and ``warn`` prints a warning the moment it is known (it also goes into the report's
``warnings``). Lines go to a duplicate of file descriptor 2 taken when the object is
made, so they reach the terminal while ``converter.quiet`` points fd 2 at a capture file
to hide TensorFlow's native log. ``edge convert`` prints its own first line before it
starts the conversion process, so the user sees one before TensorFlow's import begins
(``converter.command``).
"""

from __future__ import annotations

import contextlib
import os
import time

PREFIX = "edge convert:"


class Phases:
    """Prints phase lines when ``enabled``; warnings always."""

    def __init__(self, enabled: bool, started: float | None = None) -> None:
        self.enabled = enabled
        self.started = time.monotonic() if started is None else started
        try:
            self._fd: int | None = os.dup(2)
        except OSError:  # no stderr at all (a daemon): nothing to print to
            self._fd = None

    def __call__(self, text: str) -> None:
        if self.enabled:
            self._write(f"{PREFIX} [{time.monotonic() - self.started:5.1f} s] {text}")

    def warn(self, text: str) -> None:
        self._write(f"{PREFIX} warning: {text}")

    def _write(self, line: str) -> None:
        if self._fd is None:
            return
        data = (line + "\n").encode("utf-8", errors="replace")
        with contextlib.suppress(OSError):
            while data:
                data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
