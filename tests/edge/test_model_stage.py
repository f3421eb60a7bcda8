"""The staged pipeline: reader, inference stage and loop thread on their own threads.

Real LiteRT interpreters on the shipped models throughout; the sources are small fakes
with the ``Source`` protocol where a case needs frames on cue. What must hold however
the threads interleave: order kept, nothing dropped from a file, exactly ``max_frames``
records, a model swap that never mixes models within a frame, errors from the model
reaching the caller, a stop that drains what was already inferred, and the
preprocessing writing into the interpreter's own input tensor every frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.config import ModelConfig
from edge.errors import BackendError
from edge.inference import Inference, ModelOutput
from edge.model import LoadedModel, load_model
from edge.pipeline import Pipeline, RunStats
from edge.record import RecordContext
from edge.sinks.memory import MemorySink
from edge.types import Frame

ZOO = Path(__file__).resolve().parents[2] / "models" / "zoo"
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


def pipeline(model: LoadedModel, source: Any, sink: MemorySink, inference: Any = None,
             **options: Any) -> Pipeline:
    return Pipeline(source, inference or Inference(model), [sink], context(model),
                    model.manifest.labels, **options)


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
        assert got == [(int(c), round(float(s), 4))
                       for c, s in zip(expected.class_id, expected.confidence, strict=True)]


def test_max_frames_writes_exactly_that_many(cnn: LoadedModel) -> None:
    sink = MemorySink()
    stats = pipeline(cnn, FakeFile(500), sink, max_frames=37).run()
    assert stats.frames == 37 and len(sink.records) == 37


class Counting:
    """Wraps an Inference; can block in ``run_model`` on cue (a long invoke)."""

    def __init__(self, inner: Inference) -> None:
        self.inner = inner
        self.calls = 0
        self.block_at: int | None = None
        self.blocked = threading.Event()
        self.release = threading.Event()
        self.fail_at: int | None = None

    def run_model(self, frame: Frame) -> ModelOutput:
        self.calls += 1
        if self.calls == self.fail_at:
            raise BackendError("inference failed in ai_edge_litert: injected")
        if self.calls == self.block_at:
            self.blocked.set()
            self.release.wait(10)
        return self.inner.run_model(frame)

    def decode(self, output: ModelOutput) -> Any:
        return self.inner.decode(output)

    def close(self) -> None:
        pass


def test_a_swap_never_mixes_models(cnn: LoadedModel, detector: LoadedModel) -> None:
    """The swap is asked while frame 40 is inside the old model: it waits for that frame,
    frames the old model inferred are decoded by its decoder and recorded under its name,
    every later one under the new model's."""
    old = Counting(Inference(cnn))
    old.block_at = 40
    new = Inference(detector)
    sink = MemorySink()
    run = pipeline(cnn, FakeFile(120), sink, inference=old)
    swapped = threading.Event()
    stats: list[RunStats] = []
    worker = threading.Thread(target=lambda: stats.append(run.run()))
    worker.start()
    assert old.blocked.wait(10)
    swapper = threading.Thread(target=lambda: (
        run.swap_model(new, context(detector), detector.manifest.labels), swapped.set()))
    swapper.start()
    time.sleep(0.2)
    assert not swapped.is_set()  # frame 40 is still in the old model
    old.release.set()
    swapper.join(10)
    worker.join(30)
    assert swapped.is_set() and stats[0].frames == 120
    names = [record["model"]["name"] for record in sink.records]
    switch = names.index(detector.manifest.name)
    assert switch >= 40 and names[:switch] == [cnn.manifest.name] * switch
    assert names[switch:] == [detector.manifest.name] * (120 - switch)
    assert old.calls == switch  # no frame went through the old model after the swap
    for record in sink.records:  # each decoded by its own model's decoder
        boxes = [("box" in d) for d in record["detections"]]
        detect = record["model"]["task"] == "detect"
        assert all(boxes) if detect else not any(boxes)
    assert [record["source"]["frame"] for record in sink.records] == list(range(120))


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
    stats = pipeline(cnn, FakeFile(100_000), sink, inference=counted,
                     tick_hooks=[hook]).run(stop)
    assert time.monotonic() - started < 20
    assert 50 <= stats.frames < 100_000
    assert [record["source"]["frame"] for record in sink.records] == list(range(stats.frames))
    assert counted.calls == stats.frames  # inferred = recorded


def test_the_preprocessing_writes_into_the_interpreters_own_input(
        detector: LoadedModel) -> None:
    """The hot path allocates no input: every frame's tensor is written into the same
    memory, the interpreter's input tensor, and the result equals the copying path."""
    inference = Inference(detector)
    backend = detector.backend
    written: list[int] = []
    preprocess = inference._preprocess
    original = preprocess.into

    def recording(image: Any, out: Any) -> Any:
        written.append(out.ctypes.data)
        return original(image, out)

    preprocess.into = recording  # type: ignore[method-assign]
    try:
        outputs = [inference.run_model(Frame(PICTURES[i], i, 0.0, "t")) for i in range(6)]
    finally:
        del preprocess.into
    interpreter = backend._interpreter  # type: ignore[attr-defined]
    input_address = interpreter.tensor(backend.inputs[0].index)().ctypes.data
    assert written == [input_address] * 6
    for index, output in enumerate(outputs):  # same numbers as set_tensor on a copy
        tensor, _ = preprocess(PICTURES[index])
        expected = backend.infer([tensor.copy()])
        for got, want in zip(output.raw, expected, strict=True):
            np.testing.assert_array_equal(got, want)
