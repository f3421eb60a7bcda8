"""``[[zones]]``, ``[[lines]]`` and ``[[masks]]``: where in the picture things count.

Every coordinate is normalised to the source frame (0..1, ``x`` right, ``y`` down), so
one config fits any resolution of the same camera. ``edge zones check CONFIG`` draws them
over a snapshot, so nobody has to guess numbers (docs/zones.md).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from edge.config.base import Strict

Point = Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=2, max_length=2)]
Anchor = Literal["bottom_center", "center", "any"]
# Names go into MQTT topics and Home Assistant ids as they are: no spaces, no wildcards.
NAME_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


class ZoneConfig(Strict):
    """A named polygon; an object counts there once its anchor point has been inside
    for ``inertia`` inferred frames in a row (and leaves after as many frames out)."""

    name: str = Field(pattern=NAME_PATTERN, description="in records, topics and HA ids")
    points: list[Point] = Field(min_length=3, description="polygon corners, [[x, y], ...]")
    labels: list[str] | None = Field(None, description="labels counted here (default: all)")
    min_score: float = Field(0.0, ge=0.0, le=1.0, description="minimum score counted here")
    min_area: float = Field(
        0.0, ge=0.0, le=1.0, description="minimum box area counted here, fraction of the frame"
    )
    anchor: Anchor = Field(
        "bottom_center",
        description="the point of the box that must be inside: bottom_center (where a "
        "person stands), center, or any (the box overlaps the zone at all)",
    )
    inertia: int = Field(
        3, ge=1, le=100, description="inferred frames in a row to enter (and to leave)"
    )


class LineConfig(Strict):
    """A named line; a tracked object whose anchor moves across it is counted ``in`` or
    ``out`` by the side it moves to."""

    name: str = Field(pattern=NAME_PATTERN, description="in records, topics and HA ids")
    points: list[Point] = Field(min_length=2, max_length=2, description="[[x0, y0], [x1, y1]]")
    in_side: Literal["right", "left"] = Field(
        "right",
        description="moving to this side of the arrow from the first point to the second "
        "(as seen on the screen) counts as in; the other way is out",
    )
    labels: list[str] | None = Field(None, description="labels counted (default: all)")
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", description="the point of the box whose path is tested"
    )


class MaskConfig(Strict):
    """A polygon where detections are dropped (``detections``), or where the motion gate
    ignores change (``motion``)."""

    points: list[Point] = Field(min_length=3, description="polygon corners, [[x, y], ...]")
    applies_to: Literal["detections", "motion"] = Field(
        "detections",
        description="detections: drop boxes whose anchor is inside; motion: "
        "pixels inside never wake the model",
    )
    anchor: Literal["bottom_center", "center"] = Field(
        "bottom_center", description="detections: the point of the box tested"
    )


def check_unique(names: list[str], what: str) -> None:
    """Two zones (or lines) with one name would share topics and entities."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what} are called {name!r}; names must differ")
        seen.add(name)
