"""The second stage crops from the largest picture of the moment: ``Frame.full`` when the
source keeps one, and ``edge run`` asks sources to keep it (and MJPEG to decode at full
size) when ``[refine]`` is on, as it does for snapshots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge import app
from edge.config.load import load_config
from edge.model.zoo import zoo_file
from edge.pipeline.inference import open_inference
from edge.sources import open_source
from edge.types import Frame

DETECTOR = json.dumps(str(zoo_file("digits-detector.int8.tflite")))
CROPS = json.dumps(str(zoo_file("digits-crops.int8.tflite")))


def _config(folder: Path, extra: str) -> Any:
    (folder / "edge.toml").write_text(
        f"max_frames = 2\n[model]\npath = {DETECTOR}\n"
        '[source]\nkind = "synthetic"\ndigits = 2\non_demand = true\n'
        '[[sinks]]\nkind = "jsonl"\npath = "out.jsonl"\n' + extra
    )
    return load_config(folder / "edge.toml")


def test_prepare_hands_the_full_picture_to_the_second_stage(tmp_path: Path) -> None:
    model, inference = open_inference(_config(tmp_path, f"[refine]\npath = {CROPS}\n"))
    try:
        small = np.zeros((72, 96, 3), np.uint8)
        large = np.zeros((720, 960, 3), np.uint8)
        prepared = inference.prepare(
            Frame(small, 0, 0.0, "camera", full=large), inference.new_input()
        )
        assert prepared.image is large
        assert inference.run_prepared(prepared).image is large
        alone = inference.prepare(Frame(small, 0, 0.0, "camera"), inference.new_input())
        assert alone.image is small
    finally:
        model.close()


@pytest.mark.parametrize(("refine", "keeps"), [(True, True), (False, False)])
def test_a_run_with_refine_asks_the_source_for_the_full_picture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, refine: bool, keeps: bool
) -> None:
    asked: dict[str, Any] = {}

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.update(kwargs)
        return open_source(*args, **kwargs)

    monkeypatch.setattr(app, "open_source", spy)
    config = _config(tmp_path, f"[refine]\npath = {CROPS}\n" if refine else "")
    assert app.needs_full_picture(config) is keeps
    stats = app.run(config)
    assert stats.frames == 2
    assert asked["keep_full"] is keeps and asked["reduced_decode"] is not keeps
