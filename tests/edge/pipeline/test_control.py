"""RunControl in the real loop: pause drops frames before inference (counted), the
threshold filters detections before the record. Real model, real synthetic camera."""

from __future__ import annotations

import pytest

from edge.config.model import DecoderConfig, ModelConfig
from edge.model.load import load_model
from edge.pipeline.control import RunControl
from edge.pipeline.inference import Inference
from edge.pipeline.loop import Pipeline, TickHook
from edge.pipeline.stats import RunStats
from edge.record import RecordContext
from edge.sinks.memory import MemorySink
from edge.sources.synthetic import SyntheticCamera


def run(control: RunControl, hook: TickHook, frames: int) -> tuple[MemorySink, RunStats]:
    model = load_model(ModelConfig(), DecoderConfig())
    sink = MemorySink()
    context = RecordContext("t", model.manifest.name, model.file.sha256, model.manifest.task)
    pipeline = Pipeline(
        SyntheticCamera(fps=200),
        Inference(model),
        [sink],
        context,
        model.manifest.labels,
        max_frames=frames,
        tick_hooks=[hook],
        control=control,
    )
    try:
        return sink, pipeline.run()
    finally:
        model.close()


def test_pause_reads_and_drops_frames_then_resumes() -> None:
    control = RunControl()
    control.set_paused(True)

    def resume_later(stats: RunStats) -> None:
        if stats.paused_frames >= 20:
            control.set_paused(False)

    sink, stats = run(control, resume_later, 10)
    assert stats.paused_frames >= 20 and stats.frames == 10
    assert [r["seq"] for r in sink.records] == list(range(10))  # no gap from the pause


def test_threshold_applies_before_the_record() -> None:
    # The control: the same frames at the model's own threshold give detections.
    sink, _ = run(RunControl(), lambda stats: None, 5)
    scores = [d["score"] for r in sink.records for d in r["detections"]]
    assert len(sink.records) == 5 and len(scores) >= 5, sink.records
    control = RunControl()
    control.set_threshold(1.0)  # an int8 softmax never reaches 1.0 (at most 255/256)
    sink, _ = run(control, lambda stats: None, 5)
    assert len(sink.records) == 5 and all(r["detections"] == [] for r in sink.records)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        control.set_threshold(1.5)
    assert control.snapshot() == {"paused": False, "threshold": 1.0, "effective_threshold": 1.0}


def test_the_effective_threshold_is_the_models_until_an_override_raises_it() -> None:
    control = RunControl(model_threshold=0.4)
    assert control.effective_threshold == 0.4
    control.set_threshold(0.6)
    assert control.effective_threshold == 0.6
    control.set_threshold(0.1)  # the decoder already dropped what is below 0.4
    assert control.effective_threshold == 0.4
    control.set_threshold(None)
    assert control.snapshot() == {"paused": False, "threshold": None, "effective_threshold": 0.4}
    assert RunControl().effective_threshold is None  # a model without a score threshold
