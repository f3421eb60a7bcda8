"""The staged pipeline: reader, preprocessing, inference and loop thread, each its own.

Real LiteRT interpreters on the shipped models throughout; the sources are small fakes
with the ``Source`` protocol where a case needs frames on cue. What must hold however
the threads interleave: order kept, nothing dropped from a file, exactly ``max_frames``
records, a model swap that never mixes models within a frame and frees the old model only
after its last frame, errors from the model reaching the caller, a stop that drains what
was already preprocessed, and the preprocessing writing into a few buffers allocated once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.config.model import ModelConfig
from edge.errors import BackendError
from edge.model.backends.base import Array
from edge.model.load import LoadedModel, load_model
from edge.model.manifest import InputSpec
from edge.pipeline.inference import Inference, ModelOutput, Prepared
from edge.pipeline.loop import Pipeline
from edge.pipeline.stages import ModelRunner
from edge.pipeline.stats import RunStats
from edge.record import RecordContext
from edge.sinks.memory import MemorySink
from edge.sources.base import Source
from edge.types import Detections, Frame, Latency

ZOO = Path(__file__).resolve().parents[3] / "models" / "zoo"
rng = np.random.default_rng(7)
PICTURES = [rng.integers(0, 256, (60, 80, 3), dtype=np.uint8) for _ in range(8)]


class FakeFile:
    """A non-live source of ``count`` distinct frames (cycling through 8 pictures)."""

    name = "fake"
    live = False

    def __init__(self, count: int) -> None:
        self.count = count

    def __iter__(self) -> Iterator[Frame]:
        for index in range(self.count):
            yield Frame(PICTURES[index % len(PICTURES)], index, time.time(), self.name)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def cnn() -> Iterator[LoadedModel]:
    model = load_model(ModelConfig())
    yield model
    model.close()


@pytest.fixture(scope="module")
def detector() -> Iterator[LoadedModel]:
    model = load_model(ModelConfig(path=ZOO / "digits-detector.int8.tflite"))
    yield model
    model.close()


def context(model: LoadedModel) -> RecordContext:
    return RecordContext("test", model.manifest.name, model.file.sha256, model.manifest.task)


def pipeline(
    model: LoadedModel,
    source: Source,
    sink: MemorySink,
    inference: ModelRunner | None = None,
    **options: Any,
) -> Pipeline:
    return Pipeline(
        source,
        inference or Inference(model),
        [sink],
        context(model),
        model.manifest.labels,
        **options,
    )


def test_a_file_comes_out_whole_and_in_order(cnn: LoadedModel) -> None:
    sink = MemorySink()
    stats = pipeline(cnn, FakeFile(300), sink).run()
    frames = [record["source"]["frame"] for record in sink.records]
    assert frames == list(range(300)) and stats.frames == 300 and stats.dropped == 0
    assert [record["seq"] for record in sink.records] == list(range(300))


def test_each_record_is_the_result_of_its_own_frame(cnn: LoadedModel) -> None:
    """Run on three threads, every record still matches its frame: the same picture
    through a fresh, single-threaded Inference gives the same answer."""
    sink = MemorySink()
    pipeline(cnn, FakeFile(64), sink).run()
    reference = Inference(cnn)
    for record in sink.records:
        index = record["source"]["frame"]
        expected, _, _ = reference(Frame(PICTURES[index % 8], index, 0.0, "ref"))
        got = [(d["class_id"], d["score"]) for d in record["detections"]]
        assert got == [
            (int(c), round(float(s), 4))
            for c, s in zip(expected.class_id, expected.confidence, strict=True)
        ]


def test_max_frames_writes_exactly_that_many(cnn: LoadedModel) -> None:
    sink = MemorySink()
    stats = pipeline(cnn, FakeFile(500), sink, max_frames=37).run()
    assert stats.frames == 37 and len(sink.records) == 37


class Counting:
    """Wraps an Inference (a ``ModelRunner``); can block in the invoke on cue (a long
    invoke) or fail. ``close`` is what its owner would close: given to the pipeline as
    the model's ``release``, it records when the pipeline released it."""

    def __init__(self, inner: Inference) -> None:
        self.inner = inner
        self.calls = 0
        self.block_at: int | None = None
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.fail_at: int | None = None
        self.closed_after: int | None = None  # calls made when close() came
        self.closes = 0

    @property
    def input_spec(self) -> InputSpec:
        return self.inner.input_spec

    def new_input(self) -> Array:
        return self.inner.new_input()

    def prepare(self, frame: Frame, buffer: Array) -> Prepared:
        return self.inner.prepare(frame, buffer)

    def run_prepared(self, prepared: Prepared) -> ModelOutput:
        self.calls += 1
        if self.calls == self.fail_at:
            raise BackendError("inference failed in ai_edge_litert: injected")
        if self.calls == self.block_at:
            self.blocked.set()
            self.release.wait(10)
        return self.inner.run_prepared(prepared)

    def decode(self, output: ModelOutput) -> tuple[Detections, dict[str, Any], Latency]:
        return self.inner.decode(output)

    def close(self) -> None:
        self.closed_after = self.calls
        self.closes += 1


def test_a_swap_never_mixes_models(cnn: LoadedModel, detector: LoadedModel) -> None:
    """The swap is asked while frame 40 is inside the old model. It returns at once (the
    loop thread never waits on the stages); frames the old model had taken are decoded
    by its decoder and recorded under its name, every later one under the new model's;
    the old model is released (closed) only after its last frame."""
    old = Counting(Inference(cnn))
    old.block_at = 40
    new = Inference(detector)
    sink = MemorySink()
    run = pipeline(cnn, FakeFile(120), sink, inference=old, release=old.close)
    stats: list[RunStats] = []
    worker = threading.Thread(target=lambda: stats.append(run.run()))
    worker.start()
    assert old.blocked.wait(10)
    # Frame 40 stays inside the old model until release is set below: a swap that waited
    # for it would never return, one that does not returns whatever the machine's speed.
    swapped = threading.Event()

    def swap() -> None:
        run.swap_model(new, context(detector), detector.manifest.labels)  # the fixture's
        swapped.set()

    threading.Thread(target=swap, daemon=True).start()
    assert swapped.wait(10), "swap_model waited for the frame inside the old model"
    assert old.closed_after is None  # frame 40 is still in the old model
    old.release.set()
    worker.join(30)
    assert stats[0].frames == 120
    names = [record["model"]["name"] for record in sink.records]
    switch = names.index(detector.manifest.name)
    assert switch >= 40 and names[:switch] == [cnn.manifest.name] * switch
    assert names[switch:] == [detector.manifest.name] * (120 - switch)
    assert old.calls == switch  # no frame went through the old model after the swap
    assert old.closed_after == switch and old.closes == 1  # after its last frame, once
    for record in sink.records:  # each decoded by its own model's decoder
        boxes = [("box" in d) for d in record["detections"]]
        detect = record["model"]["task"] == "detect"
        assert all(boxes) if detect else not any(boxes)
    assert [record["source"]["frame"] for record in sink.records] == list(range(120))


def test_a_model_swapped_out_at_the_end_is_still_released(cnn: LoadedModel) -> None:
    """A swap the stages never reach (the source ends first) still releases the old
    model when the run closes, and the new one too: each exactly once. A model swapped
    in after the run is released at once (nothing will run it)."""
    old, new, late = (Counting(Inference(cnn)) for _ in range(3))
    sink = MemorySink()
    run = pipeline(cnn, FakeFile(3), sink, inference=old, release=old.close)

    def swap_late(stats: RunStats) -> None:
        if stats.frames == 3 and not new.closes and run.inference is old:
            run.swap_model(new, context(cnn), cnn.manifest.labels, release=new.close)

    run.tick_hooks.append(swap_late)
    run.run()
    assert run.inference is new
    assert (old.closed_after, old.closes) == (3, 1) and (new.closed_after, new.closes) == (0, 1)
    run.swap_model(late, context(cnn), cnn.manifest.labels, release=late.close)
    assert late.closes == 1 and new.closes == 1


def test_a_model_without_release_stays_open(cnn: LoadedModel) -> None:
    """No ``release``: the caller keeps the model (the fixture here); the run never
    closes it, and it runs again."""
    kept = Counting(Inference(cnn))
    for _ in range(2):
        assert pipeline(cnn, FakeFile(5), MemorySink(), inference=kept).run().frames == 5
    assert kept.closes == 0 and kept.calls == 10


def test_a_model_error_reaches_the_caller_after_the_frames_before_it(cnn: LoadedModel) -> None:
    failing = Counting(Inference(cnn))
    failing.fail_at = 25
    sink = MemorySink()
    with pytest.raises(BackendError, match="injected"):
        pipeline(cnn, FakeFile(100), sink, inference=failing).run()
    assert [record["source"]["frame"] for record in sink.records] == list(range(24))


def test_a_stop_drains_what_was_inferred(cnn: LoadedModel) -> None:
    """Stopped from a tick hook after 50 records: the run ends at once, and every frame
    that went through the model has its record (no gap, nothing half done)."""
    counted = Counting(Inference(cnn))
    stop = threading.Event()

    def hook(stats: RunStats) -> None:
        if stats.frames >= 50:
            stop.set()

    sink = MemorySink()
    started = time.monotonic()
    stats = pipeline(cnn, FakeFile(100_000), sink, inference=counted, tick_hooks=[hook]).run(stop)
    assert time.monotonic() - started < 20
    assert 50 <= stats.frames < 100_000
    assert [record["source"]["frame"] for record in sink.records] == list(range(stats.frames))
    assert counted.calls == stats.frames  # inferred = recorded


def test_the_preprocessing_writes_into_buffers_allocated_once(detector: LoadedModel) -> None:
    """The hot path allocates no input: every frame's tensor is written into one of the
    few buffers the model stage allocated at start, and the outputs equal those of the
    single-threaded path."""
    inner = Inference(detector)
    written: list[int] = []
    allocated: list[int] = []

    class Recording(Counting):
        def new_input(self) -> Array:
            buffer = super().new_input()
            allocated.append(buffer.ctypes.data)
            return buffer

        def prepare(self, frame: Frame, buffer: Array) -> Prepared:
            written.append(buffer.ctypes.data)
            return super().prepare(frame, buffer)

    sink = MemorySink()
    pipeline(detector, FakeFile(200), sink, inference=Recording(inner)).run()
    assert len(written) == 200 and len(allocated) <= 8
    assert set(written) <= set(allocated)
    reference = Inference(detector)
    for record in sink.records[:20]:
        index = record["source"]["frame"]
        expected, _, _ = reference(Frame(PICTURES[index % 8], index, 0.0, "ref"))
        assert len(record["detections"]) == len(expected)


class LiveFake:
    """A live source (newest frame only) delivering frames as fast as it is read."""

    name = "live"
    live = True

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while not self.stopped.is_set():
            time.sleep(0.002)
            yield Frame(PICTURES[index % 8], index, time.time(), self.name)
            index += 1

    def close(self) -> None:
        self.stopped.set()


class Ordering(Counting):
    """Records the order of preprocessing and invokes (no timing is asserted)."""

    def __init__(self, inner: Inference) -> None:
        super().__init__(inner)
        self.events: list[str] = []
        self._lock = threading.Lock()

    def prepare(self, frame: Frame, buffer: Array) -> Prepared:
        with self._lock:
            self.events.append("prepare")
        return super().prepare(frame, buffer)

    def run_prepared(self, prepared: Prepared) -> ModelOutput:
        with self._lock:
            self.events.append("start")
        time.sleep(0.02)  # a model period long enough for the camera to move on
        output = super().run_prepared(prepared)
        with self._lock:
            self.events.append("end")
        return output


def test_a_live_frame_is_taken_only_when_the_model_is_free(cnn: LoadedModel) -> None:
    """Live: the next frame is picked (and preprocessed) only after the previous one left
    the model, so a result is about one model period old, never two; a file keeps the
    overlap of the next resize with the invoke (the frames are not going anywhere)."""
    live = Ordering(Inference(cnn))
    pipeline(cnn, LiveFake(), MemorySink(), inference=live, max_frames=12).run()
    assert live.events[:1] == ["prepare"]
    for before, after in zip(live.events, live.events[1:], strict=False):
        if after == "prepare":
            assert before == "end", live.events
    from_file = Ordering(Inference(cnn))
    pipeline(cnn, FakeFile(12), MemorySink(), inference=from_file).run()
    overlapped = [
        i
        for i, event in enumerate(from_file.events[1:], 1)
        if event == "prepare" and from_file.events[i - 1] == "start"
    ]
    assert overlapped, from_file.events
