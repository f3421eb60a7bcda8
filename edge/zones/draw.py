"""Zones, lines and masks drawn on a picture, with the counts of a record when given.

One drawing for the preview window, the recorded video (through
``edge.observers.annotate``'s ``overlay``) and ``edge zones check|draw``. Coordinates are
normalised, so it draws on any size of the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from edge.config.zones import LineConfig, MaskConfig, ZoneConfig
from edge.types import Image

# BGR, apart from the detection palette's reds and greens so a zone never looks like a box.
ZONE_COLOURS = [(255, 191, 0), (255, 0, 191), (0, 215, 255), (180, 105, 255), (255, 255, 0)]
LINE_COLOUR = (0, 255, 255)
MASK_COLOUR = (128, 128, 128)
_FONT = cv2.FONT_HERSHEY_SIMPLEX


class ZoneOverlay:
    """``overlay(canvas, record)``: draws in place; ``record`` may be ``None`` (no counts)."""

    def __init__(
        self,
        zones: Sequence[ZoneConfig],
        lines: Sequence[LineConfig] = (),
        masks: Sequence[MaskConfig] = (),
    ) -> None:
        self.zones, self.lines, self.masks = list(zones), list(lines), list(masks)

    def __call__(self, canvas: Image, record: dict[str, Any] | None = None) -> None:
        h, w = canvas.shape[:2]
        size = np.asarray([w, h], np.float32)
        scale = max(0.35, min(w, h) / 600)
        thickness = max(2, round(min(w, h) / 160))  # 1 px loses its colour in 4:2:0 video
        for mask in self.masks:
            corners = np.round(np.asarray(mask.points, np.float32) * size).astype(np.int32)
            dark = canvas.copy()
            cv2.fillPoly(dark, [corners], MASK_COLOUR)
            cv2.addWeighted(dark, 0.35, canvas, 0.65, 0, dst=canvas)
            _text(canvas, f"mask ({mask.applies_to})", tuple(corners[0]), MASK_COLOUR, scale)
        zone_counts = (record or {}).get("zones", {})
        for index, zone in enumerate(self.zones):
            colour = ZONE_COLOURS[index % len(ZONE_COLOURS)]
            corners = np.round(np.asarray(zone.points, np.float32) * size).astype(np.int32)
            cv2.polylines(canvas, [corners], True, colour, thickness, cv2.LINE_AA)
            text = zone.name
            if zone.name in zone_counts:
                counted = zone_counts[zone.name]
                labels = " ".join(f"{k}:{v}" for k, v in counted["counts"].items())
                text += f" {counted['total']}" + (f" ({labels})" if labels else "")
            top = corners[np.argmin(corners[:, 1] * 4 * w + corners[:, 0])]
            _text(canvas, text, (int(top[0]) + 3, int(top[1]) + 3), colour, scale, below=True)
        line_counts = (record or {}).get("lines", {})
        for line in self.lines:
            (x0, y0), (x1, y1) = (np.asarray(line.points, np.float32) * size).tolist()
            a, b = (round(x0), round(y0)), (round(x1), round(y1))
            cv2.line(canvas, a, b, LINE_COLOUR, thickness + 1, cv2.LINE_AA)
            # An arrow from the middle towards the "in" side (right of a->b on screen).
            length = math.hypot(x1 - x0, y1 - y0) or 1.0
            nx, ny = -(y1 - y0) / length, (x1 - x0) / length  # right-hand normal (y down)
            if line.in_side == "left":
                nx, ny = -nx, -ny
            mid = ((x0 + x1) / 2, (y0 + y1) / 2)
            reach = 0.08 * min(w, h)
            tip = (round(mid[0] + nx * reach), round(mid[1] + ny * reach))
            start = (round(mid[0]), round(mid[1]))
            cv2.arrowedLine(canvas, start, tip, LINE_COLOUR, thickness, cv2.LINE_AA, tipLength=0.3)
            text = f"{line.name} in"
            if line.name in line_counts:
                sides = line_counts[line.name]
                text = (
                    f"{line.name} in {sum(sides['in'].values())} out {sum(sides['out'].values())}"
                )
            _text(canvas, text, (tip[0] + 3, tip[1]), LINE_COLOUR, scale)


def _text(
    canvas: Image,
    text: str,
    origin: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float,
    *,
    below: bool = False,
) -> None:
    (_, th), _ = cv2.getTextSize(text, _FONT, scale, 1)
    x, y = int(origin[0]), int(origin[1]) + (th if below else 0)
    cv2.putText(canvas, text, (x, y), _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, (x, y), _FONT, scale, colour, 1, cv2.LINE_AA)
