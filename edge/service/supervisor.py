"""What systemd hears from the loop: READY=1, WATCHDOG=1, STATUS=, STOPPING=1.

``READY=1`` goes out once the config is valid, the model is loaded and the sinks and
the source are open (``app.run``'s ``on_start``). A camera that is missing or
reconnecting still lets the service become ready; the degraded state is in ``STATUS=``
instead, so a boot without the camera does not hang in "activating".

``WATCHDOG=1`` is sent from the loop's tick hook (every frame and every idle tick), at
half of ``WATCHDOG_USEC``, and only while the pipeline is fresh (``is_fresh``): no sink
has failed (``RunStats.sink_failed``: a sink whose own thread ended delivers nothing,
however fast frames come), and a frame was processed within the window, or the source
reports "reconnecting" and made a reopen attempt within the window. A read that never
returns (the loop gets idle ticks but no frame) or an invoke that never returns (the
loop gets no tick at all) makes no progress, the pings stop, and systemd kills and
restarts the service (``Restart=on-failure``). A free-running thread must never ping:
that would hide hangs.

The window defaults to ``WATCHDOG_USEC`` (the unit's ``WatchdogSec=``), settable with
``[service] watchdog_window``: a stall is then caught at most window + WatchdogSec
after the last frame. Sources slower than one frame per window need a longer window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from edge.pipeline.loop import Pipeline
from edge.pipeline.stats import FpsWindow, RunStats, status_text
from edge.service.notify import Notifier

log = logging.getLogger("edge")

Clock = Callable[[], float]


def is_fresh(stats: RunStats, now: float, window: float, since: float) -> bool:
    """True while the loop makes progress: no failed sink, and a frame within ``window``
    seconds (counting from ``since``, the moment the service became ready, before the
    first frame), or a reconnecting source that tried to reopen within the window."""
    if stats.failed:
        return False
    if now - max(stats.last_frame_at, since) <= window:
        return True
    return stats.source_state == "reconnecting" and now - stats.source_activity_at <= window


class ServiceSupervisor:
    """The tick hook that talks to systemd; a no-op outside systemd."""

    def __init__(
        self,
        notifier: Notifier,
        *,
        watchdog_interval: float | None,
        window: float | None,
        status_every: float = 2.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.notifier = notifier
        self.watchdog_interval = watchdog_interval
        # Without a configured window, allow one whole watchdog period (2 x the interval).
        self.window = window if window is not None else 2 * (watchdog_interval or 15.0)
        self.status_every = status_every
        self.clock = clock
        self.pings = 0
        self._since = clock()
        self._next_ping = 0.0
        self._next_status = 0.0
        self._fps = FpsWindow(self._since)
        self._stopping = False

    def ready(self, pipeline: Pipeline) -> None:
        """``app.run``'s ``on_start``: everything is open, the first frame is next."""
        self._since = self.clock()
        self._fps.restart(self._since, pipeline.stats.frames)
        self.notifier.send("READY=1", "STATUS=" + status_text(pipeline.stats, 0.0, True))
        self._next_status = self._since + self.status_every
        if self.watchdog_interval:
            log.info(
                "systemd watchdog: ping every %.1f s while a frame came within %.1f s",
                self.watchdog_interval,
                self.window,
            )

    def __call__(self, stats: RunStats) -> None:
        if not self.notifier.enabled or self._stopping:
            return
        now = self.clock()
        fresh = is_fresh(stats, now, self.window, self._since)
        if self.watchdog_interval and fresh and now >= self._next_ping:
            self.notifier.send("WATCHDOG=1")
            self.pings += 1
            self._next_ping = now + self.watchdog_interval
        if now >= self._next_status:
            fps = self._fps.take(stats.frames, now)
            self.notifier.send("STATUS=" + status_text(stats, fps, fresh))
            self._next_status = now + self.status_every

    def stopping(self) -> None:
        """STOPPING=1 once, when the stop begins (before the sinks are flushed)."""
        if not self._stopping:
            self._stopping = True
            self.notifier.send("STOPPING=1", "STATUS=stopping: flushing sinks")
