"""Post-decoder filters, the same for every decoder: per-label thresholds, allow and deny
lists, minimum box area.

Labels are the strings the record writes (``labels[class_id]``, or the class index as
text for a model without labels), so the config speaks the language of the log. A
label the model does not have is a configuration error at start, not a filter that
silently never matches (``check_labels``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.errors import ConfigError
from edge.types import Detections, label_of


@dataclass(frozen=True)
class DetectionFilter:
    labels: tuple[str, ...]
    thresholds: Mapping[str, float] = field(default_factory=dict)
    allow: frozenset[str] | None = None
    deny: frozenset[str] = frozenset()
    min_area: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.thresholds or self.allow is not None or self.deny or self.min_area)

    def __call__(self, detections: Detections) -> Detections:
        if not self.active or len(detections) == 0:
            return detections
        names = [self.label(int(c)) for c in detections.class_id]
        keep = np.ones(len(detections), bool)
        for row, name in enumerate(names):
            listed = (self.allow is None or name in self.allow) and name not in self.deny
            keep[row] = listed and detections.confidence[row] >= self.thresholds.get(name, 0.0)
        if self.min_area > 0 and detections.xyxy is not None:
            boxes = detections.xyxy
            area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
                boxes[:, 3] - boxes[:, 1], 0, None
            )
            keep &= area >= self.min_area
        return detections.filter(keep)

    def label(self, class_id: int) -> str:
        return label_of(self.labels, class_id)


def build_filter(
    labels: Sequence[str],
    thresholds: Mapping[str, float],
    allow: Sequence[str] | None,
    deny: Sequence[str],
    min_area: float,
) -> DetectionFilter:
    check_labels(
        labels, {"thresholds": list(thresholds), "allow": list(allow or []), "deny": list(deny)}
    )
    for name, value in thresholds.items():
        if not 0.0 <= value <= 1.0:
            raise ConfigError(
                f"filters.thresholds: {name!r} = {value} is not a score 0..1",
                hint="give each label a minimum score between 0 and 1",
            )
    return DetectionFilter(
        tuple(labels),
        dict(thresholds),
        frozenset(allow) if allow is not None else None,
        frozenset(deny),
        min_area,
    )


def check_labels(labels: Sequence[str], named: Mapping[str, list[str]]) -> None:
    if not labels:
        return  # a model without labels writes class indices; nothing to check against
    for key, names in named.items():
        unknown = [name for name in names if name not in labels]
        if unknown:
            shown = ", ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
            raise ConfigError(
                f"filters.{key} names labels the model does not have: {', '.join(unknown)}",
                hint=f"use the labels as records write them: {shown}",
            )
