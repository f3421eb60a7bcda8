"""Synthetic-camera scenes with known zones, lines and truth, shared by the zone tests."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge.config.zones import LineConfig, ZoneConfig
from edge.sources.synthetic import Mover, SceneTruth, SyntheticCamera
from edge.types import Detections

LABELS = tuple(str(d) for d in range(10))
# The 2x2 scene mode puts one digit per quadrant: a zone per quadrant, the left half, and
# a triangle over the top-right quadrant's lower-left half that only counts odd digits.
QUADRANTS = {
    "top_left": (0.0, 0.0),
    "top_right": (0.5, 0.0),
    "bottom_left": (0.0, 0.5),
    "bottom_right": (0.5, 0.5),
}


def quadrant_zones(inertia: int = 1, anchor: str = "center") -> list[ZoneConfig]:
    zones = [
        ZoneConfig.model_validate(
            {
                "name": name,
                "points": [[x, y], [x + 0.5, y], [x + 0.5, y + 0.5], [x, y + 0.5]],
                "anchor": anchor,
                "inertia": inertia,
            }
        )
        for name, (x, y) in QUADRANTS.items()
    ]
    zones.append(
        ZoneConfig.model_validate(
            {
                "name": "left_odd",
                "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]],
                "labels": ["1", "3", "5", "7", "9"],
                "anchor": anchor,
                "inertia": inertia,
            }
        )
    )
    return zones


def truth_counts(truth: SceneTruth) -> dict[str, Counter[str]]:
    """The expected counts, from where the scene put each digit (its quadrant holds its
    whole box), not from any polygon test."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in [*QUADRANTS, "left_odd"]}
    for digit in truth.digits:
        x0, y0, x1, y1 = digit.box
        left, top = x1 <= 0.5, y1 <= 0.5
        assert left or x0 >= 0.5  # the scene keeps each digit inside its own cell
        assert top or y0 >= 0.5
        name = ("top" if top else "bottom") + ("_left" if left else "_right")
        counts[name][str(digit.label)] += 1
        if left and digit.label % 2 == 1:
            counts["left_odd"][str(digit.label)] += 1
    return counts


def truth_detections(truth: SceneTruth) -> Detections:
    return Detections(
        np.asarray(truth.labels, np.int64),
        np.ones(len(truth.digits), np.float32),
        np.asarray(truth.boxes, np.float32).reshape(-1, 4),
    )


def crossing_camera(hidden: frozenset[int] = frozenset()) -> SyntheticCamera:
    """Three digits in their own lanes: two cross the vertical middle line back and forth
    (at 2.5 and 3.3 px a frame), one (a 7) jitters by up to 3 px on the left and never
    crosses it."""
    movers = (
        Mover(start=(0.05, 0.02), end=(0.6, 0.02), period=70, size=0.3, digit=0),
        Mover(start=(0.62, 0.36), end=(0.05, 0.36), period=55, size=0.3, digit=1),
        Mover(start=(0.1, 0.68), end=(0.1, 0.68), size=0.3, jitter=0.01, digit=4, hidden=hidden),
    )
    return SyntheticCamera(fps=None, movers=movers)


MIDDLE = LineConfig.model_validate(
    {"name": "middle", "points": [[0.5, 0.0], [0.5, 1.0]], "anchor": "center"}
)


def truth_crossings(
    camera: SyntheticCamera, frames: int, x: float = 0.5
) -> dict[str, Counter[str]]:
    """Crossings of the vertical line ``x`` by the truth boxes' centres: a left-to-right
    move is out, since the line points down the screen and its right side is the left
    half."""
    sides: dict[int, bool] = {}
    counts: dict[str, Counter[str]] = {"in": Counter(), "out": Counter()}
    for i in range(frames):
        truth = camera.truth(i)
        assert isinstance(truth, SceneTruth)
        for digit in truth.digits:
            right = (digit.box[0] + digit.box[2]) / 2 >= x
            before = sides.get(digit.digit_index)
            if before is not None and before != right:
                # The arrow (0.5, 0) -> (0.5, 1) points down: its right side, as seen on
                # the screen, is the left half. Moving there is "in".
                counts["in" if not right else "out"][str(digit.label)] += 1
            sides[digit.digit_index] = right
    return counts
