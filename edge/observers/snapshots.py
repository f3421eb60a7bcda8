"""``--snapshot-dir DIR``: an annotated JPEG when a detection or an anomaly appears.

Rate-limited per label (``interval`` seconds), so a person standing in view for an hour
gives one picture per interval, not 100,000. The picture is the frame's ``full`` image
when the source attached one (the Pi camera's main stream), else the frame itself.
File names sort by time: ``20261130-181501.123_seq000042_person.jpg``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from pathlib import Path
from typing import Any

import cv2

from edge.errors import ConfigError
from edge.observers.annotate import annotate
from edge.types import Frame

log = logging.getLogger(__name__)


def triggers(record: dict[str, Any]) -> list[str]:
    """The labels in a record worth a snapshot: every detection, and "anomaly" when the
    anomaly score reaches its threshold."""
    labels = [str(item["label"]) for item in record.get("detections", [])]
    anomaly = record.get("anomaly")
    if isinstance(anomaly, dict) and anomaly["score"] >= anomaly["threshold"]:
        labels.append("anomaly")
    return labels


class SnapshotSaver:
    def __init__(self, folder: Path, *, interval: float = 10.0) -> None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the snapshot folder {str(folder)!r}: {exc}",
                hint="choose a folder this user may write",
            ) from exc
        self.folder = folder
        self.interval = interval
        self.saved = 0  # a count, not a list: a service runs for months
        self._last: dict[str, float] = {}

    def observe(self, frame: Frame, record: dict[str, Any]) -> None:
        now = time.monotonic()
        due = [
            label
            for label in dict.fromkeys(triggers(record))
            if now - self._last.get(label, -1e18) >= self.interval
        ]
        if not due:
            return
        for label in due:
            self._last[label] = now
        image = annotate(frame.full if frame.full is not None else frame.image, record)
        stamp = dt.datetime.fromtimestamp(frame.timestamp).strftime("%Y%m%d-%H%M%S.%f")[:-3]
        name = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", label) for label in due)[:80]
        path = self.folder / f"{stamp}_seq{record.get('seq', 0):06d}_{name}.jpg"
        if cv2.imwrite(str(path), image):
            self.saved += 1
        else:
            log.warning("could not write snapshot %s", path)

    def close(self) -> None:
        if self.saved:
            log.info("saved %d snapshots in %s", self.saved, self.folder)
