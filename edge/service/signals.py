"""Signals of ``edge run``: SIGINT/SIGTERM stop cleanly, SIGHUP asks for a reload.

- The first SIGINT or SIGTERM sets the stop event: capture stops, the loop ends, every
  sink writes out its queue and closes, and the exit code is 0.
- A second SIGTERM while stopping is logged and ignored, so the flush is never cut
  short into exit 130 (systemd sends SIGKILL itself after ``TimeoutStopSec=`` if the
  flush really hangs); once the run is over, SIGTERM is ignored until the process
  exits (it only has its summary line left to write). A second SIGINT (Ctrl-C twice
  in a terminal) still means "out now": it raises ``KeyboardInterrupt``, exit code 130.
- SIGHUP calls ``on_reload`` (see ``edge.service.reload``); it no longer ends the run,
  so closing the terminal of a foreground ``edge run`` does not stop it: use Ctrl-C.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("edge")


@contextmanager
def handle_signals(
    on_stop: Callable[[], None] | None = None, on_reload: Callable[[], None] | None = None
) -> Iterator[threading.Event]:
    """Install the handlers for the block; yields the stop event the loop checks."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals are delivered to the main thread only
        return
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def handle_stop(signum: int, frame: object) -> None:
        del frame
        name = signal.Signals(signum).name
        if stop.is_set():
            if signum == signal.SIGINT:  # Ctrl-C twice: the user really wants out
                raise KeyboardInterrupt
            log.info("%s again: already stopping, still writing out the sinks", name)
            return
        log.info("stopping on %s", name)
        stop.set()
        if on_stop is not None:
            on_stop()

    def handle_reload(signum: int, frame: object) -> None:
        del signum, frame
        if on_reload is None:
            log.info("SIGHUP: nothing to reload")
        elif not stop.is_set():
            on_reload()

    signal.signal(signal.SIGINT, handle_stop)
    signal.signal(signal.SIGTERM, handle_stop)
    signal.signal(signal.SIGHUP, handle_reload)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if stop.is_set():
            # Stopping: the summary is still to be written and the process to exit. A
            # SIGTERM now must not turn a clean stop into death by signal.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
