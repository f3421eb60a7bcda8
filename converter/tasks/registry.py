"""Every task the converter knows, by name. A new task module adds one entry here."""

from __future__ import annotations

from collections.abc import Mapping

from converter.tasks.anomaly import ANOMALY
from converter.tasks.base import Task
from converter.tasks.classify import CLASSIFY
from converter.tasks.detect import DETECT
from converter.tasks.generate import GENERATE
from converter.tasks.raw import RAW
from edge.errors import EdgeError
from edge.model.manifest import InputSpec

TASKS: dict[str, Task] = {
    "classify": CLASSIFY,
    "detect": DETECT,
    "generate": GENERATE,
    "anomaly": ANOMALY,
    "raw": RAW,
}


def fitting_tasks(
    output_shapes: Mapping[str, tuple[int, ...]], input_shape: tuple[int, ...]
) -> list[str]:
    """Every task whose output and input checks this model passes (``raw`` always)."""
    image = len(input_shape) == 3 and input_shape[2] in (1, 3)
    default = (
        InputSpec(
            width=input_shape[1],
            height=input_shape[0],
            channels=input_shape[2],
            colour="gray" if input_shape[2] == 1 else "rgb",
        )
        if image
        else None
    )
    fits = []
    for name, task in TASKS.items():
        try:
            task.check_outputs(output_shapes, "")
            if task.input_spec(input_shape, default) is None:
                continue
        except EdgeError:
            continue
        fits.append(name)
    return fits


def task_hint(output_shapes: Mapping[str, tuple[int, ...]], input_shape: tuple[int, ...]) -> str:
    """The hint of a refusal: every task that fits this model, ``raw`` included."""
    fits = fitting_tasks(output_shapes, input_shape)
    text = f"choose a --task that fits this model: {', '.join(fits)}"
    if "raw" in fits:
        text += (
            " (raw takes any model: each output judged by SQNR against float, no device decoder)"
        )
    return text
