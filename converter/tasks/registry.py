"""Every task the converter knows, by name. A new task module adds one entry here."""

from __future__ import annotations

from converter.tasks.anomaly import ANOMALY
from converter.tasks.base import Task
from converter.tasks.classify import CLASSIFY
from converter.tasks.detect import DETECT
from converter.tasks.generate import GENERATE
from converter.tasks.raw import RAW

TASKS: dict[str, Task] = {
    "classify": CLASSIFY,
    "detect": DETECT,
    "generate": GENERATE,
    "anomaly": ANOMALY,
    "raw": RAW,
}
