"""The per-zone and per-line filters (labels, minimum score, minimum area) as arrays, so
that which detection is eligible where is one broadcast, not a loop per zone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.errors import ConfigError
from edge.types import label_of

BoolArray = npt.NDArray[np.bool_]


def label_table(wanted: Sequence[Sequence[str] | None], labels: Sequence[str]) -> BoolArray:
    """``(classes + 2, rules)``: row ``c + 1`` says which rules count class ``c``; the first
    and the last row stand for a class id the model has no label for (negative, or past
    its labels), counted only by rules without a label list. So ``allowed`` looks any id up
    with one ``take``."""
    table = np.ones((len(labels) + 2, len(wanted)), np.bool_)
    for r, names in enumerate(wanted):
        if names is not None:
            chosen = set(names)
            known = [label_of(labels, c) in chosen for c in range(len(labels))]
            table[:, r] = [False, *known, False]
    return table


def allowed(table: BoolArray, class_id: npt.NDArray[np.int64]) -> BoolArray:
    """``(N, rules)``: rule ``r`` counts the class of each row (``table``: ``label_table``).
    ``mode="clip"`` sends every id below 0 to the first row and past the labels to the
    last."""
    rows: BoolArray = table.take(class_id + 1, axis=0, mode="clip")
    return rows


def check_labels(what: str, names: Sequence[str] | None, labels: Sequence[str]) -> None:
    """A zone or line naming a label the model does not have would never count: refuse."""
    if names is None or not labels:
        return
    unknown = sorted(set(names) - set(labels))
    if unknown:
        raise ConfigError(
            f"{what} names labels the model does not have: {', '.join(unknown)}",
            hint=f"the model's labels: {', '.join(labels[:20])}"
            + (" ..." if len(labels) > 20 else ""),
        )
