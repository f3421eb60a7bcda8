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
    """``(rules, classes + 1)``: rule ``r`` counts class ``c``; the last column stands for
    a class id the model has no label for (counted only by rules without a label list)."""
    table = np.ones((len(wanted), len(labels) + 1), np.bool_)
    for r, names in enumerate(wanted):
        if names is not None:
            chosen = set(names)
            table[r, :] = [label_of(labels, c) in chosen for c in range(len(labels))] + [False]
    return table


def class_columns(class_id: npt.NDArray[np.int64], labels: Sequence[str]) -> npt.NDArray[np.intp]:
    """Class ids -> columns of ``label_table`` (an unknown id -> the last column)."""
    ids = class_id.astype(np.intp)
    return np.where((ids >= 0) & (ids < len(labels)), ids, len(labels))


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
