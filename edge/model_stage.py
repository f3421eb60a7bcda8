"""The pipeline's inference stage: frames in, undecoded model outputs out, on its own thread.

``Pipeline`` runs three stages at once: the reader (``edge.capture``: capture and
decoding of the picture), this stage (the motion gate, preprocessing straight into the
interpreter's input tensor, ``invoke``) and the loop thread (box decoding, records,
sinks, events, observers, supervision). OpenCV and LiteRT release the GIL while they
work, so on a multi-core board the stages overlap and the frame rate approaches the
slowest stage instead of the sum of all three.

Hand-offs are bounded queues, and the order is kept (one thread per stage, FIFO):
- from a live source this stage takes the newest frame (``LatestFrameReader``); its own
  output queue holds ``live_depth`` items, so a slow loop thread makes the reader drop
  old frames instead of ageing every result;
- from a file or folder nothing is dropped: each stage waits for room.

A model swap (reload) takes the model lock, so no frame is ever half through one model
and half through the other: each output carries the model (and its record context and
labels) that produced it, and is decoded by that model's decoder.

Shutdown: ``finish`` asks the stage to stop taking frames; what it already inferred is
still handed over and written, then ``Ended`` closes the stream, so a stop drains cleanly
and a ``max_frames`` run writes exactly that many records.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from edge.control import RunControl
from edge.record import RecordContext
from edge.types import Frame

if TYPE_CHECKING:
    from edge.inference import Inference, ModelOutput
    from edge.processing.motion import MotionGate


class FrameReader(Protocol):
    """``edge.capture``'s readers: frames (``None`` = idle tick) until the source ends."""

    dropped: int

    def frames(self, stop: threading.Event, poll: float = 0.1) -> Iterator[Frame | None]: ...


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """The model in use and what its records say about it; swapped whole on a reload."""

    inference: Inference
    context: RecordContext
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Inferred:
    frame: Frame
    output: ModelOutput
    model: ActiveModel


@dataclass(frozen=True, slots=True)
class Skipped:
    """The motion gate saw no change: no inference, still progress."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Paused:
    """Read while paused by a command: dropped, still progress."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Ended:
    """The stage's last item: the source ended, the limit or a stop was reached, or
    ``error`` was raised (by the source, the gate or the model)."""

    error: BaseException | None = None


StageItem = Inferred | Skipped | Paused | Ended


class ModelStage:
    def __init__(self, reader: FrameReader, model: ActiveModel, *, live: bool,
                 gate: MotionGate | None = None, control: RunControl | None = None,
                 limit: int | None = None, depth: int = 4, live_depth: int = 1) -> None:
        self._reader = reader
        self._model = model
        self._lock = threading.Lock()  # held while a frame is in the model; swap waits
        self._gate = gate
        self._control = control
        self._limit = limit
        self._queue: queue.Queue[StageItem] = queue.Queue(maxsize=live_depth if live else depth)
        self._finish = threading.Event()  # stop taking frames, hand over what is done
        self._abandon = threading.Event()  # the consumer is gone: hand over nothing more
        self._thread = threading.Thread(target=self._work, name="inference", daemon=True)
        self._thread.start()

    @property
    def model(self) -> ActiveModel:
        return self._model

    def swap(self, model: ActiveModel) -> ActiveModel:
        """Use ``model`` from the next frame on; returns the one it replaces, which no
        frame is using any more when this returns (the caller may close it)."""
        with self._lock:
            replaced, self._model = self._model, model
        return replaced

    def items(self, poll: float = 0.1) -> Iterator[StageItem | None]:
        """Items in frame order, ``None`` after ``poll`` seconds without one (an idle
        tick), ending with the ``Ended`` item."""
        while True:
            try:
                item = self._queue.get(timeout=poll)
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    return  # abandoned: nothing more will come
                yield None
                continue
            yield item
            if isinstance(item, Ended):
                return

    def finish(self) -> None:
        """Stop taking frames; what is already inferred still comes out of ``items``."""
        self._finish.set()

    def close(self, timeout: float = 2.0) -> None:
        """Stop at once, discard what was not taken, and wait for the thread."""
        self._finish.set()
        self._abandon.set()
        while True:  # make room, so a put waiting for it sees the abandon flag
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout)

    def _work(self) -> None:
        error: BaseException | None = None
        handed = 0  # frames counted against the limit: inferred or skipped by the gate
        try:
            for frame in self._reader.frames(self._finish):
                if frame is None:
                    continue  # idle: the loop thread does the supervising
                item = self._process(frame)
                if not self._hand_over(item):
                    return
                if not isinstance(item, Paused):
                    handed += 1
                if self._limit and handed >= self._limit:
                    break
        except BaseException as exc:
            error = exc
        self._hand_over(Ended(error))

    def _process(self, frame: Frame) -> StageItem:
        if self._control is not None and self._control.paused:
            return Paused(frame)
        if self._gate is not None and not self._gate.should_infer(frame):
            return Skipped(frame)
        with self._lock:
            model = self._model
            return Inferred(frame, model.inference.run_model(frame), model)

    def _hand_over(self, item: StageItem) -> bool:
        """Put ``item`` in the queue, waiting for room; False once abandoned."""
        while not self._abandon.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
