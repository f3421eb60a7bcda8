"""The pictures of the web server: a frame observer and a JPEG encoder on its own thread.

Cost is the point of this module. ``observe`` runs on the frame loop's thread and only
keeps a reference to the newest frame and record (sources hand out a new array per
frame), plus the record in a short list when it holds detections: no copy, no drawing,
no encoding, whether anyone watches or not. The encoder thread sleeps while nobody
watches; while a viewer is connected it wakes at most ``fps`` times a second, takes the
newest frame the pipeline already has, scales it to ``width``, draws the record
(``edge.observers.annotate``) and encodes it, once per picture kind however many viewers
want it. Viewers wait on a condition for the next picture; a slow viewer blocks only its
own connection's thread and misses pictures, never the pipeline, as the MQTT snapshot
publisher (``edge.sinks.mqtt.snapshot``) does with its one-picture mailbox.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from edge.observers.annotate import Overlay
from edge.observers.jpeg import frame_jpeg
from edge.types import Frame, Image

log = logging.getLogger(__name__)

Kind = Literal["annotated", "raw"]
KINDS: tuple[Kind, ...] = ("annotated", "raw")


@dataclass(frozen=True)
class Picture:
    """One encoded picture: its number (per kind, from 1), JPEG bytes and when it was made."""

    seq: int
    jpeg: bytes
    at: float


class FrameFeed:
    """The frame observer of the web server, and the encoder behind its pictures.

    Threads: ``observe`` runs on the loop's thread and assigns ``_latest`` whole (one
    reference); the encoder thread reads it. Viewer counts, the pictures and ``closed``
    are guarded by ``_cond``; connection threads wait on it.
    """

    def __init__(
        self,
        *,
        fps: float,
        width: int,
        quality: int,
        max_viewers: int,
        recent: int = 20,
        overlay: Overlay | None = None,
    ) -> None:
        self.max_viewers = max_viewers
        self._overlay = overlay
        self.encoded = 0  # pictures encoded (both kinds), read by tests and the benchmark
        self.recent: deque[dict[str, Any]] = deque(maxlen=recent)  # records with detections
        self._interval = 1.0 / fps
        self._width = width
        self._quality = quality
        self._latest: tuple[Frame, dict[str, Any]] | None = None
        self._cond = threading.Condition()
        self._streams = 0  # capped connections (/stream.mjpg)
        self._wanted: dict[Kind, int] = {"annotated": 0, "raw": 0}  # streams + snapshots
        self._pictures: dict[Kind, Picture | None] = {"annotated": None, "raw": None}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="http-encoder", daemon=True)
        self._thread.start()

    # The loop's side.

    def observe(self, frame: Frame, record: dict[str, Any]) -> None:
        self._latest = (frame, record)
        if record.get("detections"):
            self.recent.append(record)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(5.0)

    # The connections' side.

    @property
    def viewers(self) -> int:
        """Streams connected now."""
        return self._streams

    def stream(self, kind: Kind) -> Viewer | None:
        """A place among the ``max_viewers`` streams, or None when they are all taken.
        Iterate it for the pictures of ``kind`` as they are made; ``close`` it (always)
        to free the place."""
        with self._cond:
            if self._streams >= self.max_viewers or self._closed:
                return None
            self._streams += 1
            self._wanted[kind] += 1
            self._cond.notify_all()
        return Viewer(self, kind)

    def latest(self, kind: Kind, timeout: float = 3.0) -> bytes | None:
        """A picture no older than one encoder interval: the current one, or the next one
        encoded for this request. None when no frame came within ``timeout``."""
        with self._cond:
            current = self._pictures[kind]
            if current is not None and time.monotonic() - current.at <= self._interval:
                return current.jpeg
            self._wanted[kind] += 1
            self._cond.notify_all()
            try:
                seq = current.seq if current is not None else 0
                self._cond.wait_for(lambda: self._newer(kind, seq) or self._closed, timeout)
                picture = self._pictures[kind]
                return picture.jpeg if picture is not None and picture.seq > seq else None
            finally:
                self._wanted[kind] -= 1

    def next_picture(self, kind: Kind, after: int, timeout: float = 1.0) -> Picture | None:
        """The first picture of ``kind`` newer than number ``after``; None on timeout;
        raises EOFError once the feed is closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._newer(kind, after) or self._closed, timeout)
            if self._closed:
                raise EOFError("the feed is closed")
            picture = self._pictures[kind]
        return picture if picture is not None and picture.seq > after else None

    def leave(self, kind: Kind) -> None:
        with self._cond:
            self._streams -= 1
            self._wanted[kind] -= 1

    def _newer(self, kind: Kind, seq: int) -> bool:
        picture = self._pictures[kind]
        return picture is not None and picture.seq > seq

    # The encoder thread.

    def _run(self) -> None:
        # The last frame encoded, by its index and time, not by reference: holding a frame
        # while the thread sleeps would keep a camera-sized array alive beside the
        # pipeline's own, a cost the pipeline pays in allocations on every frame.
        encoded: tuple[int, float] | None = None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or any(self._wanted.values()))
                if self._closed:
                    return
                wanted = [kind for kind in KINDS if self._wanted[kind]]
            started = time.monotonic()
            latest = self._latest
            if latest is not None and (latest[0].index, latest[0].timestamp) != encoded:
                encoded = (latest[0].index, latest[0].timestamp)
                for kind in wanted:
                    try:
                        jpeg = self.encode(*latest, annotated=kind == "annotated")
                    except Exception:  # a picture is a nicety: never end the thread
                        log.exception("could not encode the %s stream picture", kind)
                        continue
                    self._publish(kind, jpeg)
                    self.encoded += 1
            del latest  # not held while sleeping (above)
            # At most ``fps`` pictures a second, the time spent encoding included; a
            # request for a newer picture waits for the next turn.
            with self._cond:
                self._cond.wait_for(
                    lambda: self._closed, max(0.0, started + self._interval - time.monotonic())
                )

    def _publish(self, kind: Kind, jpeg: bytes) -> None:
        with self._cond:
            previous = self._pictures[kind]
            seq = previous.seq + 1 if previous is not None else 1
            self._pictures[kind] = Picture(seq, jpeg, time.monotonic())
            self._cond.notify_all()

    def encode(self, frame: Frame, record: dict[str, Any], *, annotated: bool) -> bytes:
        """The frame's picture scaled down to ``width`` (never up), drawn on when
        ``annotated``, as JPEG bytes."""
        image: Image = frame.full if frame.full is not None else frame.image
        return frame_jpeg(
            image,
            record if annotated else None,
            width=self._width,
            quality=self._quality,
            overlay=self._overlay,
        )


class Viewer:
    """One stream's place: iterating gives its JPEG pictures as they come, until the
    feed closes; ``close`` frees the place (once)."""

    def __init__(self, feed: FrameFeed, kind: Kind) -> None:
        self._feed = feed
        self._kind = kind
        self._open = True

    def __iter__(self) -> Iterator[bytes]:
        seq = 0
        while self._open:
            try:
                picture = self._feed.next_picture(self._kind, seq)
            except EOFError:
                return
            if picture is not None:
                seq = picture.seq
                yield picture.jpeg

    def close(self) -> None:
        if self._open:
            self._open = False
            self._feed.leave(self._kind)
