"""``edge zones check`` (headless) and ``edge zones draw`` (its drawing state headless, its
window under Xvfb like the preview's tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config.load import load_config
from edge.zones.draw import ZONE_COLOURS
from edge.zones.sketch import Sketch
from tests.conftest import REPO, RunEdge
from tests.edge.observers.test_observers import gui_env, xvfb

__all__ = ["xvfb"]  # the fixture

CONFIG = """
[source]
kind = "synthetic"
digits = 4
[[zones]]
name = "drive"
points = [[0.1, 0.5], [0.6, 0.5], [0.6, 0.95], [0.1, 0.95]]
labels = ["3", "7"]
[[lines]]
name = "door"
points = [[0.7, 0.1], [0.7, 0.9]]
[[masks]]
points = [[0.8, 0.0], [1.0, 0.0], [1.0, 0.3]]
applies_to = "motion"
"""


def test_check_renders_the_zones_over_a_snapshot(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text(CONFIG)
    done = run_edge(["zones", "check", "edge.toml", "--out", "z.png"])
    assert done.returncode == 0, done.stderr
    assert (
        "zone drive: 22.5% of the frame, anchor bottom_center, inertia 3, labels 3, 7"
        in done.stdout
    )
    assert "line door: [0.7, 0.1] -> [0.7, 0.9], in side right" in done.stdout
    picture = cv2.imread(str(tmp_path / "z.png"))
    assert picture is not None and picture.shape == (240, 320, 3)
    edge = picture[118:124, 100]  # the zone's top edge at y = 0.5
    assert (edge == np.asarray(ZONE_COLOURS[0], np.uint8)).all(axis=-1).any()


def test_check_without_zones_is_a_config_error(run_edge: RunEdge, tmp_path: Path) -> None:
    (tmp_path / "edge.toml").write_text("[source]\nkind = 'synthetic'\n")
    done = run_edge(["zones", "check", "edge.toml"])
    assert done.returncode == 78 and "no [[zones]]" in done.stderr


def test_the_sketch_turns_clicks_into_config(tmp_path: Path) -> None:
    sketch = Sketch()
    for x, y in ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4)):
        sketch.click(x, y)
    sketch.key("z")
    sketch.click(0.5, 0.0)
    sketch.key("l")  # one corner: not a line yet
    assert "click more corners" in sketch.message
    sketch.click(0.5, 1.2)  # clipped to the frame
    sketch.key("l")
    for x, y in ((0.7, 0.7), (0.9, 0.7), (0.9, 0.9)):
        sketch.click(x, y)
    sketch.key("n")
    sketch.click(0.2, 0.2)
    sketch.key("u")  # undoes the pending corner
    (tmp_path / "drawn.toml").write_text(sketch.toml())
    config = load_config(tmp_path / "drawn.toml")
    assert [z.name for z in config.zones] == ["zone1"]
    assert config.zones[0].points == [[0.1, 0.1], [0.4, 0.1], [0.4, 0.4]]
    assert config.lines[0].points == [[0.5, 0.0], [0.5, 1.0]]
    assert config.masks[0].applies_to == "motion"
    sketch.key("u")  # then the last shape
    assert not sketch.masks and Sketch().toml() == "# nothing drawn\n"


def test_draw_opens_a_window_and_q_prints_the_toml(xvfb: str, tmp_path: Path) -> None:
    from tests.edge import xkeys

    if xkeys.load() is None:
        pytest.skip("libX11/libXtst are not installed (apt install libxtst6)")
    command = [
        sys.executable,
        "-c",
        "from edge.cli import entry; entry()",
        "zones",
        "draw",
        "--source",
        "synthetic",
        "--out",
        "z.toml",
    ]
    run = subprocess.Popen(
        command,
        cwd=tmp_path,
        env={**os.environ, **gui_env(xvfb)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert xkeys.press(xvfb, "edge zones draw", "q"), "the window never appeared"
        stdout, stderr = run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, stderr
    assert stdout == "# nothing drawn\n" == (tmp_path / "z.toml").read_text()


def test_check_config_refuses_zones_a_model_cannot_fill(run_edge: RunEdge, tmp_path: Path) -> None:
    zone = "[[zones]]\nname = 'z'\npoints = [[0, 0], [1, 0], [1, 1]]\n"
    (tmp_path / "cnn.toml").write_text(zone)  # the default model is a classifier: no boxes
    done = run_edge(["check-config", "cnn.toml"])
    assert done.returncode == 78 and "zones, lines and detection masks need boxes" in done.stderr
    (tmp_path / "det.toml").write_text(
        f"[model]\npath = '{REPO}/models/zoo/digits-detector.int8.tflite'\n"
        + zone
        + "labels = ['cat']\n"
    )
    done = run_edge(["check-config", "det.toml"])
    assert (
        done.returncode == 78
        and "zone 'z' names labels the model does not have: cat" in done.stderr
    )
