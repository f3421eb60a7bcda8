"""A motion mask: change inside it never wakes the model, change outside still does."""

from __future__ import annotations

import time

import numpy as np

from edge.processing.motion import MotionGate
from edge.types import Frame

TREE = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]  # the left half sways


def _frames(x: int) -> list[Frame]:
    """A still picture, then a white square appearing at column ``x`` (of 320)."""
    still = np.full((240, 320, 3), 40, np.uint8)
    moved = still.copy()
    moved[100:160, x : x + 60] = 255
    return [Frame(still, 0, 0.0, "t"), Frame(moved, 1, 0.1, "t")]


def test_change_inside_a_motion_mask_is_ignored() -> None:
    for x, masked, expected in ((40, True, False), (220, True, True), (40, False, True)):
        gate = MotionGate(heartbeat=0, masks=[TREE] if masked else [])
        decisions = [gate.should_infer(frame) for frame in _frames(x)]
        assert decisions == [True, expected], (x, masked)


def test_the_mask_costs_little() -> None:
    frames = _frames(220)
    cost = {}
    for masked in (False, True):
        gate = MotionGate(heartbeat=0, masks=[TREE] if masked else [])
        gate.should_infer(frames[0])
        start = time.process_time()
        for _ in range(300):
            gate.should_infer(frames[1])
            gate.should_infer(frames[0])
        cost[masked] = (time.process_time() - start) / 600
    assert cost[True] - cost[False] < 50e-6, cost  # one AND over ~3,000 pixels
