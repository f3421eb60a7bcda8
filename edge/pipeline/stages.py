"""The pipeline's model stages: frames in, undecoded model outputs out, on two threads.

``Pipeline`` runs four stages at once: the reader (``edge.pipeline.readers``: capture and
decoding of the picture), the preprocessing stage and the inference stage (both here),
and the loop thread (box decoding, records, sinks, events, observers, supervision).
OpenCV and LiteRT release the GIL while they work, so on a multi-core board the stages
overlap and the frame rate approaches the slowest stage instead of the sum of all of
them: for a model whose invoke takes milliseconds that is the invoke itself, with the
resize of the next frame done beside it.

- preprocessing: pause, motion gate, then the frame resized and quantized into an input
  buffer taken from a small pool allocated once per model (``Inference.new_input``): no
  allocation on the hot path;
- inference: the buffer handed to the interpreter (``set_tensor`` copies it), ``invoke``,
  the outputs copied out; the buffer goes back to the pool.

Hand-offs are bounded queues, and the order is kept (one thread per stage, FIFO):
- from a live source the preprocessing takes the newest frame (``LatestFrameReader``)
  only when the model is free for it, and every queue holds one item: a slow stage makes
  the reader drop old frames instead of ageing every result (a result is about one
  model period old, not two);
- from a file or folder nothing is dropped: each stage waits for room.

A model swap (reload) is taken by the preprocessing stage between two frames: frames
already preprocessed go through the model that prepared them, and every item carries that
model (with its record context and labels), so each output is decoded by its own model's
decoder. The replaced model is released (``ActiveModel.release``: its interpreter is
closed) once the inference stage has run its last frame; ``swap`` never waits for that,
so the loop thread that asks never blocks on a stage that is waiting for the loop.

What the stages need of a model is ``ModelRunner`` (``edge.pipeline.inference.Inference``
is the one implementation; tests wrap it). A runner never closes its interpreter: the
model comes with its owner's ``release`` (``ActiveModel``), and the stage calls it once,
when the model is retired or the stage closes (see ``ModelStage.close``).

Live sources wait for the model (``_wait_until_inferred``) and for the loop
(``_wait_until_taken``) on one ``threading.Condition``, notified when what they wait for
changes: a waiting thread sleeps until then, instead of polling.

Shutdown: ``finish`` asks the stages to stop taking frames; what is already preprocessed
is still inferred and handed over, then ``Ended`` closes the stream, so a stop drains
cleanly and a ``max_frames`` run writes exactly that many records.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from edge.pipeline.control import RunControl
from edge.record import RecordContext
from edge.types import Detections, Frame, Latency

if TYPE_CHECKING:
    from edge.model.backends.base import Array
    from edge.model.manifest import InputSpec
    from edge.pipeline.inference import ModelOutput, Prepared
    from edge.processing.motion import MotionGate


class FrameReader(Protocol):
    """``edge.pipeline.readers``'s readers: frames (``None`` = idle tick) until the source ends."""

    dropped: int

    def frames(self, stop: threading.Event, poll: float = 0.1) -> Iterator[Frame | None]: ...


class ModelRunner(Protocol):
    """What the pipeline needs of a model, one frame at a time on three threads:
    ``edge.pipeline.inference.Inference``. It has no ``close``: freeing the interpreter is
    its owner's, handed over as ``ActiveModel.release``."""

    @property
    def input_spec(self) -> InputSpec: ...

    def new_input(self) -> Array: ...

    def prepare(self, frame: Frame, buffer: Array) -> Prepared: ...

    def run_prepared(self, prepared: Prepared) -> ModelOutput: ...

    def decode(self, output: ModelOutput) -> tuple[Detections, dict[str, Any], Latency]: ...


Release = Callable[[], None]


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """The model in use and what its records say about it; swapped whole on a reload.

    ``release`` frees the model (``LoadedModel.close``) when the pipeline owns it: called
    once, after its last frame. ``None``: the caller keeps it (a test's shared model)."""

    inference: ModelRunner
    context: RecordContext
    labels: tuple[str, ...]
    release: Release | None = None


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
    """The last item: the source ended, the limit or a stop was reached, or ``error`` was
    raised (by the source, the gate or the model)."""

    error: BaseException | None = None


StageItem = Inferred | Skipped | Paused | Ended
_Q = TypeVar("_Q")
log = logging.getLogger("edge")


@dataclass(frozen=True, slots=True)
class _Ready:
    """A frame preprocessed into ``buffer`` (from ``pool``), for ``model``."""

    frame: Frame
    model: ActiveModel
    prepared: Prepared
    pool: _BufferPool


@dataclass(frozen=True, slots=True)
class _Retired:
    """Marker after the last frame preprocessed for ``model``: it may be released now."""

    model: ActiveModel


class _BufferPool:
    """Input buffers of one model, allocated once: taken by the preprocessing, given
    back by the inference stage after ``invoke``."""

    def __init__(self, inference: ModelRunner, size: int) -> None:
        self._free: queue.SimpleQueue[Array] = queue.SimpleQueue()
        for _ in range(size):
            self._free.put(inference.new_input())

    def take(self, abandon: threading.Event) -> Array | None:
        while not abandon.is_set():
            try:
                return self._free.get(timeout=0.05)
            except queue.Empty:
                continue
        return None

    def give(self, buffer: Array) -> None:
        self._free.put(buffer)


class ModelStage:
    """The preprocessing and inference threads of one run.

    Owner of the models it was given with a ``release`` (``ActiveModel``), from the
    start model or a ``swap`` until ``close``: each is released exactly once, after its
    last frame (a model swapped out) or by ``close`` (the model in use, and models
    swapped out whose last frame never came through). If the inference thread is stuck
    in an ``invoke`` at ``close``, nothing is released: that invoke may still use them.
    """

    def __init__(
        self,
        reader: FrameReader,
        model: ActiveModel,
        *,
        live: bool,
        gate: MotionGate | None = None,
        control: RunControl | None = None,
        limit: int | None = None,
        depth: int = 4,
    ) -> None:
        self._reader = reader
        self._model = model
        self._pending: ActiveModel | None = None  # the model to switch to, if any
        self._retiring: list[_Retired] = []  # markers for the models it replaces
        self._swap_lock = threading.Lock()
        self._gate = gate
        self._control = control
        self._limit = limit
        self._live = live
        self._depth = 1 if live else depth
        self._ready: queue.Queue[_Ready | _Retired | StageItem] = queue.Queue(
            maxsize=1 if live else 2
        )
        self._out: queue.Queue[StageItem] = queue.Queue(maxsize=self._depth)
        self._finish = threading.Event()  # stop taking frames, hand over what is done
        self._abandon = threading.Event()  # the consumer is gone: hand over nothing more
        # Live sources wait on this condition: for the model to be free (_inferring:
        # set by the preprocessing when it hands a frame on, cleared by the inference
        # thread once that frame's output is handed on) and for the loop to take an
        # output (notified by ``items``). ``close`` notifies it too (abandoned).
        self._changed = threading.Condition()
        self._inferring = False
        self._unretired: list[_Retired] = []  # swapped out, not yet through the model
        self._prepare_thread = threading.Thread(
            target=self._prepare_frames, name="preprocess", daemon=True
        )
        self._infer_thread = threading.Thread(
            target=self._infer_frames, name="inference", daemon=True
        )
        self._prepare_thread.start()
        self._infer_thread.start()

    def swap(self, model: ActiveModel) -> None:
        """Use ``model`` from the next frame preprocessed on; the replaced model is
        released once no frame uses it any more (at the latest when the stage closes).
        Returns at once."""
        with self._swap_lock:
            marker = _Retired(self._model)
            # Known at once, so close() retires it even if no stage ever takes the swap.
            self._unretired.append(marker)
            self._retiring.append(marker)
            self._pending = model
            self._model = model

    def items(self, poll: float = 0.1) -> Iterator[StageItem | None]:
        """Items in frame order, ``None`` after ``poll`` seconds without one (an idle
        tick), ending with the ``Ended`` item."""
        while True:
            try:
                item = self._out.get(timeout=poll)
            except queue.Empty:
                if not self._infer_thread.is_alive() and self._out.empty():
                    if not self._abandon.is_set():  # died without its Ended: say so
                        yield Ended(RuntimeError("the inference stage stopped unexpectedly"))
                    return
                yield None
                continue
            if self._live:
                with self._changed:  # the inference thread may wait for this take
                    self._changed.notify_all()
            yield item
            if isinstance(item, Ended):
                return

    def finish(self) -> None:
        """Stop taking frames; what is already preprocessed still comes out of ``items``."""
        self._finish.set()

    def close(self, timeout: float = 2.0) -> None:
        """Stop at once, discard what was not taken, wait for the threads, then release
        the models swapped out whose last frames never came through, and the model in
        use (see the class docstring)."""
        self._finish.set()
        self._abandon.set()
        with self._changed:
            self._changed.notify_all()
        for hand_off in (self._out, self._ready):
            while True:  # make room, so a put waiting for it sees the abandon flag
                try:
                    hand_off.get_nowait()
                except queue.Empty:
                    break
        self._prepare_thread.join(timeout)
        self._infer_thread.join(timeout)
        if self._infer_thread.is_alive():  # stuck in an invoke: it may still use them
            log.warning(
                "the inference stage did not stop within %.0f s; its models stay "
                "open until the process exits",
                timeout,
            )
            return
        with self._swap_lock:
            leftovers, self._unretired = self._unretired, []
            current = self._model
        for retired in [*leftovers, _Retired(current)]:
            _retire(retired)

    # --- the preprocessing thread ------------------------------------------------------

    def _prepare_frames(self) -> None:
        error: BaseException | None = None
        handed = 0  # frames counted against the limit: inferred or skipped by the gate
        current = self._model
        pool = _BufferPool(current.inference, self._depth + 2)
        try:
            for frame in self._reader.frames(self._finish):
                current, pool = self._take_swap(current, pool)
                if frame is None:
                    continue  # idle: the loop thread does the supervising
                item = self._prepare(frame, current, pool)
                if item is None:
                    return  # abandoned
                self._set_inferring(True)  # before the put: the inference thread clears it
                if not self._put(self._ready, item):
                    return
                self._wait_until_inferred()  # live: the next frame is the newest
                if not isinstance(item, Paused):
                    handed += 1
                if self._limit and handed >= self._limit:
                    break
        except BaseException as exc:
            error = exc
        self._take_swap(current, pool)
        self._put(self._ready, Ended(error))

    def _take_swap(
        self, current: ActiveModel, pool: _BufferPool
    ) -> tuple[ActiveModel, _BufferPool]:
        with self._swap_lock:
            model, self._pending = self._pending, None
            markers, self._retiring = self._retiring, []
        if model is None:
            return current, pool
        for marker in markers:  # after the old model's last frame
            self._put(self._ready, marker)
        return model, _BufferPool(model.inference, self._depth + 2)

    def _prepare(
        self, frame: Frame, model: ActiveModel, pool: _BufferPool
    ) -> _Ready | Skipped | Paused | None:
        if self._control is not None and self._control.paused:
            return Paused(frame)
        if self._gate is not None and not self._gate.should_infer(frame):
            return Skipped(frame)
        buffer = pool.take(self._abandon)
        if buffer is None:
            return None
        return _Ready(frame, model, model.inference.prepare(frame, buffer), pool)

    # --- the inference thread ----------------------------------------------------------

    def _infer_frames(self) -> None:
        while not self._abandon.is_set():
            try:
                item = self._ready.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, _Retired):
                with self._swap_lock:
                    self._unretired = [m for m in self._unretired if m is not item]
                _retire(item)
                continue
            if isinstance(item, Ended):
                self._put(self._out, item)
                return
            if not isinstance(item, _Ready):  # skipped or paused: passed on, in order
                if not self._put(self._out, item):
                    return
                self._set_inferring(False)
                continue
            try:
                output = item.model.inference.run_prepared(item.prepared)
            except BaseException as exc:
                self._put(self._out, Ended(exc))
                return
            finally:
                item.pool.give(item.prepared.buffer)
            if not self._put(self._out, Inferred(item.frame, output, item.model)):
                return
            self._set_inferring(False)
            self._wait_until_taken()

    def _set_inferring(self, value: bool) -> None:
        with self._changed:
            self._inferring = value
            if not value:  # the preprocessing may wait for the model to be free
                self._changed.notify_all()

    def _wait_until_inferred(self) -> None:
        """Live sources: ask the reader for the next frame only when the model is free
        for it. A frame picked earlier would wait a whole invoke in the hand-off, and
        every result would come out one model period older than the camera's newest
        frame; what this costs is the overlap of one frame's resize with the invoke."""
        if self._live:
            with self._changed:
                self._changed.wait_for(lambda: self._abandon.is_set() or not self._inferring)

    def _wait_until_taken(self) -> None:
        """Live sources: hold an output back until the loop took the previous one."""
        if self._live:
            with self._changed:
                self._changed.wait_for(lambda: self._abandon.is_set() or self._out.empty())

    def _put(self, hand_off: queue.Queue[_Q], item: _Q) -> bool:
        """Put ``item`` in ``hand_off``, waiting for room; False once abandoned."""
        while not self._abandon.is_set():
            try:
                hand_off.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


def _retire(retired: _Retired) -> None:
    """Release a model no frame uses any more; a release that fails is logged, and the
    frames keep coming (closing an old model must not end the run)."""
    if retired.model.release is None:
        return
    try:
        retired.model.release()
    except Exception:
        log.exception("closing a model the pipeline was done with failed")
