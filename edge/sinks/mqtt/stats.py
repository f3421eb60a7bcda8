"""``<prefix>/stats``: the run's health, retained, every ``stats_interval`` seconds.

Built from the loop's ``RunStats`` with ``edge.pipeline.stats``' one frame-rate window and
one percentile (numpy's linear interpolation), so the figures match the status line and
the run summary. Sent at the frame loop's tick. The first message waits for a full
``stats_interval`` window: a rate over the first few frames (the model warming up, a
read-ahead burst) said 112-177 fps on a 30 fps camera, and Home Assistant recorded it.
After a (re)connect, or when Home Assistant came online, the last message is sent again
at the next tick rather than a new one over a short window.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge import __version__
from edge.pipeline.stats import FpsWindow, percentile

if TYPE_CHECKING:
    from edge.pipeline.control import RunControl
    from edge.pipeline.stats import RunStats
    from edge.sinks.mqtt.connection import Publisher
    from edge.sinks.mqtt.pump import OutboxCounts

_MIN_WINDOW = 0.5  # s; a shorter window (the first message) reports the run's average


class Stats:
    """Publishes ``<prefix>/stats`` from ``tick``.

    Threads: ``tick`` runs on the frame loop's thread, which alone owns ``_next`` and the
    frame-rate window; other threads ask for stats at the next tick with ``refresh``
    (an Event). The callables it is given read their values under their owners' locks.
    """

    def __init__(
        self,
        connection: Publisher,
        *,
        topic: str,
        interval: float,
        device: str,
        control: RunControl | None,
        outbox: Callable[[], OutboxCounts],
        model: Callable[[], dict[str, str]],
        faults: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.topic = topic
        self._connection = connection
        self._interval = interval
        self._device = device
        self._control = control
        self._outbox = outbox
        self._model = model
        self._faults = faults
        self._started = time.monotonic()
        self._fps = FpsWindow(self._started)
        self._next = self._started + interval
        self._last: str | None = None
        self._due = threading.Event()

    def refresh(self) -> None:
        """Fresh stats at the next tick (any thread)."""
        self._due.set()

    def tick(self, stats: RunStats) -> None:
        """Pipeline tick hook: publish every ``interval`` seconds while connected."""
        now = time.monotonic()
        if self._due.is_set() and self._connection.connected:
            self._due.clear()
            if self._last is not None:
                self._connection.publish(self.topic, self._last, qos=0, retain=True)
        if now < self._next:
            return
        self._next = now + self._interval
        self._last = json.dumps(self.payload(stats, now), separators=(",", ":"))
        if self._connection.connected:
            self._connection.publish(self.topic, self._last, qos=0, retain=True)

    def payload(self, stats: RunStats, now: float) -> dict[str, Any]:
        """The message; opens the next frame-rate window at ``now``."""
        span = now - self._fps.since
        fps = self._fps.take(stats.frames, now)
        if span < _MIN_WINDOW:  # only a caller outside tick asks this early
            fps = stats.fps
        outbox = self._outbox()
        return {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "device": self._device,
            "fps": round(fps, 2),
            "frames": stats.frames,
            "infer_ms_p50": _rounded(percentile(stats.infer_ms, 50)),
            "infer_ms_p95": _rounded(percentile(stats.infer_ms, 95)),
            "dropped_frames": stats.dropped,
            "paused_frames": stats.paused_frames,
            "paused": self._control.paused if self._control else False,
            "sink_drops": dict(stats.sink_dropped),
            "sink_state": dict(stats.sink_state),
            "failed_sinks": dict(stats.sink_failed),
            "mqtt_faults": self._faults(),
            "outbox": {
                "depth": outbox.depth,
                "bytes": outbox.bytes,
                "dropped": outbox.dropped,
                "dropped_total": outbox.dropped_total,
            },
            "uptime_s": round(now - self._started, 1),
            "model": self._model(),
            "cpu_temp_c": cpu_temperature(),
            "version": __version__,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def cpu_temperature(root: Path = Path("/sys/class/thermal")) -> float | None:
    """The SoC temperature in °C from the first CPU thermal zone (Linux, a Pi), else None."""
    zones = sorted(root.glob("thermal_zone*"))
    preferred = [z for z in zones if "cpu" in _read(z / "type").lower()] or zones
    for zone in preferred:
        text = _read(zone / "temp")
        if text.strip().lstrip("-").isdigit():
            return round(int(text) / 1000, 1)
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
