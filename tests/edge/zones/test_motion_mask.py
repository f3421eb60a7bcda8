"""A motion mask: change inside it never wakes the model, change outside still does."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

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


def test_the_mask_is_rasterised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """What keeps a mask cheap: the polygons are rasterised once, at the gate's small
    size, and each frame pays one AND. (The cost itself is a benchmark's:
    ``benchmarks/decoder_speed.py``, "with a motion mask"; a timed assertion here failed
    on a loaded CI machine.)"""
    from edge.zones import geometry

    calls: list[tuple[int, int]] = []
    real = geometry.rasterise

    def counting(polygons: Any, width: int, height: int) -> Any:
        calls.append((width, height))
        return real(polygons, width, height)

    monkeypatch.setattr(geometry, "rasterise", counting)
    gate = MotionGate(heartbeat=0, masks=[TREE])
    for _ in range(50):
        for frame in _frames(220):
            gate.should_infer(frame)
    assert len(calls) == 1
    # The gate's small picture (4:3 like the frame), not the 320x240 frame.
    assert calls == [(gate.width, round(240 * gate.width / 320))] and gate.width < 320
