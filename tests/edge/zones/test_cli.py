"""``edge zones check`` (headless) and ``edge zones draw`` (its drawing state headless, its
window under Xvfb like the preview's tests)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.config.load import load_config
from edge.zones.draw import ZONE_COLOURS
from edge.zones.sketch import Sketch
from tests.conftest import REPO, RunEdge
from tests.edge.observers.test_observers import start_edge_on_display, xvfb
from tests.edge.xwindow import XWindow, wait_until

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
    run = start_edge_on_display(
        xvfb, ["zones", "draw", "--source", "synthetic", "--out", "z.toml"], tmp_path
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


RED = [0, 0, 255]  # BGR of the corner dots the draw window shows until a shape is made


def _dots(window: XWindow, spots: list[tuple[int, int]]) -> bool:
    shot = window.screenshot()
    return shot.size > 0 and all(shot[y, x].tolist() == RED for x, y in spots)


def _no_dots(window: XWindow, spots: list[tuple[int, int]]) -> bool:
    shot = window.screenshot()
    return shot.size > 0 and not any(shot[y, x].tolist() == RED for x, y in spots)


def _first_click(window: XWindow, spot: tuple[int, int]) -> None:
    """Click ``spot`` until its corner dot shows, then undo (``u``) until it is gone: the
    window has taken a real click and the drawing holds no corner.

    Why: in about 1 run in 100 (4 of ~430 here, more under load) the first click never
    reached OpenCV's mouse callback: no dot, though the status bar showed the pointer
    there; always the first of the test's five clicks, never a later one. X delivers a
    client's events in order, so once the dot (or its absence after ``u``) shows, every
    earlier click has been handled or lost: repeating cannot leave a stray corner."""

    def clicked() -> bool:
        window.click(*spot)
        return _shown(partial(_dots, window, [spot]))

    def undone() -> bool:
        window.key("u")
        return _shown(partial(_no_dots, window, [spot]))

    wait_until(clicked, f"a first click at {spot} to show")
    wait_until(undone, f"the first click at {spot} to be undone")


def _shown(condition: Callable[[], bool], patience: float = 2.0) -> bool:
    try:
        wait_until(condition, "", patience)
    except AssertionError:
        return False
    return True


def test_draw_turns_real_clicks_into_the_toml(xvfb: str, tmp_path: Path, run_edge: RunEdge) -> None:
    """Real mouse clicks (XTEST, through the X server, Qt and OpenCV's mouse callback) on
    the window's picture: the printed TOML holds the clicked pixels, normalised, within a
    pixel, and ``edge check-config`` accepts it. Each step waits for what it shows (a red
    corner dot, the dots gone once the shape is made), so no sleep decides the result."""
    from tests.edge import xkeys

    if xkeys.load() is None:
        pytest.skip("libX11/libXtst are not installed (apt install libxtst6)")
    # Noise: found at one place only; no pixel is the corner dots' pure red.
    picture = np.random.default_rng(0).integers(16, 240, (240, 320, 3), np.uint8)
    (tmp_path / "pictures").mkdir()
    cv2.imwrite(str(tmp_path / "pictures" / "scene.png"), picture)
    run = start_edge_on_display(
        xvfb, ["zones", "draw", "--source", "pictures", "--out", "drawn.toml"], tmp_path
    )
    shapes = {"z": [(40, 30), (280, 50), (200, 190)], "l": [(60, 200), (300, 120)]}
    try:
        with XWindow(xvfb, "edge zones draw") as window:
            left, top = window.find(picture[:200])  # above the help line drawn at the bottom
            _first_click(window, (left + 160, top + 120))
            for key, corners in shapes.items():
                spots = [(left + x, top + y) for x, y in corners]
                for spot in spots:
                    window.click(*spot)
                    wait_until(partial(_dots, window, [spot]), f"the corner dot at {spot}")
                window.key(key)
                wait_until(partial(_no_dots, window, spots), f"the shape made by {key!r}")
            window.key("q")
        stdout, stderr = run.communicate(timeout=30)
    except BaseException:
        run.kill()
        print("edge zones draw's stderr:", run.communicate()[1])  # shown with the failure
        raise
    assert run.returncode == 0, stderr
    assert (tmp_path / "drawn.toml").read_text() == stdout
    drawn = load_config(tmp_path / "drawn.toml")
    for got, corners in (
        (drawn.zones[0].points, shapes["z"]),
        (drawn.lines[0].points, shapes["l"]),
    ):
        assert len(got) == len(corners)
        for (gx, gy), (x, y) in zip(got, corners, strict=True):
            assert abs(gx - x / 320) < 1 / 320 and abs(gy - y / 240) < 1 / 240, (got, corners)
    detector = REPO / "models" / "zoo" / "digits-detector.int8.tflite"
    (tmp_path / "edge.toml").write_text(f"[model]\npath = '{detector}'\n\n" + stdout)
    done = run_edge(["check-config", "edge.toml"])
    assert done.returncode == 0, done.stderr


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
