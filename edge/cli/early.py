"""Signals from the first instruction of the ``edge`` command, before the heavy imports.

Until ``edge run`` installs its own handlers (``edge.service.signals``: stop cleanly,
SIGHUP reloads), a signal would meet the default action: SIGHUP and SIGTERM end the
process by that signal (exit 129, 143), SIGINT prints a ``KeyboardInterrupt``
traceback from whatever module was being imported. A terminal closed in the first 0.3 s
of a start killed the run, which the README says SIGHUP never does. So the first thing
``edge.cli`` does is install these: SIGHUP is ignored (there is nothing to reload yet),
SIGTERM and SIGINT stop at once, cleanly: ``SystemExit`` unwinds like any exception, so
the ``finally`` blocks run and no traceback is printed. SIGTERM exits 0, SIGINT 130, the
code every command but ``edge run`` gives a Ctrl-C (``KeyboardInterrupt`` in ``main``;
``edge convert`` relies on it); once ``edge run`` has its own handlers a first SIGINT
stops the run with 0.

Nothing is installed when a handler other than Python's own is already in place (an
application or test runner that imports ``edge.cli`` keeps its handlers), nor off the
main thread, where Python cannot install handlers.

Not covered: the interpreter's own start (``python`` itself, ``site`` and the package
finders) runs before any code of ours; a signal in that window meets the default
action. Measured here: tests/edge/cli/test_early_signals.py.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

STOP_CODES = {signal.SIGTERM: 0, signal.SIGINT: 130}


def _stop(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(STOP_CODES.get(signal.Signals(signum), 0))


def _ignore(signum: int, frame: FrameType | None) -> None:
    del signum, frame


def defer_signals() -> None:
    """Install the start-up handlers (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return  # someone else's process: leave its handlers alone
    if signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN):
        return
    signal.signal(signal.SIGHUP, _ignore)
    signal.signal(signal.SIGTERM, _stop)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop)
