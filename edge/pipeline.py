"""The only loop: frames -> inference -> records -> sinks.

Live sources are read through ``LatestFrameReader`` (newest frame only, drops counted);
files and folders are iterated directly so no frame is lost. Inference runs on the
calling thread, which is also where the systemd watchdog will be fed, so a stalled
pipeline stops the pings. ``stop`` (set by a signal handler) ends the loop cleanly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.capture import LatestFrameReader
from edge.inference import Inference
from edge.record import RecordContext, to_record
from edge.sinks.base import Sink
from edge.sources.base import Source
from edge.types import Frame, Result

_WINDOW = 2048


@dataclass
class RunStats:
    """Counters of one run. Latency percentiles cover the most recent frames only, so a
    service that runs for months keeps constant memory."""

    started: float = field(default_factory=time.monotonic)
    frames: int = 0
    dropped: int = 0
    infer_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))
    total_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def fps(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> dict[str, float]:
        infer = np.asarray(self.infer_ms or [0.0])
        total = np.asarray(self.total_ms or [0.0])
        return {
            "frames": self.frames,
            "dropped": self.dropped,
            "seconds": round(self.elapsed, 2),
            "fps": round(self.fps, 1),
            "infer_ms_p50": round(float(np.percentile(infer, 50)), 3),
            "infer_ms_p95": round(float(np.percentile(infer, 95)), 3),
            "total_ms_p50": round(float(np.percentile(total, 50)), 3),
        }


StatusCallback = Callable[[RunStats], None]


class Pipeline:
    def __init__(
        self,
        source: Source,
        inference: Inference,
        sinks: Sequence[Sink],
        context: RecordContext,
        labels: Sequence[str],
        *,
        max_frames: int | None = None,
        status: StatusCallback | None = None,
        status_interval: float = 5.0,
    ) -> None:
        self.source = source
        self.inference = inference
        self.sinks = list(sinks)
        self.context = context
        self.labels = tuple(labels)
        self.max_frames = max_frames
        self.status = status
        self.status_interval = status_interval
        self.stats = RunStats()

    def run(self, stop: threading.Event | None = None) -> RunStats:
        stop = stop or threading.Event()
        reader = LatestFrameReader(self.source) if self.source.live else None
        frames: Iterator[Frame] = reader.frames(stop) if reader else iter(self.source)
        next_status = time.monotonic() + self.status_interval
        try:
            for frame in frames:
                self._process(frame)
                if reader is not None:
                    self.stats.dropped = reader.dropped
                if self.status and time.monotonic() >= next_status:
                    self.status(self.stats)
                    next_status = time.monotonic() + self.status_interval
                if stop.is_set() or (self.max_frames and self.stats.frames >= self.max_frames):
                    break
        finally:
            if reader is not None:
                reader.close()
                self.stats.dropped = reader.dropped
            else:
                self.source.close()
        return self.stats

    def _process(self, frame: Frame) -> None:
        detections, extra, latency = self.inference(frame)
        result = Result(self.stats.frames, frame, detections, self.labels, latency, extra)
        record = to_record(result, self.context)
        for sink in self.sinks:
            sink.write(record)
        self.stats.frames += 1
        self.stats.infer_ms.append(latency.infer)
        self.stats.total_ms.append(latency.total)
