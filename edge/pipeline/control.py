"""Run-time controls the loop consults on every frame: pause and a score threshold.

Commands arrive on other threads (the MQTT network thread), the loop reads them on its
own, so every access goes through one lock. The object holds state only; whoever
receives a command validates it first (``edge.sinks.mqtt.commands`` for ``<prefix>/set``).
"""

from __future__ import annotations

import threading


class RunControl:
    """``model_threshold`` is the lowest score the model's decoder reports (None when its
    results have no score to filter, as an anomaly model's): the threshold in effect while
    no command overrides it, shown by Home Assistant's threshold entity. A SIGHUP reload
    sets the new model's (``edge.service.reload``)."""

    def __init__(self, model_threshold: float | None = None) -> None:
        self._lock = threading.Lock()
        self._paused = False
        self._threshold: float | None = None
        self._model_threshold = model_threshold

    @property
    def model_threshold(self) -> float | None:
        with self._lock:
            return self._model_threshold

    def set_model_threshold(self, threshold: float | None) -> None:
        with self._lock:
            self._model_threshold = threshold

    @property
    def paused(self) -> bool:
        """While paused, frames are read and dropped (counted) and no record is written."""
        with self._lock:
            return self._paused

    @property
    def threshold(self) -> float | None:
        """Minimum detection score applied before the record; ``None`` keeps the decoder's."""
        with self._lock:
            return self._threshold

    def set_paused(self, paused: bool) -> None:
        with self._lock:
            self._paused = paused

    def set_threshold(self, threshold: float | None) -> None:
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold {threshold} is outside 0..1")
        with self._lock:
            self._threshold = threshold

    @property
    def effective_threshold(self) -> float | None:
        """The lowest score a record can hold: the decoder has already dropped what is
        below the model's threshold, so a lower override changes nothing."""
        with self._lock:
            override, model = self._threshold, self._model_threshold
        if override is None or model is None:
            return model if override is None else override
        return max(override, model)

    def snapshot(self) -> dict[str, bool | float | None]:
        with self._lock:
            state = {"paused": self._paused, "threshold": self._threshold}
        state["effective_threshold"] = self.effective_threshold
        return state
