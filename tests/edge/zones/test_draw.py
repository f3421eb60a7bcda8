"""Zones, lines and masks drawn with their counts: the preview's and recording's picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.observers.annotate import FrameAnnotator, annotate
from edge.types import Frame
from edge.zones.draw import LINE_COLOUR, ZONE_COLOURS, ZoneOverlay
from tests.conftest import REPO, RunEdge
from tests.edge.zones.scenes import MIDDLE, quadrant_zones


def _record(total: int, crossed: int) -> dict[str, Any]:
    return {
        "detections": [],
        "zones": {"top_left": {"counts": {"3": total} if total else {}, "total": total}},
        "lines": {"middle": {"in": {"3": crossed} if crossed else {}, "out": {}}},
    }


def test_zones_and_lines_are_drawn_with_their_counts() -> None:
    overlay = ZoneOverlay(quadrant_zones()[:1], [MIDDLE])
    image = np.zeros((240, 320, 3), np.uint8)
    drawn = annotate(image, _record(0, 0), overlay=overlay)
    assert _has(drawn[117:124, 80], ZONE_COLOURS[0])  # the top-left zone's bottom edge
    assert _has(drawn[200, 157:164], LINE_COLOUR)  # the middle line
    assert not np.array_equal(annotate(image, _record(2, 1), overlay=overlay), drawn)  # counts
    assert not image.any()  # the input is untouched


def test_the_frame_annotator_passes_the_overlay() -> None:
    overlay = ZoneOverlay(quadrant_zones()[:1])
    frame = Frame(np.zeros((240, 320, 3), np.uint8), 0, 0.0, "t")
    assert _has(FrameAnnotator(overlay)(frame, _record(1, 0))[117:124, 80], ZONE_COLOURS[0])


def _has(pixels: np.ndarray[Any, Any], colour: tuple[int, int, int]) -> bool:
    """A pixel of exactly ``colour`` among ``pixels`` (anti-aliased edges blend the rest)."""
    return bool((pixels == np.asarray(colour, np.uint8)).all(axis=-1).any())


def test_record_draws_the_zones(run_edge: RunEdge, tmp_path: Path) -> None:
    """``edge run --record`` with a zone: the recorded video shows its outline."""
    import cv2

    (tmp_path / "edge.toml").write_text(
        "[[zones]]\nname = 'z'\npoints = [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]\n"
    )
    model = REPO / "models" / "zoo" / "digits-detector.int8.tflite"
    done = run_edge(
        [
            "run",
            "--config",
            "edge.toml",
            "--model",
            str(model),
            "--record",
            "out.avi",
            "--max-frames",
            "5",
            "--sink",
            "jsonl:out.jsonl",
        ]
    )
    assert done.returncode == 0, done.stderr
    video = cv2.VideoCapture(str(tmp_path / "out.avi"))
    ok, picture = video.read()
    video.release()
    assert ok
    edge = picture[57:64, 160].astype(int)  # the zone's top edge at y = 0.25 of 240
    colour = np.asarray(ZONE_COLOURS[0])
    assert (np.abs(edge - colour).max(axis=-1) < 60).any(), edge.tolist()
